// The audit chain survives a crash: a child process serves lhcr with audit
// on (TestServer) under a load of creates, reads and searches and is killed
// with SIGKILL mid-load; the chain left in the store still verifies against
// its signed checkpoints (what a crash may lose is the queue of the last
// reads, never a gap or a broken link).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "audit/audit.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/test_server.h"

namespace lhcr {
namespace {

using testing::ClientResponse;
using testing::HttpClient;

// The child: serve with audit and load ourselves until killed.
[[noreturn]] void ServeUnderLoad(const std::string& dir, int port_pipe) {
  testing::TestServerOptions o;
  o.data_dir = dir;
  o.store = "sqlite";
  o.audit = true;
  auto server = testing::TestServer::Start(o);
  uint16_t port = server ? server->port() : 0;
  (void)!write(port_pipe, &port, sizeof port);
  if (!server) _exit(1);
  std::vector<std::thread> load;
  for (int t = 0; t < 4; ++t) {
    load.emplace_back([port, t] {
      HttpClient c(port);
      const std::vector<std::pair<std::string, std::string>> who = {
          {"X-Lhcr-User", "load-" + std::to_string(t)}};
      for (int i = 0;; ++i) {
        const std::string pid = "crash-" + std::to_string(t) + "-" + std::to_string(i % 50);
        c.Send("PUT", "/fhir/Patient/" + pid,
               R"({"resourceType":"Patient","id":")" + pid + R"(","gender":"unknown"})", who);
        c.Call("GET", "/fhir/Patient/" + pid, "", who);
        c.Call("GET", "/fhir/Patient?_id=" + pid, "", who);
      }
    });
  }
  for (auto& t : load) t.join();
  _exit(0);
}

TEST(AuditCrashTest, ChainVerifiesAfterKillMinusNine) {
  testing::TempDir dir;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    ServeUnderLoad(dir.path(), fds[1]);
  }
  close(fds[1]);
  uint16_t port = 0;
  ASSERT_EQ(read(fds[0], &port, sizeof port), static_cast<ssize_t>(sizeof port));
  close(fds[0]);
  ASSERT_NE(port, 0);
  // Past the first checkpoint (every 1,000 entries), then kill mid-load.
  HttpClient c(port);
  int64_t count = 0;
  for (int attempt = 0; attempt < 1200 && count < 1500; ++attempt) {
    ClientResponse r = c.Call("GET", "/fhir/AuditEvent?_summary=count");
    size_t at = r.body.find("\"total\":");
    if (at != std::string::npos) count = std::atoll(r.body.c_str() + at + 8);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GE(count, 1500);
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));

  store::SqliteOptions so;
  so.path = dir.path() + "/lhcr.db";
  auto st = store::OpenSqliteStore(so);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  auto report = audit::Verify(**st, dir.path());
  (*st)->Close();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->ok) << "bad entry " << report->first_bad << ": " << report->problem;
  EXPECT_GE(report->entries, count);
  EXPECT_GE(report->checkpoints, 1);
}

}  // namespace
}  // namespace lhcr
