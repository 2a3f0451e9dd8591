#include "identity/evaluation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <sstream>

namespace lhcr::identity {
namespace {

TEST(EvaluatePairs, CountsPairsAndCrossSide) {
  // Truth {0,1,2} {3}; predicted {0,1} {2,3}.
  std::vector<std::string> truth = {"a", "a", "a", "b"};
  std::vector<uint32_t> clusters = {0, 0, 1, 1}, sides = {0, 1, 0, 1};
  PairMetrics m = EvaluatePairs(clusters, truth, sides, false);
  EXPECT_EQ(m.true_pairs, 3u);
  EXPECT_EQ(m.predicted_pairs, 2u);
  EXPECT_EQ(m.true_positives, 1u);
  EXPECT_DOUBLE_EQ(m.precision, 0.5);
  EXPECT_NEAR(m.recall, 1.0 / 3, 1e-12);
  PairMetrics cross = EvaluatePairs(clusters, truth, sides, true);
  EXPECT_EQ(cross.true_pairs, 2u);  // (0,1) and (1,2)
  EXPECT_EQ(cross.true_positives, 1u);
  ClusterMetrics cm = EvaluateClusters(clusters, truth);
  EXPECT_EQ(cm.truth_clusters, 2u);
  EXPECT_EQ(cm.exact_clusters, 0u);
}

// End to end on FEBRL dataset1 with the fixed configuration; no labels in
// training. Measured: precision 1.0000, recall 1.0000.
TEST(MpiEval, FebrlDataset1) {
  std::string path = std::string(LHCR_SHARED_DATA) + "/febrl/dataset1.csv";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "shared data absent: " << path;
  LabelledRecords data;
  ASSERT_TRUE(LoadFebrl(path, 0, &data).ok());
  ASSERT_EQ(data.records.size(), 1000u);
  MatchRun run = MatchRecords(data.records, data.sides, MatcherOptions());
  PairMetrics m = EvaluatePairs(run.clustering.cluster_of, data.truth, data.sides, false);
  EXPECT_EQ(m.true_pairs, 500u);
  EXPECT_GE(m.precision, 0.999);
  EXPECT_GE(m.recall, 0.995);

  std::ostringstream out;
  ASSERT_TRUE(RunMpiEval({path, "", "", false}, MatcherOptions(), out).ok());
  std::string text = out.str();
  std::string last = text.substr(text.rfind('\n', text.size() - 2) + 1);
  EXPECT_EQ(last.rfind("precision ", 0), 0u) << last;
  EXPECT_NE(last.find(" recall "), std::string::npos);
  EXPECT_NE(last.find(" f1 "), std::string::npos);
}

// Training on a uniform half of FEBRL dataset2 learns what training on all
// of it learns: the prior within a factor of two, the same decision on
// (nearly) every candidate pair, and no false auto-link.
TEST(TrainOnSample, AHalfSampleLearnsTheSameModel) {
  std::string path = std::string(LHCR_SHARED_DATA) + "/febrl/dataset2.csv";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "shared data absent: " << path;
  LabelledRecords data;
  ASSERT_TRUE(LoadFebrl(path, 0, &data).ok());
  std::vector<PreparedRecord> records;
  for (const PersonRecord& r : data.records) records.push_back(Prepare(r));
  MatcherOptions options;
  Matcher full = Matcher::TrainOnSample(records, records.size(), options);
  Matcher half = Matcher::TrainOnSample(records, records.size() / 2, options);
  EXPECT_NEAR(std::log2(half.model().lambda), std::log2(full.model().lambda), 1.0);
  size_t same = 0, pairs = 0, false_links = 0;
  for (const CandidatePair& c : GenerateCandidates(records, options.blocking)) {
    const ScoredPair a = full.Score(records, c.a, c.b), b = half.Score(records, c.a, c.b);
    ++pairs;
    same += a.decision == b.decision;
    if (b.decision == MatchDecision::kAutoLink && data.truth[c.a] != data.truth[c.b]) {
      ++false_links;
    }
  }
  ASSERT_GT(pairs, 10000u);
  EXPECT_GE(static_cast<double>(same) / pairs, 0.99) << same << " of " << pairs;
  EXPECT_EQ(false_links, 0u);
}

TEST(MpiEval, BadInputIsAnError) {
  std::ostringstream out;
  EXPECT_EQ(RunMpiEval({"/nonexistent.csv", "", "", false}, {}, out).code(), StatusCode::kNotFound);
  EXPECT_EQ(RunMpiEval({}, {}, out).code(), StatusCode::kIncorrect);
}

}  // namespace
}  // namespace lhcr::identity
