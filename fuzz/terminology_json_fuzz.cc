// Terminology content from outside: FHIR JSON CodeSystem / ValueSet /
// ConceptMap, a source's local code map CSV, and operation Parameters. Never
// crash; reject only with kIncorrect; whatever loads can be expanded,
// validated against and translated through without crashing (nested and
// self-including value sets end).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "terminology/operations.h"
#include "terminology/terminology.h"
#include "terminology/translate.h"

namespace {

void Rejected(const lhcr::Status& s) {
  if (!s.ok() && s.code() != lhcr::StatusCode::kIncorrect) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lhcr::terminology;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  TerminologyBuilder b;
  Rejected(b.AddFhirJson(input));
  Rejected(b.AddLocalCodeMap(input, "urn:local", "urn:map"));
  auto t = std::move(b).Build();
  for (const std::string& url : t->ValueSetUrls()) {
    (void)t->Expand(url, "a", 0, 10);
    (void)t->ValidateCode(url, "urn:local", "a", "");
  }
  for (const std::string& url : t->ConceptMapUrls()) (void)t->Translate(url, "urn:local", "a", "");
  auto params = ParseParameters(input);
  Rejected(params.status());
  if (params.ok()) {
    (void)LookupOperation(*t, *Ucum::Embedded(), *params);
    (void)ExpandOperation(*t, *params);
    (void)ValidateCodeOperation(*t, *params);
    (void)TranslateOperation(*t, *params);
  }
  (void)TranslateBundle(*t, *Ucum::Embedded(), t->ConceptMapUrls(), input);
  return 0;
}
