// Fuzzes ApplyJsonPatch. The input is a document and a patch separated by the
// first newline ("<doc JSON>\n<patch JSON>"), so seeds stay readable; an
// input without a newline is a patch applied to a fixed small document.
// Invariants, beyond "never crash":
//   - a failure is kIncorrect and leaves the target exactly as it was;
//   - a success leaves a document that serialises to JSON that parses, and
//     applying the same patch to another copy of the document gives the same
//     result (no dependence on leftover state).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fhir/json.h"
#include "fhir/json_patch.h"

namespace {

constexpr std::string_view kDefaultDoc =
    R"({"a":{"b":[1,2,{"c":"d"}],"e":null},"a/b":1,"m~n":[true,false],"":{"":0}})";

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "json_patch_fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using lhcr::fhir::JsonDoc;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view doc_text = kDefaultDoc;
  std::string_view patch_text = input;
  if (size_t nl = input.find('\n'); nl != std::string_view::npos) {
    doc_text = input.substr(0, nl);
    patch_text = input.substr(nl + 1);
  }
  lhcr::Result<JsonDoc> doc = lhcr::fhir::ParseJson(doc_text);
  lhcr::Result<JsonDoc> patch = lhcr::fhir::ParseJson(patch_text);
  if (!doc.ok() || !patch.ok()) return 0;

  const std::string before = lhcr::fhir::ToJson(*doc);
  JsonDoc target;
  target.CopyFrom(*doc, target.GetAllocator());
  lhcr::Status st = lhcr::fhir::ApplyJsonPatch(*patch, &target);
  const std::string after = lhcr::fhir::ToJson(target);
  if (!st.ok()) {
    if (st.code() != lhcr::StatusCode::kIncorrect) Fail("wrong category", st.ToString());
    if (after != before) Fail("failed patch changed the document", before + " became " + after);
    return 0;
  }
  if (!lhcr::fhir::ParseJson(after).ok()) Fail("patched document does not parse", after);
  lhcr::Status again = lhcr::fhir::ApplyJsonPatch(*patch, &*doc);
  if (!again.ok() || lhcr::fhir::ToJson(*doc) != after) {
    Fail("patch is not deterministic", again.ToString() + "; " + after);
  }
  return 0;
}
