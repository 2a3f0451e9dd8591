#include "synth/synth.h"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "synth/population.h"
#include "synth/tables.h"

namespace lhcr::synth {
namespace {

struct ChunkOut {
  std::array<std::string, kFeedFileCount> files;
  std::string truth;
  RenderStats stats;
  int64_t people = 0;
  int64_t deceased = 0;
};

std::string SourceDir(const Organisation& org) {
  return std::string(KindName(org.kind)) + "/" + std::string(org.ods);
}

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f != nullptr) std::fclose(f);
  }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

Status WriteWhole(const std::filesystem::path& path, const std::string& text) {
  File f(std::fopen(path.c_str(), "wb"));
  if (!f || std::fwrite(text.data(), 1, text.size(), f.get()) != text.size()) {
    return Status::Unavailable("cannot write " + path.string());
  }
  return Status::Ok();
}

}  // namespace

std::string FeedPath(int feed) {
  if (feed < kAcuteAdt) return SourceDir(GpPractices()[feed]) + "/bundles.ndjson";
  switch (feed) {
    case kAcuteAdt:
      return SourceDir(AcuteTrust()) + "/adt.hl7";
    case kAcuteOru:
      return SourceDir(AcuteTrust()) + "/oru.hl7";
    case kAcuteMedicines:
      return SourceDir(AcuteMedicines()) + "/medicines.ndjson";
    case kCommunityFhir:
      return SourceDir(CommunityTrust()) + "/bundles.ndjson";
    case kMentalHealthAdt:
      return SourceDir(MentalHealthTrust()) + "/adt.hl7";
    default:
      return SourceDir(LocalAuthority()) + "/extract.csv";
  }
}

std::string SourceRegistryJson() {
  rapidjson::StringBuffer buf;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
  w.SetIndent(' ', 2);
  auto str = [&](std::string_view s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  };
  auto kv = [&](const char* k, std::string_view v) { w.Key(k), str(v); };
  w.StartObject();
  kv("generator", "lhcr synth");
  kv("reference_date", IsoDate(ReferenceDay()));
  w.Key("sources");
  w.StartArray();
  std::vector<const Organisation*> orgs;
  for (const Organisation& o : GpPractices()) orgs.push_back(&o);
  orgs.push_back(&AcuteTrust());
  orgs.push_back(&AcuteMedicines());
  orgs.push_back(&CommunityTrust());
  orgs.push_back(&MentalHealthTrust());
  orgs.push_back(&LocalAuthority());
  for (const Organisation* o : orgs) {
    w.StartObject();
    kv("id", o->id);
    kv("name", o->name);
    kv("kind", KindName(o->kind));
    kv("ods_code", o->ods);
    kv("format", FormatName(o->format));
    w.Key("identity_trust"), w.Double(o->identity_trust);
    w.Key("files");
    w.StartArray();
    std::string dir = SourceDir(*o);
    if (o == &AcuteTrust()) {
      str(dir + "/adt.hl7");
      str(dir + "/oru.hl7");
    } else if (o == &AcuteMedicines()) {
      str(dir + "/medicines.ndjson");
    } else if (o->format == SourceFormat::kFhir) {
      str(dir + "/bundles.ndjson");
    } else if (o->format == SourceFormat::kHl7v2) {
      str(dir + "/adt.hl7");
    } else {
      str(dir + "/extract.csv");
    }
    w.EndArray();
    std::string id_base = "https://fhir.example.nhs.uk/" + std::string(o->ods) + "/Id/";
    if (o->format == SourceFormat::kFhir) {
      kv("record_id_system", id_base + "patient");
      kv("resource_id_system_prefix", id_base);
    }
    if (o->format == SourceFormat::kHl7v2) {
      w.Key("hl7v2");
      w.StartObject();
      kv("version", "2.4");
      kv("record_id",
         "PID-3 repetition with identifier type MR, assigning authority " + std::string(o->ods));
      kv("nhs_number", "PID-3 repetition with identifier type NH, assigning authority NHS");
      kv("segment_terminator", "\r");
      w.EndObject();
    }
    if (o == &AcuteTrust()) {
      w.Key("local_code_systems");
      w.StartObject();
      kv("99R9AL", kLabLocalSystem);
      w.EndObject();
      kv("local_code_map", dir + "/local-codes.csv");
    }
    if (o->format == SourceFormat::kCsv) {
      w.Key("csv");
      w.StartObject();
      kv("delimiter", ",");
      kv("quote", "\"");
      kv("line_terminator", "\r\n");
      w.Key("header"), w.Bool(true);
      kv("encoding", "UTF-8");
      kv("date_format", "DD/MM/YYYY");
      kv("row",
         "one event (assessment, service or review) per row; rows sharing record_id are one person "
         "record");
      kv("record_id_column", "PersonRef");
      w.Key("columns");
      w.StartArray();
      struct Col {
        const char* name;
        const char* field;
        const char* system;
        const char* note;
      };
      const Col cols[] = {
          {"PersonRef", "patient.identifier.local", "", "the person's social care record id"},
          {"Forename", "patient.name.given", "", ""},
          {"Surname", "patient.name.family", "", ""},
          {"DOB", "patient.birthDate", "", "DD/MM/YYYY"},
          {"Gender", "patient.gender", "", "Male|Female"},
          {"NHSNo", "patient.identifier.nhs-number", "",
           "'NNN NNN NNNN' with spaces; may be empty"},
          {"Address1", "patient.address.line", "", ""},
          {"Town", "patient.address.city", "", ""},
          {"PostCode", "patient.address.postalCode", "", ""},
          {"EventRef", "event.identifier", "", "unique per row"},
          {"EventType", "event.category", kLaEventSystem, "ASSESS|SERVICE|REVIEW"},
          {"ServiceCode", "event.code", kLaServiceSystem, "local service codes"},
          {"ServiceDesc", "event.code.display", "", ""},
          {"StartDate", "event.period.start", "", "DD/MM/YYYY"},
          {"EndDate", "event.period.end", "", "DD/MM/YYYY; empty while ongoing"},
          {"HoursPerWeek", "event.quantity", "", "care hours per week (home care only)"},
      };
      for (const Col& c : cols) {
        w.StartObject();
        kv("name", c.name);
        kv("field", c.field);
        if (*c.system != 0) kv("system", c.system);
        if (*c.note != 0) kv("note", c.note);
        w.EndObject();
      }
      w.EndArray();
      w.Key("local_codes");
      w.StartObject();
      for (const Service& s : SocialCareServices()) kv(std::string(s.code).c_str(), s.display);
      w.EndObject();
      // Which FHIR resource each event category becomes (the CSV adapter's
      // default for a category not listed is Encounter).
      w.Key("event_types");
      w.StartObject();
      kv("ASSESS", "Encounter");
      kv("REVIEW", "Encounter");
      kv("SERVICE", "EpisodeOfCare");
      w.EndObject();
      w.EndObject();
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

Result<SynthSummary> Synthesise(const SynthOptions& opt, const CodeBook& codes,
                                const ProgressFn& progress) {
  if (opt.people < 0 || opt.people > 6'000'000) {
    return Status::Incorrect("--people must be between 0 and 6,000,000");
  }
  if (opt.noise < 0 || opt.noise > 1) return Status::Incorrect("--noise must be in [0, 1]");
  if (opt.threads < 1 || opt.chunk < 1) return Status::Incorrect("threads and chunk must be >= 1");
  if (opt.out.empty()) return Status::Incorrect("--out is required");
  auto t0 = std::chrono::steady_clock::now();
  namespace fs = std::filesystem;
  fs::path out(opt.out);
  std::error_code ec;
  std::vector<File> files;
  for (int f = 0; f < kFeedFileCount; ++f) {
    fs::path p = out / FeedPath(f);
    fs::create_directories(p.parent_path(), ec);
    if (ec)
      return Status::Unavailable("cannot create " + p.parent_path().string() + ": " + ec.message());
    files.emplace_back(std::fopen(p.c_str(), "wb"));
    if (!files.back()) return Status::Unavailable("cannot write " + p.string());
    std::setvbuf(files.back().get(), nullptr, _IOFBF, 1 << 20);
  }
  File truth(std::fopen((out / "truth.csv").c_str(), "wb"));
  if (!truth) return Status::Unavailable("cannot write " + (out / "truth.csv").string());
  std::setvbuf(truth.get(), nullptr, _IOFBF, 1 << 20);
  RETURN_IF_ERROR(WriteWhole(out / "sources.json", SourceRegistryJson()));
  RETURN_IF_ERROR(
      WriteWhole(out / SourceDir(AcuteTrust()) / "local-codes.csv", LabLocalCodesCsv()));

  SynthSummary sum;
  sum.people = opt.people;
  std::string header = SocialCareCsvHeader();
  std::string truth_header = "source_id,record_id,person_id,noise\n";
  std::fwrite(header.data(), 1, header.size(), files[kSocialCareCsv].get());
  std::fwrite(truth_header.data(), 1, truth_header.size(), truth.get());
  sum.bytes += static_cast<int64_t>(header.size() + truth_header.size());

  const int64_t n_chunks = (opt.people + opt.chunk - 1) / opt.chunk;
  const int64_t max_ahead = 4 * opt.threads;  // bounds memory: chunks not yet written
  std::mutex mu;
  std::condition_variable cv;
  std::map<int64_t, std::unique_ptr<ChunkOut>> ready;  // guarded by mu
  int64_t written = 0;                                 // guarded by mu
  std::atomic<int64_t> next{0};

  auto worker = [&] {
    for (;;) {
      int64_t c = next.fetch_add(1);
      if (c >= n_chunks) return;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return c < written + max_ahead; });
      }
      auto outc = std::make_unique<ChunkOut>();
      int64_t begin = c * opt.chunk, end = std::min<int64_t>(opt.people, begin + opt.chunk);
      for (int64_t i = begin; i < end; ++i) {
        Person p = GeneratePerson(codes, opt.seed, static_cast<uint64_t>(i));
        if (p.death != 0) outc->deceased++;
        RenderPerson(p, opt.seed, opt.noise, &outc->files, &outc->truth, &outc->stats);
      }
      outc->people = end - begin;
      std::lock_guard lock(mu);
      ready[c] = std::move(outc);
      cv.notify_all();
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < opt.threads; ++i) threads.emplace_back(worker);

  Status status = Status::Ok();
  int64_t done = 0;
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::unique_ptr<ChunkOut> chunk;
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return ready.count(c) > 0; });
      chunk = std::move(ready[c]);
      ready.erase(c);
    }
    for (int f = 0; f < kFeedFileCount; ++f) {
      const std::string& s = chunk->files[f];
      if (std::fwrite(s.data(), 1, s.size(), files[f].get()) != s.size() && status.ok()) {
        status = Status::Unavailable("cannot write " + (out / FeedPath(f)).string());
      }
      sum.bytes += static_cast<int64_t>(s.size());
    }
    if (std::fwrite(chunk->truth.data(), 1, chunk->truth.size(), truth.get()) !=
            chunk->truth.size() &&
        status.ok()) {
      status = Status::Unavailable("cannot write truth.csv");
    }
    sum.bytes += static_cast<int64_t>(chunk->truth.size());
    sum.stats.Add(chunk->stats);
    sum.deceased += chunk->deceased;
    done += chunk->people;
    {
      std::lock_guard lock(mu);
      written = c + 1;
    }
    cv.notify_all();
    if (progress) progress(done, opt.people);
  }
  for (std::thread& t : threads) t.join();
  for (File& f : files) {
    if (std::fflush(f.get()) != 0 && status.ok()) status = Status::Unavailable("flush failed");
  }
  if (std::fflush(truth.get()) != 0 && status.ok()) status = Status::Unavailable("flush failed");
  RETURN_IF_ERROR(status);
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return sum;
}

}  // namespace lhcr::synth
