// The overhead of the audit trail on reads and searches: lhcr's FHIR API in
// this process, twice over, one server without audit and one with it (every
// request leaves an AuditEvent: api/audit_middleware.h, audit/audit.h), the
// same stored data in each, loaded by wrk over loopback keep-alive
// connections, the two measured alternately in one run.
//
//   audit_bench [--seconds S] [--pairs P] [--connections C] [--threads T]
//
// Each pair runs, for read by id and for a patient-scoped search, wrk
// against the server without audit and then against the one with it; the
// audited run's time includes waiting until every AuditEvent it caused is
// committed (AuditLog::Flush), so entries queued but not yet written are not
// counted as free. CPU is this process's (server, store writer and audit
// flusher threads; wrk is another process). Prints per pair and then
//   AUDIT_READ   off_rps=.. on_rps=.. ratio=.. off_cpu_us=.. on_cpu_us=..
//   AUDIT_SEARCH ...
// ratio = on / off req/s, medians over the pairs; the load average.
// Stores: SQLite, fsync at every commit (what lhcr serve does by default).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "api/audit_middleware.h"
#include "api/fhir_api.h"
#include "api/http_server.h"
#include "audit/audit.h"
#include "base/ids.h"
#include "base/time.h"
#include "fhir/search_param.h"
#include "fhir/validator.h"
#include "interaction/interaction.h"
#include "store/sqlite/sqlite_store.h"

using namespace lhcr;

namespace {

constexpr int kPatients = 100;
constexpr int kObservationsEach = 10;

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

struct Server {
  std::string dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<audit::AuditLog> log;
  std::unique_ptr<audit::AuditedStore> audited;
  std::unique_ptr<api::AuditMiddleware> mw;
  std::unique_ptr<interaction::Interactions> interactions;
  std::unique_ptr<api::FhirApi> api;
  std::unique_ptr<api::HttpServer> http;
};

std::unique_ptr<Server> Start(bool audit) {
  auto s = std::make_unique<Server>();
  char tmpl[] = "/tmp/lhcr-audit-bench-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return nullptr;
  s->dir = tmpl;
  store::SqliteOptions so;
  so.path = s->dir + "/lhcr.db";
  so.synchronous_full = true;
  auto st = store::OpenSqliteStore(so);
  if (!st.ok()) return nullptr;
  s->store = std::move(*st);
  {
    // The same data in both: Patients p0.., Observations o0.. (as ids).
    interaction::Interactions load(*s->store, fhir::SearchParamRegistry::R4(),
                                   fhir::Validator::R4(), SystemClock(), UuidGenerator());
    interaction::RequestContext ctx;
    ctx.base_url = "http://localhost/fhir";
    for (int p = 0; p < kPatients; ++p) {
      std::string pid = "p" + std::to_string(p);
      auto r = load.Update(
          ctx, "Patient", pid,
          R"({"resourceType":"Patient","id":")" + pid +
              R"(","name":[{"family":"Benchperson","given":["Synthetic"]}],"gender":"female","birthDate":"1950-01-01"})",
          {});
      if (!r.ok()) return nullptr;
      for (int o = 0; o < kObservationsEach; ++o) {
        std::string oid = "o" + std::to_string(p * kObservationsEach + o);
        auto w = load.Update(
            ctx, "Observation", oid,
            R"({"resourceType":"Observation","id":")" + oid +
                R"(","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/)" +
                pid +
                R"("},"effectiveDateTime":"2024-01-01","valueQuantity":{"value":72,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}})",
            {});
        if (!w.ok()) return nullptr;
      }
    }
  }
  store::Store* writes = s->store.get();
  if (audit) {
    audit::AuditOptions ao;
    ao.dir = s->dir;
    auto log = audit::AuditLog::Open(*s->store, fhir::SearchParamRegistry::R4(), ao, SystemClock());
    if (!log.ok()) return nullptr;
    s->log = std::move(*log);
    s->audited = std::make_unique<audit::AuditedStore>(*s->store, *s->log);
    s->mw = std::make_unique<api::AuditMiddleware>(*s->log);
    writes = s->audited.get();
  }
  s->interactions = std::make_unique<interaction::Interactions>(
      *writes, fhir::SearchParamRegistry::R4(), fhir::Validator::R4(), SystemClock(),
      UuidGenerator());
  s->api = std::make_unique<api::FhirApi>(*s->interactions, api::FhirApiOptions{},
                                          [] { return std::string(); });
  api::HttpServerOptions ho;
  ho.io_threads = 2;
  ho.worker_threads = 16;  // lhcr serve's defaults
  api::FhirApi* fhir = s->api.get();
  api::AuditMiddleware* mw = s->mw.get();
  auto http = api::HttpServer::Start(
      ho,
      [fhir, mw](const api::HttpRequest& r) {
        if (mw == nullptr) return fhir->Handle(r);
        return mw->Handle(r, [fhir](const api::HttpRequest& q) { return fhir->Handle(q); });
      },
      [](const api::HttpRequest& r) { return api::FhirApi::IsCheap(r); });
  if (!http.ok()) return nullptr;
  s->http = std::move(*http);
  return s;
}

struct Run {
  double rps = 0;
  double cpu_us = 0;  // per request
};

// wrk against `url`; requests counted from its summary line.
Run Load(Server& s, const std::string& path, int seconds, int connections, int threads) {
  const std::string url = "http://127.0.0.1:" + std::to_string(s.http->port()) + path;
  const std::string cmd = "wrk -t" + std::to_string(threads) + " -c" + std::to_string(connections) +
                          " -d" + std::to_string(seconds) + "s '" + url + "' 2>&1";
  const double cpu0 = CpuSeconds();
  const auto t0 = std::chrono::steady_clock::now();
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (p != nullptr && fgets(buf, sizeof buf, p) != nullptr) out += buf;
  if (p != nullptr) pclose(p);
  if (s.log) s.log->Flush();  // the entries this run queued, committed
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = CpuSeconds() - cpu0;
  long long requests = 0;
  size_t at = out.find(" requests in ");
  if (at != std::string::npos) {
    size_t b = out.rfind('\n', at);
    requests = std::atoll(out.c_str() + (b == std::string::npos ? 0 : b + 1));
  }
  if (out.find("Non-2xx") != std::string::npos) {
    std::fprintf(stderr, "audit_bench: wrk saw errors:\n%s\n", out.c_str());
  }
  Run r;
  r.rps = requests / wall;
  r.cpu_us = requests > 0 ? cpu * 1e6 / requests : 0;
  return r;
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// Where an audited read's CPU goes, without HTTP: AuditLog::Record on this
// thread (building the AuditEvent and its index rows, queueing it) and the
// flusher's store writes (the rest of the process's CPU), per entry.
void Breakdown(Server& s, int n) {
  audit::Event e;
  e.actor = {audit::ActorKind::kProfessional, "dr-bench", "RX1", "R8000", "TREAT", "", ""};
  e.subtype = "read";
  e.action = 'R';
  e.entities = {{"Observation", "o417"}};
  e.patients = {"p41"};
  e.address = "127.0.0.1";
  e.method_path = "GET /fhir/Observation/o417";
  const double p0 = CpuSeconds(), t0 = ThreadCpuSeconds();
  for (int i = 0; i < n; ++i) {
    e.recorded = SystemClock().Now();
    if (!s.log->Record(e).ok()) return;
  }
  const double t1 = ThreadCpuSeconds();
  s.log->Flush();
  const double p1 = CpuSeconds();
  std::printf(
      "breakdown: %d entries: Record on the caller %.1f us/entry, the flusher's store "
      "writes %.1f us/entry\n",
      n, (t1 - t0) * 1e6 / n, ((p1 - p0) - (t1 - t0)) * 1e6 / n);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = 5, pairs = 3, connections = 32, threads = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (a == "--seconds") seconds = v;
    if (a == "--pairs") pairs = v;
    if (a == "--connections") connections = v;
    if (a == "--threads") threads = v;
  }
  std::printf("audit_bench: load average before: %s\n", LoadAverage().c_str());
  auto off = Start(false);
  auto on = Start(true);
  if (!off || !on) {
    std::fprintf(stderr, "audit_bench: cannot start the servers\n");
    return 1;
  }
  Breakdown(*on, 20000);
  struct Workload {
    const char* name;
    std::string path;
    std::vector<double> off_rps, on_rps, ratio, off_cpu, on_cpu;
  };
  std::vector<Workload> loads = {
      {"READ", "/fhir/Observation/o417", {}, {}, {}, {}, {}},
      {"SEARCH", "/fhir/Observation?patient=Patient/p41", {}, {}, {}, {}, {}}};
  for (int p = 0; p < pairs; ++p) {
    for (Workload& w : loads) {
      Run a = Load(*off, w.path, seconds, connections, threads);
      Run b = Load(*on, w.path, seconds, connections, threads);
      w.off_rps.push_back(a.rps);
      w.on_rps.push_back(b.rps);
      w.ratio.push_back(a.rps > 0 ? b.rps / a.rps : 0);
      w.off_cpu.push_back(a.cpu_us);
      w.on_cpu.push_back(b.cpu_us);
      std::printf(
          "pair %d %-6s off %.0f req/s (%.1f us CPU/req)  on %.0f req/s (%.1f us CPU/req)  "
          "ratio %.3f  load %s\n",
          p + 1, w.name, a.rps, a.cpu_us, b.rps, b.cpu_us, w.ratio.back(), LoadAverage().c_str());
      std::fflush(stdout);
    }
  }
  for (Workload& w : loads) {
    std::printf("AUDIT_%s off_rps=%.0f on_rps=%.0f ratio=%.3f off_cpu_us=%.1f on_cpu_us=%.1f\n",
                w.name, Median(w.off_rps), Median(w.on_rps), Median(w.ratio), Median(w.off_cpu),
                Median(w.on_cpu));
  }
  auto report = audit::Verify(*on->store, on->dir);
  std::printf("audit chain after the run: %s, %lld entries\n",
              report.ok() && report->ok ? "ok" : "BAD",
              report.ok() ? (long long)report->entries : 0LL);
  std::printf("audit_bench: load average after: %s\n", LoadAverage().c_str());
  for (auto* s : {off.get(), on.get()}) {
    s->http->Stop();
    if (s->log) s->log->Close();
    s->store->Close();
    std::error_code ec;
    std::filesystem::remove_all(s->dir, ec);
  }
  return 0;
}
