#include "app/record_command.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <unordered_map>

#include "app/terminology_setup.h"
#include "fhir/json.h"
#include "fhir/search_param.h"
#include "record/record.h"
#include "store/sqlite/sqlite_store.h"
#include "synth/codes.h"
#include "synth/population.h"

namespace lhcr {
namespace {

// (source_id "|" record_id) -> true person id, from truth.csv
// ("source_id,record_id,person_id,noise").
Result<std::unordered_map<std::string, std::string>> ReadTruth(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read " + path);
  std::unordered_map<std::string, std::string> out;
  std::string line;
  bool header = true;
  while (std::getline(in, line)) {
    if (header) {
      header = false;
      if (line.rfind("source_id,", 0) == 0) continue;
    }
    size_t a = line.find(',');
    size_t b = a == std::string::npos ? a : line.find(',', a + 1);
    size_t c = b == std::string::npos ? b : line.find(',', b + 1);
    if (c == std::string::npos) continue;
    out[line.substr(0, a) + "|" + line.substr(a + 1, b - a - 1)] = line.substr(b + 1, c - b - 1);
  }
  return out;
}

// The true person of a stored Patient: its source (meta.source) and any of
// its identifier values as a record id of that source.
std::string TruthOf(const fhir::Json& patient,
                    const std::unordered_map<std::string, std::string>& truth) {
  const fhir::Json* meta = fhir::Member(patient, "meta");
  if (meta == nullptr) return "";
  std::string_view src = fhir::StringMember(*meta, "source");
  std::string source(src.substr(0, src.find('#')));
  const fhir::Json* ids = fhir::Member(patient, "identifier");
  if (ids == nullptr || !ids->IsArray()) return "";
  for (const fhir::Json& id : ids->GetArray()) {
    auto it = truth.find(source + "|" + std::string(fhir::StringMember(id, "value")));
    if (it != truth.end()) return it->second;
  }
  return "";
}

struct PersonRecord {
  std::string person;
  std::set<std::string> truth;         // true persons of its Patients
  std::vector<std::string> med_codes;  // per entry: its source codes joined by ' '
};

}  // namespace

int RunRecordReport(const RecordReportArgs& args, store::Store& store,
                    const ingest::SourceRegistry* registry,
                    const terminology::Terminology* terminology, std::ostream& out) {
  auto start = std::chrono::steady_clock::now();
  std::unordered_map<std::string, std::string> truth;
  if (!args.truth.empty()) {
    auto t = ReadTruth(args.truth);
    if (!t.ok()) {
      std::fprintf(stderr, "lhcr record report: --truth: %s\n", t.status().message().c_str());
      return 2;
    }
    truth = std::move(*t);
  }
  record::ConsolidateOptions options;
  if (registry != nullptr) {
    for (const ingest::Source& s : registry->sources()) options.source_kinds[s.id] = s.kind;
  }
  auto view = store.View();
  if (!view.ok()) {
    std::fprintf(stderr, "lhcr record report: %s\n", view.status().ToString().c_str());
    return 1;
  }
  auto rids = (*view)->AllOfType("Person");
  if (!rids.ok()) {
    std::fprintf(stderr, "lhcr record report: %s\n", rids.status().ToString().c_str());
    return 1;
  }
  const fhir::SearchParamRegistry& params = *fhir::SearchParamRegistry::R4();
  std::map<std::string, record::CategoryCount> totals;
  std::vector<std::string> order;
  int64_t persons = 0, source_items = 0, items = 0, mixing = 0;
  int64_t med_status[3] = {0, 0, 0};  // by MedicationStatus
  std::map<std::string, int64_t> conflicts;
  std::vector<PersonRecord> records;
  std::unordered_map<std::string, std::string> patient_truth;  // "Patient/id" -> person
  constexpr size_t kChunk = 512;
  for (size_t at = 0; at < rids->size(); at += kChunk) {
    std::span<const store::Rid> chunk(rids->data() + at, std::min(kChunk, rids->size() - at));
    auto versions = (*view)->Fetch(chunk, std::nullopt);
    if (!versions.ok()) {
      std::fprintf(stderr, "lhcr record report: %s\n", versions.status().ToString().c_str());
      return 1;
    }
    for (const store::ResourceVersion& v : *versions) {
      auto doc = fhir::ParseJson(v.json);
      if (!doc.ok()) continue;
      const fhir::Json* active = fhir::Member(*doc, "active");
      if (active != nullptr && active->IsBool() && !active->GetBool()) continue;
      const fhir::Json* links = fhir::Member(*doc, "link");
      if (links == nullptr || !links->IsArray() || links->Empty()) continue;
      const fhir::Json* target = fhir::Member((*links)[0], "target");
      std::string_view ref = target ? fhir::StringMember(*target, "reference") : "";
      if (ref.rfind("Patient/", 0) != 0) continue;
      auto gathered = record::Gather(**view, params, ref.substr(8));
      if (!gathered.ok()) continue;  // a link to a deleted Patient
      ++persons;
      source_items += static_cast<int64_t>(gathered->items.size());
      record::ConsolidatedRecord rec = record::Consolidate(*gathered, terminology, options);
      for (const record::MedicationEntry& m : rec.medications) {
        ++med_status[static_cast<int>(m.status)];
        for (const record::Conflict& c : m.conflicts) ++conflicts[c.kind];
      }
      for (const record::CategoryCount& c : rec.counts) {
        auto [it, added] = totals.emplace(c.category, record::CategoryCount{c.category, 0, 0});
        if (added) order.push_back(c.category);
        it->second.source_items += c.source_items;
        it->second.consolidated += c.consolidated;
      }
      if (truth.empty()) continue;
      PersonRecord pr;
      pr.person = "Person/" + v.id;
      for (const record::SourceItem& i : gathered->items) {
        if (i.type != "Patient") continue;
        auto pd = fhir::ParseJson(i.json);
        if (!pd.ok()) continue;
        std::string t = TruthOf(*pd, truth);
        patient_truth["Patient/" + i.id] = t;
        if (!t.empty()) pr.truth.insert(t);
      }
      // Items whose sources belong to more than one true person.
      auto check = [&](const std::vector<record::SourceRef>& sources) {
        std::set<std::string> who;
        for (const record::SourceRef& s : sources) {
          auto it = patient_truth.find(s.patient);
          if (it != patient_truth.end() && !it->second.empty()) who.insert(it->second);
        }
        ++items;
        if (who.size() > 1) ++mixing;
      };
      for (const auto& x : rec.medications) check(x.sources);
      for (const auto& x : rec.problems) check(x.sources);
      for (const auto& x : rec.allergies) check(x.sources);
      for (const auto& x : rec.timeline) check(x.sources);
      for (const auto& x : rec.results) {
        for (const auto& p : x.points) check(p.sources);
      }
      for (const record::MedicationEntry& m : rec.medications) {
        std::string codes = " " + m.vmp + " " + m.vtm + " ";
        for (const record::MedicationSource& s : m.per_source) codes += s.coding.code + " ";
        pr.med_codes.push_back(std::move(codes));
      }
      records.push_back(std::move(pr));
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  char line[512];
  std::snprintf(line, sizeof line, "record report: %lld persons, %lld source items in %.1f s\n",
                static_cast<long long>(persons), static_cast<long long>(source_items), secs);
  out << line;
  for (const std::string& c : order) {
    const record::CategoryCount& t = totals[c];
    double ratio = t.consolidated == 0
                       ? 0.0
                       : static_cast<double>(t.source_items) / static_cast<double>(t.consolidated);
    std::snprintf(line, sizeof line, "%-12s %9lld -> %9lld (%.2fx)\n", c.c_str(),
                  static_cast<long long>(t.source_items), static_cast<long long>(t.consolidated),
                  ratio);
    out << line;
  }
  std::snprintf(line, sizeof line,
                "medications: %lld active, %lld stopped, %lld hospital-only; conflicts: %lld "
                "dose-differs, %lld status-differs\n",
                static_cast<long long>(med_status[0]), static_cast<long long>(med_status[1]),
                static_cast<long long>(med_status[2]),
                static_cast<long long>(conflicts["dose-differs"]),
                static_cast<long long>(conflicts["status-differs"]));
  out << line;
  if (truth.empty()) return 0;

  std::snprintf(
      line, sizeof line, "truth: items mixing people %lld of %lld consolidated items (%.3f%%)\n",
      static_cast<long long>(mixing), static_cast<long long>(items),
      items == 0 ? 0.0 : 100.0 * static_cast<double>(mixing) / static_cast<double>(items));
  out << line;

  // Truth medicines of a sample of people: each in exactly one entry.
  std::string codelists = args.codelists.empty() ? "../shared/data/codelists" : args.codelists;
  auto loaded = synth::CodeBook::Load(codelists);
  std::shared_ptr<const synth::CodeBook> codes = loaded.ok() ? *loaded : synth::CodeBook::BuiltIn();
  std::map<std::string, std::vector<const PersonRecord*>> by_truth;  // true person -> Persons
  for (const PersonRecord& r : records) {
    if (r.truth.size() == 1) by_truth[*r.truth.begin()].push_back(&r);
  }
  int64_t people = 0, meds = 0, once = 0, missing = 0, missing_split = 0, duplicated = 0;
  size_t stride =
      std::max<size_t>(1, by_truth.size() / static_cast<size_t>(std::max(1, args.sample)));
  size_t k = 0;
  for (const auto& [person_id, recs] : by_truth) {
    if (k++ % stride != 0 || people >= args.sample) continue;
    if (person_id.size() < 2) continue;
    uint64_t index = std::strtoull(person_id.c_str() + 1, nullptr, 10);
    synth::Person p = synth::GeneratePerson(*codes, args.seed, index);
    if (p.id != person_id) continue;
    ++people;
    std::set<std::string> seen;
    for (const synth::MedRec& m : p.meds) {
      if (m.start > synth::ReferenceDay() || !seen.insert(m.code.code).second) continue;
      ++meds;
      int entries = 0;
      for (const PersonRecord* r : recs) {
        for (const std::string& c : r->med_codes) {
          entries += c.find(" " + m.code.code + " ") != std::string::npos;
        }
      }
      if (entries == 1) {
        ++once;
      } else if (entries == 0) {
        ++missing;
        if (recs.size() > 1) ++missing_split;
      } else if (recs.size() > 1) {
        ++missing_split;  // in two Persons' records: the MPI split this person
        ++duplicated;
      } else {
        ++duplicated;
      }
    }
  }
  std::snprintf(line, sizeof line,
                "truth: medicines of %lld sampled people: %lld of %lld in exactly one entry, "
                "%lld missing, %lld in more than one (%lld of the missing or repeated: people the "
                "MPI split over several Persons)\n",
                static_cast<long long>(people), static_cast<long long>(once),
                static_cast<long long>(meds), static_cast<long long>(missing),
                static_cast<long long>(duplicated), static_cast<long long>(missing_split));
  out << line;
  return 0;
}

CLI::App* AddRecordCommand(CLI::App& app, RecordCommandArgs& args) {
  CLI::App* rec = app.add_subcommand("record", "The consolidated record (docs/RECORD.md)");
  rec->require_subcommand(1);
  CLI::App* rep = rec->add_subcommand(
      "report", "Source records -> consolidated items per category; spot checks against truth");
  rep->add_option("--data", args.data, "Data directory (SQLite store)")->capture_default_str();
  rep->add_option("--sources", args.sources, "Source registry (default: DATA/sources.json)");
  rep->add_option("--terminology", args.terminology,
                  "Terminology folder (docs/TERMINOLOGY.md); default: the shipped subset");
  rep->add_option("--truth", args.report.truth, "truth.csv of the ingested `lhcr synth` region");
  rep->add_option("--seed", args.report.seed, "The region's `lhcr synth --seed`")
      ->capture_default_str();
  rep->add_option("--codelists", args.report.codelists,
                  "The region's `lhcr synth --codelists` (default ../shared/data/codelists)");
  rep->add_option("--sample", args.report.sample, "People whose medicines are checked")
      ->capture_default_str();
  return rep;
}

int RunRecordCommand(const RecordCommandArgs& args) {
  std::string sources = args.sources;
  std::error_code ec;
  if (sources.empty()) {
    std::string in_data = (std::filesystem::path(args.data) / "sources.json").string();
    if (std::filesystem::exists(in_data, ec)) sources = in_data;
  }
  std::optional<ingest::SourceRegistry> registry;
  if (!sources.empty()) {
    auto r = ingest::LoadSourceRegistry(sources);
    if (!r.ok()) {
      std::cerr << "lhcr record report: --sources: " << r.status().message() << "\n";
      return 2;
    }
    registry = std::move(*r);
  }
  auto term = LoadTerminology(args.terminology, registry ? &*registry : nullptr);
  if (!term.ok()) {
    std::cerr << "lhcr record report: " << term.status().message() << "\n";
    return 2;
  }
  std::string db = (std::filesystem::path(args.data) / "lhcr.db").string();
  if (!std::filesystem::exists(db, ec)) {
    std::cerr << "lhcr record report: no store at " << db << "\n";
    return 2;
  }
  store::SqliteOptions so;
  so.path = db;
  auto store = store::OpenSqliteStore(so);
  if (!store.ok()) {
    std::cerr << "lhcr record report: " << store.status().ToString() << "\n";
    return 1;
  }
  int code = RunRecordReport(args.report, **store, registry ? &*registry : nullptr, term->get(),
                             std::cout);
  (*store)->Close();
  return code;
}

}  // namespace lhcr
