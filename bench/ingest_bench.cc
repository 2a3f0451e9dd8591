// Ingest benchmark: transaction Bundles of synthetic patients (about 100
// resources each, see synthetic_bundles.h) through Interactions::Bundle, the
// code path behind POST /fhir, with every search index written; against a
// floor measured in the same run on the same machine: plain SQLite inserts of
// the same resource JSON bytes, in the same batches (one transaction per
// bundle), into a table with no index, WAL mode, the same synchronous setting.
//
//   ingest_bench [--patients N] [--reps K] [--sync full|normal] [--dir DIR]
//                [--stages] [--lhcr-only] [--ordered-ids] [--clients N]
//                [--store sqlite|postgres|both] [--pg-fsync on|off]
//
// Prints one line per repetition and a summary line
//   INGEST patients=.. resources=.. floor_res_s=.. lhcr_res_s=.. ratio=..
// (ratio = lhcr / floor resources per wall-clock second, the median over
// repetitions; each repetition runs floor and lhcr back to back on fresh
// files so that machine noise hits both; cpu_ratio the same per CPU second of
// the process, which a busy shared machine disturbs less; written_kb_per_res
// what each wrote to files, WAL and checkpoints included).
// --stages also times the pipeline stages one by one on the same bundles.
// --clients N sends the bundles to lhcr from N threads at once (the floor
// stays one transaction per bundle from one thread).
//
// --store postgres|both also runs, in each repetition right after the SQLite
// pair, the same bundles into the PostgreSQL store on a throwaway server
// (bench_postgres.h: fsync=on, synchronous_commit=on, full_page_writes=on,
// otherwise PostgreSQL's defaults; --pg-fsync off for the test settings),
// with its own floor: the same bytes INSERTed with one prepared statement
// (binary bytea parameter) into an unindexed table, one transaction per
// bundle. Both PostgreSQL phases end with a CHECKPOINT inside the timed
// span, as SQLite's end with the checkpoint of closing. Fresh database per
// phase. Summary line
//   INGEST_PG ... pg_floor_res_s=.. pg_lhcr_res_s=.. ratio=.. vs_sqlite_floor=.. vs_sqlite_lhcr=..
// (ratio = PostgreSQL lhcr / PostgreSQL floor; vs_sqlite_* = PostgreSQL lhcr
// / the SQLite floor or SQLite lhcr of the same repetition; medians). CPU
// and bytes written for PostgreSQL include the server's processes.
#include <libpq-fe.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ctime>
#include <span>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "base/ids.h"
#include "bench_postgres.h"
#include "base/time.h"
#include "fhir/json.h"
#include "fhir/search_index.h"
#include "fhir/search_param.h"
#include "fhir/validator.h"
#include "interaction/interaction.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"
#include "synthetic_bundles.h"

namespace lhcr::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// CPU seconds of the whole process (every thread, user + system).
double CpuNow() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Bytes this process caused to be written to storage (/proc/self/io), or
// what it asked to write when the kernel does not account block I/O.
int64_t BytesWritten() {
  std::ifstream in("/proc/self/io");
  std::string key;
  int64_t v = 0, wchar = 0;
  while (in >> key >> v) {
    if (key == "wchar:") wchar = v;
  }
  return wchar;
}

// One measured phase: wall and CPU seconds, bytes written.
struct Cost {
  double wall = 0;
  double cpu = 0;
  int64_t bytes = 0;
};
// With a PostgreSQL server, its CPU and its writes count too.
struct Meter {
  explicit Meter(const BenchPostgres* pg = nullptr)
      : pg(pg), s0(pg != nullptr ? pg->CpuSeconds() : 0), w0(pg != nullptr ? pg->BytesWritten() : 0) {}
  const BenchPostgres* pg;
  double s0;
  int64_t w0;
  Clock::time_point t0 = Clock::now();
  double c0 = CpuNow();
  int64_t b0 = BytesWritten();
  Cost Stop() const {
    Cost c{Seconds(t0, Clock::now()), CpuNow() - c0, BytesWritten() - b0};
    if (pg != nullptr) {
      c.cpu += pg->CpuSeconds() - s0;
      c.bytes = pg->BytesWritten() - w0;  // the client's own writes are the server's socket
    }
    return c;
  }
};

struct Args {
  int patients = 200;
  int reps = 3;
  bool sync_full = true;
  std::string dir;
  bool stages = false;
  bool lhcr_only = false;
  bool ordered_ids = false;  // also run lhcr with time-ordered ids
  int clients = 1;           // concurrent senders of bundles to lhcr
  bool sqlite = true;        // --store sqlite|postgres|both
  bool postgres = false;
  bool pg_fsync = true;      // durable PostgreSQL settings (bench_postgres.h)
};

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "ingest_bench: " << what << "\n";
  std::exit(1);
}

void Check(sqlite3* db, int rc, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    Die(std::string(what) + ": " + sqlite3_errmsg(db));
  }
}

void Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err != nullptr ? err : "?";
    sqlite3_free(err);
    Die(sql + ": " + m);
  }
}

// The floor: the same bytes, the same batches, no index, no parsing.
Cost FloorCost(const std::string& path, const std::vector<PatientRecord>& records, bool sync_full) {
  sqlite3* db = nullptr;
  Check(db, sqlite3_open(path.c_str(), &db), "open");
  Exec(db, "PRAGMA journal_mode=WAL");
  Exec(db, sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  Exec(db, "PRAGMA cache_size=-65536");
  Exec(db, "CREATE TABLE plain(id INTEGER PRIMARY KEY, json BLOB NOT NULL)");
  sqlite3_stmt* ins = nullptr;
  Check(db, sqlite3_prepare_v2(db, "INSERT INTO plain(json) VALUES(?1)", -1, &ins, nullptr), "prepare");
  Meter m;
  for (const PatientRecord& r : records) {
    Exec(db, "BEGIN IMMEDIATE");
    for (const std::string& json : r.resources) {
      sqlite3_bind_blob(ins, 1, json.data(), static_cast<int>(json.size()), SQLITE_STATIC);
      Check(db, sqlite3_step(ins), "insert");
      sqlite3_reset(ins);
    }
    Exec(db, "COMMIT");
  }
  sqlite3_finalize(ins);
  sqlite3_close(db);  // the final checkpoint counts: lhcr's Close does one too
  return m.Stop();
}

// PostgreSQL's floor: the same bytes, the same batches, an unindexed heap
// table, one prepared INSERT per resource with a binary bytea parameter.
Cost PgFloorCost(const BenchPostgres& pg, const std::string& database, const std::vector<PatientRecord>& records) {
  PGconn* c = PQconnectdb(pg.conninfo(database).c_str());
  if (PQstatus(c) != CONNECTION_OK) Die(std::string("connect: ") + PQerrorMessage(c));
  auto exec = [&](const char* sql) {
    PGresult* r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) Die(std::string(sql) + ": " + PQresultErrorMessage(r));
    PQclear(r);
  };
  exec("CREATE TABLE plain(json bytea NOT NULL)");
  PGresult* prep = PQprepare(c, "ins", "INSERT INTO plain(json) VALUES($1)", 1, nullptr);
  if (PQresultStatus(prep) != PGRES_COMMAND_OK) Die(PQresultErrorMessage(prep));
  PQclear(prep);
  Meter m(&pg);
  const int formats[1] = {1};
  for (const PatientRecord& r : records) {
    exec("BEGIN");
    for (const std::string& json : r.resources) {
      const char* values[1] = {json.data()};
      const int lengths[1] = {static_cast<int>(json.size())};
      PGresult* res = PQexecPrepared(c, "ins", 1, values, lengths, formats, 0);
      if (PQresultStatus(res) != PGRES_COMMAND_OK) Die(PQresultErrorMessage(res));
      PQclear(res);
    }
    exec("COMMIT");
  }
  exec("CHECKPOINT");
  Cost cost = m.Stop();
  PQfinish(c);
  return cost;
}

std::unique_ptr<store::Store> OpenStore(const std::string& path, bool sync_full) {
  store::SqliteOptions so;
  so.path = path;
  so.synchronous_full = sync_full;
  auto s = store::OpenSqliteStore(so);
  if (!s.ok()) Die(s.status().ToString());
  return std::move(*s);
}

// Time-ordered UUIDs (the RFC 9562 version-7 layout: 48-bit milliseconds,
// then a counter, then random bits), to measure what ids that sort by
// creation time do to the B-trees keyed by id, against random version-4 ids.
class OrderedIds : public IdGenerator {
 public:
  std::string Next() override {
    const uint64_t ms = static_cast<uint64_t>(SystemClock().Now());
    const uint64_t c = counter_++;
    uint64_t r = (c + 1) * 0x9e3779b97f4a7c15ULL;
    char buf[40];
    std::snprintf(buf, sizeof buf, "%08llx-%04llx-7%03llx-%04llx-%012llx",
                  static_cast<unsigned long long>(ms >> 16), static_cast<unsigned long long>(ms & 0xffff),
                  static_cast<unsigned long long>((c >> 14) & 0xfff),
                  static_cast<unsigned long long>(0x8000 | (c & 0x3fff)),
                  static_cast<unsigned long long>(r & 0xffffffffffffULL));
    return buf;
  }

 private:
  uint64_t counter_ = 0;
};

// lhcr on `path`, or with `pg` on PostgreSQL database `path` of that server.
Cost LhcrCost(const std::string& path, const std::vector<PatientRecord>& records, bool sync_full,
              bool ordered_ids = false, int clients = 1, const BenchPostgres* pg = nullptr) {
  std::unique_ptr<store::Store> store;
  if (pg != nullptr) {
    store::PostgresOptions po;
    po.conninfo = pg->conninfo(path);
    auto s = store::OpenPostgresStore(po);
    if (!s.ok()) Die(s.status().ToString());
    store = std::move(*s);
  } else {
    store = OpenStore(path, sync_full);
  }
  OrderedIds ordered;
  interaction::Interactions in(*store, fhir::SearchParamRegistry::R4(), fhir::Validator::R4(),
                               SystemClock(), ordered_ids ? static_cast<IdGenerator&>(ordered) : UuidGenerator());
  interaction::RequestContext ctx;
  ctx.base_url = "http://127.0.0.1/fhir";
  Meter m(pg);
  // `clients` senders at once, as feeds arrive in a region: the store's
  // group commit then shares one commit among the bundles that queue up.
  std::vector<std::thread> senders;
  for (int c = 0; c < clients; ++c) {
    senders.emplace_back([&, c] {
      for (size_t i = c; i < records.size(); i += clients) {
        auto resp = in.Bundle(ctx, records[i].bundle);
        if (!resp.ok()) Die("transaction failed: " + resp.status().ToString());
      }
    });
  }
  for (auto& t : senders) t.join();
  store->Close();
  if (pg != nullptr) {
    Status st = const_cast<BenchPostgres*>(pg)->Exec(path, "CHECKPOINT");
    if (!st.ok()) Die(st.ToString());
  }
  return m.Stop();
}

void RemoveDb(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
}

// Each stage of the pipeline alone, on the same bundles (CPU time per
// resource), and the store's share measured by Put with rows precomputed.
void Stages(const std::string& dir, const std::vector<PatientRecord>& records, bool sync_full) {
  auto params = fhir::SearchParamRegistry::R4();
  auto validator = fhir::Validator::R4();
  double t_parse = 0, t_copy = 0, t_validate = 0, t_extract = 0, t_serialise = 0;
  size_t resources = 0, rows_total = 0;
  struct Ready {
    store::ResourceVersion v;
    std::vector<store::IndexRow> rows;
  };
  std::vector<std::vector<Ready>> ready;
  for (size_t n = 0; n < records.size(); ++n) {
    auto a = Clock::now();
    auto doc = fhir::ParseJson(records[n].bundle);
    if (!doc.ok()) Die("parse");
    auto b = Clock::now();
    t_parse += Seconds(a, b);
    std::vector<Ready> batch;
    for (auto& e : (*doc)["entry"].GetArray()) {
      auto c0 = Clock::now();
      fhir::JsonDoc res;
      res.CopyFrom(e["resource"], res.GetAllocator());
      auto c1 = Clock::now();
      auto issues = validator->Validate(res);
      auto c2 = Clock::now();
      auto rows = fhir::ExtractIndexRows(res, *params);
      auto c3 = Clock::now();
      std::string json = fhir::ToJson(res);
      auto c4 = Clock::now();
      t_copy += Seconds(c0, c1);
      t_validate += Seconds(c1, c2);
      t_extract += Seconds(c2, c3);
      t_serialise += Seconds(c3, c4);
      for (const auto& i : issues) {
        if (i.severity == fhir::ValidationIssue::Severity::kError) Die("invalid: " + i.location + " " + i.message);
      }
      ++resources;
      rows_total += rows.size();
      Ready r;
      r.v.type = std::string(fhir::StringMember(res, "resourceType"));
      r.v.id = "s" + std::to_string(n) + "-" + std::to_string(batch.size());
      r.v.version = 1;
      r.v.json = std::move(json);
      r.rows = std::move(rows);
      batch.push_back(std::move(r));
    }
    ready.push_back(std::move(batch));
  }
  // The store alone: Put with the rows precomputed, and without rows (the
  // resource and history tables only), each on a fresh file.
  auto store_seconds = [&](bool with_rows) {
    const std::string path = dir + "/stages.db";
    RemoveDb(path);
    auto store = OpenStore(path, sync_full);
    auto s0 = Clock::now();
    for (auto& batch : ready) {
      Status st = store->Write([&](store::WriteTxn& txn) -> Status {
        for (Ready& r : batch) {
          r.v.seq = 0;
          RETURN_IF_ERROR(txn.Put(r.v, with_rows ? std::span<const store::IndexRow>(r.rows)
                                                 : std::span<const store::IndexRow>(), {}));
        }
        return Status::Ok();
      });
      if (!st.ok()) Die(st.ToString());
    }
    auto s1 = Clock::now();
    store->Close();
    RemoveDb(path);
    return Seconds(s0, s1);
  };
  const double t_store_no_rows = store_seconds(false);
  const double t_store = store_seconds(true);
  double total = t_parse + t_copy + t_validate + t_extract + t_serialise + t_store;
  auto us = [&](double t) { return t * 1e6 / static_cast<double>(resources); };
  std::printf("STAGES resources=%zu index_rows_per_resource=%.1f\n", resources,
              static_cast<double>(rows_total) / static_cast<double>(resources));
  auto line = [&](const char* name, double t) {
    std::printf("STAGE %-28s %8.1f us/resource %5.1f%%\n", name, us(t), 100.0 * t / total);
  };
  line("parse bundle (RapidJSON)", t_parse);
  line("copy entry resource", t_copy);
  line("validate (structural R4)", t_validate);
  line("extract search index rows", t_extract);
  line("serialise (ToJson)", t_serialise);
  line("store Put + commit", t_store);
  std::printf("STAGE %-28s %8.1f us/resource (resource + history rows only)\n", "  of which without index rows",
              us(t_store_no_rows));
  std::printf("STAGE %-28s %8.1f us/resource\n", "sum", us(total));
}

}  // namespace
}  // namespace lhcr::bench

int main(int argc, char** argv) {
  using namespace lhcr::bench;
  Args args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--patients") args.patients = std::stoi(next());
    else if (a == "--reps") args.reps = std::stoi(next());
    else if (a == "--sync") args.sync_full = next() != "normal";
    else if (a == "--dir") args.dir = next();
    else if (a == "--stages") args.stages = true;
    else if (a == "--lhcr-only") args.lhcr_only = true;
    else if (a == "--ordered-ids") args.ordered_ids = true;
    else if (a == "--clients") args.clients = std::max(1, std::stoi(next()));
    else if (a == "--store") {
      const std::string v = next();
      if (v != "sqlite" && v != "postgres" && v != "both") Die("--store takes sqlite, postgres or both");
      args.sqlite = v != "postgres";
      args.postgres = v != "sqlite";
    } else if (a == "--pg-fsync") args.pg_fsync = next() != "off";
    else Die("unknown argument " + a);
  }
  bool own_dir = args.dir.empty();
  if (own_dir) {
    char tmpl[] = "/tmp/lhcr-ingest-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) Die("mkdtemp");
    args.dir = tmpl;
  }
  std::filesystem::create_directories(args.dir);

  std::vector<PatientRecord> records;
  size_t resources = 0, bytes = 0;
  for (int n = 0; n < args.patients; ++n) {
    records.push_back(MakePatientRecord(n, /*seed=*/42));
    resources += records.back().resources.size();
    bytes += records.back().resource_bytes;
  }
  std::printf("DATA patients=%d resources=%zu avg_resource_bytes=%.0f bundle_bytes=%.0f sync=%s\n",
              args.patients, resources, static_cast<double>(bytes) / static_cast<double>(resources),
              static_cast<double>(bytes) / args.patients, args.sync_full ? "FULL" : "NORMAL");

  std::unique_ptr<BenchPostgres> pg;
  if (args.postgres) {
    auto started = BenchPostgres::Start(args.pg_fsync);
    if (!started.ok()) Die("PostgreSQL: " + started.status().ToString());
    pg = std::move(*started);
    std::printf("PG %s\n", pg->Settings().c_str());
  }

  std::vector<double> floor_rate, lhcr_rate, ratio, cpu_ratio, floor_kb, lhcr_kb, ordered_rate,
      ordered_ratio;
  std::vector<double> pg_floor_rate, pg_lhcr_rate, pg_ratio, pg_cpu_ratio, pg_floor_kb, pg_lhcr_kb,
      pg_vs_sqlite_floor, pg_vs_sqlite_lhcr, pg_floor_cpu_us, pg_lhcr_cpu_us;
  const double n = static_cast<double>(resources);
  for (int rep = 0; rep < args.reps; ++rep) {
    const std::string floor_db = args.dir + "/floor.db", lhcr_db = args.dir + "/lhcr.db";
    Cost f, l;
    if (args.sqlite) {
      if (!args.lhcr_only) {
        RemoveDb(floor_db);
        f = FloorCost(floor_db, records, args.sync_full);
        RemoveDb(floor_db);
      }
      RemoveDb(lhcr_db);
      l = LhcrCost(lhcr_db, records, args.sync_full, /*ordered_ids=*/false, args.clients);
      RemoveDb(lhcr_db);
      if (args.ordered_ids) {
        Cost o = LhcrCost(lhcr_db, records, args.sync_full, /*ordered_ids=*/true);
        RemoveDb(lhcr_db);
        ordered_rate.push_back(n / o.wall);
        std::printf("REP %d lhcr_ordered_ids_res_s=%.0f cpu_us_per_res=%.1f written_kb_per_res=%.1f\n", rep,
                    n / o.wall, o.cpu * 1e6 / n, static_cast<double>(o.bytes) / n / 1024);
        if (!args.lhcr_only) ordered_ratio.push_back(f.wall / o.wall);
      }
      lhcr_rate.push_back(n / l.wall);
      lhcr_kb.push_back(static_cast<double>(l.bytes) / n / 1024);
      if (!args.lhcr_only) {
        floor_rate.push_back(n / f.wall);
        floor_kb.push_back(static_cast<double>(f.bytes) / n / 1024);
        ratio.push_back(f.wall / l.wall);
        cpu_ratio.push_back(f.cpu / l.cpu);
        std::printf("REP %d floor_res_s=%.0f lhcr_res_s=%.0f ratio=%.3f | cpu_us_per_res floor=%.1f lhcr=%.1f "
                    "cpu_ratio=%.3f | written_kb_per_res floor=%.1f lhcr=%.1f\n",
                    rep, n / f.wall, n / l.wall, f.wall / l.wall, f.cpu * 1e6 / n, l.cpu * 1e6 / n,
                    f.cpu / l.cpu, floor_kb.back(), lhcr_kb.back());
      } else {
        std::printf("REP %d lhcr_res_s=%.0f cpu_us_per_res=%.1f written_kb_per_res=%.1f\n", rep, n / l.wall,
                    l.cpu * 1e6 / n, lhcr_kb.back());
      }
    }
    if (pg) {
      const std::string fdb = "floor_r" + std::to_string(rep), ldb = "lhcr_r" + std::to_string(rep);
      Cost pf;
      if (!args.lhcr_only) {
        if (!pg->CreateDatabase(fdb).ok()) Die("create database " + fdb);
        pf = PgFloorCost(*pg, fdb, records);
        (void)pg->Exec("postgres", "DROP DATABASE " + fdb + " WITH (FORCE)");
      }
      if (!pg->CreateDatabase(ldb).ok()) Die("create database " + ldb);
      Cost pl = LhcrCost(ldb, records, args.sync_full, /*ordered_ids=*/false, args.clients, pg.get());
      (void)pg->Exec("postgres", "DROP DATABASE " + ldb + " WITH (FORCE)");
      pg_lhcr_rate.push_back(n / pl.wall);
      pg_lhcr_kb.push_back(static_cast<double>(pl.bytes) / n / 1024);
      pg_lhcr_cpu_us.push_back(pl.cpu * 1e6 / n);
      if (args.sqlite) pg_vs_sqlite_lhcr.push_back(l.wall / pl.wall);
      if (!args.lhcr_only) {
        pg_floor_rate.push_back(n / pf.wall);
        pg_floor_kb.push_back(static_cast<double>(pf.bytes) / n / 1024);
        pg_floor_cpu_us.push_back(pf.cpu * 1e6 / n);
        pg_ratio.push_back(pf.wall / pl.wall);
        pg_cpu_ratio.push_back(pf.cpu / pl.cpu);
        if (args.sqlite) pg_vs_sqlite_floor.push_back(f.wall / pl.wall);
      }
      std::printf("REP %d pg floor_res_s=%.0f lhcr_res_s=%.0f ratio=%.3f vs_sqlite_floor=%.3f vs_sqlite_lhcr=%.3f | "
                  "cpu_us_per_res (client+server) floor=%.1f lhcr=%.1f | written_kb_per_res floor=%.1f lhcr=%.1f\n",
                  rep, pf.wall > 0 ? n / pf.wall : 0, n / pl.wall, pf.wall / pl.wall,
                  args.sqlite ? f.wall / pl.wall : 0, args.sqlite ? l.wall / pl.wall : 0, pf.cpu * 1e6 / n,
                  pl.cpu * 1e6 / n, static_cast<double>(pf.bytes) / n / 1024, pg_lhcr_kb.back());
    }
    std::fflush(stdout);
  }
  auto median = [](std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  if (args.sqlite) {
    std::printf("INGEST patients=%d resources=%zu sync=%s floor_res_s=%.0f lhcr_res_s=%.0f ratio=%.3f "
                "cpu_ratio=%.3f written_kb_per_res floor=%.1f lhcr=%.1f\n",
                args.patients, resources, args.sync_full ? "FULL" : "NORMAL", median(floor_rate),
                median(lhcr_rate), median(ratio), median(cpu_ratio), median(floor_kb), median(lhcr_kb));
  }
  if (pg) {
    std::printf("INGEST_PG patients=%d resources=%zu fsync=%s pg_floor_res_s=%.0f pg_lhcr_res_s=%.0f ratio=%.3f "
                "vs_sqlite_floor=%.3f vs_sqlite_lhcr=%.3f cpu_ratio=%.3f cpu_us_per_res floor=%.1f lhcr=%.1f "
                "written_kb_per_res floor=%.1f lhcr=%.1f\n",
                args.patients, resources, args.pg_fsync ? "on" : "off", median(pg_floor_rate),
                median(pg_lhcr_rate), median(pg_ratio), median(pg_vs_sqlite_floor), median(pg_vs_sqlite_lhcr),
                median(pg_cpu_ratio), median(pg_floor_cpu_us), median(pg_lhcr_cpu_us), median(pg_floor_kb),
                median(pg_lhcr_kb));
  }
  if (args.ordered_ids) {
    std::printf("INGEST_ORDERED_IDS lhcr_res_s=%.0f ratio=%.3f\n", median(ordered_rate), median(ordered_ratio));
  }
  if (args.stages && args.sqlite) Stages(args.dir, records, args.sync_full);
  pg.reset();
  if (own_dir) std::filesystem::remove_all(args.dir);
  return 0;
}
