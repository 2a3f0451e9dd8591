// Search index extraction throughput over the R4 package's Observation,
// Patient, Encounter, Condition and MedicationRequest examples, against a
// baseline of parsing the same bytes with RapidJSON alone, so the cost of
// extraction relative to parsing is visible.
//
//   BM_ParseOnly            parse each resource (the ingest path parses anyway)
//   BM_ParseAndExtract      parse + ExtractIndexRows (what ingest pays)
//   BM_ExtractOnly          ExtractIndexRows over already-parsed documents
//   BM_ExtractOnly/<type>   the same for one resource type
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fhir/json.h"
#include "fhir/search_index.h"

namespace {

using lhcr::fhir::JsonDoc;

struct Corpus {
  std::vector<std::string> texts;
  std::vector<std::string> types;
  size_t bytes = 0;
};

const Corpus& Load() {
  static const Corpus kCorpus = [] {
    Corpus c;
    const std::filesystem::path dir(LHCR_FHIR_PACKAGE);
    if (!std::filesystem::exists(dir)) return c;
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& p : files) {
      std::string name = p.filename().string();
      for (const char* type : {"Observation", "Patient", "Encounter", "Condition", "MedicationRequest"}) {
        if (name.rfind(std::string(type) + "-", 0) != 0 || p.extension() != ".json") continue;
        std::ifstream in(p, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        auto doc = lhcr::fhir::ParseJson(ss.str());
        if (!doc.ok() || lhcr::fhir::StringMember(*doc, "resourceType") != type) continue;
        c.bytes += ss.str().size();
        c.texts.push_back(ss.str());
        c.types.push_back(type);
      }
    }
    return c;
  }();
  return kCorpus;
}

void Report(benchmark::State& state, size_t resources, size_t bytes) {
  state.counters["resources/s"] = benchmark::Counter(
      static_cast<double>(resources) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<int64_t>(bytes) * state.iterations());
}

void BM_ParseOnly(benchmark::State& state) {
  const Corpus& c = Load();
  if (c.texts.empty()) {
    state.SkipWithError("FHIR package not found");
    return;
  }
  for (auto _ : state) {
    for (const std::string& t : c.texts) {
      JsonDoc doc;
      doc.Parse<rapidjson::kParseFullPrecisionFlag>(t.data(), t.size());
      benchmark::DoNotOptimize(doc.IsObject());
    }
  }
  Report(state, c.texts.size(), c.bytes);
}
BENCHMARK(BM_ParseOnly);

void BM_ParseAndExtract(benchmark::State& state) {
  const Corpus& c = Load();
  if (c.texts.empty()) {
    state.SkipWithError("FHIR package not found");
    return;
  }
  auto registry = lhcr::fhir::SearchParamRegistry::R4();
  size_t rows = 0;
  for (auto _ : state) {
    for (const std::string& t : c.texts) {
      JsonDoc doc;
      doc.Parse<rapidjson::kParseFullPrecisionFlag>(t.data(), t.size());
      auto r = lhcr::fhir::ExtractIndexRows(doc, *registry);
      rows += r.size();
      benchmark::DoNotOptimize(r.data());
    }
  }
  state.counters["rows/resource"] =
      static_cast<double>(rows) / static_cast<double>(state.iterations() * c.texts.size());
  Report(state, c.texts.size(), c.bytes);
}
BENCHMARK(BM_ParseAndExtract);

void ExtractOnly(benchmark::State& state, const char* only_type) {
  const Corpus& c = Load();
  if (c.texts.empty()) {
    state.SkipWithError("FHIR package not found");
    return;
  }
  auto registry = lhcr::fhir::SearchParamRegistry::R4();
  std::vector<JsonDoc> docs;
  size_t bytes = 0;
  for (size_t i = 0; i < c.texts.size(); ++i) {
    if (only_type != nullptr && c.types[i] != only_type) continue;
    docs.emplace_back();
    docs.back().Parse<rapidjson::kParseFullPrecisionFlag>(c.texts[i].data(), c.texts[i].size());
    bytes += c.texts[i].size();
  }
  for (auto _ : state) {
    for (const JsonDoc& d : docs) {
      auto r = lhcr::fhir::ExtractIndexRows(d, *registry);
      benchmark::DoNotOptimize(r.data());
    }
  }
  Report(state, docs.size(), bytes);
}

void BM_ExtractOnly(benchmark::State& state) { ExtractOnly(state, nullptr); }
BENCHMARK(BM_ExtractOnly);
BENCHMARK_CAPTURE(ExtractOnly, Observation, "Observation");
BENCHMARK_CAPTURE(ExtractOnly, Patient, "Patient");
BENCHMARK_CAPTURE(ExtractOnly, Encounter, "Encounter");
BENCHMARK_CAPTURE(ExtractOnly, Condition, "Condition");
BENCHMARK_CAPTURE(ExtractOnly, MedicationRequest, "MedicationRequest");

}  // namespace

BENCHMARK_MAIN();
