// Fellegi-Sunter model: per-field, per-level m and u probabilities, their
// estimation by expectation-maximisation, and match weights.
//
// m[f][l] = P(field f at level l | the pair is one person),
// u[f][l] = P(field f at level l | two different people). Level 0 ("missing")
// is neutral: it adds nothing to a weight and is left out of estimation.
// A pair's match weight is log2(lambda / (1 - lambda)) + sum over fields of
// log2(m / u), and its match probability 1 / (1 + 2^-weight); except that
// the location fields count together (FellegiSunterModel::moved).
// Values; safe to share read-only between threads.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "identity/comparators.h"

namespace lhcr::identity {

struct FieldModel {
  std::vector<double> m, u;  // indexed by level; [0] unused (missing)
};

// Where a person lives, recorded in several fields: postcode, house number,
// address, town, region.
bool IsLocationField(Field f);

struct FellegiSunterModel {
  std::array<FieldModel, kFieldCount> fields;
  double lambda = 0.01;  // prior probability that a candidate pair is a match
  // The share of matching pairs whose two records straddle a move. The
  // location fields of such a pair compare as a random pair's do (m = u),
  // all at once; those of the other matches follow the location fields' m.
  // So for the location fields together m/u = (1 - moved) x the product of
  // their m/u + moved. Why: a move changes postcode, house number, street
  // and often town together; counted as independent fields it cost a true
  // match four "different" weights (~17 bits), while what it is evidence of
  // is one event that 5-30% of matched records show. 0: every field
  // independent (the plain Fellegi-Sunter model). For m and weights of a
  // location field, see fields (the records that did not move).
  double moved = 0;

  // Starting values: "exact" likely for matches, spread over the rest; u
  // flat; no movers.
  static FellegiSunterModel Initial();

  // log2(m / u) of one field at one level; 0 for missing. For a location
  // field, the weight for records that did not move.
  double LevelWeight(Field f, uint8_t level) const;
  // The location fields' weight together, log2((1 - moved) x 2^(sum of
  // their LevelWeight) + moved); 0 when none is present.
  double LocationWeight(const ComparisonVector& v) const;
  // The Bayes factor (no prior): LevelWeight of the other fields, plus
  // LocationWeight.
  double BayesFactorLog2(const ComparisonVector& v) const;
  double PriorLog2() const;
  // A human-readable table of m, u and weights, one line per level.
  std::string Describe() const;
};

double ProbabilityFromWeight(double weight_log2);

// Comparison vectors with how many pairs share each one: EM runs over the
// distinct patterns, not over the pairs.
struct PatternCounts {
  std::vector<ComparisonVector> patterns;
  std::vector<double> counts;
  void Add(const ComparisonVector& v, double count = 1.0);

 private:
  std::unordered_map<uint64_t, size_t> index_;
};

struct EmOptions {
  int max_iterations = 100;
  double tolerance = 1e-6;  // largest change of any m, u or lambda
  bool estimate_u = false;  // false: keep u (estimated from random pairs)
  // Fields whose m is held at its starting value (none by default).
  std::vector<Field> fixed_m;
  // m is kept monotone in similarity (MakeMonotone) at every M-step.
  bool monotone = true;
  // The model's `moved` is estimated (when it starts above 0 and a location
  // field's m is estimated), or set to 0 when no pair has two location
  // fields (one alone cannot tell a move from a typo); false: held at its
  // starting value.
  bool estimate_moved = true;
};

struct EmResult {
  FellegiSunterModel model;
  int iterations = 0;
  bool converged = false;
  // The last E-step's expected matches: in all, and per field and level
  // (the m estimate before smoothing; [f][0] unused).
  double expected_matches = 0;
  std::array<std::vector<double>, kFieldCount> match_counts;
  // Of the expected matches with a location field present, how many, and
  // how many of those straddle a move.
  double located_matches = 0, moved_matches = 0;
};

// Expectation-maximisation over the patterns, starting from `start`. Uses no
// labels. Each m (and u when estimated) is smoothed with a small pseudo-count
// so that no level gets probability zero.
EmResult EstimateEm(const PatternCounts& data, const FellegiSunterModel& start,
                    const EmOptions& options);

// Makes one field's m monotone in similarity for the given u: m/u does not
// increase along order.chain, and each side level's m/u lies between the
// chain's first and last. Violating runs of the chain are pooled (pool
// adjacent violators, weighted by u: each level of a run gets the run's
// sum m / sum u), which is the maximum-likelihood m under the order for
// fixed u and keeps sum m; a side level beyond an end is pooled with it.
// Why: an unseen or rare level (a birth date one digit off among clean
// matches) must not weigh against a match more than "different" does.
void MakeMonotone(const SimilarityOrder& order, const std::vector<double>& u,
                  std::vector<double>* m);

// The comparison patterns of the pairs one blocking rule made, with the
// fields it blocks on held out (level set to missing): every pair agrees on
// them by construction, so among these pairs they say nothing about m.
struct RuleSample {
  std::string name;
  std::vector<Field> held_out;
  PatternCounts data;
};
struct RuleEstimate {
  std::string name;
  double pairs = 0, lambda = 0;  // lambda: EM's share of matches among them
  int iterations = 0;
  bool converged = false;
};
struct RuleEmResult {
  FellegiSunterModel model;  // `start` with m replaced where estimated
  std::vector<RuleEstimate> rules;
};

// m estimated per blocking rule (as Splink does): EM over each rule's
// sample, u fixed, lambda free, the held-out fields' m fixed and unused.
// Each field's m is then pooled over the rules that did not hold it out:
// the expected match counts per level, summed, smoothed and made
// monotone; `moved` likewise, over the rules that hold no location field
// out (0 when none has pairs with two location fields).
// Why per rule: within one rule's pairs the non-matches agree on the key
// but, on the other fields, look like random pairs, which is what u (from
// random pairs) describes; over the union of all rules they agree on
// something far more often than u says, and EM gives them to the match
// class (m then describes candidate pairs, not matches). A field no rule
// estimates gets m = u (weight 0). Samples with no pairs are skipped.
RuleEmResult EstimateMByRule(const std::vector<RuleSample>& samples,
                             const FellegiSunterModel& start, const EmOptions& options);

// u probabilities from comparison vectors of (assumed non-matching) random
// pairs: the share of each level among non-missing values, smoothed.
void EstimateUFromRandomPairs(const PatternCounts& random_pairs, FellegiSunterModel* model);

// Term frequencies of a field's values, for the adjustment of exact
// agreement on common names: agreeing on "smith" is weaker evidence than
// agreeing on "ptolemy". Splink's formula: the exact level's u is replaced by
// the value's frequency, i.e. weight += log2(u_exact / tf(value)), with the
// adjustment clamped to [-max_down, +max_up] bits.
class TermFrequencies {
 public:
  void Add(const std::string& value);
  double Frequency(const std::string& value) const;  // share of non-empty values
  double Adjustment(const std::string& value, double u_exact, double max_up = 2.0,
                    double max_down = 6.0) const;

 private:
  std::unordered_map<std::string, uint32_t> counts_;
  uint64_t total_ = 0;
};

}  // namespace lhcr::identity
