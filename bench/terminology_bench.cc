// Terminology benchmarks over the shipped subset (data/terminology) and the
// synthetic region's local code map:
//   BM_Lookup, BM_ValidateCodeIsA, BM_ExpandIsA, BM_ExpandCodeList,
//   BM_Translate (one local code through a ConceptMap), BM_TranslateBundle (an
//   ORU-like Bundle of 6 Observations: codings added, units coded),
//   BM_UcumParse, BM_UcumConvert, BM_Load (the whole subset from files).
//
//   terminology_bench [benchmark flags]
//   terminology_bench --ingest-ratio [--people N] [--reps K]
//
// --ingest-ratio runs the real binary: `lhcr synth` writes a region, then
// each repetition ingests it into a fresh data directory twice, with
// translation (the default) and with --no-translate, back to back, and
// prints the wall and CPU seconds of each and their ratios (medians over
// repetitions; the CPU ratio is the steadier one on a busy machine):
//   INGEST_TRANSLATE people=.. translate_s=.. plain_s=.. ratio=..
//     translate_cpu_s=.. plain_cpu_s=.. cpu_ratio=..
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "terminology/terminology.h"
#include "terminology/translate.h"
#include "terminology/ucum.h"

namespace {

using namespace lhcr::terminology;

const std::string kDir = std::string(LHCR_SOURCE_DIR) + "/data/terminology";
const std::string kLab = "https://fhir.example.nhs.uk/R9A/CodeSystem/lab";
const std::string kMap = "https://fhir.example.nhs.uk/R9A/ConceptMap/local-codes";
const std::string kVs = "https://lhcr.example.org/fhir/ValueSet/";

std::shared_ptr<const Terminology> Loaded() {
  static const std::shared_ptr<const Terminology> t = [] {
    TerminologyBuilder b;
    if (!b.LoadDirectory(kDir).ok()) std::abort();
    // The synthetic acute trust's map (src/synth/render.cc LabLocalCodesCsv).
    if (!b.AddLocalCodeMap("local_code,display,unit,loinc,snomed\n"
                           "HBA1C,HbA1c (IFCC),mmol/mol,59261-8,999791000000106\n"
                           "CHOL,Serum cholesterol,mmol/L,14647-2,1005671000000105\n"
                           "CREA,Creatinine,umol/L,14682-9,1000731000000107\n"
                           "EGFR,eGFR (CKD-EPI),mL/min/{1.73_m2},62238-1,1011481000000105\n"
                           "HB,Haemoglobin,g/L,718-7,1022431000000105\n"
                           "WBC,White cell count,10*9/L,6690-2,\n",
                           kLab, kMap)
             .ok()) {
      std::abort();
    }
    return std::move(b).Build();
  }();
  return t;
}

void BM_Lookup(benchmark::State& state) {
  auto t = Loaded();
  for (auto _ : state) benchmark::DoNotOptimize(t->Lookup(kSnomed, "44054006"));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Lookup);

void BM_ValidateCodeIsA(benchmark::State& state) {
  auto t = Loaded();
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        t->ValidateCode(kVs + "isa-conditions-diabetes", kSnomed, "190331003", ""));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ValidateCodeIsA);

void BM_ExpandIsA(benchmark::State& state) {
  auto t = Loaded();
  for (auto _ : state) {
    benchmark::DoNotOptimize(t->Expand(kVs + "isa-conditions-diabetes-type-ii", "", 0, 100));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ExpandIsA);

void BM_ExpandCodeList(benchmark::State& state) {  // 661 codes
  auto t = Loaded();
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        t->Expand(kVs + "codelist-conditions-severe-mental-illness", "", 0, 100));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ExpandCodeList);

void BM_Translate(benchmark::State& state) {
  auto t = Loaded();
  for (auto _ : state) benchmark::DoNotOptimize(t->Translate(kMap, kLab, "CREA", ""));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Translate);

std::string OruBundle() {
  std::string b = R"({"resourceType":"Bundle","type":"transaction","entry":[)";
  const char* obs[][3] = {{"HBA1C", "48", "mmol/mol"}, {"CHOL", "5.2", "mmol/L"},
                          {"CREA", "88", "umol/L"},    {"EGFR", "72", "mL/min/{1.73_m2}"},
                          {"HB", "13.5", "g/dL"},      {"WBC", "6.1", "10*9/L"}};
  for (int i = 0; i < 6; ++i) {
    if (i > 0) b += ",";
    b +=
        R"({"resource":{"resourceType":"Observation","status":"final","code":{"coding":[{"system":")" +
        kLab + R"(","code":")" + obs[i][0] + R"("}]},"valueQuantity":{"value":)" + obs[i][1] +
        R"(,"unit":")" + obs[i][2] +
        R"("}},"request":{"method":"PUT","url":"Observation?identifier=x|)" + std::to_string(i) +
        R"("}})";
  }
  return b + "]}";
}

void BM_TranslateBundle(benchmark::State& state) {
  auto t = Loaded();
  auto u = Ucum::Embedded();
  const std::string bundle = OruBundle();
  for (auto _ : state) benchmark::DoNotOptimize(TranslateBundle(*t, *u, {kMap}, bundle));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bundle.size()));
}
BENCHMARK(BM_TranslateBundle);

void BM_UcumParse(benchmark::State& state) {
  auto u = Ucum::Embedded();
  for (auto _ : state) benchmark::DoNotOptimize(u->Parse("mL/min/{1.73_m2}"));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_UcumParse);

void BM_UcumConvert(benchmark::State& state) {
  auto u = Ucum::Embedded();
  for (auto _ : state) benchmark::DoNotOptimize(u->Convert(180, "mg/dL", "g/L"));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_UcumConvert);

void BM_Load(benchmark::State& state) {
  for (auto _ : state) {
    TerminologyBuilder b;
    benchmark::DoNotOptimize(b.LoadDirectory(kDir));
    benchmark::DoNotOptimize(std::move(b).Build());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Load)->Unit(benchmark::kMillisecond);

double ChildCpu() {
  rusage u{};
  getrusage(RUSAGE_CHILDREN, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Wall and CPU seconds of one command (CPU: of the finished child, which a
// busy shared machine disturbs less than wall time).
std::pair<double, double> Run(const std::string& cmd) {
  auto start = std::chrono::steady_clock::now();
  double cpu = ChildCpu();
  if (std::system((cmd + " > /dev/null 2>&1").c_str()) != 0) {
    std::fprintf(stderr, "failed: %s\n", cmd.c_str());
    std::exit(1);
  }
  return {std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
          ChildCpu() - cpu};
}

int IngestRatio(int people, int reps) {
  namespace fs = std::filesystem;
  std::string dir =
      (fs::temp_directory_path() / ("terminology_bench." + std::to_string(getpid()))).string();
  fs::create_directories(dir);
  const std::string lhcr = LHCR_BINARY;
  Run(lhcr + " synth --people " + std::to_string(people) + " --seed 1 --out " + dir +
      "/region --codelists /nonexistent");
  std::vector<double> with, without, ratio, cpu_with, cpu_without, cpu_ratio;
  for (int r = 0; r < reps; ++r) {
    fs::remove_all(dir + "/a");
    fs::remove_all(dir + "/b");
    auto [a, ac] = Run(lhcr + " ingest --no-fsync --data " + dir + "/a " + dir + "/region");
    auto [b, bc] =
        Run(lhcr + " ingest --no-fsync --no-translate --data " + dir + "/b " + dir + "/region");
    with.push_back(a);
    without.push_back(b);
    ratio.push_back(a / b);
    cpu_with.push_back(ac);
    cpu_without.push_back(bc);
    cpu_ratio.push_back(ac / bc);
    std::printf(
        "rep %d: translate %.2f s (cpu %.2f), plain %.2f s (cpu %.2f), ratio %.3f, "
        "cpu_ratio %.3f\n",
        r + 1, a, ac, b, bc, a / b, ac / bc);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::printf(
      "INGEST_TRANSLATE people=%d translate_s=%.2f plain_s=%.2f ratio=%.3f "
      "translate_cpu_s=%.2f plain_cpu_s=%.2f cpu_ratio=%.3f\n",
      people, median(with), median(without), median(ratio), median(cpu_with), median(cpu_without),
      median(cpu_ratio));
  fs::remove_all(dir);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--ingest-ratio") == 0) {
      int people = 2000, reps = 3;
      for (int j = 1; j + 1 < argc; ++j) {
        if (std::strcmp(argv[j], "--people") == 0) people = std::atoi(argv[j + 1]);
        if (std::strcmp(argv[j], "--reps") == 0) reps = std::atoi(argv[j + 1]);
      }
      return IngestRatio(people, reps);
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
