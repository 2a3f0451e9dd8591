// HL7 v2 throughput over the public corpus (../shared/data/hl7v2/fhir-converter):
//   BM_Hl7v2Parse      ParseMessage (segments and fields indexed; values are
//                      decoded on access, so this is the cost a receiver pays
//                      before it reads anything), MB/s;
//   BM_Hl7v2ParseRead  parse, then decode every field's first component;
//   BM_MemchrBaseline  the same bytes split into segments and fields with
//                      memchr and nothing else: the floor for any ER7 parser;
//   BM_Hl7v2MapToFhir  ADT and ORU messages to transaction Bundles, messages/s.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "hl7v2/message.h"
#include "hl7v2/to_fhir.h"

namespace {

namespace fs = std::filesystem;
using namespace lhcr::hl7v2;

const std::vector<std::string>& Corpus() {
  static const std::vector<std::string> messages = [] {
    std::vector<std::string> out;
    fs::path dir = fs::path(LHCR_SHARED_DATA) / "hl7v2" / "fhir-converter";
    std::vector<fs::path> files;
    if (fs::is_directory(dir)) {
      for (const auto& e : fs::directory_iterator(dir)) {
        if (e.path().extension() == ".hl7") files.push_back(e.path());
      }
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) {
      std::ifstream in(f, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      std::string text = ss.str();
      for (std::string_view piece : SplitMessages(text)) out.emplace_back(piece);
    }
    return out;
  }();
  return messages;
}

int64_t CorpusBytes() {
  int64_t n = 0;
  for (const std::string& m : Corpus()) n += static_cast<int64_t>(m.size());
  return n;
}

void BM_Hl7v2Parse(benchmark::State& state) {
  if (Corpus().empty()) state.SkipWithError("no corpus");
  for (auto _ : state) {
    for (const std::string& m : Corpus()) {
      auto parsed = ParseMessage(m);
      benchmark::DoNotOptimize(parsed);
    }
  }
  state.SetBytesProcessed(state.iterations() * CorpusBytes());
}
BENCHMARK(BM_Hl7v2Parse);

void BM_Hl7v2ParseRead(benchmark::State& state) {
  if (Corpus().empty()) state.SkipWithError("no corpus");
  for (auto _ : state) {
    size_t total = 0;
    for (const std::string& m : Corpus()) {
      auto parsed = ParseMessage(m);
      if (!parsed.ok()) continue;
      for (size_t i = 0; i < parsed->segment_count(); ++i) {
        Segment s = parsed->segment(i);
        for (int f = 1; f <= s.field_count(); ++f) total += s.Get(f).size();
      }
    }
    benchmark::DoNotOptimize(total);
  }
  state.SetBytesProcessed(state.iterations() * CorpusBytes());
}
BENCHMARK(BM_Hl7v2ParseRead);

void BM_MemchrBaseline(benchmark::State& state) {
  if (Corpus().empty()) state.SkipWithError("no corpus");
  for (auto _ : state) {
    size_t fields = 0;
    for (const std::string& m : Corpus()) {
      const char* p = m.data();
      const char* end = p + m.size();
      while (p < end) {
        const char* cr =
            static_cast<const char*>(std::memchr(p, '\r', static_cast<size_t>(end - p)));
        const char* lf =
            static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
        const char* eol =
            cr == nullptr ? (lf == nullptr ? end : lf) : (lf == nullptr ? cr : std::min(cr, lf));
        const char* q = p;
        while (q < eol) {
          const char* bar =
              static_cast<const char*>(std::memchr(q, '|', static_cast<size_t>(eol - q)));
          ++fields;
          if (bar == nullptr) break;
          q = bar + 1;
        }
        p = eol + 1;
      }
    }
    benchmark::DoNotOptimize(fields);
  }
  state.SetBytesProcessed(state.iterations() * CorpusBytes());
}
BENCHMARK(BM_MemchrBaseline);

void BM_Hl7v2MapToFhir(benchmark::State& state) {
  std::vector<Message> messages;
  for (const std::string& m : Corpus()) {
    auto parsed = ParseMessage(m);
    if (parsed.ok() && (parsed->MessageType() == "ADT" || parsed->MessageType() == "ORU")) {
      messages.push_back(std::move(parsed).value());
    }
  }
  if (messages.empty()) state.SkipWithError("no corpus");
  SourceInfo source;
  source.source_id = "bench";
  source.ods_code = "RXX";
  for (auto _ : state) {
    for (const Message& m : messages) {
      auto mapped = MapToFhir(m, source);
      benchmark::DoNotOptimize(mapped);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(messages.size()));
}
BENCHMARK(BM_Hl7v2MapToFhir);

}  // namespace

BENCHMARK_MAIN();
