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
