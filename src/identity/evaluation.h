// Evaluation of the matcher against ground truth, and the loaders of the
// public benchmark files (FEBRL, Splink fake_1000) that carry it.
//
// Truth is read from the files only to measure: it never reaches training
// or classification. Functions are pure apart from reading the named files.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "base/status.h"
#include "identity/matcher.h"
#include "identity/person_record.h"

namespace lhcr::identity {

// Records with the true person of each (truth[i] labels records[i]).
struct LabelledRecords {
  std::vector<PersonRecord> records;
  std::vector<std::string> truth;
  std::vector<uint32_t> sides;
  // When known (synthetic regions): the noise applied to each record,
  // ';'-separated kinds, "" when exact; empty vector otherwise.
  std::vector<std::string> noise;
};

// FEBRL CSV (header rec_id, given_name, surname, street_number, address_1,
// address_2, suburb, postcode, state, date_of_birth, soc_sec_id; ", "
// separated; empty = missing). Truth: rec-N-org and rec-N-dup-K are person N.
// soc_sec_id maps to the "other identifier", state to "region". Appends to
// `out` with the given side. Errors: unreadable file, wrong header.
Status LoadFebrl(const std::string& path, uint32_t side, LabelledRecords* out);

// Splink fake_1000 CSV (unique_id, first_name, surname, dob, city, email,
// cluster); truth is the cluster column.
Status LoadSplinkCsv(const std::string& path, LabelledRecords* out);

struct PairMetrics {
  uint64_t true_pairs = 0, predicted_pairs = 0, true_positives = 0;
  double precision = 0, recall = 0, f1 = 0;
};
struct ClusterMetrics {
  size_t truth_clusters = 0, predicted_clusters = 0;
  size_t exact_clusters = 0;  // predicted clusters identical to a true one
  double exact_fraction = 0;  // exact_clusters / truth_clusters
};

// Pairwise metrics of a clustering. With cross_side_only, only pairs across
// sides count (linking two files).
PairMetrics EvaluatePairs(const std::vector<uint32_t>& cluster_of,
                          const std::vector<std::string>& truth, const std::vector<uint32_t>& sides,
                          bool cross_side_only);
ClusterMetrics EvaluateClusters(const std::vector<uint32_t>& cluster_of,
                                const std::vector<std::string>& truth);

// `lhcr mpi eval`: loads the inputs, matches with `options` (unsupervised),
// prints blocking, model and review counts, cluster metrics, and as the LAST
// line exactly "precision P recall R f1 F" (4 decimals).
struct MpiEvalArgs {
  std::string febrl, link, splink;
  bool show_model = false;
  // Print every falsely linked pair (same predicted cluster, different true
  // person): both records and each field's comparison level and weight.
  bool show_false_links = false;
  // A `lhcr synth` region directory: run by RunRegionMpiEval
  // (mpi/region_evaluation.h), not by RunMpiEval.
  std::string truth;
};
Status RunMpiEval(const MpiEvalArgs& args, const MatcherOptions& options, std::ostream& out);

// The matching and report stage of RunMpiEval on records already loaded
// (cross-side pairs only when options.blocking.cross_side_only). Prints as
// RunMpiEval does, plus false and missed link counts, and with data.noise
// the missed links by noise kind; the last line is the precision line.
void EvaluateLabelled(const LabelledRecords& data, const MatcherOptions& options,
                      const MpiEvalArgs& args, std::ostream& out);

}  // namespace lhcr::identity
