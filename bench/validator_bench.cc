// Structural validation throughput over the non-conformance examples of the
// official R4 package, next to a baseline of RapidJSON parsing the same bytes
// (validation runs on every write, after the parse, so the ratio is the cost
// it adds). Counters: bytes_per_second over the JSON text, items_per_second
// in resources.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fhir/json.h"
#include "fhir/validator.h"

namespace lhcr::fhir {
namespace {

struct Corpus {
  std::vector<std::string> texts;
  std::vector<JsonDoc> docs;
  size_t bytes = 0;
};

// The examples whose resourceType is not a conformance/terminology type:
// type "" = all 720 (~108 MB, two thirds of it in three huge Bundles:
// Bundle-resources, Bundle-dataelements, Bundle-valueset-expansions);
// "typical" = those under 64 KB (~700 resources of a few KB, like writes to a
// care record); otherwise only the examples of that resourceType.
const Corpus& Examples(const std::string& type = "") {
  static std::map<std::string, Corpus> corpora;
  auto [it, inserted] = corpora.try_emplace(type);
  Corpus& c = it->second;
  if (!inserted) return c;
  static const std::set<std::string> kSkip = {
      "StructureDefinition", "SearchParameter",     "ValueSet",          "CodeSystem",
      "ConceptMap",          "OperationDefinition", "CapabilityStatement", "CompartmentDefinition",
      "ImplementationGuide", "NamingSystem",        "StructureMap",      "TerminologyCapabilities",
      "GraphDefinition",     "MessageDefinition"};
  std::vector<std::filesystem::path> files;
  if (std::filesystem::exists(LHCR_FHIR_PACKAGE)) {
    for (const auto& e : std::filesystem::directory_iterator(LHCR_FHIR_PACKAGE)) {
      if (e.path().extension() == ".json") files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    Result<JsonDoc> doc = ParseJson(ss.str());
    if (!doc.ok()) continue;
    std::string rt(StringMember(*doc, "resourceType"));
    if (rt.empty() || kSkip.count(rt) != 0) continue;
    if (type == "typical" ? ss.str().size() >= 64 * 1024 : !type.empty() && rt != type) continue;
    c.bytes += ss.str().size();
    c.texts.push_back(ss.str());
    c.docs.push_back(std::move(doc).value());
  }
  return c;
}

bool Ready(benchmark::State& state, const Corpus& c) {
  if (c.docs.empty()) {
    state.SkipWithError("FHIR package not found at " LHCR_FHIR_PACKAGE);
    return false;
  }
  return true;
}

void Count(benchmark::State& state, const Corpus& c) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * c.docs.size()));
}

// Baseline: RapidJSON DOM parse with the flags ParseJson uses.
void BM_RapidJsonParse(benchmark::State& state, std::string type) {
  const Corpus& c = Examples(type);
  if (!Ready(state, c)) return;
  for (auto _ : state) {
    for (const std::string& text : c.texts) {
      JsonDoc doc;
      doc.Parse<rapidjson::kParseFullPrecisionFlag>(text.data(), text.size());
      benchmark::DoNotOptimize(doc.HasParseError());
    }
  }
  Count(state, c);
}

// Validation alone, over already-parsed documents.
void BM_Validate(benchmark::State& state, std::string type) {
  const Corpus& c = Examples(type);
  if (!Ready(state, c)) return;
  auto validator = Validator::R4();
  size_t issues = 0;
  for (auto _ : state) {
    for (const JsonDoc& doc : c.docs) {
      auto found = validator->Validate(doc);
      issues += found.size();
      benchmark::DoNotOptimize(found.data());
    }
  }
  state.counters["issues_per_pass"] =
      static_cast<double>(issues) / static_cast<double>(state.iterations());
  Count(state, c);
}

// What a write pays: parse, then validate.
void BM_ParseAndValidate(benchmark::State& state, std::string type) {
  const Corpus& c = Examples(type);
  if (!Ready(state, c)) return;
  auto validator = Validator::R4();
  for (auto _ : state) {
    for (const std::string& text : c.texts) {
      JsonDoc doc;
      doc.Parse<rapidjson::kParseFullPrecisionFlag>(text.data(), text.size());
      auto found = validator->Validate(doc);
      benchmark::DoNotOptimize(found.data());
    }
  }
  Count(state, c);
}

// A resource with many problems: the cost of reporting.
void BM_ValidateInvalid(benchmark::State& state) {
  Result<JsonDoc> doc = ParseJson(R"({"resourceType":"Patient","id":"a b","active":"yes",
      "name":[{"family":"","given":["A",null],"nick":"x"}],"birthDate":"1970-13-01",
      "gender":["male"],"contact":[{}],"link":[{"type":"seealso"}]})");
  auto validator = Validator::R4();
  for (auto _ : state) {
    auto found = validator->Validate(*doc);
    benchmark::DoNotOptimize(found.data());
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace
}  // namespace lhcr::fhir

extern "C" const char lhcr_r4_structure_defs[];
extern "C" const char lhcr_r4_structure_defs_end[];

namespace lhcr::fhir {
namespace {

// What the first Validator::R4() call pays: parse the embedded definitions
// and build the tables.
void BM_BuildTables(benchmark::State& state) {
  std::string_view defs(lhcr_r4_structure_defs,
                        static_cast<size_t>(lhcr_r4_structure_defs_end - lhcr_r4_structure_defs));
  for (auto _ : state) {
    auto v = Validator::FromDefinitions(defs);
    benchmark::DoNotOptimize(v.ok());
  }
}

BENCHMARK_CAPTURE(BM_RapidJsonParse, all_examples, std::string());
BENCHMARK_CAPTURE(BM_Validate, all_examples, std::string());
BENCHMARK_CAPTURE(BM_ParseAndValidate, all_examples, std::string());
BENCHMARK_CAPTURE(BM_RapidJsonParse, typical, std::string("typical"));
BENCHMARK_CAPTURE(BM_Validate, typical, std::string("typical"));
BENCHMARK_CAPTURE(BM_ParseAndValidate, typical, std::string("typical"));
BENCHMARK_CAPTURE(BM_RapidJsonParse, Patient, std::string("Patient"));
BENCHMARK_CAPTURE(BM_Validate, Patient, std::string("Patient"));
BENCHMARK_CAPTURE(BM_RapidJsonParse, Observation, std::string("Observation"));
BENCHMARK_CAPTURE(BM_Validate, Observation, std::string("Observation"));
BENCHMARK_CAPTURE(BM_RapidJsonParse, Bundle, std::string("Bundle"));
BENCHMARK_CAPTURE(BM_Validate, Bundle, std::string("Bundle"));
BENCHMARK(BM_ValidateInvalid);

BENCHMARK(BM_BuildTables)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace lhcr::fhir

BENCHMARK_MAIN();
