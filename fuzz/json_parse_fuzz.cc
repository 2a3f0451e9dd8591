// Fuzzes ParseJson (stored resources and request bodies are parsed with it)
// and the ToJson round trip. Invariants, beyond "never crash":
//   - whatever ParseJson accepts, ToJson writes as JSON that ParseJson
//     accepts again, and
//   - that serialisation is a fixed point: parse(ToJson(v)) writes the same
//     bytes, so stored bytes are stable across read/modify/write cycles.
// A rejected input must be rejected with kIncorrect.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fhir/json.h"

namespace {

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "json_parse_fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using lhcr::fhir::JsonDoc;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  lhcr::Result<JsonDoc> doc = lhcr::fhir::ParseJson(text);
  if (!doc.ok()) {
    if (doc.status().code() != lhcr::StatusCode::kIncorrect) {
      Fail("rejected with the wrong category", doc.status().ToString());
    }
    return 0;
  }
  std::string once = lhcr::fhir::ToJson(*doc);
  lhcr::Result<JsonDoc> again = lhcr::fhir::ParseJson(once);
  if (!again.ok()) Fail("ToJson output does not parse", again.status().ToString() + " in " + once);
  std::string twice = lhcr::fhir::ToJson(*again);
  if (twice != once) Fail("ToJson is not a fixed point", once + " became " + twice);
  return 0;
}
