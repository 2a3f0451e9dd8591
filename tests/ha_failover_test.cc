// High availability of the real `lhcr serve` on PostgreSQL: a primary and a
// streaming-replication hot standby; lhcr A writes to the primary (--store)
// and reads from the standby (--read-store). The primary crashes (immediate
// shutdown, no checkpoint), A is killed with SIGKILL, the standby is
// promoted, and lhcr B on it serves every write A acknowledged and takes
// new ones, their versions going on from where A left off.
//
// "Nothing lost" needs acknowledged to mean replicated. The test servers run
// with synchronous_commit=off (src/testing/postgres_server.cc, for speed), so
// this test makes the primary's replication synchronous for the lhcr
// database: synchronous_standby_names = '*' (ALTER SYSTEM, after the
// standby's base backup, so the promoted standby does not wait for a standby
// of its own) and synchronous_commit = remote_apply (ALTER DATABASE, which
// overrides the server's command line). A COMMIT then returns only when the
// standby has applied it: every Bundle acknowledged with 200 is on the
// standby before lhcr answers, and is visible to reads from it at once.
// With asynchronous replication a commit acknowledged just before the crash
// could be lost (docs/STORE.md, "High availability").
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fhir/json.h"
#include "testing/lhcr_process.h"
#include "testing/postgres_server.h"
#include "testing/test_server.h"

namespace lhcr {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kBundles = 24;
constexpr int kPatients = 5;  // and as many Observations: 10 entries a Bundle
constexpr const char* kMarkerSystem = "https://lhcr.test/ha-marker";

// lhcr takes postgres:// URLs; the harness gives key=value conninfo.
std::string Url(const testing::PostgresServer& server) {
  return "postgres://postgres@127.0.0.1:" + std::to_string(server.port()) + "/lhcr";
}

// `lhcr serve ARGS --listen 127.0.0.1:0` as a child process (killed and
// reaped on destruction; it also dies with this process).
std::unique_ptr<testing::LhcrProcess> StartServer(std::vector<std::string> args) {
  args.insert(args.end(), {"--io-threads", "2", "--workers", "4"});
  std::string error;
  auto p = testing::LhcrProcess::Serve(std::move(args), &error);
  if (p == nullptr) ADD_FAILURE() << error;
  return p;
}

std::string TransactionBundle(const std::string& marker, int bundle_no) {
  const std::string ident = R"("identifier":[{"system":")" + std::string(kMarkerSystem) +
                            R"(","value":")" + marker + R"("}])";
  auto uuid = [&](int entry) {
    char s[64];
    std::snprintf(s, sizeof s, "urn:uuid:%08x-0000-4000-8000-%012x", bundle_no, entry);
    return std::string(s);
  };
  std::string b = R"({"resourceType":"Bundle","type":"transaction","entry":[)";
  for (int i = 0; i < kPatients; ++i) {
    if (i > 0) b += ",";
    b += R"({"fullUrl":")" + uuid(i) + R"(","resource":{"resourceType":"Patient",)" + ident +
         R"(,"name":[{"family":"Failover","given":["P)" + std::to_string(i) +
         R"("]}],"gender":"unknown"},"request":{"method":"POST","url":"Patient"}})";
  }
  for (int i = 0; i < kPatients; ++i) {
    b += R"(,{"fullUrl":")" + uuid(kPatients + i) +
         R"(","resource":{"resourceType":"Observation",)" + ident +
         R"(,"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},)"
         R"("subject":{"reference":")" +
         uuid(i) + R"("},"valueQuantity":{"value":)" + std::to_string(60 + i) +
         R"(,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}},)"
         R"("request":{"method":"POST","url":"Observation"}})";
  }
  return b + "]}";
}

// What lhcr said it stored for one acknowledged Bundle: ids, sorted.
struct Acked {
  std::vector<std::string> patients;
  std::vector<std::string> observations;
};

std::optional<Acked> ParseResponse(const std::string& body) {
  auto locations = testing::ResponseLocations(body);
  if (!locations || locations->size() != 2 * kPatients) return std::nullopt;
  Acked a;
  for (const auto& [type, id] : *locations) {
    (type == "Patient" ? a.patients : a.observations).push_back(id);
  }
  if (a.patients.size() != kPatients || a.observations.size() != kPatients) return std::nullopt;
  std::sort(a.patients.begin(), a.patients.end());
  std::sort(a.observations.begin(), a.observations.end());
  return a;
}

// Ids (sorted) of the resources of `type` carrying `marker`; nullopt when
// the search failed.
std::optional<std::vector<std::string>> Search(testing::HttpClient& c, const std::string& type,
                                               const std::string& marker) {
  testing::ClientResponse r = c.Get("/fhir/" + type + "?identifier=https%3A%2F%2Flhcr.test%2F" +
                                    "ha-marker%7C" + marker + "&_count=100");
  if (r.status != 200) {
    ADD_FAILURE() << type << " search for " << marker << ": " << r.status << " " << r.body;
    return std::nullopt;
  }
  auto doc = fhir::ParseJson(r.body);
  if (!doc.ok()) return std::nullopt;
  std::vector<std::string> ids;
  if (const fhir::Json* entries = fhir::Member(*doc, "entry");
      entries != nullptr && entries->IsArray()) {
    for (const fhir::Json& e : entries->GetArray()) {
      const fhir::Json* res = fhir::Member(e, "resource");
      if (res != nullptr) ids.emplace_back(fhir::StringMember(*res, "id"));
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

// Every acknowledged Bundle is wholly there through the lhcr on `port`:
// searchable by its marker, each resource readable and its version 1 too.
void ExpectAllThere(uint16_t port, const std::map<std::string, Acked>& acked,
                    const std::string& who) {
  testing::HttpClient c(port);
  for (const auto& [marker, a] : acked) {
    auto patients = Search(c, "Patient", marker);
    auto observations = Search(c, "Observation", marker);
    ASSERT_TRUE(patients && observations) << who;
    EXPECT_EQ(*patients, a.patients) << who << ": acknowledged " << marker;
    EXPECT_EQ(*observations, a.observations) << who << ": acknowledged " << marker;
    for (const std::string& id : a.patients) {
      EXPECT_EQ(c.Get("/fhir/Patient/" + id).status, 200) << who << ": Patient/" << id;
    }
    for (const std::string& id : a.observations) {
      EXPECT_EQ(c.Get("/fhir/Observation/" + id + "/_history/1").status, 200)
          << who << ": Observation/" << id;
    }
  }
}

// Runs `sql` until it succeeds (a DO block that raises until its condition
// holds), for up to 30 s.
Status WaitFor(testing::PostgresServer& server, const std::string& database,
               const std::string& sql) {
  Status s;
  for (const auto deadline = Clock::now() + 30s; Clock::now() < deadline;) {
    s = server.Exec(database, sql);
    if (s.ok()) return s;
    std::this_thread::sleep_for(20ms);
  }
  return s;
}

// A crash of the database server: SIGQUIT to the postmaster is PostgreSQL's
// immediate shutdown (no checkpoint; recovery on the next start), then the
// harness reaps it.
void CrashServer(testing::PostgresServer& server) {
  std::ifstream pid_file(server.dir() + "/data/postmaster.pid");
  pid_t pid = 0;
  pid_file >> pid;
  ASSERT_GT(pid, 0) << "no postmaster.pid in " << server.dir();
  ASSERT_EQ(kill(pid, SIGQUIT), 0) << std::strerror(errno);
  server.Stop();  // reaps it (the signal it sends finds it dead or dying)
}

TEST(HaFailoverTest, PromotedStandbyServesEveryAcknowledgedWriteAndTakesNewOnes) {
  auto primary = testing::PostgresServer::Start();
  if (!primary.ok()) GTEST_SKIP() << primary.status().ToString();
  auto standby = testing::PostgresServer::StartStandby(**primary);
  ASSERT_TRUE(standby.ok()) << standby.status().ToString();

  // Synchronous replication (see the top of this file), then wait until
  // the standby is the primary's synchronous one.
  ASSERT_TRUE(
      (*primary)->Exec("postgres", "ALTER SYSTEM SET synchronous_standby_names = '*'").ok());
  ASSERT_TRUE((*primary)->Exec("postgres", "SELECT pg_reload_conf()").ok());
  ASSERT_TRUE((*primary)
                  ->Exec("postgres", "ALTER DATABASE lhcr SET synchronous_commit = remote_apply")
                  .ok());
  Status sync = WaitFor(**primary, "postgres",
                        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_stat_replication "
                        "WHERE sync_state = 'sync') THEN RAISE EXCEPTION 'not sync'; END IF; "
                        "END $$");
  ASSERT_TRUE(sync.ok()) << "the standby never became synchronous: " << sync.ToString();
  ASSERT_TRUE((*primary)
                  ->Exec("lhcr",
                         "DO $$ BEGIN IF current_setting('synchronous_commit') <> 'remote_apply' "
                         "THEN RAISE EXCEPTION 'synchronous_commit is %', "
                         "current_setting('synchronous_commit'); END IF; END $$")
                  .ok())
      << "lhcr's sessions commit with remote_apply";

  // lhcr A: writes to the primary, reads from the standby. Its store opens
  // (and migrates) the schema on the primary first; the standby has it as
  // soon as the migration commits (synchronously).
  auto a = StartServer({"--store", Url(**primary), "--read-store", Url(**standby)});
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->Line(0, 1s), "lhcr serving http://127.0.0.1:" + std::to_string(a->port()) +
                                "/fhir (store " + Url(**primary) + ", reads from " +
                                Url(**standby) + ")");

  std::map<std::string, Acked> acked;
  {
    testing::HttpClient c(a->port());
    for (int n = 0; n < kBundles; ++n) {
      const std::string marker = "ha-" + std::to_string(n);
      testing::ClientResponse r = c.Send("POST", "/fhir", TransactionBundle(marker, n));
      ASSERT_EQ(r.status, 200) << marker << ": " << r.body.substr(0, 500);
      std::optional<Acked> parsed = ParseResponse(r.body);
      ASSERT_TRUE(parsed.has_value()) << marker << ": " << r.body.substr(0, 500);
      acked.emplace(marker, std::move(*parsed));
    }
  }
  // Redundant with remote_apply, but it keeps the claim below independent of
  // the commit setting: the standby has replayed everything.
  ASSERT_TRUE((*primary)->WaitForStandby().ok());
  ExpectAllThere(a->port(), acked, "lhcr A (reads from the standby)");
  // The reads came from the standby: A holds connections to it.
  EXPECT_TRUE((*standby)
                  ->Exec("postgres",
                         "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE "
                         "datname = 'lhcr' AND application_name = 'lhcr') THEN RAISE EXCEPTION "
                         "'no lhcr connection'; END IF; END $$")
                  .ok())
      << "lhcr A reads from the standby";

  // The primary crashes. A still answers reads (from the standby) and
  // refuses writes with 503, storing nothing; then A is killed too.
  const std::string some_patient = acked.begin()->second.patients.front();
  CrashServer(**primary);
  {
    testing::HttpClient c(a->port());
    EXPECT_EQ(c.Get("/fhir/Patient/" + some_patient).status, 200)
        << "reads go on from the standby while the primary is down";
    testing::ClientResponse w =
        c.Send("POST", "/fhir/Patient", R"({"resourceType":"Patient","gender":"male"})");
    EXPECT_EQ(w.status, 503) << w.body;
  }
  a->Kill();

  // Failover: promote the standby and start lhcr B on it.
  ASSERT_TRUE((*standby)->Promote().ok());
  auto b = StartServer({"--store", Url(**standby)});
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->Line(0, 1s), "lhcr serving http://127.0.0.1:" + std::to_string(b->port()) +
                                "/fhir (store " + Url(**standby) + ")");
  ExpectAllThere(b->port(), acked, "lhcr B on the promoted standby");

  // B takes new writes: a create, an update of a Patient A wrote (its
  // versions go on), and another transaction Bundle.
  testing::HttpClient c(b->port());
  testing::ClientResponse created =
      c.Send("POST", "/fhir/Patient", R"({"resourceType":"Patient","gender":"female"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string location = created.Header("Location");
  ASSERT_NE(location.find("/Patient/"), std::string::npos) << location;
  EXPECT_NE(location.find("/_history/1"), std::string::npos) << location;
  {
    auto doc = fhir::ParseJson(created.body);
    ASSERT_TRUE(doc.ok());
    const std::string id(fhir::StringMember(*doc, "id"));
    testing::ClientResponse read = c.Get("/fhir/Patient/" + id);
    EXPECT_EQ(read.status, 200);
    EXPECT_EQ(read.Header("ETag"), "W/\"1\"");
  }
  testing::ClientResponse updated =
      c.Send("PUT", "/fhir/Patient/" + some_patient,
             R"({"resourceType":"Patient","id":")" + some_patient + R"(","gender":"other"})");
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(updated.Header("ETag"), "W/\"2\"");
  testing::ClientResponse read = c.Get("/fhir/Patient/" + some_patient);
  EXPECT_EQ(read.status, 200);
  EXPECT_EQ(read.Header("ETag"), "W/\"2\"");
  EXPECT_NE(read.body.find(R"("gender":"other")"), std::string::npos) << read.body;
  EXPECT_EQ(c.Get("/fhir/Patient/" + some_patient + "/_history/1").status, 200);

  testing::ClientResponse bundle = c.Send("POST", "/fhir", TransactionBundle("ha-after", 999));
  ASSERT_EQ(bundle.status, 200) << bundle.body.substr(0, 500);
  std::optional<Acked> after = ParseResponse(bundle.body);
  ASSERT_TRUE(after.has_value());
  ExpectAllThere(b->port(), {{"ha-after", *after}}, "lhcr B, new writes");
  b->Kill();
}

}  // namespace
}  // namespace lhcr
