#include "synth/nhs_number.h"

namespace lhcr::synth {

std::optional<int> NhsCheckDigit(std::string_view nine) {
  if (nine.size() != 9) return std::nullopt;
  int sum = 0;
  for (int i = 0; i < 9; ++i) {
    if (nine[i] < '0' || nine[i] > '9') return std::nullopt;
    sum += (nine[i] - '0') * (10 - i);
  }
  int check = 11 - sum % 11;
  if (check == 11) check = 0;
  if (check == 10) return std::nullopt;
  return check;
}

bool HasValidNhsCheckDigit(std::string_view nhs) {
  if (nhs.size() != 10) return false;
  std::optional<int> c = NhsCheckDigit(nhs.substr(0, 9));
  return c.has_value() && nhs[9] == '0' + *c;
}

bool IsPlaceholderOrTestNhsNumber(std::string_view nhs) {
  if (nhs.size() != 10) return false;
  bool same = true;
  for (char c : nhs) same = same && c == nhs[0];
  return same || nhs == "0123456789" || nhs.substr(0, 3) == "999";
}

std::string IssueNhsNumber(uint64_t seed, uint64_t index) {
  constexpr uint64_t kSpace = 100'000'000;  // the 8 digits after the leading 4
  // An odd multiplier not divisible by 5 is coprime with 10^8: a bijection.
  constexpr uint64_t kMul = 48'271'123;
  uint64_t offset = (seed * 0x9E3779B97F4A7C15ull) % kSpace;
  for (uint64_t k = 0;; ++k) {
    uint64_t n = ((index * 16 + k) % kSpace * kMul + offset) % kSpace;
    std::string nine = "4" + std::string(8 - std::to_string(n).size(), '0') + std::to_string(n);
    std::optional<int> c = NhsCheckDigit(nine);
    if (!c) continue;
    std::string nhs = nine + static_cast<char>('0' + *c);
    if (IsPlaceholderOrTestNhsNumber(nhs)) continue;
    return nhs;
  }
}

}  // namespace lhcr::synth
