// `lhcr record report` on a small synthetic region, run as the real binary:
// synth, ingest, relink, report with --truth. Checks the report's lines
// (every category, source items >= consolidated items) and the spot checks:
// no consolidated item mixes two true people, and every sampled truth
// medicine is in exactly one entry of its person's record.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <regex>
#include <string>

#include "testing/lhcr_process.h"
#include "testing/test_server.h"

namespace lhcr {
namespace {

using namespace std::chrono_literals;
using testing::LhcrProcess;

// Runs lhcr with `args` to its end; its output, or "" (and a failure) when
// it does not exit 0.
std::string RunLhcr(const std::vector<std::string>& args) {
  std::string error;
  auto p = LhcrProcess::Start(args, &error, /*with_stderr=*/true);
  EXPECT_NE(p, nullptr) << error;
  if (p == nullptr) return "";
  auto status = p->WaitExit(300s);
  EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << args[0] << ": " << p->Output();
  return p->Output();
}

TEST(RecordReport, CollapsesSourcesWithoutMixingPeople) {
  testing::TempDir dir;
  const std::string region = dir.path() + "/region", data = dir.path() + "/data";
  const std::string codelists = std::string(LHCR_SHARED_DATA) + "/codelists";
  RunLhcr({"synth", "--people", "120", "--seed", "7", "--out", region, "--codelists", codelists});
  RunLhcr({"ingest", "--data", data, "--no-fsync", region});
  RunLhcr({"mpi", "relink", "--data", data, "--no-fsync"});
  std::string out = RunLhcr({"record", "report", "--data", data, "--truth", region + "/truth.csv",
                             "--seed", "7", "--codelists", codelists, "--sample", "1000"});
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(out, m, std::regex(R"(record report: (\d+) persons, (\d+) source items)")))
      << out;
  EXPECT_GE(std::stoi(m[1]), 100) << out;
  for (const char* category : {"medications", "problems", "allergies", "results", "timeline",
                               "social-care", "care-team", "other"}) {
    std::regex line(std::string("\n") + category + R"( +(\d+) -> +(\d+) )");
    ASSERT_TRUE(std::regex_search(out, m, line)) << category << "\n" << out;
    EXPECT_GE(std::stoll(m[1]), std::stoll(m[2])) << category;
  }
  // Results from the GP and the lab collapse into series.
  ASSERT_TRUE(std::regex_search(out, m, std::regex(R"(\nresults +(\d+) -> +(\d+) )")));
  EXPECT_GT(std::stoll(m[1]), std::stoll(m[2]));
  EXPECT_NE(out.find("truth: items mixing people 0 of "), std::string::npos) << out;
  ASSERT_TRUE(std::regex_search(
      out, m,
      std::regex(
          R"(truth: medicines of (\d+) sampled people: (\d+) of (\d+) in exactly one entry, (\d+) missing)")))
      << out;
  EXPECT_GT(std::stoi(m[3]), 20) << out;
  // The MPI may split a person (then a medicine can be in two Persons'
  // records); it never loses one.
  EXPECT_EQ(m[4], "0") << out;
  EXPECT_GE(std::stoi(m[2]) * 10, std::stoi(m[3]) * 9) << out;
}

TEST(RecordReport, BadArguments) {
  testing::TempDir dir;
  std::string error;
  auto p = LhcrProcess::Start({"record", "report", "--data", dir.path() + "/none"}, &error, true);
  ASSERT_NE(p, nullptr) << error;
  auto status = p->WaitExit(30s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 2) << p->Output();
  EXPECT_NE(p->Output().find("no store at"), std::string::npos) << p->Output();
}

}  // namespace
}  // namespace lhcr
