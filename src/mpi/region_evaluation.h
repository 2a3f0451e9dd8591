// `lhcr mpi eval --truth REGION_DIR`: the matcher measured on a multi-source
// region written by `lhcr synth` (docs/MATCHING.md "Regions").
//
// Reads every source record's identity (region_reader.h), runs the same
// unsupervised pipeline with the same fixed options as the FEBRL and Splink
// evaluations (nothing is tuned on the region), and compares the clusters
// with truth.csv: what EvaluateLabelled prints (pair counts, review, false
// and missed links, missed links by noise kind, clusters) after a summary
// of what was read, and as the LAST line exactly
// "precision P recall R f1 F". Truth is used only to measure.
#pragma once

#include <ostream>

#include "base/status.h"
#include "identity/evaluation.h"
#include "identity/matcher.h"

namespace lhcr::mpi {

// Evaluates on args.truth (a region directory). Errors: kIncorrect when
// args.truth is empty or combined with --febrl/--link/--splink; the errors
// of LoadRegion. Records no truth row names (and truth rows no feed holds)
// are counted and left out, not fatal: the count says the reader missed.
Status RunRegionMpiEval(const identity::MpiEvalArgs& args, const identity::MatcherOptions& options, std::ostream& out);

}  // namespace lhcr::mpi
