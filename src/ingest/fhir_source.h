// A FHIR source's transaction Bundle, made ready for the record: every
// resource gets meta.source "<source_id>#<key>" (the Bundle's identifier, or
// a hash of its bytes: the same Bundle sent twice has the same key, so
// hl7v2::DropStaleEntries recognises the resend), entries without a fullUrl
// get a urn:uuid one, and a Provenance (PUT by an id derived from source and
// key) is appended naming the source organisation as the author and every
// entry as a target — as the HL7 v2 mapper does for its messages.
//
// Pure and thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "ingest/journal.h"

namespace lhcr::ingest {

struct StampedBundle {
  std::string bundle_json;
  std::string key;        // what follows '#' in meta.source
  std::string lock_key;   // the first Patient entry's request url ("" if none)
  std::vector<Finding> findings;  // invalid NHS numbers and the like
};

// kIncorrect (naming what is wrong) when `bundle_json` is not JSON, not a
// Bundle of type transaction, or an entry lacks a resource or a request
// with a method and url; kUnsupported for a DELETE entry (a source's feed
// says what is, the record keeps what was said).
Result<StampedBundle> StampSourceBundle(std::string_view bundle_json, const std::string& source_id,
                                        const std::string& ods_code, const std::string& recorded);

}  // namespace lhcr::ingest
