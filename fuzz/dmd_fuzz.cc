// dm+d XML (libxml2): never crash on any input, reject only with kIncorrect,
// and every accepted product has a numeric id and a name.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "terminology/dmd.h"
#include "terminology/terminology.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lhcr::terminology;
  auto products = ParseDmdXml(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!products.ok()) {
    if (products.status().code() != lhcr::StatusCode::kIncorrect) std::abort();
    return 0;
  }
  for (const DmdProduct& p : *products) {
    if (p.id.empty() || p.name.empty() ||
        p.id.find_first_not_of("0123456789") != std::string::npos) {
      std::fprintf(stderr, "dmd_fuzz: accepted a product without a numeric id and a name\n");
      std::abort();
    }
  }
  TerminologyBuilder b;
  AddDmdProducts(*products, b);
  auto t = std::move(b).Build();
  for (const DmdProduct& p : *products) t->Subsumes(kSnomed, "1", p.id);
  return 0;
}
