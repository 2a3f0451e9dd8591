#include "identity/comparators.h"

#include <gtest/gtest.h>

#include <random>
#include <string_view>
#include <vector>

namespace lhcr::identity {
namespace {

PreparedRecord Rec(std::string given, std::string family) {
  PersonRecord r;
  r.given = std::move(given);
  r.family = std::move(family);
  return Prepare(r);
}

TEST(StringMetrics, JaroWinklerAndEditDistances) {
  EXPECT_NEAR(JaroWinkler("martha", "marhta"), 0.9611, 1e-3);
  EXPECT_NEAR(JaroWinkler("dwayne", "duane"), 0.84, 1e-2);
  EXPECT_DOUBLE_EQ(JaroWinkler("abc", "abc"), 1.0);
  EXPECT_DOUBLE_EQ(JaroWinkler("", "abc"), 0.0);
  EXPECT_EQ(Levenshtein("kitten", "sitting"), 3);
  EXPECT_EQ(OsaDistance("1234", "1324"), 1);
  EXPECT_EQ(Levenshtein("1234", "1324"), 2);
}

// The textbook scan (what JaroWinkler computed before it went bit-parallel).
double ReferenceJaroWinkler(std::string_view a, std::string_view b) {
  if (a.empty() || b.empty()) return 0.0;
  if (a == b) return 1.0;
  const int la = static_cast<int>(a.size()), lb = static_cast<int>(b.size());
  if (la > 128 || lb > 128) return 0.0;  // JaroWinkler's limit: not a name or address
  const int window = std::max(0, std::max(la, lb) / 2 - 1);
  std::vector<bool> ma(la), mb(lb);
  int matches = 0;
  for (int i = 0; i < la; ++i) {
    for (int j = std::max(0, i - window); j <= std::min(lb - 1, i + window); ++j) {
      if (!mb[j] && a[i] == b[j]) {
        ma[i] = mb[j] = true;
        ++matches;
        break;
      }
    }
  }
  if (matches == 0) return 0.0;
  int t = 0;
  for (int i = 0, j = 0; i < la; ++i) {
    if (!ma[i]) continue;
    while (!mb[j]) ++j;
    if (a[i] != b[j]) ++t;
    ++j;
  }
  double m = matches;
  double jaro = (m / la + m / lb + (m - t / 2.0) / m) / 3.0;
  int prefix = 0;
  while (prefix < 4 && prefix < la && prefix < lb && a[prefix] == b[prefix]) ++prefix;
  return jaro + prefix * 0.1 * (1.0 - jaro);
}

// The bounded form answers every band question exactly as the full one:
// equal when at or above the floor, below the floor when the full one is.
// Random strings over small alphabets (so they share characters), lengths
// 1-100 (both JaroWinkler paths, OSA beyond its stack buffer too), digits
// and letters mixed (they share c & 31 buckets).
TEST(StringMetrics, BoundedJaroWinklerAgreesWithTheFullOneAboutEveryFloor) {
  std::mt19937 rng(7);
  for (const char* alphabet :
       {"ab", "abcde", "aeiou rstln", "abcdefghijklmnopqrstuvwxyz", "pqrs0123 "}) {
    const std::string chars(alphabet);
    auto make = [&](size_t max_len) {
      std::string s(1 + rng() % max_len, ' ');
      for (char& c : s) c = chars[rng() % chars.size()];
      return s;
    };
    for (int i = 0; i < 4000; ++i) {
      const size_t max_len = i % 2 ? 40 : 100;
      std::string a = make(max_len), b = make(max_len);
      if (i % 3 == 0) b = a.substr(0, a.size() / 2) + make(max_len);  // common prefixes too
      const double full = JaroWinkler(a, b);
      ASSERT_DOUBLE_EQ(full, ReferenceJaroWinkler(a, b)) << a << " | " << b;
      for (double floor : {0.70, 0.88, 0.95}) {
        const double bounded = JaroWinklerAtLeast(a, b, floor);
        if (full >= floor) {
          EXPECT_DOUBLE_EQ(bounded, full) << a << " | " << b;
        } else {
          EXPECT_LT(bounded, floor) << a << " | " << b;
        }
      }
      // OSA with and without the heap: the same as the textbook recurrence
      // bounds (never more than Levenshtein, never less than the length gap).
      const int osa = OsaDistance(a, b);
      for (int k : {0, 1, 2, 3}) {
        const int bounded = OsaDistanceAtMost(a, b, k);
        if (osa <= k) {
          EXPECT_EQ(bounded, osa) << a << " | " << b;
        } else {
          EXPECT_GT(bounded, k) << a << " | " << b;
        }
      }
      EXPECT_LE(osa, Levenshtein(a, b));
      EXPECT_GE(osa, static_cast<int>(std::max(a.size(), b.size()) - std::min(a.size(), b.size())));
    }
  }
}

TEST(CompareGiven, Levels) {
  EXPECT_EQ(CompareGiven(Rec("John", "X"), Rec("john", "Y")), level::kExact);
  EXPECT_EQ(CompareGiven(Rec("Bill", "X"), Rec("William", "Y")), level::kGivenNickname);
  EXPECT_EQ(CompareGiven(Rec("Jonathon", "X"), Rec("Jonathan", "Y")), level::kGivenJw95);
  EXPECT_EQ(CompareGiven(Rec("J", "X"), Rec("John", "Y")), level::kGivenJw70);
  EXPECT_EQ(CompareGiven(Rec("Isla", "Hall"), Rec("Hall", "Isla")), level::kGivenSwapped);
  EXPECT_EQ(CompareGiven(Rec("Mary", "X"), Rec("Zoe", "Y")), level::kGivenOther);
  EXPECT_EQ(CompareGiven(Rec("", "X"), Rec("Zoe", "Y")), level::kMissing);
}

TEST(CompareFamily, Levels) {
  EXPECT_EQ(CompareFamily(Rec("a", "Smith"), Rec("b", "SMITH")), level::kExact);
  EXPECT_EQ(CompareFamily(Rec("a", "Smith"), Rec("b", "Smyth")), level::kFamilyJw88);
  EXPECT_EQ(CompareFamily(Rec("a", "Smith"), Rec("b", "Jones")), level::kFamilyOther);
  EXPECT_EQ(CompareFamily(Rec("a", ""), Rec("b", "Jones")), level::kMissing);
}

TEST(CompareDob, Levels) {
  auto d = [](const char* s) { return ParsePartialDate(s); };
  EXPECT_EQ(CompareDob(d("19710624"), d("1971-06-24")), level::kExact);
  EXPECT_EQ(CompareDob(d("19710602"), d("19710206")), level::kDobTransposed);
  EXPECT_EQ(CompareDob(d("19710624"), d("19710625")), level::kDobOneEdit);
  EXPECT_EQ(CompareDob(d("19710624"), d("19700624")), level::kDobOneEdit);
  EXPECT_EQ(CompareDob(d("19991231"), d("20001231")), level::kDobOneEdit);  // year off by one
  EXPECT_EQ(CompareDob(d("19710624"), d("19711103")), level::kDobSameYear);
  EXPECT_EQ(CompareDob(d("1971"), d("19710624")), level::kDobSameYear);  // coarser precision
  EXPECT_EQ(CompareDob(d("19710624"), d("19850101")), level::kDobOther);
  EXPECT_EQ(CompareDob(d(""), d("19850101")), level::kMissing);
}

TEST(ComparePostcode, UkLevelsAndFallback) {
  auto pc = [](const char* p) {
    PersonRecord r;
    r.postcode = p;
    return Prepare(r);
  };
  EXPECT_EQ(ComparePostcode(pc("LS1 4AP"), pc("ls14ap")), level::kExact);
  EXPECT_EQ(ComparePostcode(pc("LS1 4AP"), pc("LS1 4BX")), level::kPostcodeSector);
  EXPECT_EQ(ComparePostcode(pc("LS1 4AP"), pc("LS1 6AP")), level::kPostcodeDistrict);
  EXPECT_EQ(ComparePostcode(pc("LS1 4AP"), pc("LS6 4AP")), level::kPostcodeArea);
  EXPECT_EQ(ComparePostcode(pc("LS1 4AP"), pc("M1 1AE")), level::kPostcodeOther);
  EXPECT_EQ(ComparePostcode(pc("4011"), pc("4012")), level::kPostcodeSector);  // one edit
  EXPECT_EQ(ComparePostcode(pc("4011"), pc("2600")), level::kPostcodeOther);
  EXPECT_EQ(ComparePostcode(pc(""), pc("2600")), level::kMissing);
}

TEST(CompareNumbersAndIds, EditDistanceLevels) {
  EXPECT_EQ(CompareNumber("12", "12"), level::kExact);
  EXPECT_EQ(CompareNumber("12", "13"), level::kNumberOneEdit);
  EXPECT_EQ(CompareNumber("12", "140"), level::kNumberOther);
  EXPECT_EQ(CompareOtherId("6988048", "6988048"), level::kExact);
  EXPECT_EQ(CompareOtherId("6988048", "6988084"), level::kIdOneEdit);  // transposition
  EXPECT_EQ(CompareOtherId("6988048", "6908084"), level::kIdTwoEdits);
  EXPECT_EQ(CompareOtherId("6988048", "1234567"), level::kIdOther);
  EXPECT_EQ(CompareOtherId("", "1234567"), level::kMissing);
}

TEST(CompareNhsNumber, OnlyValidNumbersCount) {
  PersonRecord a, b, c, bad;
  a.nhs_number = "943 476 5919";
  b.nhs_number = "9434765919";
  c.nhs_number = "4010232137";
  bad.nhs_number = "9434765918";
  EXPECT_EQ(CompareNhsNumber(Prepare(a).nhs_number, Prepare(b).nhs_number), level::kExact);
  EXPECT_EQ(CompareNhsNumber(Prepare(a).nhs_number, Prepare(c).nhs_number), level::kDifferent2);
  EXPECT_EQ(CompareNhsNumber(Prepare(a).nhs_number, Prepare(bad).nhs_number), level::kMissing);
}

TEST(CompareOthers, TownEmailSexRegion) {
  EXPECT_EQ(CompareTown("london", "london"), level::kExact);
  EXPECT_EQ(CompareTown("london", "lonon"), level::kTownJw95);
  EXPECT_EQ(CompareTown("london", "leeds"), level::kTownOther);
  PersonRecord a, b;
  a.extra[kExtraEmail] = "Robert255@smith.net";
  b.extra[kExtraEmail] = "robert255@jones.com";
  EXPECT_EQ(CompareEmail(Prepare(a), Prepare(a)), level::kExact);
  EXPECT_EQ(CompareEmail(Prepare(a), Prepare(b)), level::kEmailClose);
  EXPECT_EQ(CompareSex(Sex::kFemale, Sex::kMale), level::kDifferent2);
  EXPECT_EQ(CompareSex(Sex::kFemale, Sex::kUnknown), level::kMissing);
  EXPECT_EQ(CompareExact("vic", "vic"), level::kExact);
}

}  // namespace
}  // namespace lhcr::identity
