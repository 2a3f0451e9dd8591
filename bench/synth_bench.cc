// lhcr synth throughput: people generated and rendered per second, against
// an honest baseline measured in the same run — writing the same number of
// bytes per person to disk with no generation at all.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "synth/synth.h"

namespace {

namespace fs = std::filesystem;

fs::path OutDir(const char* name) { return fs::temp_directory_path() / name; }

void BM_Synth(benchmark::State& state) {
  lhcr::synth::SynthOptions o;
  o.people = state.range(0);
  o.threads = static_cast<int>(state.range(1));
  o.out = OutDir("lhcr_synth_bench").string();
  auto codes = lhcr::synth::CodeBook::BuiltIn();
  int64_t bytes = 0;
  for (auto _ : state) {
    auto r = lhcr::synth::Synthesise(o, *codes, nullptr);
    if (!r.ok()) state.SkipWithError(r.status().ToString().c_str());
    bytes = r.ok() ? r->bytes : 0;
  }
  state.counters["people/s"] = benchmark::Counter(static_cast<double>(o.people),
                                                  benchmark::Counter::kIsIterationInvariantRate);
  state.SetBytesProcessed(state.iterations() * bytes);
  fs::remove_all(o.out);
}
BENCHMARK(BM_Synth)
    ->Args({10000, 1})
    ->Args({10000, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Baseline: the bytes synth writes for this many people (about 16.9 KB a
// person, measured), written in 1 MB blocks with no generation.
void BM_WriteSameBytes(benchmark::State& state) {
  const int64_t people = state.range(0);
  const int64_t bytes = people * 16900;
  std::string block(1 << 20, 'x');
  fs::path p = OutDir("lhcr_synth_bench_baseline");
  for (auto _ : state) {
    std::FILE* f = std::fopen(p.c_str(), "wb");
    for (int64_t done = 0; done < bytes; done += static_cast<int64_t>(block.size())) {
      std::fwrite(block.data(), 1, block.size(), f);
    }
    std::fclose(f);
  }
  state.counters["people/s"] = benchmark::Counter(static_cast<double>(people),
                                                  benchmark::Counter::kIsIterationInvariantRate);
  state.SetBytesProcessed(state.iterations() * bytes);
  fs::remove(p);
}
BENCHMARK(BM_WriteSameBytes)->Arg(10000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
