#include "identity/normalise.h"

#include <gtest/gtest.h>

namespace lhcr::identity {
namespace {

TEST(NormaliseName, CaseAccentsHyphensTitlesParticles) {
  EXPECT_EQ(NormaliseName("  O'Brien-Smith "), "obriensmith");
  EXPECT_EQ(NormaliseName("Zoë"), "zoe");
  EXPECT_EQ(NormaliseName("JOSÉ"), "jose");
  EXPECT_EQ(NormaliseName("Mr John"), "john");
  EXPECT_EQ(NormaliseName("Dr. Mary Ann"), "maryann");
  EXPECT_EQ(NormaliseName("van der Berg"), "vanderberg");
  EXPECT_EQ(NormaliseName("Mr"), "mr");  // a title alone is kept, not emptied
  EXPECT_EQ(NormaliseName(""), "");
}

TEST(CanonicalGivenName, BritishNicknames) {
  EXPECT_EQ(CanonicalGivenName("bill"), "william");
  EXPECT_EQ(CanonicalGivenName("peggy"), "margaret");
  EXPECT_EQ(CanonicalGivenName("harry"), "henry");
  EXPECT_EQ(CanonicalGivenName("william"), "william");
  EXPECT_EQ(CanonicalGivenName("xanthe"), "xanthe");
}

TEST(Postcode, NormaliseAndSplit) {
  EXPECT_EQ(NormalisePostcode("sw1a 1aa"), "SW1A1AA");
  PostcodeParts p = SplitPostcode("SW1A1AA");
  EXPECT_TRUE(p.uk);
  EXPECT_EQ(p.area, "SW");
  EXPECT_EQ(p.district, "SW1A");
  EXPECT_EQ(p.sector, "SW1A 1");
  PostcodeParts m = SplitPostcode("M11AE");
  EXPECT_TRUE(m.uk);
  EXPECT_EQ(m.area, "M");
  EXPECT_EQ(m.district, "M1");
  EXPECT_FALSE(SplitPostcode("4011").uk);  // FEBRL (Australian)
}

TEST(NhsNumber, Modulus11) {
  EXPECT_TRUE(IsValidNhsNumber("9434765919"));
  EXPECT_FALSE(IsValidNhsNumber("9434765918"));  // wrong check digit
  EXPECT_FALSE(IsValidNhsNumber("1111111111"));  // placeholder passes the sum
  EXPECT_FALSE(IsValidNhsNumber("0123456789"));
  EXPECT_FALSE(IsValidNhsNumber("943476591"));
  EXPECT_EQ(DigitsOnly("943 476 5919"), "9434765919");
}

TEST(Soundex, Classic) {
  EXPECT_EQ(Soundex("robert"), "R163");
  EXPECT_EQ(Soundex("rupert"), "R163");
  EXPECT_EQ(Soundex("ashcraft"), "A261");
  EXPECT_EQ(Soundex("tymczak"), "T522");
  EXPECT_EQ(Soundex(""), "");
}

TEST(NormaliseAddress, Abbreviations) {
  EXPECT_EQ(NormaliseAddress("12, High St."), "12 high street");
  EXPECT_EQ(NormaliseAddress("Acacia Rd"), "acacia road");
}

}  // namespace
}  // namespace lhcr::identity
