// Patient-scoped search latency over a large store.
//
//   search_bench --dir DIR [--patients N] [--queries Q] [--seed S]
//                [--store sqlite|postgres|both]
//
// Loads N synthetic patients (100 resources each, synthetic_bundles.h)
// through Interactions::Bundle with synchronous=NORMAL into DIR/lhcr.db,
// unless DIR already holds a complete load of N patients (DIR/patients.txt),
// which is then reused. Then, in-process through Interactions::Search, times
// Q rounds of these queries for random patients, interleaved so that noise
// hits all of them alike:
//
//   read       Patient/X read by id (the baseline: one point read)
//   obs_code   Observation?patient=Patient/X&code=http://loinc.org|C
//   obs_date   Observation?subject=Patient/X&date=ge2020-01-01
//   cond       Condition?patient=X
//   obs_all    Observation?patient=X           (first page of 50)
//
// and prints per query p50/p99 in microseconds and their ratio to the read,
// and p50/p99 of the calling thread's CPU time (the tail without the time
// spent waiting for a core on a busy machine).
//
// --store postgres|both: the same N patients are also loaded (through the
// same Interactions::Bundle, two producers) into the PostgreSQL store on a
// throwaway server (bench_postgres.h; durable settings, and for the load,
// as SQLite's synchronous=NORMAL, synchronous_commit=off on the database:
// a bulk import), then ANALYZE, and the same query rounds run against both
// stores alternately, round by round (SQLite then PostgreSQL for the same
// patient and code), so that noise hits both alike. Each store's ratios are
// to its own read by id; lines for PostgreSQL start "SEARCH_PG". The
// PostgreSQL store is not kept between runs.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "base/ids.h"
#include "base/time.h"
#include "fhir/search_param.h"
#include "fhir/validator.h"
#include "interaction/interaction.h"
#include "bench_postgres.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"
#include "synthetic_bundles.h"

namespace lhcr::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "search_bench: " << what << "\n";
  std::exit(1);
}

struct Args {
  std::string dir = "/tmp/lhcr-search-bench";
  int patients = 10000;
  int queries = 2000;
  uint64_t seed = 7;
  bool sqlite = true;
  bool postgres = false;
};

std::vector<std::string> ReadPatients(const std::string& path) {
  std::vector<std::string> ids;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) ids.push_back(line);
  }
  return ids;
}

// The Patient id from a transaction-response (the first entry's location).
std::string PatientIdOf(const std::string& body) {
  const std::string key = "\"location\":\"Patient/";
  size_t p = body.find(key);
  if (p == std::string::npos) return "";
  p += key.size();
  size_t e = body.find('/', p);
  return body.substr(p, e - p);
}

std::vector<std::string> Load(const Args& args, interaction::Interactions& in, const char* label = "LOAD") {
  std::vector<std::string> ids(static_cast<size_t>(args.patients));
  std::atomic<int> next{0}, done{0};
  std::atomic<bool> failed{false};
  interaction::RequestContext ctx;
  ctx.base_url = "http://127.0.0.1/fhir";
  auto t0 = SteadyClock::now();
  auto worker = [&] {
    for (;;) {
      int n = next.fetch_add(1);
      if (n >= args.patients || failed.load()) return;
      PatientRecord r = MakePatientRecord(n, /*seed=*/42);
      auto resp = in.Bundle(ctx, r.bundle);
      if (!resp.ok()) {
        std::cerr << "load failed: " << resp.status().ToString() << "\n";
        failed = true;
        return;
      }
      ids[static_cast<size_t>(n)] = PatientIdOf(resp->body);
      int d = done.fetch_add(1) + 1;
      if (d % 500 == 0) {
        double s = std::chrono::duration<double>(SteadyClock::now() - t0).count();
        std::printf("%s %d/%d patients, %.0f s, %.0f resources/s\n", label, d, args.patients, s,
                    d * 100.0 / s);
        std::fflush(stdout);
      }
    }
  };
  // Two producers: one builds the next bundles while the store's writer
  // thread ingests; group commit merges what they send.
  std::thread a(worker), b(worker);
  a.join();
  b.join();
  if (failed) Die("load failed");
  double s = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  std::printf("%s done: %d patients in %.0f s (%.0f resources/s)\n", label, args.patients, s,
              args.patients * 100.0 / s);
  return ids;
}

// CPU time of the calling thread: the query's own work, without the time
// it waited for a core on a busy machine.
double ThreadCpuUs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) * 1e-3;
}

struct Series {
  std::string name;
  std::vector<double> us;
  std::vector<double> cpu_us;
  int64_t results = 0;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

int64_t TotalOf(const std::string& body) {
  size_t p = body.find("\"total\":");
  return p == std::string::npos ? 0 : std::atoll(body.c_str() + p + 8);
}

}  // namespace
}  // namespace lhcr::bench

int main(int argc, char** argv) {
  using namespace lhcr;
  using namespace lhcr::bench;
  Args args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--dir") args.dir = next();
    else if (a == "--patients") args.patients = std::stoi(next());
    else if (a == "--queries") args.queries = std::stoi(next());
    else if (a == "--seed") args.seed = std::stoull(next());
    else if (a == "--store") {
      const std::string v = next();
      if (v != "sqlite" && v != "postgres" && v != "both") Die("--store takes sqlite, postgres or both");
      args.sqlite = v != "postgres";
      args.postgres = v != "sqlite";
    }
    else Die("unknown argument " + a);
  }
  // One target per store measured: its store, interactions, patient ids
  // (the same synthetic patients, in the same order) and series.
  struct Target {
    std::string label;  // "SEARCH" or "SEARCH_PG"
    std::unique_ptr<store::Store> store;
    std::unique_ptr<interaction::Interactions> in;
    std::vector<std::string> ids;
    std::vector<Series> series;
  };
  std::vector<Target> targets;
  std::unique_ptr<BenchPostgres> pg;
  auto make_in = [](store::Store& st) {
    return std::make_unique<interaction::Interactions>(st, fhir::SearchParamRegistry::R4(), fhir::Validator::R4(),
                                                       SystemClock(), UuidGenerator());
  };

  if (args.sqlite) {
    std::filesystem::create_directories(args.dir);
    const std::string db = args.dir + "/lhcr.db", list = args.dir + "/patients.txt";
    Target t;
    t.label = "SEARCH";
    t.ids = ReadPatients(list);
    const bool reuse = static_cast<int>(t.ids.size()) == args.patients && std::filesystem::exists(db);
    if (!reuse) {
      for (const char* x : {"", "-wal", "-shm"}) std::filesystem::remove(db + x);
      std::filesystem::remove(list);
    }
    store::SqliteOptions so;
    so.path = db;
    so.synchronous_full = false;  // NORMAL: the load is a bulk import
    auto store = store::OpenSqliteStore(so);
    if (!store.ok()) Die(store.status().ToString());
    t.store = std::move(*store);
    t.in = make_in(*t.store);
    if (!reuse) {
      t.ids = Load(args, *t.in);
      std::ofstream out(list + ".tmp");
      for (const auto& id : t.ids) out << id << "\n";
      out.close();
      std::filesystem::rename(list + ".tmp", list);
    } else {
      std::printf("LOAD reused %s (%d patients)\n", db.c_str(), args.patients);
    }
    int64_t db_bytes = static_cast<int64_t>(std::filesystem::file_size(db));
    std::printf("DATA patients=%d resources=%d db_mb=%lld\n", args.patients, args.patients * 100,
                static_cast<long long>(db_bytes >> 20));
    targets.push_back(std::move(t));
  }
  if (args.postgres) {
    auto started = BenchPostgres::Start(/*durable=*/true);
    if (!started.ok()) Die("PostgreSQL: " + started.status().ToString());
    pg = std::move(*started);
    // As SQLite's synchronous=NORMAL for the load: commits not flushed one by one.
    if (Status st = pg->Exec("postgres", "ALTER DATABASE lhcr SET synchronous_commit = off"); !st.ok()) {
      Die(st.ToString());
    }
    std::printf("PG %s (load: synchronous_commit=off on the database)\n", pg->Settings().c_str());
    Target t;
    t.label = "SEARCH_PG";
    store::PostgresOptions po;
    po.conninfo = pg->conninfo("lhcr");
    auto store = store::OpenPostgresStore(po);
    if (!store.ok()) Die(store.status().ToString());
    t.store = std::move(*store);
    t.in = make_in(*t.store);
    t.ids = Load(args, *t.in, "LOAD_PG");
    if (Status st = pg->Exec("lhcr", "ANALYZE"); !st.ok()) Die(st.ToString());
    std::printf("DATA_PG patients=%d resources=%d db_mb=%s\n", args.patients, args.patients * 100,
                pg->Query("lhcr", "SELECT pg_database_size('lhcr') >> 20").c_str());
    targets.push_back(std::move(t));
  }

  interaction::RequestContext ctx;
  ctx.base_url = "http://127.0.0.1/fhir";
  const auto& loinc = LoincCodes();
  for (Target& t : targets) {
    t.series = {{"read Patient/X"},
                {"Observation?patient=Patient/X&code=http://loinc.org|C"},
                {"Observation?subject=Patient/X&date=ge2020-01-01"},
                {"Condition?patient=X"},
                {"Observation?patient=X (page of 50)"}};
  }
  uint64_t rng = args.seed * 0x9e3779b97f4a7c15ULL + 1;
  auto rand = [&] {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
  };
  const int warmup = std::min(200, args.queries / 5);
  for (int round = 0; round < warmup + args.queries; ++round) {
    const size_t patient = rand() % static_cast<size_t>(args.patients);
    const std::string code(loinc[rand() % loinc.size()].code);
    for (Target& t : targets) {
      const std::string& pid = t.ids[patient];
      interaction::Interactions& in = *t.in;
      for (size_t k = 0; k < t.series.size(); ++k) {
        const double c0 = ThreadCpuUs();
        auto t0 = SteadyClock::now();
        Result<interaction::Response> r = Status::Fault("no query");
        switch (k) {
          case 0: r = in.Read(ctx, "Patient", pid, {}); break;
          case 1:
            r = in.Search(ctx, "Observation",
                          {{"patient", "Patient/" + pid}, {"code", "http://loinc.org|" + code}});
            break;
          case 2: r = in.Search(ctx, "Observation", {{"subject", "Patient/" + pid}, {"date", "ge2020-01-01"}}); break;
          case 3: r = in.Search(ctx, "Condition", {{"patient", pid}}); break;
          case 4: r = in.Search(ctx, "Observation", {{"patient", pid}}); break;
        }
        auto t1 = SteadyClock::now();
        const double c1 = ThreadCpuUs();
        if (!r.ok()) Die(t.label + " " + t.series[k].name + ": " + r.status().ToString());
        if (round < warmup) continue;
        t.series[k].us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
        t.series[k].cpu_us.push_back(c1 - c0);
        t.series[k].results += k == 0 ? 1 : TotalOf(r->body);
      }
    }
  }
  for (Target& t : targets) {
    const double read_p50 = Percentile(t.series[0].us, 0.5), read_p99 = Percentile(t.series[0].us, 0.99);
    std::printf("%s queries=%d per kind (after %d warm-up rounds), in-process Interactions\n", t.label.c_str(),
                args.queries, warmup);
    for (const Series& s : t.series) {
      const double p50 = Percentile(s.us, 0.5), p99 = Percentile(s.us, 0.99);
      std::printf("%s %-56s avg_results=%5.1f p50_us=%8.1f p99_us=%8.1f p50_ratio=%6.1f p99_ratio=%6.1f "
                  "cpu_p50_us=%7.1f cpu_p99_us=%7.1f\n",
                  t.label.c_str(), s.name.c_str(), static_cast<double>(s.results) / static_cast<double>(s.us.size()),
                  p50, p99, p50 / read_p50, p99 / read_p99, Percentile(s.cpu_us, 0.5), Percentile(s.cpu_us, 0.99));
    }
    t.in.reset();
    t.store->Close();
  }
  // PostgreSQL's CPU is in the server's processes, not this thread's.
  if (targets.size() == 2) {
    std::printf("SEARCH_VS store p50 PostgreSQL/SQLite:");
    for (size_t k = 0; k < targets[0].series.size(); ++k) {
      std::printf(" %s=%.2f", k == 0 ? "read" : ("q" + std::to_string(k)).c_str(),
                  Percentile(targets[1].series[k].us, 0.5) / Percentile(targets[0].series[k].us, 0.5));
    }
    std::printf("\n");
  }
  targets.clear();
  pg.reset();
  return 0;
}
