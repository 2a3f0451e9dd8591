// NHS numbers: the modulus 11 check digit and the numbers the synthesiser
// issues. Rule (DOMAIN.md, NHS Data Dictionary "NHS Number"): multiply digits
// 1-9 by weights 10..2, sum, r = sum mod 11, check = 11 - r; 11 -> 0; 10 means
// the nine digits cannot form a valid number. All-same-digit numbers and
// 0123456789 pass the check but are placeholders; 999 000 0000-999 999 9999
// is the never-issued test range. Pure functions, safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lhcr::synth {

// The check digit for nine digits, or nullopt when it would be 10 (or the
// input is not nine digits).
std::optional<int> NhsCheckDigit(std::string_view nine_digits);

// True when `nhs` is ten digits whose last digit is the check digit.
bool HasValidNhsCheckDigit(std::string_view nhs);

// True for the placeholders (all digits the same, 0123456789) and the test
// range 999xxxxxxx.
bool IsPlaceholderOrTestNhsNumber(std::string_view nhs);

// The NHS number of true person `index` in a population built with `seed`:
// valid, not a placeholder, in 400 000 0000-499 999 9999, and distinct for
// distinct indices below 6,000,000 (an affine bijection of index*16+k over
// 10^8, k the first attempt with a valid check digit).
std::string IssueNhsNumber(uint64_t seed, uint64_t index);

}  // namespace lhcr::synth
