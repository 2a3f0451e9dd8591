#include "identity/evaluation.h"

#include <gtest/gtest.h>

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

TEST(MpiEval, BadInputIsAnError) {
  std::ostringstream out;
  EXPECT_EQ(RunMpiEval({"/nonexistent.csv", "", "", false}, {}, out).code(), StatusCode::kNotFound);
  EXPECT_EQ(RunMpiEval({}, {}, out).code(), StatusCode::kIncorrect);
}

}  // namespace
}  // namespace lhcr::identity
