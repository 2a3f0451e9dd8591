// synth: a deterministic synthetic region. Generates a UK-flavoured
// population with care histories and writes what each care setting would
// send, in its own native format, plus the source registry and the ground
// truth (source record -> true person). docs/SYNTH.md has the file formats.
//
// Output depends only on (people, seed, noise, code lists): person i is
// generated from (seed, i) by its own engine, so any thread count gives
// byte-identical files.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/status.h"
#include "synth/codes.h"
#include "synth/render.h"

namespace lhcr::synth {

struct SynthOptions {
  int64_t people = 1000;
  uint64_t seed = 1;
  std::string out;     // output directory (created; existing feed files replaced)
  double noise = 0.2;  // 0 = exact identities, 1 = very dirty feeds
  int threads = 2;     // generator threads (>= 1)
  int chunk = 512;     // people per unit of work
};

struct SynthSummary {
  int64_t people = 0;
  int64_t deceased = 0;
  RenderStats stats;
  int64_t bytes = 0;  // bytes written to feeds and truth
  double seconds = 0;
};

// Called from the calling thread as chunks are written: (people done, total).
using ProgressFn = std::function<void(int64_t, int64_t)>;

// Writes the region into options.out. kIncorrect for bad options,
// kUnavailable when a file cannot be written. Blocks until done; uses
// options.threads worker threads plus the calling thread (which writes).
Result<SynthSummary> Synthesise(const SynthOptions& options, const CodeBook& codes,
                                const ProgressFn& progress);

// The source registry (sources.json) for a region written by Synthesise.
std::string SourceRegistryJson();

// The feed file of each FeedFile, relative to the output directory.
std::string FeedPath(int feed_file);

}  // namespace lhcr::synth
