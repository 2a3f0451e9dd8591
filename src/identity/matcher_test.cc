#include "identity/matcher.h"

#include <gtest/gtest.h>

#include <cstdio>

namespace lhcr::identity {
namespace {

PersonRecord Person(std::string given, std::string family, std::string dob, std::string pc,
                    std::string nhs = "") {
  PersonRecord r;
  r.given = std::move(given);
  r.family = std::move(family);
  r.dob = ParsePartialDate(dob);
  r.postcode = std::move(pc);
  r.nhs_number = std::move(nhs);
  return r;
}

// A hand-set model: exact agreement strong, NHS number very strong.
Matcher TestMatcher(MatcherOptions options = {}) {
  FellegiSunterModel model = FellegiSunterModel::Initial();
  model.lambda = 1e-5;  // over all pairs, as Train sets it
  for (Field f : {Field::kGiven, Field::kFamily, Field::kDob, Field::kPostcode}) {
    model.fields[static_cast<size_t>(f)].u[level::kExact] = 1e-3;
  }
  FieldModel& nhs = model.fields[static_cast<size_t>(Field::kNhsNumber)];
  nhs.m = {0, 0.99, 0.01};
  nhs.u = {0, 1e-7, 1 - 1e-7};
  return Matcher(model, {}, {}, options);
}

std::vector<PreparedRecord> Prep(const std::vector<PersonRecord>& rs) {
  std::vector<PreparedRecord> out;
  for (const auto& r : rs) out.push_back(Prepare(r));
  return out;
}

TEST(Thresholds, AutoLinkReviewNonMatch) {
  Matcher m = TestMatcher();
  auto recs =
      Prep({Person("Amelia", "Hughes", "19800214", "LS1 4AP"),
            Person("Amelia", "Hughes", "19800214", "LS1 4AP"),
            Person("Zed", "Quark", "19550101", "M1 1AE"), Person("Amelia", "Hughes", "", "")});
  ScoredPair same = m.Score(recs, 0, 1);
  EXPECT_EQ(same.decision, MatchDecision::kAutoLink);
  EXPECT_GE(same.probability, m.options().auto_link_probability);
  EXPECT_EQ(m.Score(recs, 0, 2).decision, MatchDecision::kNonMatch);
  // Names alone: between the thresholds with these options.
  MatcherOptions options;
  options.review_probability = 0.05;
  Matcher wide = TestMatcher(options);
  ScoredPair names_only = wide.Score(recs, 0, 3);
  EXPECT_LT(names_only.probability, options.auto_link_probability);
  EXPECT_GE(names_only.probability, options.review_probability);
  EXPECT_EQ(names_only.decision, MatchDecision::kReview);
}

TEST(NhsNumber, EqualButDemographicsDisagreeGoesToReview) {
  Matcher m = TestMatcher();
  auto recs = Prep({Person("Amelia", "Hughes", "19800214", "LS1 4AP", "943 476 5919"),
                    Person("Robert", "Khan", "19421130", "M1 1AE", "9434765919"),
                    Person("Amelia", "Hughes", "19800214", "LS1 4AP", "9434765919")});
  ScoredPair clash = m.Score(recs, 0, 1);
  EXPECT_EQ(clash.decision, MatchDecision::kReview);
  EXPECT_EQ(clash.reason, "NHS number agrees but the demographics disagree");
  EXPECT_EQ(m.Score(recs, 0, 2).decision, MatchDecision::kAutoLink);
}

TEST(NhsNumber, DifferentValidNumbersNeverAutoLink) {
  Matcher m = TestMatcher();
  FellegiSunterModel model = m.model();
  model.fields[static_cast<size_t>(Field::kNhsNumber)].u = {0, 1e-7, 0.5};  // weak disagreement
  Matcher weak(model, {}, {}, {});
  auto recs = Prep({Person("Amelia", "Hughes", "19800214", "LS1 4AP", "9434765919"),
                    Person("Amelia", "Hughes", "19800214", "LS1 4AP", "4010232137")});
  ScoredPair p = weak.Score(recs, 0, 1);
  EXPECT_EQ(p.decision, MatchDecision::kReview);
  EXPECT_EQ(p.reason, "demographics agree but the valid NHS numbers differ");
}

// Twins share a family name, a birth date and a home; only the given name
// (and the NHS number, when both have one) tells them apart.
TEST(Twins, SameBirthDateAndHomeButDifferentGivenNameGoesToReview) {
  auto recs = Prep({Person("Amelia", "Hughes", "19800214", "LS1 4AP"),
                    Person("Harriet", "Hughes", "19800214", "LS1 4AP"),
                    Person("Amelia", "Hughes", "19800214", "LS1 4AP", "9434765919"),
                    Person("Harriet", "Hughes", "19800214", "LS1 4AP", "9434765919")});
  MatcherOptions off;
  off.twins_to_review = false;
  // Without the rule the model alone auto-links them: the case the rule is for.
  ASSERT_EQ(TestMatcher(off).Score(recs, 0, 1).decision, MatchDecision::kAutoLink);
  ScoredPair twins = TestMatcher().Score(recs, 0, 1);
  EXPECT_EQ(twins.decision, MatchDecision::kReview);
  EXPECT_EQ(twins.reason, "same birth date, different given name, no identifier agrees (twins?)");
  // The same NHS number on both: one person whose given name differs (a
  // nickname or a second given name used), not twins.
  EXPECT_EQ(TestMatcher().Score(recs, 2, 3).decision, MatchDecision::kAutoLink);
}

// A-B and B-C are strong links, A and C clearly differ: no cluster {A, B, C}.
TEST(Cluster, NoFalseLinkThroughTransitivity) {
  Matcher m = TestMatcher();
  auto recs = Prep({Person("Amelia", "Hughes", "19800214", "LS1 4AP"),
                    Person("Amelia", "Hughes", "19800214", ""),
                    Person("Amelia", "Hughes", "19800214", "M1 1AE"),
                    Person("Amelia", "Hughes", "19800214", "M1 1AE")});
  // Make postcode disagreement decisive, so A (0) and C (2, 3) clearly differ.
  FellegiSunterModel model = m.model();
  FieldModel& pc = model.fields[static_cast<size_t>(Field::kPostcode)];
  pc.m = {0, 0.9, 0.04, 0.03, 0.02, 1e-6};
  pc.u = {0, 1e-5, 1e-4, 1e-3, 1e-2, 0.99};
  Matcher strict(model, {}, {}, {});
  std::vector<ScoredPair> scored;
  for (uint32_t i = 0; i < 4; ++i) {
    for (uint32_t j = i + 1; j < 4; ++j) scored.push_back(strict.Score(recs, i, j));
  }
  EXPECT_EQ(strict.Score(recs, 0, 1).decision, MatchDecision::kAutoLink);
  EXPECT_EQ(strict.Score(recs, 1, 2).decision, MatchDecision::kAutoLink);
  EXPECT_EQ(strict.Score(recs, 0, 2).decision, MatchDecision::kNonMatch);
  Clustering c = strict.Cluster(recs, scored);
  EXPECT_NE(c.cluster_of[0], c.cluster_of[2]);
  EXPECT_EQ(c.cluster_of[2], c.cluster_of[3]);
  EXPECT_EQ(c.clusters, 2u);
  EXPECT_GE(c.refused_merges, 1u);
  EXPECT_FALSE(c.review.empty());
}

// A reviewer said 0 and 2 are two people: however alike, they never share a
// cluster, directly or through a record both match (1 joins one of them).
TEST(Cluster, ARejectedPairNeverSharesACluster) {
  Matcher m = TestMatcher();
  auto recs = Prep({Person("Amelia", "Hughes", "19800214", "LS1 4AP"),
                    Person("Amelia", "Hughes", "19800214", "LS1 4AP"),
                    Person("Amelia", "Hughes", "19800214", "LS1 4AP")});
  std::vector<ScoredPair> scored;
  for (uint32_t i = 0; i < 3; ++i) {
    for (uint32_t j = i + 1; j < 3; ++j) scored.push_back(m.Score(recs, i, j));
  }
  for (const ScoredPair& p : scored) ASSERT_EQ(p.decision, MatchDecision::kAutoLink);
  EXPECT_EQ(m.Cluster(recs, scored).clusters, 1u);

  Clustering c = m.Cluster(recs, scored, CannotLink{{0, 2}});
  EXPECT_NE(c.cluster_of[0], c.cluster_of[2]);
  EXPECT_EQ(c.clusters, 2u);
  EXPECT_TRUE(c.cluster_of[1] == c.cluster_of[0] || c.cluster_of[1] == c.cluster_of[2]);
  ASSERT_FALSE(c.review.empty());
  EXPECT_EQ(c.review[0].reason, "linking would join records a reviewer said are different people");
}

// The cause of fake_1000's false links: candidate pairs are mostly matches
// there, so EM's lambda over the candidates went to ~1 (+8.6 bits of prior)
// and a surname plus a birth month auto-linked two people. The prior is over
// all pairs (the population u comes from), so the same evidence is not enough.
TEST(Train, PriorIsOverAllPairsNotCandidates) {
  const char* given[] = {"amelia", "robert", "zara",  "oscar",  "imogen",  "felix", "harriet",
                         "jasper", "lucy",   "nigel", "petra",  "quentin", "rosa",  "simon",
                         "tilda",  "victor", "wendy", "xavier", "yasmin",  "zach"};
  const char* family[] = {"hughes", "khan",   "okafor", "lindqvist", "marsh", "patel", "reyes",
                          "shaw",   "tanaka", "ulrich", "vance",     "wolfe", "young", "zielinski",
                          "abbott", "baker",  "carver", "dunn",      "ellis", "frost"};
  std::vector<PersonRecord> people;
  for (int i = 0; i < 20; ++i) {
    char dob[9];
    std::snprintf(dob, sizeof dob, "19%02d%02d%02d", 40 + i, 1 + i % 12, 1 + i);
    for (int copy = 0; copy < 3; ++copy) {
      people.push_back(Person(given[i], family[i], dob, ""));
    }
  }
  // Two people sharing only a surname and all but one digit of a birth date.
  people.push_back(Person("Molly", "Bird", "20000327", ""));
  people.push_back(Person("Oliver", "Bird", "20000227", ""));
  std::vector<uint32_t> sides(people.size(), 0);

  MatcherOptions candidate_prior;
  candidate_prior.prior_over_all_pairs = false;
  MatchRun old_run = MatchRecords(people, sides, candidate_prior);
  MatchRun run = MatchRecords(people, sides, MatcherOptions{});
  const double n = static_cast<double>(people.size());
  const double all_pairs = n * (n - 1) / 2;
  ASSERT_GT(old_run.blocking.pairs, 0u);
  EXPECT_NEAR(run.model.lambda * all_pairs,
              old_run.model.lambda * static_cast<double>(old_run.blocking.pairs), 1e-6);
  EXPECT_LT(run.model.lambda, 0.1);
  const uint32_t molly = static_cast<uint32_t>(people.size() - 2), oliver = molly + 1;
  EXPECT_NE(run.clustering.cluster_of[molly], run.clustering.cluster_of[oliver]);
  for (const auto& p : run.scored) {
    if (p.a == molly && p.b == oliver) {
      EXPECT_NE(p.decision, MatchDecision::kAutoLink);
    }
  }
  // The duplicates still link.
  EXPECT_EQ(run.clustering.cluster_of[0], run.clustering.cluster_of[2]);
}

}  // namespace
}  // namespace lhcr::identity
