// Fuzzes what every incoming resource goes through before it is stored:
// JSON parse, structural validation against the R4 definitions, and search
// index extraction (FHIRPath over the resource). Never crash; extraction of a
// resource the validator accepts must be deterministic.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fhir/json.h"
#include "fhir/search_index.h"
#include "fhir/search_param.h"
#include "fhir/validator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto validator = lhcr::fhir::Validator::R4();
  static auto registry = lhcr::fhir::SearchParamRegistry::R4();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto doc = lhcr::fhir::ParseJson(text);
  if (!doc.ok()) return 0;
  auto issues = validator->Validate(*doc);
  if (!doc->IsObject()) return 0;
  auto rows = lhcr::fhir::ExtractIndexRows(*doc, *registry);
  if (issues.empty()) {
    auto again = lhcr::fhir::ExtractIndexRows(*doc, *registry);
    if (again != rows) std::abort();
  }
  return 0;
}
