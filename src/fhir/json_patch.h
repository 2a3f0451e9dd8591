// JSON Patch (RFC 6902) over RapidJSON, addressing values with JSON Pointer
// (RFC 6901). Used by the FHIR `patch` interaction with
// Content-Type application/json-patch+json.
#pragma once

#include "base/status.h"
#include "fhir/json.h"

namespace lhcr::fhir {

// Applies `patch` to `*target`, all or nothing.
//
// `patch` must be an array of operation objects, each with a string "op"
// (add, remove, replace, move, copy or test) and a string "path"; "value" is
// required by add, replace and test, "from" by move and copy; other members
// are ignored (RFC 6902 section 4). Operations apply in order, each to the
// result of the previous one.
//
// Pointers follow RFC 6901: "" is the whole document, "~1" decodes to "/" and
// "~0" to "~"; array indexes are "0" or digits without a leading zero and must
// be in bounds (index == size is allowed for add), and "-" means "after the
// last element" for add (and for the destination of move and copy). Missing
// parents are never created. "test" compares by JSON value: numbers by value
// (1 equals 1.0), object members regardless of order. Moving a value into one
// of its own children is an error; removing the whole document is an error.
//
// On success `*target` holds the patched document and OK is returned. On any
// failure the Status is kIncorrect, its message names the operation index (from
// 0), the op and the offending pointer, e.g.
//   "patch operation 2 (replace): path /name/5 does not exist"
// and `*target` is left exactly as it was (the patch is applied to a copy that
// is swapped in only when every operation succeeded).
//
// `patch` is only read. Not thread-safe for the same `*target`; distinct
// targets may be patched concurrently.
Status ApplyJsonPatch(const Json& patch, JsonDoc* target);

}  // namespace lhcr::fhir
