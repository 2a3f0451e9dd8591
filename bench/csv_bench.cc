// CSV adapter throughput on a synthetic social care extract (lhcr synth,
// 30,000 people, seed 1, noise 0.2: the la-x99 extract.csv and the mapping
// from its sources.json), generated once per run into a temp dir:
//   BM_CsvParse        ParseCsv over the extract's rows repeated to about
//                      4 MB (out of the L2 cache), MB/s;
//   BM_MemchrBaseline  the same bytes split into lines and fields with memchr
//                      and nothing else (no quotes, no copies): the floor for
//                      any CSV parser;
//   BM_CsvMapToFhir    MapCsvToFhir on the extract (parse, group, map, one
//                      Bundle a record, serialised), records/s and rows/s.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "csv/csv.h"
#include "csv/to_fhir.h"
#include "fhir/json.h"
#include "synth/synth.h"

namespace {

namespace fs = std::filesystem;
using namespace lhcr::csv;

struct Extract {
  std::string text;  // the extract as synth writes it
  std::string big;   // header + its rows repeated to about 4 MB
  CsvMapping mapping;
  std::string error;
};

const Extract& Data() {
  static const Extract e = [] {
    Extract x;
    fs::path dir = fs::temp_directory_path() / ("lhcr_csv_bench_" + std::to_string(::getpid()));
    lhcr::synth::SynthOptions o;
    o.people = 30000;
    o.seed = 1;
    o.out = dir.string();
    auto r = lhcr::synth::Synthesise(o, *lhcr::synth::CodeBook::BuiltIn(), nullptr);
    if (!r.ok()) {
      x.error = r.status().ToString();
      return x;
    }
    std::ifstream in(dir / lhcr::synth::FeedPath(lhcr::synth::kSocialCareCsv), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    x.text = ss.str();
    fs::remove_all(dir);
    auto registry = lhcr::fhir::ParseJson(lhcr::synth::SourceRegistryJson());
    for (const auto& s : (*registry)["sources"].GetArray()) {
      if (lhcr::fhir::StringMember(s, "format") != "csv") continue;
      auto m = ParseCsvMapping(lhcr::fhir::ToJson(s["csv"]));
      if (!m.ok()) x.error = m.status().ToString();
      if (m.ok()) x.mapping = *m;
    }
    const size_t header_end = x.text.find("\r\n") + 2;
    x.big = x.text.substr(0, header_end);
    const std::string rows = x.text.substr(header_end);
    while (x.big.size() < (4u << 20)) x.big += rows;
    return x;
  }();
  return e;
}

void BM_CsvParse(benchmark::State& state) {
  const Extract& x = Data();
  if (!x.error.empty()) state.SkipWithError(x.error.c_str());
  size_t rows = 0;
  for (auto _ : state) {
    auto t = ParseCsv(x.big);
    if (!t.ok()) state.SkipWithError(t.status().ToString().c_str());
    rows = t.ok() ? t->rows.size() : 0;
    benchmark::DoNotOptimize(t);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(x.big.size()));
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_CsvParse)->Unit(benchmark::kMillisecond);

void BM_MemchrBaseline(benchmark::State& state) {
  const Extract& x = Data();
  if (!x.error.empty()) state.SkipWithError(x.error.c_str());
  for (auto _ : state) {
    size_t fields = 0;
    const char* p = x.big.data();
    const char* end = p + x.big.size();
    while (p < end) {
      const char* lf = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
      const char* eol = lf == nullptr ? end : lf;
      const char* q = p;
      while (q < eol) {
        const char* comma =
            static_cast<const char*>(std::memchr(q, ',', static_cast<size_t>(eol - q)));
        ++fields;
        if (comma == nullptr) break;
        q = comma + 1;
      }
      p = eol + 1;
    }
    benchmark::DoNotOptimize(fields);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(x.big.size()));
}
BENCHMARK(BM_MemchrBaseline)->Unit(benchmark::kMillisecond);

void BM_CsvMapToFhir(benchmark::State& state) {
  const Extract& x = Data();
  if (!x.error.empty()) state.SkipWithError(x.error.c_str());
  CsvSourceInfo source;
  source.source_id = "la-x99";
  source.ods_code = "X99";
  size_t records = 0;
  int rows = 0;
  for (auto _ : state) {
    auto mapped = MapCsvToFhir(x.text, x.mapping, source);
    if (!mapped.ok()) state.SkipWithError(mapped.status().ToString().c_str());
    records = mapped.ok() ? mapped->records.size() : 0;
    rows = mapped.ok() ? mapped->rows : 0;
    benchmark::DoNotOptimize(mapped);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(records));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(x.text.size()));
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_CsvMapToFhir)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
