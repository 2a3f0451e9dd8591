// Fuzzes the number-keeping parse and write that every stored resource goes
// through (ParseJsonKeepingNumbers / ToJsonKeepingNumbers). Invariants:
//   - what is accepted is written as JSON that parses again, and
//   - writing is a fixed point: parsing the output and writing it again
//     (keeping numbers) gives the same bytes, so a stored number's text
//     survives any number of read/modify/write cycles.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fhir/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  lhcr::fhir::NumberTexts texts;
  auto doc = lhcr::fhir::ParseJsonKeepingNumbers(text, &texts);
  if (!doc.ok()) return 0;
  std::string out = lhcr::fhir::ToJsonKeepingNumbers(*doc, texts, "");
  lhcr::fhir::NumberTexts texts2;
  auto again = lhcr::fhir::ParseJsonKeepingNumbers(out, &texts2);
  if (!again.ok()) {
    std::fprintf(stderr, "output does not parse: %s\n", out.c_str());
    std::abort();
  }
  std::string out2 = lhcr::fhir::ToJsonKeepingNumbers(*again, texts2, "");
  if (out2 != out) {
    std::fprintf(stderr, "not a fixed point:\n%s\n%s\n", out.c_str(), out2.c_str());
    std::abort();
  }
  return 0;
}
