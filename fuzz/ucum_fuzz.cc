// UCUM expressions: the parser must never crash, reject only with
// kIncorrect or kUnsupported, and a unit it accepts converts to itself
// (value unchanged up to rounding) and is commensurable with itself.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "terminology/ucum.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lhcr::terminology;
  static const auto ucum = Ucum::Embedded();
  std::string unit(reinterpret_cast<const char*>(data), size);
  auto parsed = ucum->Parse(unit);
  if (!parsed.ok()) {
    auto c = parsed.status().code();
    if (c != lhcr::StatusCode::kIncorrect && c != lhcr::StatusCode::kUnsupported) std::abort();
  } else {
    auto same = ucum->Convert(12.5, unit, unit);
    if (!same.ok()) {
      std::fprintf(stderr, "ucum_fuzz: '%s' does not convert to itself\n", unit.c_str());
      std::abort();
    }
    if (std::isfinite(parsed->factor) && parsed->factor > 1e-200 && parsed->factor < 1e200 &&
        std::fabs(*same - 12.5) > 1e-6) {
      std::fprintf(stderr, "ucum_fuzz: '%s' to itself changes the value\n", unit.c_str());
      std::abort();
    }
  }
  (void)Ucum::Normalise(unit);
  (void)ucum->ToPreferred(1, unit, Ucum::DefaultPreferredUnits());
  return 0;
}
