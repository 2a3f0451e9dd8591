#include "identity/blocking.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace lhcr::identity {
namespace {

PersonRecord Person() {
  PersonRecord r;
  r.given = "Olivia";
  r.family = "White";
  r.dob = ParsePartialDate("19000106");
  r.postcode = "2260";
  r.house_number = "55";
  r.address_lines = {"duffy street"};
  r.town = "mirrabooka";
  r.extra[kExtraOtherId] = "4996142";
  return r;
}

bool Paired(const std::vector<PreparedRecord>& recs) {
  auto pairs = GenerateCandidates(recs, {});
  return std::find(pairs.begin(), pairs.end(), CandidatePair{0, 1}) != pairs.end();
}

// A typo in any one field must not hide a true pair.
TEST(Blocking, ATypoInOneFieldDoesNotHideAPair) {
  std::vector<void (*)(PersonRecord&)> typos = {
      [](PersonRecord& r) { r.family = "Wihte"; },
      [](PersonRecord& r) { r.given = "Olvia"; },
      [](PersonRecord& r) { r.dob = ParsePartialDate("19001006"); },
      [](PersonRecord& r) { r.postcode = "2206"; },
      [](PersonRecord& r) { r.extra[kExtraOtherId] = "4996143"; },
      [](PersonRecord& r) { r.town = ""; },
  };
  for (size_t i = 0; i < typos.size(); ++i) {
    PersonRecord b = Person();
    typos[i](b);
    EXPECT_TRUE(Paired({Prepare(Person()), Prepare(b)})) << "typo " << i;
  }
  // Two typos at once still meet through the untouched fields.
  PersonRecord b = Person();
  b.family = "Wyte";
  b.dob = ParsePartialDate("19010106");
  EXPECT_TRUE(Paired({Prepare(Person()), Prepare(b)}));
}

TEST(Blocking, UnrelatedRecordsAreNotPaired) {
  PersonRecord b;
  b.given = "Zed";
  b.family = "Quark";
  b.dob = ParsePartialDate("19871111");
  b.postcode = "9999";
  EXPECT_FALSE(Paired({Prepare(Person()), Prepare(b)}));
}

TEST(Blocking, DeduplicatedBoundedAndCrossSide) {
  std::vector<PreparedRecord> recs;
  for (int i = 0; i < 5; ++i) recs.push_back(Prepare(Person(), i % 2));
  BlockingStats stats;
  auto pairs = GenerateCandidates(recs, {}, &stats);
  EXPECT_EQ(pairs.size(), 10u);  // every pair once, although many keys agree
  EXPECT_GT(stats.raw_pairs, stats.pairs);
  EXPECT_TRUE(std::is_sorted(pairs.begin(), pairs.end()));
  BlockingOptions small;
  small.max_block_size = 4;
  EXPECT_TRUE(GenerateCandidates(recs, small, &stats).empty());
  EXPECT_GT(stats.skipped_blocks, 0u);
  BlockingOptions cross;
  cross.cross_side_only = true;
  EXPECT_EQ(GenerateCandidates(recs, cross).size(), 6u);  // 3 on side 0 x 2 on side 1
}

size_t RuleIndex(std::string_view name) {
  for (size_t i = 0; i < BlockingRules().size(); ++i) {
    if (BlockingRules()[i].name == name) return i;
  }
  ADD_FAILURE() << "no rule " << name;
  return 0;
}

// The rules behind each pair: exactly the rules whose keys the two records
// share, and not a rule whose block was too large to use.
TEST(Blocking, CandidateRulesNameTheRulesThatMadeEachPair) {
  ASSERT_EQ(BlockingRules().size(), kBlockingRuleCount);
  PersonRecord b = Person();
  b.given = "Zoe";
  b.dob = ParsePartialDate("19010106");
  b.extra.clear();
  std::vector<PreparedRecord> recs = {Prepare(Person()), Prepare(b)};
  auto pairs = GenerateCandidates(recs, {});
  ASSERT_EQ(pairs.size(), 1u);
  std::vector<uint32_t> rules = CandidateRules(recs, pairs, {});
  ASSERT_EQ(rules.size(), 1u);
  // Same surname, postcode, house and street; different given name, birth
  // year and identifier.
  const uint32_t want = (1u << RuleIndex("f3_dist")) | (1u << RuleIndex("num_addr"));
  EXPECT_EQ(rules[0], want);
  BlockingOptions one;
  one.max_block_size = 1;
  EXPECT_EQ(CandidateRules(recs, pairs, one)[0], 0u);
}

}  // namespace
}  // namespace lhcr::identity
