// Crash safety of the real `lhcr serve` process: transactions acknowledged
// with 200 survive a kill -9, and no transaction is ever partly there; a
// SIGTERM while writes are in flight shuts down cleanly (exit 0) without
// losing an acknowledged write.
//
// Each client thread posts transaction Bundles of kPatients Patients and as
// many Observations (each referring to its Patient by urn:uuid), all tagged
// with one marker identifier per Bundle. After the stop the server is
// restarted on the same data directory and every marker is checked: an
// acknowledged one has exactly its resources, an unacknowledged one has all
// or none of them; finally the store itself is opened and counted, so that
// no resource exists outside a complete transaction.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fhir/json.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/lhcr_process.h"
#include "testing/test_server.h"

namespace lhcr {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kPatients = 10;  // and as many Observations: 20 entries a Bundle
constexpr const char* kMarkerSystem = "https://lhcr.test/crash-marker";

// The lhcr under test: LHCR_BINARY from the environment, else the one built
// beside this test.
// `lhcr serve --data DIR --listen 127.0.0.1:0` as a child process (killed
// and reaped on destruction, so a failing test never leaves one behind).
std::unique_ptr<testing::LhcrProcess> StartServer(const std::string& data_dir) {
  std::string error;
  auto p = testing::LhcrProcess::Serve({"--data", data_dir, "--io-threads", "2", "--workers", "8"},
                                       &error);
  if (p == nullptr) ADD_FAILURE() << error;
  return p;
}

struct PostResult {
  int status = 0;  // 0: no complete response
  std::string body;
};

// One POST on a fresh connection, never retried (a retry could apply a
// transaction twice). A response counts only if it arrived whole.
PostResult PostOnce(uint16_t port, const std::string& target, const std::string& body) {
  PostResult r;
  int fd = testing::ConnectLoopback(port, 20);
  if (fd < 0) return r;
  std::string req = "POST " + target +
                    " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    "Content-Type: application/fhir+json\r\nConnection: close\r\n"
                    "Content-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
  size_t sent = 0;
  while (sent < req.size()) {
    ssize_t n = send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      close(fd);
      return r;
    }
    sent += static_cast<size_t>(n);
  }
  std::string buf;
  char chunk[65536];
  for (;;) {
    ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) break;
    buf.append(chunk, static_cast<size_t>(n));
  }
  close(fd);
  size_t header_end = buf.find("\r\n\r\n");
  if (header_end == std::string::npos || buf.size() < 12) return r;
  std::string headers = buf.substr(0, header_end);
  for (char& c : headers) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t cl = headers.find("\r\ncontent-length:");
  if (cl == std::string::npos) return r;
  size_t length = std::strtoull(headers.c_str() + cl + 17, nullptr, 10);
  if (buf.size() - header_end - 4 != length) return r;  // cut short
  r.status = std::atoi(buf.c_str() + 9);
  r.body = buf.substr(header_end + 4);
  return r;
}

std::string Uuid(int64_t bundle_no, int entry) {
  char s[64];
  std::snprintf(s, sizeof s, "urn:uuid:%08llx-0000-4000-8000-%012x",
                static_cast<unsigned long long>(bundle_no), entry);
  return s;
}

std::string TransactionBundle(const std::string& marker, int64_t bundle_no) {
  const std::string ident = R"("identifier":[{"system":")" + std::string(kMarkerSystem) +
                            R"(","value":")" + marker + R"("}])";
  std::string b = R"({"resourceType":"Bundle","type":"transaction","entry":[)";
  for (int i = 0; i < kPatients; ++i) {
    if (i > 0) b += ",";
    b += R"({"fullUrl":")" + Uuid(bundle_no, i) + R"(","resource":{"resourceType":"Patient",)" +
         ident + R"(,"name":[{"family":"Crash","given":["P)" + std::to_string(i) +
         R"("]}],"gender":"unknown","birthDate":"1970-01-0)" + std::to_string(1 + i % 9) +
         R"("},"request":{"method":"POST","url":"Patient"}})";
  }
  for (int i = 0; i < kPatients; ++i) {
    b += R"(,{"fullUrl":")" + Uuid(bundle_no, kPatients + i) +
         R"(","resource":{"resourceType":"Observation",)" + ident +
         R"(,"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},)"
         R"("subject":{"reference":")" +
         Uuid(bundle_no, i) +
         R"("},"effectiveDateTime":"2024-01-02T03:04:05Z",)"
         R"("valueQuantity":{"value":)" +
         std::to_string(60 + i) +
         R"(,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}},)"
         R"("request":{"method":"POST","url":"Observation"}})";
  }
  return b + "]}";
}

// What the server said it stored for one acknowledged Bundle.
struct Acked {
  std::vector<std::string> patients;      // ids, in entry order
  std::vector<std::string> observations;  // ids, in entry order
};

// Parses a transaction-response; nullopt unless it lists every entry.
std::optional<Acked> ParseResponse(const std::string& body) {
  auto locations = testing::ResponseLocations(body);
  if (!locations || locations->size() != 2 * kPatients) return std::nullopt;
  Acked a;
  for (const auto& [type, id] : *locations) {
    (type == "Patient" ? a.patients : a.observations).push_back(id);
  }
  if (a.patients.size() != kPatients || a.observations.size() != kPatients) return std::nullopt;
  return a;
}

// Client threads posting marker Bundles until told to stop or the server
// goes away. Joined (after stop) on destruction.
class Load {
 public:
  // Markers are "<prefix>-<thread>-<n>".
  Load(uint16_t port, int threads, std::string prefix = "m")
      : prefix_(std::move(prefix)), running_(threads) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, port, t] { Run(port, t); });
    }
  }
  ~Load() { Stop(); }

  void Stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  // Waits until `n` Bundles are acknowledged; false on timeout or when every
  // client has given up.
  bool WaitForAcked(size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return acked_.size() >= n || running_ == 0; }) &&
           acked_.size() >= n;
  }

  std::map<std::string, Acked> acked() {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_;
  }
  std::set<std::string> attempted() {
    std::lock_guard<std::mutex> lock(mu_);
    return attempted_;
  }
  std::string first_error() {
    std::lock_guard<std::mutex> lock(mu_);
    return first_error_;
  }
  std::map<int, int> other_statuses() {
    std::lock_guard<std::mutex> lock(mu_);
    return other_statuses_;
  }

 private:
  void Run(uint16_t port, int t) {
    for (int n = 0; !stop_; ++n) {
      const std::string marker = prefix_ + "-" + std::to_string(t) + "-" + std::to_string(n);
      const int64_t bundle_no = (int64_t{t} << 24) | n;  // unique within a Bundle suffices
      {
        std::lock_guard<std::mutex> lock(mu_);
        attempted_.insert(marker);
      }
      PostResult r = PostOnce(port, "/fhir", TransactionBundle(marker, bundle_no));
      std::optional<Acked> a = r.status == 200 ? ParseResponse(r.body) : std::nullopt;
      std::lock_guard<std::mutex> lock(mu_);
      if (a) {
        acked_.emplace(marker, std::move(*a));
        cv_.notify_all();
        continue;
      }
      if (r.status != 0) other_statuses_[r.status]++;
      if (first_error_.empty()) {
        first_error_ =
            marker + ": status " + std::to_string(r.status) + " " + r.body.substr(0, 500);
      }
      if (r.status == 0 || r.status == 503) break;  // the server is gone or going
    }
    std::lock_guard<std::mutex> lock(mu_);
    --running_;
    cv_.notify_all();
  }

  const std::string prefix_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  int running_;                         // guarded by mu_: clients still posting
  std::map<std::string, Acked> acked_;  // guarded by mu_
  std::set<std::string> attempted_;     // guarded by mu_
  std::map<int, int> other_statuses_;   // guarded by mu_: status -> count
  std::string first_error_;             // guarded by mu_
};

std::string Enc(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_') {
      out += static_cast<char>(c);
    } else {
      char h[4];
      std::snprintf(h, sizeof h, "%%%02X", c);
      out += h;
    }
  }
  return out;
}

// The ids of the resources of `type` carrying `marker` (sorted), or nullopt
// if the search failed.
std::optional<std::vector<std::string>> Search(testing::HttpClient& c, const std::string& type,
                                               const std::string& marker) {
  testing::ClientResponse r =
      c.Get("/fhir/" + type + "?identifier=" + Enc(std::string(kMarkerSystem) + "|" + marker) +
            "&_count=100");
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

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// Checks every attempted marker against the restarted server: acknowledged
// Bundles are wholly there (readable, searchable, references resolved),
// the others wholly there or wholly absent. Returns the number of markers
// whose Bundle is present.
size_t VerifyAllOrNothing(uint16_t port, const std::set<std::string>& attempted,
                          const std::map<std::string, Acked>& acked) {
  // Spread over a few threads: thousands of GETs.
  std::vector<std::string> markers(attempted.begin(), attempted.end());
  std::atomic<size_t> next{0}, present{0}, unacked_present{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      testing::HttpClient c(port);
      for (size_t i = next++; i < markers.size(); i = next++) {
        const std::string& m = markers[i];
        auto patients = Search(c, "Patient", m);
        auto observations = Search(c, "Observation", m);
        if (!patients || !observations) return;
        auto it = acked.find(m);
        if (it != acked.end()) {
          EXPECT_EQ(*patients, Sorted(it->second.patients)) << "acknowledged " << m;
          EXPECT_EQ(*observations, Sorted(it->second.observations)) << "acknowledged " << m;
          std::set<std::string> subjects;
          for (const std::string& id : it->second.patients) {
            testing::ClientResponse r = c.Get("/fhir/Patient/" + id);
            EXPECT_EQ(r.status, 200) << "Patient/" << id << " of acknowledged " << m;
            subjects.insert("Patient/" + id);
          }
          for (const std::string& id : it->second.observations) {
            testing::ClientResponse r = c.Get("/fhir/Observation/" + id);
            EXPECT_EQ(r.status, 200) << "Observation/" << id << " of acknowledged " << m;
            auto doc = fhir::ParseJson(r.body);
            ASSERT_TRUE(doc.ok());
            const fhir::Json* subject = fhir::Member(*doc, "subject");
            ASSERT_NE(subject, nullptr);
            EXPECT_TRUE(subjects.contains(std::string(fhir::StringMember(*subject, "reference"))))
                << "Observation/" << id << " refers outside its transaction";
          }
          ++present;
        } else {
          // Never acknowledged (in flight at the stop): all or nothing.
          EXPECT_EQ(patients->size(), observations->size()) << "partial transaction " << m;
          EXPECT_TRUE(patients->empty() || patients->size() == kPatients)
              << "partial transaction " << m << ": " << patients->size() << " Patients";
          if (!patients->empty()) {
            ++present;
            ++unacked_present;
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  std::printf(
      "markers: %zu attempted, %zu acknowledged, %zu present (%zu committed but not "
      "acknowledged)\n",
      attempted.size(), acked.size(), present.load(), unacked_present.load());
  return present.load();
}

// Counts the live resources of `type` in the (closed) store at data_dir.
int64_t CountInStore(const std::string& data_dir, const std::string& type) {
  store::SqliteOptions o;
  o.path = data_dir + "/lhcr.db";
  auto s = store::OpenSqliteStore(o);
  if (!s.ok()) {
    ADD_FAILURE() << s.status().ToString();
    return -1;
  }
  int64_t n = -1;
  {
    auto view = (*s)->View();
    auto all = view.ok() ? (*view)->AllOfType(type) : Result<store::RidSet>(view.status());
    EXPECT_TRUE(all.ok()) << all.status().ToString();
    if (all.ok()) n = static_cast<int64_t>(all->size());
  }
  (*s)->Close();
  return n;
}

// Restarts lhcr on data_dir, checks every marker over HTTP, stops it cleanly
// and counts the store: nothing exists outside a complete transaction.
void RestartAndVerify(const std::string& data_dir, const std::set<std::string>& attempted,
                      const std::map<std::string, Acked>& acked) {
  size_t present = 0;
  {
    auto server = StartServer(data_dir);
    ASSERT_NE(server, nullptr) << "lhcr does not restart after the stop";
    present = VerifyAllOrNothing(server->port(), attempted, acked);
    server->Signal(SIGTERM);
    auto status = server->WaitExit(30s);
    ASSERT_TRUE(status.has_value()) << "the restarted lhcr did not stop";
  }
  EXPECT_GE(present, acked.size());
  EXPECT_EQ(CountInStore(data_dir, "Patient"), static_cast<int64_t>(present * kPatients));
  EXPECT_EQ(CountInStore(data_dir, "Observation"), static_cast<int64_t>(present * kPatients));
}

TEST(CrashSafetyTest, KillNineLosesNoAcknowledgedTransactionAndLeavesNoPartOne) {
  testing::TempDir dir;
  const std::string data = dir.path() + "/data";
  std::set<std::string> attempted;
  std::map<std::string, Acked> acked;
  // Twice: the second crash hits a store that has already recovered once.
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::unique_ptr<Load> load;
    {
      auto server = StartServer(data);
      ASSERT_NE(server, nullptr);
      load = std::make_unique<Load>(server->port(), 6, "r" + std::to_string(round));
      ASSERT_TRUE(load->WaitForAcked(300, 40s))
          << "only " << load->acked().size()
          << " acknowledged; first error: " << load->first_error()
          << "; server output: " << server->Output();
      server->Signal(SIGKILL);  // mid-stream: the clients are still posting
      auto status = server->WaitExit(10s);
      ASSERT_TRUE(status.has_value());
      EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL);
    }
    load->Stop();
    EXPECT_TRUE(load->other_statuses().empty()) << "unexpected responses: " << load->first_error();
    auto a = load->attempted();
    attempted.insert(a.begin(), a.end());
    auto k = load->acked();
    acked.insert(k.begin(), k.end());
    ASSERT_NO_FATAL_FAILURE(RestartAndVerify(data, attempted, acked));
  }
}

TEST(CrashSafetyTest, SigtermWhileWritingExitsCleanlyAndKeepsEveryAcknowledgedWrite) {
  testing::TempDir dir;
  const std::string data = dir.path() + "/data";
  std::unique_ptr<Load> load;
  {
    auto server = StartServer(data);
    ASSERT_NE(server, nullptr);
    load = std::make_unique<Load>(server->port(), 6);
    ASSERT_TRUE(load->WaitForAcked(100, 45s))
        << "only " << load->acked().size() << " acknowledged; first error: " << load->first_error();
    server->Signal(SIGTERM);
    auto status = server->WaitExit(30s);
    ASSERT_TRUE(status.has_value()) << "lhcr did not stop within 30 s of SIGTERM";
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "wait status " << *status;
    EXPECT_NE(server->Output().find("lhcr: stopped cleanly"), std::string::npos)
        << server->Output();
  }
  load->Stop();
  // While stopping, the server may refuse new work with 503; nothing else.
  for (const auto& [status, n] : load->other_statuses()) {
    EXPECT_EQ(status, 503) << n << " responses";
  }
  ASSERT_NO_FATAL_FAILURE(RestartAndVerify(data, load->attempted(), load->acked()));
}

}  // namespace
}  // namespace lhcr
