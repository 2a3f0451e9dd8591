// record_bench: Patient/{id}/$summary (record::Summary: gather, consolidate,
// document Bundle) for a Person with 2,000 source items on the embedded
// SQLite store, p50/p95 over many runs, against a baseline measured in the
// same run: reading the same records by FHIR search without consolidation
// (for each linked Patient and each gathered type, `Type?patient=Patient/x
// &_count=1000` through the interactions, as a client assembling a view
// itself would). Also the stages alone (gather, consolidate, bundle).
//
//   record_bench [--items 2000] [--runs 200] [--terminology DIR]
//
// The Person links four Patients (two GP practices, the acute trust, social
// care); the records overlap as real feeds do: the same medicines at both
// practices and in hospital (VMP and AMP codes), repeated problems and
// allergies, results sent by the GP and the lab; encounters are all distinct.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "fhir/search_param.h"
#include "record/record.h"
#include "testing/local_record.h"

namespace {

using lhcr::Result;
using lhcr::Status;
namespace record = lhcr::record;

struct Args {
  int items = 2000;
  int runs = 200;
  std::string terminology = LHCR_SOURCE_DIR "/data/terminology";
};

// The shipped subset's VMPs and an AMP of each where it has one.
struct Med {
  const char* vmp;
  const char* amp;
};
constexpr Med kMeds[] = {
    {"325278007", "42084911000001109"},
    {"325242002", "378911000001109"},
    {"320000009", "42382311000001100"},
    {"319283006", "995011000001102"},
    {"39113611000001102", "7511000001105"},
    {"39704111000001102", "1040511000001102"},
    {"39728011000001102", "1016611000001108"},
    {"317335006", "42356411000001102"},
    {"317972000", ""},
    {"400978004", ""},
    {"321988008", ""},
    {"320130006", ""},
};
constexpr const char* kLoinc[] = {"4548-4", "2093-3", "2160-0", "33914-3", "14959-1",
                                  "718-7",  "6690-2", "777-3",  "8480-6",  "39156-5"};
constexpr const char* kConditions[] = {"38341003",  "44054006",  "13645005", "195967001",
                                       "84114007",  "709044004", "52448006", "35489007",
                                       "363346000", "64859006"};

std::string Date(int day) {  // 2015-01-01 + day (30-day months are enough here)
  int y = 2015 + day / 360, m = 1 + (day % 360) / 30, d = 1 + day % 30;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, std::min(d, 28));
  return buf;
}

class Builder {
 public:
  explicit Builder(std::string patient, std::string source)
      : patient_(std::move(patient)), source_(std::move(source)) {}
  void Add(const std::string& type, const std::string& body) {
    std::string id = source_ + "-" + std::to_string(++n_);
    entries_.push_back("{\"resource\":{\"resourceType\":\"" + type + "\",\"id\":\"" + id +
                       "\",\"meta\":{\"source\":\"" + source_ + "#b\"}," + body +
                       "},\"request\":{\"method\":\"PUT\",\"url\":\"" + type + "/" + id + "\"}}");
  }
  std::string Subject() const { return "\"subject\":{\"reference\":\"Patient/" + patient_ + "\"}"; }
  std::string PatientRef() const {
    return "\"patient\":{\"reference\":\"Patient/" + patient_ + "\"}";
  }
  // Transactions of 500 entries.
  std::vector<std::string> Bundles() const {
    std::vector<std::string> out;
    for (size_t i = 0; i < entries_.size(); i += 500) {
      std::string b = "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[";
      for (size_t j = i; j < std::min(entries_.size(), i + 500); ++j) {
        if (j > i) b += ",";
        b += entries_[j];
      }
      out.push_back(b + "]}");
    }
    return out;
  }
  size_t size() const { return entries_.size(); }

 private:
  std::string patient_, source_;
  int n_ = 0;
  std::vector<std::string> entries_;
};

// Source items for four Patients, `total` records in all (besides the
// Patients), in the proportions of a long GP and hospital history.
std::vector<Builder> Region(int total) {
  std::vector<Builder> b = {Builder("g1", "gp-a"), Builder("g2", "gp-b"), Builder("h", "acute"),
                            Builder("s", "social")};
  int made = 0;
  auto done = [&] { return made >= total; };
  auto med = [&](Builder& x, const Med& m, bool request, const char* status, const char* dose,
                 int day) {
    const char* code = request && m.amp[0] != '\0' ? m.amp : m.vmp;
    std::string coding = std::string("\"medicationCodeableConcept\":{\"coding\":[{\"system\":") +
                         "\"http://snomed.info/sct\",\"code\":\"" + code + "\"}]}";
    if (request) {
      x.Add("MedicationRequest", std::string("\"status\":\"") + status +
                                     "\",\"intent\":\"order\"," + coding + "," + x.Subject() +
                                     ",\"authoredOn\":\"" + Date(day) +
                                     "\",\"dosageInstruction\":[{\"text\":\"" + dose + "\"}]");
    } else {
      x.Add("MedicationStatement", std::string("\"status\":\"") + status + "\"," + coding + "," +
                                       x.Subject() + ",\"dateAsserted\":\"" + Date(day) +
                                       "\",\"dosage\":[{\"text\":\"" + dose + "\"}]");
    }
    ++made;
  };
  // Medicines: each at both practices, and in hospital for some admissions.
  for (int round = 0; !done() && round < 8; ++round) {
    for (const Med& m : kMeds) {
      med(b[round % 2], m, false, round < 6 ? "completed" : "active", "one daily", round * 120);
      if (round % 2 == 0)
        med(b[2], m, true, round == 4 ? "stopped" : "active", "one daily", round * 120 + 3);
    }
  }
  // Problems at both practices, some also in hospital.
  for (int i = 0; !done() && i < 3 * static_cast<int>(std::size(kConditions)); ++i) {
    Builder& x = b[i % 3];
    x.Add("Condition", std::string("\"code\":{\"coding\":[{\"system\":\"http://snomed.info/sct\","
                                   "\"code\":\"") +
                           kConditions[i % std::size(kConditions)] + "\"}]}," + x.Subject() +
                           ",\"onsetDateTime\":\"" + Date(i % 10 * 90) + "\"");
    ++made;
  }
  for (int i = 0; !done() && i < 12; ++i) {
    Builder& x = b[i % 3];
    x.Add("AllergyIntolerance",
          std::string("\"code\":{\"coding\":[{\"system\":\"http://snomed.info/sct\",\"code\":\"") +
              (i % 2 ? "91936005" : "300916003") + "\"}]},\"criticality\":\"" +
              (i % 3 ? "low" : "high") + "\"," + x.PatientRef());
    ++made;
  }
  // Encounters and episodes: a tenth of what is left.
  int encounters = (total - made) / 10;
  for (int i = 0; !done() && i < encounters; ++i) {
    Builder& x = b[i % 4];
    int day = i * 7 % 3000;
    if (&x == &b[3] && i % 8 == 3) {
      x.Add("EpisodeOfCare", "\"status\":\"active\"," + x.PatientRef() +
                                 ",\"period\":{\"start\":\"" + Date(day) + "\"}");
    } else {
      x.Add("Encounter", "\"status\":\"finished\",\"class\":{\"code\":\"AMB\"}," + x.Subject() +
                             ",\"period\":{\"start\":\"" + Date(day) + "\",\"end\":\"" + Date(day) +
                             "\"},\"serviceProvider\":{\"identifier\":{\"value\":\"" +
                             (&x == &b[2] ? "R9A" : "Y9000" + std::to_string(i % 4)) + "\"}}");
    }
    ++made;
  }
  // Results: the rest, GP and lab, a third of them the same result twice.
  for (int i = 0; !done(); ++i) {
    Builder& x = b[i % 3 == 2 ? 2 : i % 2];
    int day = (i / 3) * 5 % 3400;
    char value[32];
    std::snprintf(value, sizeof value, "%.1f", 40 + (i % 37) * 0.5);
    x.Add("Observation", std::string("\"status\":\"final\",\"code\":{\"coding\":[{\"system\":"
                                     "\"http://loinc.org\",\"code\":\"") +
                             kLoinc[(i / 3) % std::size(kLoinc)] + "\"}]}," + x.Subject() +
                             ",\"effectiveDateTime\":\"" + Date(day) +
                             "\",\"valueQuantity\":{\"value\":" + value +
                             ",\"unit\":\"mmol/mol\",\"system\":\"http://unitsofmeasure.org\","
                             "\"code\":\"mmol/mol\"}");
    ++made;
  }
  return b;
}

double LoadAverage() {
  std::ifstream in("/proc/loadavg");
  double l = 0;
  in >> l;
  return l;
}

struct Stats {
  double p50 = 0, p95 = 0, mean = 0;  // wall, ms
  double cpu_p50 = 0, cpu_p95 = 0;    // this thread's CPU, ms
};

double ThreadCpuMs() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

Stats Measure(int runs, const std::function<void()>& fn) {
  for (int i = 0; i < std::max(3, runs / 10); ++i) fn();  // warm the caches
  std::vector<double> ms, cpu;
  ms.reserve(static_cast<size_t>(runs));
  for (int i = 0; i < runs; ++i) {
    double c0 = ThreadCpuMs();
    auto t0 = std::chrono::steady_clock::now();
    fn();
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    cpu.push_back(ThreadCpuMs() - c0);
  }
  Stats s;
  for (double v : ms) s.mean += v / static_cast<double>(ms.size());
  std::sort(ms.begin(), ms.end());
  std::sort(cpu.begin(), cpu.end());
  size_t i95 = std::min(ms.size() - 1, ms.size() * 95 / 100);
  s.p50 = ms[ms.size() / 2];
  s.p95 = ms[i95];
  s.cpu_p50 = cpu[cpu.size() / 2];
  s.cpu_p95 = cpu[i95];
  return s;
}

void Print(const char* name, const Stats& s) {
  std::printf("%-36s wall p50 %6.2f p95 %6.2f ms | CPU p50 %6.2f p95 %6.2f ms\n", name, s.p50,
              s.p95, s.cpu_p50, s.cpu_p95);
}

void Check(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "record_bench: %s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--items")) args.items = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--runs")) args.runs = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--terminology")) args.terminology = argv[i + 1];
  }
  lhcr::terminology::TerminologyBuilder tb;
  Check(tb.LoadDirectory(args.terminology), "terminology");
  auto terminology = std::move(tb).Build();

  lhcr::testing::LocalRecord rec;
  lhcr::interaction::RequestContext ctx;
  ctx.base_url = "http://bench/fhir";
  for (const char* p : {"g1", "g2", "h", "s"}) {
    auto r = rec.interactions().Update(ctx, "Patient", p,
                                       std::string("{\"resourceType\":\"Patient\",\"id\":\"") + p +
                                           "\",\"birthDate\":\"1940-01-01\"}",
                                       {});
    Check(r.status(), "Patient");
  }
  Check(
      rec.interactions()
          .Update(
              ctx, "Person", "p1",
              R"({"resourceType":"Person","id":"p1","link":[{"target":{"reference":"Patient/g1"}},)"
              R"({"target":{"reference":"Patient/g2"}},{"target":{"reference":"Patient/h"}},)"
              R"({"target":{"reference":"Patient/s"}}]})",
              {})
          .status(),
      "Person");
  size_t written = 0;
  for (const Builder& b : Region(args.items)) {
    for (const std::string& bundle : b.Bundles()) {
      Check(rec.interactions().Bundle(ctx, bundle).status(), "Bundle");
    }
    written += b.size();
  }
  record::ConsolidateOptions options;
  options.source_kinds = {
      {"gp-a", "gp"}, {"gp-b", "gp"}, {"acute", "acute"}, {"social", "social-care"}};
  const auto& registry = *lhcr::fhir::SearchParamRegistry::R4();

  // One summary, to report its shape.
  auto view = rec.store().View();
  Check(view.status(), "view");
  auto items = record::Gather(**view, registry, "g1");
  Check(items.status(), "gather");
  record::ConsolidatedRecord cr = record::Consolidate(*items, terminology.get(), options);
  std::string doc = record::ToSummaryBundle(cr, *items, {ctx.base_url, 0});
  std::printf(
      "record_bench: Person with 4 Patients, %zu source items (+4 Patients) on SQLite, "
      "%d runs, load average %.2f (2 cores)\n",
      written, args.runs, LoadAverage());
  for (const record::CategoryCount& c : cr.counts) {
    std::printf("  %-12s %5lld -> %5lld\n", c.category.c_str(),
                static_cast<long long>(c.source_items), static_cast<long long>(c.consolidated));
  }
  std::printf("  document Bundle %zu bytes\n", doc.size());

  Stats summary = Measure(args.runs, [&] {
    auto r =
        record::Summary(rec.store(), registry, terminology.get(), options, "g1", {ctx.base_url, 0});
    Check(r.status(), "summary");
  });
  size_t read = 0;
  Stats search = Measure(args.runs, [&] {
    read = 0;
    for (const char* p : {"g1", "g2", "h", "s"}) {
      for (const std::string& type : record::GatheredTypes()) {
        auto r = rec.interactions().Search(
            ctx, type, {{"patient", std::string("Patient/") + p}, {"_count", "1000"}});
        Check(r.status(), "search");
        read += r->body.size();
      }
    }
  });
  Stats gather = Measure(args.runs, [&] {
    auto v = rec.store().View();
    auto g = record::Gather(**v, registry, "g1");
    Check(g.status(), "gather");
  });
  Stats consolidate =
      Measure(args.runs, [&] { cr = record::Consolidate(*items, terminology.get(), options); });
  Stats bundle = Measure(args.runs, [&] {
    doc = record::ToSummaryBundle(cr, *items, {ctx.base_url, 0});
  });
  Print("$summary (gather+consolidate+doc)", summary);
  Print("baseline: searches, no consolidation", search);
  Print("  stage: gather", gather);
  Print("  stage: consolidate", consolidate);
  Print("  stage: document Bundle", bundle);
  std::printf(
      "ratio $summary / baseline: wall p50 %.2f p95 %.2f | CPU p50 %.2f p95 %.2f (baseline read "
      "%zu bytes of searchset Bundles per run)\n",
      summary.p50 / search.p50, summary.p95 / search.p95, summary.cpu_p50 / search.cpu_p50,
      summary.cpu_p95 / search.cpu_p95, read);
  std::printf("load average after: %.2f\n", LoadAverage());
  return 0;
}
