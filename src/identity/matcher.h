// The matching core of the master patient index: the door of src/identity/.
//
// Pipeline (each stage a function over values, testable alone):
//   PersonRecord --Prepare--> PreparedRecord --GenerateCandidates--> pairs
//   --Matcher::Train (u from random pairs, m by EM per blocking rule,
//     lambda by EM; no labels)-->
//   Matcher --Score/Decide--> ScoredPair (auto-link / review / non-match)
//   --Matcher::Cluster--> one cluster (Person) per record, plus a review list.
//
// A Matcher is immutable after Train: Score, Decide and Cluster are const and
// safe to call from several threads at once.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "identity/blocking.h"
#include "identity/comparators.h"
#include "identity/fellegi_sunter.h"
#include "identity/person_record.h"

namespace lhcr::identity {

enum class MatchDecision { kNonMatch = 0, kReview, kAutoLink };
std::string_view MatchDecisionName(MatchDecision d);

// One configuration for every dataset: these defaults are what
// docs/MATCHING.md documents and docs/BENCHMARKS.md measures.
struct MatcherOptions {
  BlockingOptions blocking;
  // Posterior match probability at or above which a pair links without a
  // human, and at or above which (below auto-link) it goes to review. The
  // probability uses the prior over all record pairs (prior_over_all_pairs).
  double auto_link_probability = 0.99;
  double review_probability = 0.01;
  // Two clusters merge only when every cross pair scores at least this (the
  // review bar: no member may clearly differ from the other cluster).
  double cluster_cross_probability = 0.01;
  // A pair whose valid NHS numbers agree, but whose demographic evidence
  // (the weight without the NHS number and the prior) is below this, goes to
  // review rather than auto-link: the number may have been keyed onto the
  // wrong person's record.
  double nhs_min_demographic_weight = 0.0;
  // Twins: an auto-link whose given names clearly differ while the birth
  // dates agree (exactly or day/month transposed) and no identifier agrees
  // (NHS number, other id) goes to review. Two people of one household
  // agree on everything a home shares; twins on the birth date too, and the
  // field-by-field model counts all of it as independent evidence. With any
  // realistic twin rate, "same home and birthday, different given name" is
  // odds-on the same person at best, not certain. False only for exploration.
  bool twins_to_review = true;
  // Random pairs sampled to estimate u (all pairs when there are fewer).
  size_t u_sample_pairs = 500000;
  uint64_t seed = 20240501;
  EmOptions em;
  bool term_frequency = true;
  // The prior of a pair being one person, over ALL record pairs (the
  // population u is estimated on), not over the candidate pairs EM runs on:
  // lambda = EM's lambda * candidates / all pairs. u comes from random pairs,
  // so a candidate's non-matches (chosen by blocking for agreeing on some
  // field) look like matches to it, and EM's candidate lambda drifts to ~1;
  // used as the prior it would auto-link a pair on a surname and a birth
  // year. False only for exploration.
  bool prior_over_all_pairs = true;
  // m estimated per blocking rule, each rule's own fields held out
  // (EstimateMByRule), then lambda on the candidates with m fixed; false:
  // one EM over all candidate pairs (degenerates to lambda ~1 on noisy or
  // large inputs; for comparison only).
  bool m_per_blocking_rule = true;
};

// What training found, for reports and tests.
struct TrainingReport {
  int em_iterations = 0;  // over every EM run (per rule, then lambda)
  // EM's share of matches among the candidate pairs (before the prior is
  // moved to all pairs). Near 1 means EM took the candidates themselves for
  // matches: the degenerate model.
  double candidate_lambda = 0;
  std::vector<RuleEstimate> rules;  // per blocking rule, when m_per_blocking_rule
};

struct ScoredPair {
  uint32_t a = 0, b = 0;
  ComparisonVector levels{};
  double weight = 0;       // log2 posterior odds, with prior and TF adjustment
  double probability = 0;  // 1 / (1 + 2^-weight)
  MatchDecision decision = MatchDecision::kNonMatch;
  std::string reason;  // why a pair went to review, when it did
};

// Pairs of records (indices, smaller first) a person has said are two
// different people: never in one cluster, whatever the scores say.
using CannotLink = std::set<std::pair<uint32_t, uint32_t>>;

struct Clustering {
  std::vector<uint32_t> cluster_of;  // record index -> cluster id (dense from 0)
  size_t clusters = 0;
  // Pairs left for a human: review-band pairs, and auto-link pairs whose
  // clusters could not merge safely.
  std::vector<ScoredPair> review;
  size_t refused_merges = 0;
};

class Matcher {
 public:
  Matcher(FellegiSunterModel model, TermFrequencies given_tf, TermFrequencies family_tf,
          MatcherOptions options);

  // Unsupervised training on the records to be matched: u from random pairs
  // (pairs across sides when linking); m by EM over each blocking rule's
  // candidate pairs with the rule's fields held out, pooled over the rules
  // (EstimateMByRule; HeldOutFields in matcher.cc); then lambda by EM over
  // all candidate pairs with m and u fixed, moved to the all-pairs scale.
  // `report`, when given, receives what training found.
  static Matcher Train(const std::vector<PreparedRecord>& records,
                       const std::vector<CandidatePair>& candidates, const MatcherOptions& options,
                       TrainingReport* report = nullptr);

  // Train on a uniform sample of at most `max_records` of `records` (all of
  // them when there are fewer): blocking and EM over the sample, term
  // frequencies over every record. A uniform sample keeps the share of
  // record pairs that are one person (both ends of a pair are kept with the
  // same chance as any pair), so the prior, u and m mean what they mean on
  // the whole set, at the cost of the sample's candidates instead of the
  // whole set's (which grow faster than the records). Deterministic for a
  // given options.seed.
  static Matcher TrainOnSample(const std::vector<PreparedRecord>& records, size_t max_records,
                               const MatcherOptions& options, TrainingReport* report = nullptr);

  // Scores and decides one pair (any two records, candidate or not).
  ScoredPair Score(const std::vector<PreparedRecord>& records, uint32_t a, uint32_t b) const;
  // The same for two records held anywhere (a and b of the result are 0, 1).
  ScoredPair Score(const PreparedRecord& a, const PreparedRecord& b) const;

  // Groups records into persons from scored candidate pairs. Auto-link pairs
  // are taken strongest first; two clusters merge only when EVERY cross pair
  // scores at least cluster_cross_probability with no NHS-number conflict, so a
  // chain A-B-C cannot join A and C when A and C clearly differ. A refused
  // merge sends its pair to review. Nor do two clusters merge when a
  // `cannot_link` pair would end up inside one (a reviewer's rejection
  // outranks any score).
  Clustering Cluster(const std::vector<PreparedRecord>& records,
                     const std::vector<ScoredPair>& scored,
                     const CannotLink& cannot_link = {}) const;

  const FellegiSunterModel& model() const { return model_; }
  const MatcherOptions& options() const { return options_; }

 private:
  void Decide(ScoredPair& p) const;

  FellegiSunterModel model_;
  TermFrequencies given_tf_, family_tf_;
  MatcherOptions options_;
};

// The whole pipeline over records (side 0 / 1 when linking two inputs).
struct MatchRun {
  std::vector<PreparedRecord> prepared;
  BlockingStats blocking;
  int em_iterations = 0;  // training.em_iterations
  TrainingReport training;
  std::vector<CandidatePair> candidates;  // every candidate pair, sorted
  // The scored candidate pairs a decision keeps — auto-link and review —
  // in the order of `candidates`. Non-matches are dropped as they are
  // scored: they are most pairs (26 million 80-byte values at 100,000
  // people) and nothing after clustering needs them.
  std::vector<ScoredPair> scored;
  Clustering clustering;
  FellegiSunterModel model;
};
MatchRun MatchRecords(const std::vector<PersonRecord>& records, const std::vector<uint32_t>& sides,
                      const MatcherOptions& options, const CannotLink& cannot_link = {});

}  // namespace lhcr::identity
