#include "identity/fellegi_sunter.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace lhcr::identity {
namespace {

uint8_t Draw(const std::vector<double>& p, std::mt19937_64& rng) {
  double x = std::uniform_real_distribution<double>(0, 1)(rng), acc = 0;
  for (size_t l = 1; l < p.size(); ++l) {
    acc += p[l];
    if (x < acc) return static_cast<uint8_t>(l);
  }
  return static_cast<uint8_t>(p.size() - 1);
}

// EM, with no labels, recovers the m and u that generated synthetic pairs.
TEST(EstimateEm, RecoversKnownMAndU) {
  const Field fields[] = {Field::kGiven, Field::kFamily, Field::kDob, Field::kPostcode,
                          Field::kOtherId};
  FellegiSunterModel truth = FellegiSunterModel::Initial();
  truth.lambda = 0.2;
  std::mt19937_64 rng(7);
  for (Field f : fields) {
    FieldModel& fm = truth.fields[static_cast<size_t>(f)];
    size_t n = fm.m.size();
    // m falls from exact; u rises towards "different".
    double ms = 0, us = 0;
    for (size_t l = 1; l < n; ++l) {
      fm.m[l] = std::pow(0.25, static_cast<double>(l - 1));
      fm.u[l] = std::pow(4.0, static_cast<double>(l - 1));
      ms += fm.m[l];
      us += fm.u[l];
    }
    for (size_t l = 1; l < n; ++l) {
      fm.m[l] /= ms;
      fm.u[l] /= us;
    }
  }
  PatternCounts data;
  for (int i = 0; i < 200000; ++i) {
    bool match = std::uniform_real_distribution<double>(0, 1)(rng) < truth.lambda;
    ComparisonVector v{};
    for (Field f : fields) {
      const FieldModel& fm = truth.fields[static_cast<size_t>(f)];
      v[static_cast<size_t>(f)] = Draw(match ? fm.m : fm.u, rng);
    }
    data.Add(v);
  }
  EmOptions options;
  options.estimate_u = true;
  options.max_iterations = 500;
  EmResult em = EstimateEm(data, FellegiSunterModel::Initial(), options);
  EXPECT_TRUE(em.converged);
  EXPECT_NEAR(em.model.lambda, truth.lambda, 0.01);
  for (Field f : fields) {
    const FieldModel& want = truth.fields[static_cast<size_t>(f)];
    const FieldModel& got = em.model.fields[static_cast<size_t>(f)];
    for (size_t l = 1; l < want.m.size(); ++l) {
      EXPECT_NEAR(got.m[l], want.m[l], 0.02) << FieldName(f) << " m level " << l;
      EXPECT_NEAR(got.u[l], want.u[l], 0.02) << FieldName(f) << " u level " << l;
    }
  }
}

// Pairs made the way blocking makes them: true matches, and non-matches
// drawn from u but kept only when they agree exactly on a blocked field.
struct BlockedSample {
  FellegiSunterModel truth;
  PatternCounts candidates;
  std::vector<RuleSample> rules;
  double candidate_matches = 0;
};

BlockedSample MakeBlockedSample() {
  BlockedSample out;
  FellegiSunterModel& truth = out.truth;
  truth = FellegiSunterModel::Initial();
  auto set = [&](Field f, std::vector<double> m, std::vector<double> u) {
    truth.fields[static_cast<size_t>(f)].m = std::move(m);
    truth.fields[static_cast<size_t>(f)].u = std::move(u);
  };
  set(Field::kGiven, {0, .80, .06, .05, .04, .02, .01, .02},
      {0, .03, .02, .01, .03, .10, .01, .80});
  set(Field::kFamily, {0, .85, .06, .04, .02, .01, .02}, {0, .04, .01, .02, .05, .01, .87});
  set(Field::kDob, {0, .90, .03, .04, .02, .01}, {0, .02, .01, .02, .15, .80});
  set(Field::kPostcode, {0, .70, .10, .08, .07, .05}, {0, .01, .02, .07, .30, .60});
  set(Field::kSex, {0, .98, .02}, {0, .50, .50});
  const Field fields[] = {Field::kGiven, Field::kFamily, Field::kDob, Field::kPostcode,
                          Field::kSex};
  const Field blocked[] = {Field::kGiven, Field::kFamily, Field::kDob};
  for (Field f : blocked) out.rules.push_back({std::string(FieldName(f)), {f}, {}});
  std::mt19937_64 rng(11);
  auto draw = [&](bool match) {
    ComparisonVector v{};
    for (Field f : fields) {
      const FieldModel& fm = truth.fields[static_cast<size_t>(f)];
      v[static_cast<size_t>(f)] = Draw(match ? fm.m : fm.u, rng);
    }
    return v;
  };
  auto keep = [&](const ComparisonVector& v, bool match) {
    bool any = false;
    for (size_t r = 0; r < 3; ++r) {
      if (v[static_cast<size_t>(blocked[r])] != level::kExact) continue;
      any = true;
      ComparisonVector held = v;
      held[static_cast<size_t>(blocked[r])] = level::kMissing;
      out.rules[r].data.Add(held);
    }
    if (!any) return;
    out.candidates.Add(v);
    if (match) out.candidate_matches += 1;
  };
  for (int i = 0; i < 8000; ++i) keep(draw(true), true);
  for (int i = 0; i < 600000; ++i) keep(draw(false), false);
  return out;
}

// Over blocked candidates, with u fixed at the population's, one EM takes
// most candidates for matches (the degenerate model seen on noisy regions);
// EM per blocking rule with the rule's field held out recovers m, and lambda
// fitted afterwards is the true share of matches among the candidates.
TEST(EstimateMByRule, RecoversMWhereOneEmOverCandidatesDegenerates) {
  BlockedSample sample = MakeBlockedSample();
  double total = 0;
  for (double c : sample.candidates.counts) total += c;
  const double true_lambda = sample.candidate_matches / total;
  ASSERT_GT(total, 50000);
  ASSERT_LT(true_lambda, 0.15);

  FellegiSunterModel start = FellegiSunterModel::Initial();
  for (size_t f = 0; f < kFieldCount; ++f) start.fields[f].u = sample.truth.fields[f].u;
  EmResult one = EstimateEm(sample.candidates, start, EmOptions{});
  EXPECT_GT(one.model.lambda, 3 * true_lambda) << "one EM over candidates is not degenerate here";

  RuleEmResult by_rule = EstimateMByRule(sample.rules, start, EmOptions{});
  ASSERT_EQ(by_rule.rules.size(), 3u);
  for (Field f : {Field::kGiven, Field::kFamily, Field::kDob, Field::kPostcode, Field::kSex}) {
    const FieldModel& want = sample.truth.fields[static_cast<size_t>(f)];
    const FieldModel& got = by_rule.model.fields[static_cast<size_t>(f)];
    for (size_t l = 1; l < want.m.size(); ++l) {
      EXPECT_NEAR(got.m[l], want.m[l], 0.015) << FieldName(f) << " m level " << l;
      EXPECT_EQ(got.u[l], want.u[l]);
    }
  }
  EmOptions lambda_only;
  for (size_t f = 0; f < kFieldCount; ++f) lambda_only.fixed_m.push_back(static_cast<Field>(f));
  EmResult lambda = EstimateEm(sample.candidates, by_rule.model, lambda_only);
  // A little high: candidate non-matches agree on a blocked field, which
  // population u counts as some evidence of a match.
  EXPECT_NEAR(lambda.model.lambda, true_lambda, 0.2 * true_lambda);
  // A field no sample holds (email here) is given no weight.
  EXPECT_EQ(by_rule.model.LevelWeight(Field::kEmail, level::kExact), 0.0);
}

// Pool adjacent violators: m/u never rises as similarity falls, sum m kept.
TEST(MakeMonotone, PoolsViolatorsAndBoundsSideLevels) {
  // given: chain exact, jw .95, .88, .70, different; nickname and swapped aside.
  std::vector<double> u = {0, 0.01, 0.01, 0.001, 0.01, 0.05, 0.001, 0.918};
  std::vector<double> m = {0, 0.80, 0.05, 0.00001, 0.04, 0.03, 0.00001, 0.07998};
  const std::vector<double> before = m;
  MakeMonotone(LevelOrder(Field::kGiven), u, &m);
  double sum = 0;
  for (size_t l = 1; l < m.size(); ++l) sum += m[l];
  EXPECT_NEAR(sum, 1.0, 1e-12);
  // jw>=0.95 (level 3) had a lower ratio than jw>=0.88 (level 4): pooled.
  EXPECT_NEAR(m[3] / u[3], m[4] / u[4], 1e-9);
  EXPECT_NEAR(m[3] + m[4], before[3] + before[4], 1e-12);
  const std::vector<uint8_t> chain = LevelOrder(Field::kGiven).chain;
  for (size_t i = 1; i < chain.size(); ++i) {
    EXPECT_GE(m[chain[i - 1]] / u[chain[i - 1]], m[chain[i]] / u[chain[i]] - 1e-12);
  }
  // swapped (level 6) was weaker than different: pooled with it.
  EXPECT_NEAR(m[6] / u[6], m[7] / u[7], 1e-9);
  // nickname (level 2) lies between the ends: untouched.
  EXPECT_EQ(m[2], before[2]);
  EXPECT_EQ(m[1], before[1]);
}

// Matches whose records straddle a move compare on every location field as
// a random pair does; EM learns how many they are, and the location m of
// the others, without labels.
TEST(EstimateEm, LearnsTheShareOfMatchesThatMoved) {
  FellegiSunterModel truth = FellegiSunterModel::Initial();
  auto set = [&](Field f, std::vector<double> m, std::vector<double> u) {
    truth.fields[static_cast<size_t>(f)].m = std::move(m);
    truth.fields[static_cast<size_t>(f)].u = std::move(u);
  };
  set(Field::kGiven, {0, .80, .06, .05, .04, .02, .01, .02},
      {0, .03, .02, .01, .03, .10, .01, .80});
  set(Field::kDob, {0, .90, .03, .04, .02, .01}, {0, .02, .01, .02, .15, .80});
  set(Field::kPostcode, {0, .90, .04, .03, .02, .01}, {0, .01, .02, .07, .30, .60});
  set(Field::kHouseNumber, {0, .92, .05, .03}, {0, .05, .40, .55});
  set(Field::kAddress, {0, .90, .04, .03, .02, .01}, {0, .01, .01, .02, .06, .90});
  set(Field::kTown, {0, .95, .02, .01, .02}, {0, .40, .01, .01, .58});
  truth.lambda = 0.3;
  const double moved = 0.2;
  const Field fields[] = {Field::kGiven,       Field::kDob,     Field::kPostcode,
                          Field::kHouseNumber, Field::kAddress, Field::kTown};
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> unit(0, 1);
  PatternCounts data;
  for (int i = 0; i < 200000; ++i) {
    const bool match = unit(rng) < truth.lambda;
    const bool has_moved = match && unit(rng) < moved;
    ComparisonVector v{};
    for (Field f : fields) {
      const FieldModel& fm = truth.fields[static_cast<size_t>(f)];
      const bool as_random = !match || (has_moved && IsLocationField(f));
      v[static_cast<size_t>(f)] = Draw(as_random ? fm.u : fm.m, rng);
    }
    data.Add(v);
  }
  FellegiSunterModel start = FellegiSunterModel::Initial();
  for (size_t f = 0; f < kFieldCount; ++f) start.fields[f].u = truth.fields[f].u;
  start.moved = 0.05;
  EmOptions options;
  options.max_iterations = 500;
  EmResult em = EstimateEm(data, start, options);
  EXPECT_TRUE(em.converged);
  EXPECT_NEAR(em.model.lambda, truth.lambda, 0.01);
  EXPECT_NEAR(em.model.moved, moved, 0.02);
  for (Field f : fields) {
    const FieldModel& want = truth.fields[static_cast<size_t>(f)];
    const FieldModel& got = em.model.fields[static_cast<size_t>(f)];
    for (size_t l = 1; l < want.m.size(); ++l) {
      EXPECT_NEAR(got.m[l], want.m[l], 0.02) << FieldName(f) << " m level " << l;
    }
  }
  // Held at 0, it stays 0 (the plain model).
  start.moved = 0;
  EXPECT_EQ(EstimateEm(data, start, options).model.moved, 0.0);
  // With one location field (the town) a move cannot be told from a typo:
  // no movers.
  PatternCounts town_only;
  for (size_t p = 0; p < data.patterns.size(); ++p) {
    ComparisonVector v = data.patterns[p];
    for (Field f : {Field::kPostcode, Field::kHouseNumber, Field::kAddress}) {
      v[static_cast<size_t>(f)] = level::kMissing;
    }
    town_only.Add(v, data.counts[p]);
  }
  start.moved = 0.05;
  EXPECT_EQ(EstimateEm(town_only, start, options).model.moved, 0.0);
}

TEST(Weights, LocationFieldsCountTogether) {
  FellegiSunterModel model = FellegiSunterModel::Initial();
  for (size_t f = 0; f < kFieldCount; ++f) {
    FieldModel& fm = model.fields[f];
    fm.u.assign(fm.m.size(), 0.0);
    for (size_t l = 1; l < fm.u.size(); ++l)
      fm.u[l] = l + 1 == fm.u.size() ? 0.9 : 0.1 / (fm.u.size() - 2);
  }
  ComparisonVector same{}, moved{};
  for (Field f : {Field::kGiven, Field::kDob}) {
    same[static_cast<size_t>(f)] = moved[static_cast<size_t>(f)] = level::kExact;
  }
  for (Field f : {Field::kPostcode, Field::kHouseNumber, Field::kAddress, Field::kTown}) {
    same[static_cast<size_t>(f)] = level::kExact;
    moved[static_cast<size_t>(f)] = static_cast<uint8_t>(LevelCount(f) - 1);  // different
  }
  auto sum = [&](const ComparisonVector& v, bool location) {
    double w = 0;
    for (size_t f = 0; f < kFieldCount; ++f) {
      if (IsLocationField(static_cast<Field>(f)) == location) {
        w += model.LevelWeight(static_cast<Field>(f), v[f]);
      }
    }
    return w;
  };
  // moved = 0: the plain sum of field weights.
  EXPECT_NEAR(model.BayesFactorLog2(moved), sum(moved, false) + sum(moved, true), 1e-9);
  model.moved = 0.1;
  // Every location field different: no worse than log2(moved).
  EXPECT_LT(sum(moved, true), -15.0);
  EXPECT_NEAR(model.LocationWeight(moved), std::log2(0.1), 0.01);
  // Every location field exact: their sum, less log2(1 - moved).
  EXPECT_NEAR(model.LocationWeight(same), sum(same, true) + std::log2(0.9), 0.01);
  EXPECT_NEAR(model.BayesFactorLog2(moved), sum(moved, false) + model.LocationWeight(moved), 1e-9);
  ComparisonVector none{};
  EXPECT_EQ(model.LocationWeight(none), 0.0);
}

TEST(EstimateU, FromRandomPairsIgnoresMissing) {
  FellegiSunterModel model = FellegiSunterModel::Initial();
  PatternCounts random;
  ComparisonVector diff{}, same{}, missing{};
  diff[static_cast<size_t>(Field::kSex)] = level::kDifferent2;
  same[static_cast<size_t>(Field::kSex)] = level::kExact;
  random.Add(diff, 499);
  random.Add(same, 499);
  random.Add(missing, 10000);
  EstimateUFromRandomPairs(random, &model);
  const FieldModel& sex = model.fields[static_cast<size_t>(Field::kSex)];
  EXPECT_NEAR(sex.u[level::kExact], 0.5, 1e-9);
  EXPECT_NEAR(sex.u[level::kDifferent2], 0.5, 1e-9);
}

TEST(Weights, MissingIsNeutralAndProbabilityIsLogistic) {
  FellegiSunterModel model = FellegiSunterModel::Initial();
  ComparisonVector none{};
  EXPECT_DOUBLE_EQ(model.BayesFactorLog2(none), 0.0);
  EXPECT_GT(model.LevelWeight(Field::kGiven, level::kExact), 0.0);
  EXPECT_LT(model.LevelWeight(Field::kGiven, level::kGivenOther), 0.0);
  EXPECT_DOUBLE_EQ(ProbabilityFromWeight(0), 0.5);
  EXPECT_NEAR(ProbabilityFromWeight(10), 1024.0 / 1025.0, 1e-12);
}

TEST(TermFrequencies, CommonNamesWeighLess) {
  TermFrequencies tf;
  for (int i = 0; i < 98; ++i) tf.Add("smith");
  tf.Add("ptolemy");
  tf.Add("jones");
  const double u_exact = 0.05;
  EXPECT_LT(tf.Adjustment("smith", u_exact), 0.0);
  EXPECT_GT(tf.Adjustment("ptolemy", u_exact), 0.0);
  EXPECT_LE(tf.Adjustment("ptolemy", u_exact), 2.0);  // clamped
  EXPECT_NEAR(tf.Frequency("smith"), 0.98, 1e-12);
}

}  // namespace
}  // namespace lhcr::identity
