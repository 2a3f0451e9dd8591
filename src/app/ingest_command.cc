#include "app/ingest_command.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "app/progress.h"
#include "app/terminology_setup.h"
#include "ingest/ingestor.h"
#include "ingest/journal.h"
#include "mpi/match_service.h"

namespace lhcr {

namespace {

namespace fs = std::filesystem;

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Incorrect("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) return Status::Unavailable("error reading " + path);
  return s.str();
}

struct Job {
  const ingest::Source* source;
  std::string path;
  std::string shown;  // as printed
  int64_t bytes = 0;
};

}  // namespace

Result<ingest::SourceRegistry> PrepareIngest(const IngestArgs& args) {
  std::error_code ec;
  fs::create_directories(args.data, ec);
  if (ec) return Status::Incorrect("cannot create --data " + args.data + ": " + ec.message());
  const std::string in_data = (fs::path(args.data) / "sources.json").string();
  auto load = [&]() -> Result<ingest::SourceRegistry> {
    std::string path = !args.sources.empty() ? args.sources : in_data;
    if (args.sources.empty() && !fs::exists(path, ec)) {
      return Status::Incorrect("no source registry: give --sources FILE, or ingest a region "
                               "(lhcr ingest --data " + args.data +
                               " REGION_DIR) whose sources.json is then kept in " + in_data);
    }
    return ingest::LoadSourceRegistry(path);
  };
  if (args.replay) {
    if (!args.paths.empty() || !args.source.empty()) {
      return Status::Incorrect("--replay takes no files and no --source");
    }
    if (args.sources.empty() && !fs::exists(in_data, ec)) return ingest::SourceRegistry();
    return load();
  }
  if (!args.source.empty()) {
    if (args.paths.empty()) return Status::Incorrect("--source " + args.source + " needs FILE...");
    ASSIGN_OR_RETURN(ingest::SourceRegistry r, load());
    if (r.FindById(args.source) == nullptr) {
      std::string known;
      for (const auto& s : r.sources()) known += (known.empty() ? "" : ", ") + s.id;
      return Status::Incorrect("no registered source '" + args.source + "' (registered: " +
                               known + ")");
    }
    for (const std::string& p : args.paths) {
      if (!fs::is_regular_file(p, ec)) return Status::Incorrect("not a file: " + p);
    }
    return r;
  }
  if (args.paths.size() != 1) {
    return Status::Incorrect(
        "give one REGION_DIR (written by lhcr synth), or --source ID FILE..., or --replay");
  }
  const std::string region_sources = (fs::path(args.paths[0]) / "sources.json").string();
  if (!fs::is_directory(args.paths[0], ec) || !fs::exists(region_sources, ec)) {
    return Status::Incorrect(args.paths[0] +
                             " is not a region directory (no sources.json); for single files "
                             "use --source ID FILE...");
  }
  ASSIGN_OR_RETURN(ingest::SourceRegistry r, ingest::LoadSourceRegistry(region_sources));
  if (args.sources.empty()) {
    // Keep the region's registry with the data: serve and later ingests use it.
    fs::copy_file(region_sources, in_data, fs::copy_options::overwrite_existing, ec);
    if (ec) return Status::Unavailable("cannot copy " + region_sources + ": " + ec.message());
    // With the local code maps it names (relative paths, as in the region).
    for (const ingest::Source& s : r.sources()) {
      if (s.local_code_map.empty() || fs::path(s.local_code_map).is_absolute()) continue;
      fs::path from = fs::path(args.paths[0]) / s.local_code_map;
      fs::path to = fs::path(args.data) / s.local_code_map;
      if (!fs::exists(from, ec)) continue;
      fs::create_directories(to.parent_path(), ec);
      fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
      if (ec) return Status::Unavailable("cannot copy " + from.string() + ": " + ec.message());
    }
  }
  return r;
}

int RunIngest(const IngestArgs& args, const ingest::SourceRegistry& registry,
              interaction::Interactions& interactions) {
  auto journal = ingest::IngestJournal::Open((fs::path(args.data) / "ingest.db").string());
  if (!journal.ok()) {
    std::cerr << "lhcr ingest: " << journal.status().ToString() << "\n";
    return 1;
  }
  ingest::Ingestor ingestor(interactions, &registry, journal->get());
  // The MPI links each new Patient to a Person in its ingest transaction.
  mpi::MatchService linker(interactions, identity::MatcherOptions{}, &registry);
  if (args.link) ingestor.SetLinker(&linker);
  // Local codes translated and units made UCUM as items are written.
  auto term = LoadTerminology(args.terminology, &registry);
  if (!term.ok()) {
    std::cerr << "lhcr ingest: " << term.status().message() << "\n";
    return 2;
  }
  auto ucum = terminology::Ucum::Embedded();
  if (args.translate) ingestor.SetTerminology(term->get(), ucum.get());
  const auto start = std::chrono::steady_clock::now();
  ingest::BatchReport total;
  bool store_failed = false;
  auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };

  if (args.replay) {
    auto held = (*journal)->ListQuarantine("", true, 1'000'000);
    if (!held.ok()) {
      std::cerr << "lhcr ingest: " << held.status().ToString() << "\n";
      return 1;
    }
    for (const ingest::QuarantineItem& item : *held) {
      auto r = ingestor.Replay(item.id);
      if (!r.ok()) {
        std::printf("  quarantine %lld (%s): %s\n", static_cast<long long>(item.id),
                    item.source_id.c_str(), r.status().ToString().c_str());
        ++total.rejected;
        continue;
      }
      std::printf("  quarantine %lld (%s): %s\n", static_cast<long long>(item.id),
                  item.source_id.c_str(),
                  r->rejected == 0 ? "taken" : r->rejected_items[0].status.ToString().c_str());
      total.Merge(*r);
    }
  } else {
    std::vector<Job> jobs;
    std::error_code ec;
    if (!args.source.empty()) {
      const ingest::Source* s = registry.FindById(args.source);
      for (const std::string& p : args.paths) {
        jobs.push_back({s, p, p, static_cast<int64_t>(fs::file_size(p, ec))});
      }
    } else {
      for (const ingest::Source& s : registry.sources()) {
        for (const std::string& f : s.files) {
          std::string p = (fs::path(args.paths[0]) / f).string();
          if (!fs::is_regular_file(p, ec)) {
            std::cerr << "lhcr ingest: " << s.id << ": missing file " << p << "\n";
            return 2;
          }
          jobs.push_back({&s, p, f, static_cast<int64_t>(fs::file_size(p, ec))});
        }
      }
    }
    int64_t all_bytes = 0;
    for (const Job& j : jobs) all_bytes += j.bytes;
    Progress bar("ingest", "MB", 1e6);
    int64_t before = 0;
    for (const Job& j : jobs) {
      auto text = ReadFile(j.path);
      if (!text.ok()) {
        std::cerr << "lhcr ingest: " << text.status().message() << "\n";
        return 2;
      }
      ingest::IngestOptions options;
      options.threads = args.threads;
      options.progress = [&](size_t done, size_t) {
        bar.Update(before + static_cast<int64_t>(done), all_bytes, j.source->id);
      };
      auto report = ingestor.IngestText(*j.source, *text, options);
      before += j.bytes;
      bar.Update(before, all_bytes, j.source->id);
      if (!report.ok()) {
        // The file as a whole could not be split into items (quarantined
        // whole where that applies); go on with the others.
        std::printf("  %-14s %s: %s\n", j.source->id.c_str(), j.shown.c_str(),
                    report.status().ToString().c_str());
        ++total.items;
        ++total.rejected;
        continue;
      }
      std::printf("  %-14s %s: %lld items, %lld resources written, %lld unchanged, %lld rejected, "
                  "%lld findings\n",
                  j.source->id.c_str(), j.shown.c_str(), static_cast<long long>(report->items),
                  static_cast<long long>(report->written),
                  static_cast<long long>(report->unchanged),
                  static_cast<long long>(report->rejected),
                  static_cast<long long>(report->findings));
      for (const ingest::ItemOutcome& o : report->rejected_items) {
        if (o.status.code() == StatusCode::kUnavailable || o.status.code() == StatusCode::kFault) {
          store_failed = true;
        }
      }
      total.Merge(*report);
    }
  }
  const double secs = seconds();
  for (size_t i = 0; i < total.rejected_items.size() && i < 5; ++i) {
    const ingest::ItemOutcome& o = total.rejected_items[i];
    std::fprintf(stderr, "lhcr ingest: rejected %s: %s (quarantine %lld)\n", o.record.c_str(),
                 o.status.ToString().c_str(), static_cast<long long>(o.quarantine_id));
  }
  std::printf(
      "ingest: %lld items (%lld accepted, %lld rejected), %lld resources written, %lld "
      "unchanged, %lld findings in %.1f s (%.0f resources/s)\n",
      static_cast<long long>(total.items), static_cast<long long>(total.accepted),
      static_cast<long long>(total.rejected), static_cast<long long>(total.written),
      static_cast<long long>(total.unchanged), static_cast<long long>(total.findings), secs,
      secs > 0 ? total.written / secs : 0.0);
  if (store_failed) return 1;
  return total.rejected == 0 ? 0 : 3;
}

}  // namespace lhcr
