// Relink: the master patient index over the whole record, from scratch
// (`lhcr mpi relink`). Every stored Patient — each source's record as the
// source sent it, never changed here — is matched against every other by
// the identity room's unsupervised pipeline (identity::MatchRecords: blocking,
// EM-trained Fellegi-Sunter, safe clustering), and the result is written as
// FHIR resources:
//
//   Person (the golden record), one per cluster: link[] = its Patients, each
//     with an assurance level and the grade and score that put it there
//     (extensions kMatchGradeExtension, kMatchScoreExtension); demographics
//     by survivorship: per item, the value of the member whose source is most
//     trusted (sources.json identity_trust), then the most recently updated.
//     A Patient its source retired by a merge (Patient.link replaced-by)
//     joins its survivor's Person (grade certain).
//   Task (code review-match), one per uncertain pair: focus = one Patient,
//     input = the other, the match probability and the per-field evidence
//     that explains it. A human accepts or rejects it (a Task a human has
//     acted on — status other than requested — is never reset); requested
//     Tasks whose pair is no longer uncertain are cancelled.
//
// Person ids are stable across runs: a cluster keeps the id of the existing
// Person that most of its Patients are linked to; a new cluster gets an id
// derived from its smallest Patient id; a Person no cluster keeps becomes
// inactive with no links. Writes go through DropStaleEntries, so a second
// run over unchanged data writes nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/status.h"
#include "base/time.h"
#include "identity/matcher.h"
#include "ingest/source_registry.h"
#include "interaction/interaction.h"
#include "mpi/resources.h"

namespace lhcr::mpi {

struct RelinkOptions {
  identity::MatcherOptions matcher;
  // Called at each stage ("read", "match", "write") with items done / total.
  std::function<void(const std::string& stage, size_t done, size_t total)> progress;
  size_t entries_per_transaction = 200;
  // At most this many review Tasks are queued (the most probable pairs
  // first); the rest are counted in RelinkReport::review_not_queued. A
  // queue nobody can work through helps nobody, and a model gone wrong on
  // a large region can put millions of pairs in the review band
  // (docs/BENCHMARKS.md "MPI accuracy").
  size_t max_review_tasks = 100000;
};

struct RelinkReport {
  size_t patients = 0;         // Patients read
  size_t matched = 0;          // records matched (retired ones are not)
  size_t persons = 0;          // active Persons after the run
  size_t multi_record_persons = 0;
  size_t review_pairs = 0;       // review Tasks queued
  size_t review_not_queued = 0;  // over max_review_tasks
  size_t refused_merges = 0;
  size_t retired_persons = 0;  // existing Persons left with no cluster
  int64_t written = 0;         // resources written (new versions)
  int64_t unchanged = 0;       // resources already stored as computed
  int em_iterations = 0;
};

// `registry` (may be null) gives each source's identity_trust; sources are
// named by the part of meta.source before '#'.
Result<RelinkReport> Relink(interaction::Interactions& interactions,
                            const ingest::SourceRegistry* registry, Clock& clock,
                            const RelinkOptions& options);

}  // namespace lhcr::mpi
