// Search index extraction: the IndexRows (store/index_row.h) a resource
// yields for its search parameters, plus the value normalisations the search
// parser must apply to query values so they compare equal to indexed ones.
//
// What is indexed, by parameter type (rows per value the expression selects;
// an Extension selected by extension('url') stands for its value[x]):
//   token:     boolean ("true"/"false"), code/string/id/uri -> ("", value);
//              Coding -> (system, code); CodeableConcept -> each coding;
//              Identifier -> (system, value); ContactPoint -> ("", value).
//              Quantity is not a token.
//   string:    string/markdown; HumanName family, given, prefix, suffix, text;
//              Address line, city, district, state, postalCode, country, text;
//              all through NormaliseString.
//   date:      date/dateTime/instant (range by precision, ParseFhirDateRange);
//              Period (missing start/end -> INT64_MIN/INT64_MAX); Timing.event.
//   reference: Reference.reference "Type/id" -> (Type, id); absolute
//              "http://.../Type/id" or "urn:..." -> ("", url); in both a
//              "/_history/N" suffix is dropped; canonical strings -> ("", url less "|version");
//              contained "#x" skipped; a resource itself (Bundle.entry[0].resource)
//              -> (resourceType, id). Reference.identifier also yields a token
//              row (system, value) under the key "<Type>.<code>:identifier".
//   quantity:  Quantity/Age/Duration/SimpleQuantity/... -> (value, system,
//              code or else unit); Money -> (value, "urn:iso:std:iso:4217", currency).
//   number:    decimal/integer.
//   uri:       uri/url/canonical/oid/uuid strings.
// Range values are not indexed (a range is not one number). _id and
// _lastUpdated are left to the store, which keeps them natively; composite
// parameters are served by ExtractCompositeTuples; special ones not at all.
//
// All functions are pure and safe to call from several threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "fhir/json.h"
#include "fhir/search_param.h"
#include "store/index_row.h"

namespace lhcr::fhir {

// An inclusive time range in milliseconds since the epoch (UTC).
struct DateRange {
  int64_t lo = 0;
  int64_t hi = 0;
  bool operator==(const DateRange&) const = default;
};

// The range a FHIR date / dateTime / instant covers at its precision:
// "2013" -> [2013-01-01T00:00:00.000Z, 2013-12-31T23:59:59.999Z],
// "2013-05-06T10:00" -> that minute, "...:17.2Z" -> [.200, .299].
// A timezone offset is applied; no zone means UTC. Dates before 1970 are
// negative. kIncorrect when `text` is not such a value (or names a day that
// does not exist).
Result<DateRange> ParseFhirDateRange(std::string_view text);

// Folds text for string search: lower case, common Latin accents to ASCII
// ("é" -> "e", "ß" -> "ss", "Æ" -> "ae"), runs of whitespace and punctuation
// to one space, trimmed. Other characters pass through unchanged.
std::string NormaliseString(std::string_view text);

// The rows of every search parameter that applies to `resource` (typed by
// its resourceType), except _id, _lastUpdated, composite and special ones,
// sorted and without duplicates; a row that another parameter's rows stand
// for is written once (BoundSearchParam in search_param.h: a search reads a
// parameter's rows from its IndexSources). Empty when the resource has no known
// resourceType. Malformed values are skipped, never an error.
std::vector<store::IndexRow> ExtractIndexRows(const Json& resource,
                                              const SearchParamRegistry& registry);

// Every parameter's rows in full, including those ExtractIndexRows leaves to
// another parameter's rows (BoundSearchParam): what a store written before
// rows were shared may hold for `resource`. Replacing or deleting a stored
// version removes these, so such a store sheds its extra rows as it changes;
// removing a row that is not there costs a lookup and nothing else.
std::vector<store::IndexRow> ExtractIndexRowsAnyLayout(const Json& resource,
                                                       const SearchParamRegistry& registry);

// The rows of one parameter `param` of `resource` (any type but composite and
// special, which yield none), sorted and without duplicates. Used for _sort
// and post-filters.
std::vector<store::IndexRow> ExtractParam(const Json& resource, const SearchParam& param);

// For a composite parameter: one tuple per element the composite's
// expression selects; a tuple holds, per component in order, the rows of
// that component's parameter (by its type, under its key) evaluated
// relative to the element. A component whose definition the registry does
// not know yields no rows.
std::vector<std::vector<std::vector<store::IndexRow>>> ExtractCompositeTuples(
    const Json& resource, const SearchParam& composite, const SearchParamRegistry& registry);

}  // namespace lhcr::fhir
