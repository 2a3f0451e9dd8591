// Fuzzes the Parameters readers of the record operations: the body of
// Patient/{id}/$everything (compartment/everything.h) and of
// Patient/$gpc.getstructuredrecord (gpconnect/structured_record.h), the
// first byte choosing which. Never crash; errors are values; a GP Connect
// error always carries its Spine code; what parses is within the rules.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "compartment/everything.h"
#include "gpconnect/structured_record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto registry = lhcr::fhir::SearchParamRegistry::R4();
  if (size == 0) return 0;
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] & 1) {
    auto r = lhcr::gpconnect::ParseStructuredRecordRequest(body, "2026-01-01");
    if (r.ok()) {
      if (r->nhs_number.size() != 10) std::abort();
      if (r->medication && r->medication->search_from > "2026-01-01") std::abort();
    } else if (r.status().details().empty() || r.status().details()[0].details_code.empty()) {
      std::abort();
    }
  } else {
    auto r = lhcr::compartment::ParseEverythingParameters("x", body, *registry);
    if (r.ok()) {
      if (r->count && *r->count < 0) std::abort();
      for (const auto& t : r->types) {
        if (!registry->IsResourceType(t)) std::abort();
      }
    }
  }
  return 0;
}
