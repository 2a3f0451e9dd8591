#include "synth/nhs_number.h"

#include <gtest/gtest.h>

#include <set>

namespace lhcr::synth {
namespace {

TEST(NhsNumber, CheckDigitRule) {
  EXPECT_TRUE(HasValidNhsCheckDigit("9434765919"));  // DOMAIN.md's valid example
  EXPECT_FALSE(HasValidNhsCheckDigit("9434765918"));
  EXPECT_FALSE(HasValidNhsCheckDigit("943476591"));
  EXPECT_TRUE(IsPlaceholderOrTestNhsNumber("4444444444"));
  EXPECT_TRUE(IsPlaceholderOrTestNhsNumber("0123456789"));
  EXPECT_TRUE(IsPlaceholderOrTestNhsNumber("9990000018"));
  EXPECT_FALSE(IsPlaceholderOrTestNhsNumber("9434765919"));
}

TEST(NhsNumber, IssuedNumbersAreValidAndUnique) {
  std::set<std::string> seen;
  for (uint64_t i = 0; i < 200000; ++i) {
    std::string n = IssueNhsNumber(42, i);
    ASSERT_TRUE(HasValidNhsCheckDigit(n)) << n;
    ASSERT_FALSE(IsPlaceholderOrTestNhsNumber(n)) << n;
    ASSERT_EQ(n[0], '4');
    ASSERT_TRUE(seen.insert(n).second) << "duplicate " << n << " at " << i;
  }
  EXPECT_NE(IssueNhsNumber(1, 0), IssueNhsNumber(2, 0));
}

}  // namespace
}  // namespace lhcr::synth
