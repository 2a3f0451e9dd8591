#include "ingest/journal.h"

#include <gtest/gtest.h>

#include "testing/test_server.h"

namespace lhcr::ingest {
namespace {

TEST(IngestJournalTest, CountsFindingsAndQuarantineSurviveReopening) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/ingest.db";
  int64_t held_id = 0;
  {
    auto j = IngestJournal::Open(path);
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    ASSERT_TRUE((*j)->Count("gp", {.received = 2, .accepted = 1, .rejected = 1, .written = 7})
                    .ok());
    ASSERT_TRUE((*j)->Count("gp", {.received = 1, .accepted = 1, .unchanged = 3}).ok());
    std::vector<Finding> f = {{"PID-3[2]", "invalid-nhs-number", "bad"},
                              {"PID-7", "invalid-date", "1999-02-30"}};
    ASSERT_TRUE((*j)->AddFindings("gp", "M1", f, "2025-01-01T00:00:00Z").ok());
    ASSERT_TRUE((*j)->AddFindings("gp", "M1", f, "2025-01-02T00:00:00Z").ok());  // same: ignored
    ASSERT_TRUE((*j)->AddFindings("gp", "M2", {f[0]}, "2025-01-03T00:00:00Z").ok());
    auto id = (*j)->Quarantine("gp", "hl7v2", "does not parse", std::string("a\0b", 3),
                               "2025-01-01T00:00:00Z");
    ASSERT_TRUE(id.ok());
    held_id = *id;
  }
  auto j = IngestJournal::Open(path);
  ASSERT_TRUE(j.ok());
  auto c = (*j)->Counts("gp");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, (SourceCounts{.received = 3, .accepted = 2, .rejected = 1, .written = 7,
                              .unchanged = 3}));
  auto q = (*j)->Quality("gp", 1);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->findings, 3);
  EXPECT_EQ(q->quarantined, 1);
  ASSERT_EQ(q->codes.size(), 2u);
  EXPECT_EQ(q->codes[0].code, "invalid-nhs-number");
  EXPECT_EQ(q->codes[0].count, 2);
  ASSERT_EQ(q->codes[0].examples.size(), 1u);
  EXPECT_EQ(q->codes[0].examples[0].record, "M2") << "most recent first";
  auto all = (*j)->Findings("gp", 100);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u);
  auto item = (*j)->GetQuarantine(held_id);
  ASSERT_TRUE(item.ok());
  EXPECT_EQ(item->body, std::string("a\0b", 3)) << "bytes kept exactly";
  EXPECT_EQ(item->status, "held");
  ASSERT_TRUE((*j)->Resolve(held_id, "replayed", "2025-01-05T00:00:00Z").ok());
  auto held = (*j)->ListQuarantine("gp", true, 10);
  ASSERT_TRUE(held.ok());
  EXPECT_TRUE(held->empty());
  EXPECT_EQ((*j)->Resolve(held_id + 1, "replayed", "x").code(), StatusCode::kNotFound);
  auto none = (*j)->Counts("nobody");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, SourceCounts{});
}

TEST(IngestJournalTest, OpenFailsClearly) {
  auto j = IngestJournal::Open("/nonexistent-dir/x/ingest.db");
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(j.status().message().find("/nonexistent-dir/x/ingest.db"), std::string::npos);
}

}  // namespace
}  // namespace lhcr::ingest
