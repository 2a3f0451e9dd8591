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

// Known bugs, skipped until fixed: RapidJSON 1.1.0 (the system package) with
// kParseFullPrecisionFlag, as ParseJson uses it, mis-parses some numbers:
//   - zero with an exponent or many digits: "0E42" -> 1.5e23, "0e40" ->
//     2.4e21 (DiyFp::Normalize calls clz(0), which UBSan reports; upstream
//     Tencent/rapidjson#1249 and #1441);
//   - long significands: 184467440737095516155 -> -2.0e264 (PR #2326);
//   - just above DBL_MAX: 3.1e308 -> inf, which ToJson cannot write (#710).
// They are json.cc's parser, not the code under test here, and are reported;
// inputs with such a number (conservatively: outside strings, a significand
// over 18 digits, an all-zero significand with an exponent, or an exponent
// of 290 or more) are skipped so the fuzzer keeps looking for new bugs.
// Build with -DLHCR_FUZZ_KEEP_KNOWN_BUGS=ON to fuzz them anyway.
#ifdef LHCR_FUZZ_KEEP_KNOWN_BUGS
constexpr bool kSkipKnownBugs = false;
#else
constexpr bool kSkipKnownBugs = true;
#endif

bool HasKnownMisparsedNumber(std::string_view s) {
  bool in_string = false, in_number = false, exponent = false, nonzero = false;
  int digits = 0, exponent_value = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    char c = i < s.size() ? s[i] : ' ';
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    bool digit = c >= '0' && c <= '9';
    if (!digit && c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-') {
      if (in_number &&
          (digits > 18 || (exponent && digits > 0 && !nonzero) || exponent_value >= 290)) {
        return true;
      }
      in_number = exponent = nonzero = false;
      digits = exponent_value = 0;
      if (c == '"') in_string = true;
      continue;
    }
    in_number = true;
    if (c == 'e' || c == 'E') {
      exponent = true;
    } else if (digit && exponent) {
      exponent_value = std::min(exponent_value * 10 + (c - '0'), 100000);
    } else if (digit) {
      ++digits;
      nonzero = nonzero || c != '0';
    }
  }
  return false;
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
  // Each text separately: string state must not carry across the newline.
  if (kSkipKnownBugs &&
      (HasKnownMisparsedNumber(doc_text) || HasKnownMisparsedNumber(patch_text))) {
    return 0;
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
