// JSON Patch on a ~3 KB resource (Patient-f201 from the R4 examples package,
// 3.1 KB compact), against the baseline it cannot beat: ApplyJsonPatch copies
// the document once to be all-or-nothing, so BM_CopyDocument is its floor.
// The Parse/Serialise pair measures the whole FHIR `patch` path on stored
// bytes (parse, patch, serialise) against parse + serialise alone.
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>
#include <string>

#include "fhir/json.h"
#include "fhir/json_patch.h"

namespace lhcr::fhir {
namespace {

// Idempotent, so one target can be patched again on every iteration: each
// op kind except move, five operations as a client would send to edit a
// demographic record.
constexpr std::string_view kPatch = R"([
  {"op":"test","path":"/id","value":"f201"},
  {"op":"replace","path":"/birthDate","value":"1960-03-14"},
  {"op":"replace","path":"/name/0/family","value":"Bor-Jansma"},
  {"op":"add","path":"/telecom/1/use","value":"work"},
  {"op":"remove","path":"/photo"},
  {"op":"add","path":"/photo","value":[{"contentType":"image/png","url":"Binary/f007"}]},
  {"op":"copy","from":"/address/0/city","path":"/address/0/district"}
])";

// Same shape, but the last operation fails, so the work is rolled back.
constexpr std::string_view kFailingPatch = R"([
  {"op":"test","path":"/id","value":"f201"},
  {"op":"replace","path":"/birthDate","value":"1960-03-14"},
  {"op":"replace","path":"/name/0/family","value":"Bor-Jansma"},
  {"op":"replace","path":"/name/5/family","value":"x"}
])";

std::string LoadResource() {
  std::ifstream in(LHCR_FHIR_PACKAGE "/Patient-f201.json");
  std::stringstream text;
  text << in.rdbuf();
  Result<JsonDoc> doc = ParseJson(text.str());
  return doc.ok() ? ToJson(*doc) : std::string();  // compact, as lhcr stores it
}

const std::string& Resource() {
  static const std::string kResource = LoadResource();
  return kResource;
}

JsonDoc MustParse(std::string_view text) {
  Result<JsonDoc> doc = ParseJson(text);
  return doc.ok() ? std::move(doc).value() : JsonDoc();
}

bool Ready(benchmark::State& state) {
  if (Resource().empty()) {
    state.SkipWithError("Patient-f201.json not found under LHCR_FHIR_PACKAGE");
    return false;
  }
  state.counters["doc_bytes"] = static_cast<double>(Resource().size());
  return true;
}

void BM_CopyDocument(benchmark::State& state) {
  if (!Ready(state)) return;
  JsonDoc source = MustParse(Resource());
  for (auto _ : state) {
    JsonDoc copy;
    copy.CopyFrom(source, copy.GetAllocator());
    benchmark::DoNotOptimize(copy);
  }
}
BENCHMARK(BM_CopyDocument);

void BM_ApplyJsonPatch(benchmark::State& state) {
  if (!Ready(state)) return;
  JsonDoc target = MustParse(Resource());
  JsonDoc patch = MustParse(kPatch);
  for (auto _ : state) {
    Status st = ApplyJsonPatch(patch, &target);
    if (!st.ok()) {
      state.SkipWithError(st.ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(target);
  }
}
BENCHMARK(BM_ApplyJsonPatch);

void BM_ApplyJsonPatchRolledBack(benchmark::State& state) {
  if (!Ready(state)) return;
  JsonDoc target = MustParse(Resource());
  JsonDoc patch = MustParse(kFailingPatch);
  for (auto _ : state) {
    Status st = ApplyJsonPatch(patch, &target);
    if (st.ok()) {
      state.SkipWithError("the failing patch succeeded");
      break;
    }
    benchmark::DoNotOptimize(st);
  }
}
BENCHMARK(BM_ApplyJsonPatchRolledBack);

void BM_ParseSerialise(benchmark::State& state) {
  if (!Ready(state)) return;
  for (auto _ : state) {
    JsonDoc doc = MustParse(Resource());
    std::string out = ToJson(doc);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(Resource().size()));
}
BENCHMARK(BM_ParseSerialise);

void BM_ParsePatchSerialise(benchmark::State& state) {
  if (!Ready(state)) return;
  JsonDoc patch = MustParse(kPatch);
  for (auto _ : state) {
    JsonDoc doc = MustParse(Resource());
    Status st = ApplyJsonPatch(patch, &doc);
    std::string out = ToJson(doc);
    benchmark::DoNotOptimize(st);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(Resource().size()));
}
BENCHMARK(BM_ParsePatchSerialise);

}  // namespace
}  // namespace lhcr::fhir

BENCHMARK_MAIN();
