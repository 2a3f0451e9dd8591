// SNOMED CT RF2: the four file parsers must never crash on any input, and
// reject only with kIncorrect; whatever they accept must load into a
// Terminology whose is-a walk ends (cycles in the input included).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "terminology/rf2.h"
#include "terminology/terminology.h"

namespace {

void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "rf2_fuzz: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lhcr::terminology;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  Rf2Content content;
  for (auto parse :
       {ParseRf2Concepts, ParseRf2Descriptions, ParseRf2Relationships, ParseRf2Language}) {
    lhcr::Status s = parse(input, &content);
    Check(s.ok() || s.code() == lhcr::StatusCode::kIncorrect, "rejected without kIncorrect");
  }
  TerminologyBuilder b;
  content.AddTo(b);
  auto t = std::move(b).Build();
  for (const auto& [id, c] : content.concepts) {
    Check(t->Lookup(kSnomed, id).ok(), "a loaded concept is not found");
    t->Subsumes(kSnomed, "138875005", id);
  }
  return 0;
}
