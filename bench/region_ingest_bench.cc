// End-to-end ingest of a synthetic region: the real `lhcr ingest --data DIR
// REGION` as a child process (wall time, resources written, peak memory from
// its rusage), against a floor measured in the same run on the same bytes:
// every item of every feed (an NDJSON line, an HL7 v2 message, a CSV row)
// INSERTed as it is into one plain SQLite table, `--threads` items per
// transaction (lhcr writes one transaction per item from `--threads`
// workers, which its writer groups into commits of at most that many), with
// the same durability.
//
//   region_ingest_bench --region DIR [--work DIR] [--lhcr PATH] [--threads N] [--no-fsync]
//
// Prints
//   REGION_INGEST items=.. resources=.. wall_s=.. resources_per_s=.. items_per_s=..
//     peak_rss_mb=.. floor_items_per_s=.. ratio_items=..
// (ratio_items = lhcr items/s / floor items/s). The region comes from
// `lhcr synth --people 100000 --seed 1 --out DIR` (docs/BENCHMARKS.md).
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "hl7v2/message.h"
#include "ingest/source_registry.h"

namespace {

namespace fs = std::filesystem;
using lhcr::ingest::Source;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void Check(sqlite3* db, int rc, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    std::fprintf(stderr, "sqlite %s: %s\n", what, sqlite3_errmsg(db));
    std::exit(1);
  }
}

// Every item of the region's feeds, as bytes.
std::vector<std::string> Items(const std::string& region,
                               const lhcr::ingest::SourceRegistry& registry) {
  std::vector<std::string> items;
  for (const Source& s : registry.sources()) {
    for (const std::string& f : s.files) {
      std::string text = Slurp((fs::path(region) / f).string());
      if (s.format == "hl7v2") {
        for (std::string_view m : lhcr::hl7v2::SplitMessages(text)) items.emplace_back(m);
      } else {
        std::istringstream lines(text);
        std::string line;
        bool header = s.format == "csv";
        while (std::getline(lines, line)) {
          if (header) {
            header = false;
            continue;
          }
          if (!line.empty()) items.push_back(line);
        }
      }
    }
  }
  return items;
}

double FloorItemsPerSecond(const std::string& path, const std::vector<std::string>& items,
                           bool fsync, size_t batch) {
  fs::remove(path);
  fs::remove(path + "-wal");
  fs::remove(path + "-shm");
  sqlite3* db = nullptr;
  Check(db, sqlite3_open(path.c_str(), &db), "open");
  Check(db, sqlite3_exec(db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr), "wal");
  Check(db,
        sqlite3_exec(db, fsync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=OFF", nullptr,
                     nullptr, nullptr),
        "sync");
  Check(db, sqlite3_exec(db, "CREATE TABLE plain(id INTEGER PRIMARY KEY, body BLOB NOT NULL)",
                         nullptr, nullptr, nullptr),
        "create");
  sqlite3_stmt* ins = nullptr;
  Check(db, sqlite3_prepare_v2(db, "INSERT INTO plain(body) VALUES(?1)", -1, &ins, nullptr),
        "prepare");
  auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < items.size(); i += batch) {
    Check(db, sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), "begin");
    for (size_t k = i; k < std::min(items.size(), i + batch); ++k) {
      sqlite3_bind_blob(ins, 1, items[k].data(), static_cast<int>(items[k].size()), SQLITE_STATIC);
      Check(db, sqlite3_step(ins), "insert");
      sqlite3_reset(ins);
    }
    Check(db, sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), "commit");
  }
  sqlite3_finalize(ins);
  sqlite3_close(db);
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return items.size() / secs;
}

}  // namespace

int main(int argc, char** argv) {
  std::string region, work = "/tmp/lhcr-region-bench", lhcr = "build/src/app/lhcr";
  int threads = 4;
  bool fsync = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--region") region = next();
    else if (a == "--work") work = next();
    else if (a == "--lhcr") lhcr = next();
    else if (a == "--threads") threads = std::stoi(next());
    else if (a == "--no-fsync") fsync = false;
    else {
      std::fprintf(stderr, "usage: %s --region DIR [--work DIR] [--lhcr PATH] [--threads N] "
                           "[--no-fsync]\n", argv[0]);
      return 2;
    }
  }
  auto registry = lhcr::ingest::LoadSourceRegistry((fs::path(region) / "sources.json").string());
  if (!registry.ok()) {
    std::fprintf(stderr, "%s\n", registry.status().ToString().c_str());
    return 2;
  }
  fs::remove_all(work);
  fs::create_directories(work);

  // lhcr first (its peak memory is its own: a child process).
  const std::string data = work + "/data";
  std::vector<std::string> args = {lhcr, "ingest", "--data", data, "--threads",
                                   std::to_string(threads), region};
  if (!fsync) args.push_back("--no-fsync");
  int out[2];
  if (pipe(out) != 0) return 1;
  auto start = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    std::vector<char*> argv2;
    for (std::string& s : args) argv2.push_back(s.data());
    argv2.push_back(nullptr);
    execv(argv2[0], argv2.data());
    _exit(127);
  }
  close(out[1]);
  std::string output;
  char buf[4096];
  ssize_t n;
  while ((n = read(out[0], buf, sizeof buf)) > 0) output.append(buf, static_cast<size_t>(n));
  close(out[0]);
  int status = 0;
  struct rusage usage {};
  wait4(pid, &status, 0, &usage);
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fputs(output.c_str(), stdout);
  if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 3)) {
    std::fprintf(stderr, "lhcr ingest failed (status %d)\n", status);
    return 1;
  }
  std::smatch m;
  static const std::regex re(R"(ingest: (\d+) items .*?, (\d+) resources written)");
  if (!std::regex_search(output, m, re)) {
    std::fprintf(stderr, "no total line in lhcr's output\n");
    return 1;
  }
  const double items = std::stod(m[1]);
  const double resources = std::stod(m[2]);

  std::vector<std::string> all = Items(region, *registry);
  double floor = FloorItemsPerSecond(work + "/floor.db", all, fsync,
                                     static_cast<size_t>(std::max(1, threads)));
  std::printf(
      "REGION_INGEST items=%.0f resources=%.0f wall_s=%.1f resources_per_s=%.0f "
      "items_per_s=%.0f peak_rss_mb=%.0f cpu_user_s=%.1f cpu_sys_s=%.1f floor_items=%zu "
      "floor_items_per_s=%.0f ratio_items=%.3f\n",
      items, resources, wall, resources / wall, items / wall, usage.ru_maxrss / 1024.0,
      usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6,
      usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6, all.size(), floor,
      (items / wall) / floor);
  return 0;
}
