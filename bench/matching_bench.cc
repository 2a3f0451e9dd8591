// Matching hot paths: comparison vectors per second and candidate generation
// (blocking) on FEBRL dataset2, against a baseline of plain string equality
// over the same pairs.
#include <benchmark/benchmark.h>

#include <filesystem>

#include "identity/blocking.h"
#include "identity/comparators.h"
#include "identity/evaluation.h"
#include "identity/matcher.h"

namespace lhcr::identity {
namespace {

struct Data {
  std::vector<PersonRecord> records;
  std::vector<PreparedRecord> prepared;
  std::vector<CandidatePair> pairs;
};

const Data& Load() {
  static const Data* data = [] {
    auto* d = new Data;
    LabelledRecords l;
    std::string path = std::string(LHCR_SHARED_DATA) + "/febrl/dataset2.csv";
    if (std::filesystem::exists(path) && LoadFebrl(path, 0, &l).ok()) d->records = l.records;
    for (const auto& r : d->records) d->prepared.push_back(Prepare(r));
    d->pairs = GenerateCandidates(d->prepared, {});
    return d;
  }();
  return *data;
}

void BM_Prepare(benchmark::State& state) {
  const Data& d = Load();
  if (d.records.empty()) return state.SkipWithError("shared data absent");
  for (auto _ : state) {
    for (const auto& r : d.records) benchmark::DoNotOptimize(Prepare(r));
  }
  state.SetItemsProcessed(state.iterations() * d.records.size());
}
BENCHMARK(BM_Prepare)->Unit(benchmark::kMillisecond);

void BM_CandidateGeneration(benchmark::State& state) {
  const Data& d = Load();
  if (d.records.empty()) return state.SkipWithError("shared data absent");
  for (auto _ : state) benchmark::DoNotOptimize(GenerateCandidates(d.prepared, {}));
  state.SetItemsProcessed(state.iterations() * d.prepared.size());
  state.counters["pairs"] = static_cast<double>(d.pairs.size());
}
BENCHMARK(BM_CandidateGeneration)->Unit(benchmark::kMillisecond);

void BM_CompareVector(benchmark::State& state) {
  const Data& d = Load();
  if (d.records.empty()) return state.SkipWithError("shared data absent");
  for (auto _ : state) {
    for (const auto& p : d.pairs)
      benchmark::DoNotOptimize(Compare(d.prepared[p.a], d.prepared[p.b]));
  }
  state.SetItemsProcessed(state.iterations() * d.pairs.size());
}
BENCHMARK(BM_CompareVector)->Unit(benchmark::kMillisecond);

// What Splink's figure counts: a scored comparison — comparison vector,
// Bayes factor with term-frequency adjustment, and the decision.
void BM_ScorePairs(benchmark::State& state) {
  const Data& d = Load();
  if (d.records.empty()) return state.SkipWithError("shared data absent");
  static const Matcher* matcher = new Matcher(Matcher::Train(d.prepared, d.pairs, {}));
  for (auto _ : state) {
    for (const auto& p : d.pairs) benchmark::DoNotOptimize(matcher->Score(d.prepared, p.a, p.b));
  }
  state.SetItemsProcessed(state.iterations() * d.pairs.size());
}
BENCHMARK(BM_ScorePairs)->Unit(benchmark::kMillisecond);

// Baseline: exact equality of the same twelve fields over the same pairs.
void BM_BaselineStringEquality(benchmark::State& state) {
  const Data& d = Load();
  if (d.records.empty()) return state.SkipWithError("shared data absent");
  for (auto _ : state) {
    for (const auto& p : d.pairs) {
      const PreparedRecord &a = d.prepared[p.a], &b = d.prepared[p.b];
      ComparisonVector v{};
      v[0] = a.given == b.given;
      v[1] = a.family == b.family;
      v[2] = a.dob_digits == b.dob_digits;
      v[3] = a.sex == b.sex;
      v[4] = a.postcode == b.postcode;
      v[5] = a.house_number == b.house_number;
      v[6] = a.address == b.address;
      v[7] = a.town == b.town;
      v[8] = a.other_id == b.other_id;
      v[9] = a.nhs_number == b.nhs_number;
      v[10] = a.email == b.email;
      v[11] = a.region == b.region;
      benchmark::DoNotOptimize(v);
    }
  }
  state.SetItemsProcessed(state.iterations() * d.pairs.size());
}
BENCHMARK(BM_BaselineStringEquality)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace lhcr::identity

BENCHMARK_MAIN();
