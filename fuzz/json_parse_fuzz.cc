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
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (kSkipKnownBugs && HasKnownMisparsedNumber(text)) return 0;
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
