// Fuzzes the search request parser: a query string as a client sends it
// (percent-encoding, modifiers, chains, _has, prefixes, result parameters)
// for a resource type chosen by the first byte, and the date parser and
// string normaliser its values go through. Never crash; errors are values;
// a parsed date range is never inverted.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fhir/search_index.h"
#include "fhir/search_param.h"
#include "search/search.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto registry = lhcr::fhir::SearchParamRegistry::R4();
  static const char* kTypes[] = {"Patient",           "Observation",       "Encounter", "Condition",
                                 "MedicationRequest", "DocumentReference", "Bundle",    "Nope"};
  if (size == 0) return 0;
  std::string type = kTypes[data[0] % 8];
  std::string_view query(reinterpret_cast<const char*>(data + 1), size - 1);
  auto params = lhcr::search::ParseQueryString(query);
  if (!params.ok()) return 0;
  lhcr::search::ParseOptions strict;
  strict.strict = (data[0] & 8) != 0;
  auto req = lhcr::search::ParseSearch(type, *params, *registry, strict);
  (void)req;
  for (const auto& [k, v] : *params) {
    (void)lhcr::search::SplitEscaped(v, ',');
    (void)lhcr::search::SplitEscaped(v, '|');
    // Date values (with or without a prefix) are parsed at execution time.
    auto range = lhcr::fhir::ParseFhirDateRange(v.size() > 2 ? std::string_view(v).substr(2) : v);
    if (range.ok() && range->lo > range->hi) __builtin_trap();
    (void)lhcr::fhir::NormaliseString(v);
  }
  return 0;
}
