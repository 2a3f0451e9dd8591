#include "identity/matcher.h"

#include <algorithm>
#include <bit>
#include <numeric>
#include <random>

namespace lhcr::identity {

std::string_view MatchDecisionName(MatchDecision d) {
  switch (d) {
    case MatchDecision::kNonMatch:
      return "non-match";
    case MatchDecision::kReview:
      return "review";
    case MatchDecision::kAutoLink:
      return "auto-link";
  }
  return "?";
}

Matcher::Matcher(FellegiSunterModel model, TermFrequencies given_tf, TermFrequencies family_tf,
                 MatcherOptions options)
    : model_(std::move(model)),
      given_tf_(std::move(given_tf)),
      family_tf_(std::move(family_tf)),
      options_(std::move(options)) {}

namespace {

// The fields a blocking rule's pairs say nothing about m for: those its
// key is derived from and, when that includes a location field, every
// location field and the family name. Why the rest: where someone lives is
// one fact recorded in several fields (a move changes them all at once;
// neighbours share a postcode, street and town; a household shares a
// surname), so among pairs chosen for sharing a postcode the other location
// fields and the surname agree far more often than u (random pairs) says.
std::vector<Field> HeldOutFields(const BlockingRule& rule) {
  std::vector<Field> out = rule.fields;
  auto has = [&](Field f) { return std::find(out.begin(), out.end(), f) != out.end(); };
  if (std::any_of(out.begin(), out.end(), IsLocationField)) {
    for (size_t f = 0; f < kFieldCount; ++f) {
      if (IsLocationField(static_cast<Field>(f)) && !has(static_cast<Field>(f))) {
        out.push_back(static_cast<Field>(f));
      }
    }
    if (!has(Field::kFamily)) out.push_back(Field::kFamily);
  }
  return out;
}

// EM's starting share of matches that straddle a move (it must start above
// 0 to be estimated).
constexpr double kStartMoved = 0.1;

}  // namespace

Matcher Matcher::Train(const std::vector<PreparedRecord>& records,
                       const std::vector<CandidatePair>& candidates, const MatcherOptions& options,
                       TrainingReport* report) {
  TermFrequencies given_tf, family_tf;
  for (const auto& r : records) {
    given_tf.Add(r.given);
    family_tf.Add(r.family);
  }
  FellegiSunterModel model = FellegiSunterModel::Initial();

  // u: random pairs are almost all non-matches.
  PatternCounts random;
  std::vector<uint32_t> side0, side1;
  for (uint32_t i = 0; i < records.size(); ++i) {
    (records[i].side == 0 ? side0 : side1).push_back(i);
  }
  const bool linking = options.blocking.cross_side_only && !side1.empty();
  const uint64_t n = records.size();
  const uint64_t all_pairs =
      linking ? static_cast<uint64_t>(side0.size()) * side1.size() : n * (n > 0 ? n - 1 : 0) / 2;
  if (all_pairs <= options.u_sample_pairs) {
    for (uint32_t i = 0; i < n; ++i) {
      for (uint32_t j = i + 1; j < n; ++j) {
        if (linking && records[i].side == records[j].side) continue;
        random.Add(Compare(records[i], records[j]));
      }
    }
  } else {
    std::mt19937_64 rng(options.seed);
    for (size_t k = 0; k < options.u_sample_pairs; ++k) {
      uint32_t a, b;
      if (linking) {
        a = side0[rng() % side0.size()];
        b = side1[rng() % side1.size()];
      } else {
        a = static_cast<uint32_t>(rng() % n);
        b = static_cast<uint32_t>(rng() % n);
        if (a == b) continue;
      }
      random.Add(Compare(records[a], records[b]));
    }
  }
  EstimateUFromRandomPairs(random, &model);

  // m and lambda: EM over the candidate pairs' comparison vectors.
  PatternCounts data;
  TrainingReport training;
  EmResult em;
  if (!options.m_per_blocking_rule) {
    for (const auto& c : candidates) data.Add(Compare(records[c.a], records[c.b]));
    em = EstimateEm(data, model, options.em);
    training.em_iterations = em.iterations;
  } else {
    // Each pair also counts in the sample of every rule that made it, with
    // that rule's fields held out.
    const std::vector<uint32_t> masks = CandidateRules(records, candidates, options.blocking);
    std::vector<RuleSample> samples(kBlockingRuleCount);
    for (size_t r = 0; r < kBlockingRuleCount; ++r) {
      samples[r].name = std::string(BlockingRules()[r].name);
      samples[r].held_out = HeldOutFields(BlockingRules()[r]);
    }
    for (size_t k = 0; k < candidates.size(); ++k) {
      const ComparisonVector v = Compare(records[candidates[k].a], records[candidates[k].b]);
      data.Add(v);
      for (uint32_t bits = masks[k]; bits != 0; bits &= bits - 1) {
        RuleSample& sample = samples[static_cast<size_t>(std::countr_zero(bits))];
        ComparisonVector held = v;
        for (Field f : sample.held_out) held[static_cast<size_t>(f)] = level::kMissing;
        sample.data.Add(held);
      }
    }
    FellegiSunterModel start = model;
    start.moved = kStartMoved;
    RuleEmResult by_rule = EstimateMByRule(samples, start, options.em);
    for (const auto& r : by_rule.rules) training.em_iterations += r.iterations;
    training.rules = std::move(by_rule.rules);
    // lambda on the candidates: EM with every m (and u) fixed.
    EmOptions lambda_only = options.em;
    lambda_only.estimate_u = false;
    for (size_t f = 0; f < kFieldCount; ++f) lambda_only.fixed_m.push_back(static_cast<Field>(f));
    em = EstimateEm(data, by_rule.model, lambda_only);
    training.em_iterations += em.iterations;
  }
  training.candidate_lambda = em.model.lambda;
  if (report != nullptr) *report = training;
  if (options.prior_over_all_pairs && all_pairs > 0) {
    // Expected matches among the candidates, spread over every pair: the
    // scale u was measured on, and the one a pair scored outside the
    // candidates (a clustering cross pair, a $match query) belongs to.
    const double expected_matches = em.model.lambda * static_cast<double>(candidates.size());
    em.model.lambda =
        std::clamp(expected_matches / static_cast<double>(all_pairs), 1e-12, 1.0 - 1e-9);
  }
  return Matcher(std::move(em.model), std::move(given_tf), std::move(family_tf), options);
}

Matcher Matcher::TrainOnSample(const std::vector<PreparedRecord>& records, size_t max_records,
                               const MatcherOptions& options, TrainingReport* report) {
  if (records.size() <= max_records) {
    return Train(records, GenerateCandidates(records, options.blocking), options, report);
  }
  // Floyd's algorithm: max_records distinct indices, uniformly.
  std::mt19937_64 rng(options.seed ^ 0x5a4d504c45ULL);
  std::set<uint32_t> chosen;
  const uint32_t n = static_cast<uint32_t>(records.size());
  for (uint32_t j = n - static_cast<uint32_t>(max_records); j < n; ++j) {
    const uint32_t t = static_cast<uint32_t>(rng() % (static_cast<uint64_t>(j) + 1));
    if (!chosen.insert(t).second) chosen.insert(j);
  }
  std::vector<PreparedRecord> sample;
  sample.reserve(chosen.size());
  for (uint32_t i : chosen) sample.push_back(records[i]);
  Matcher trained = Train(sample, GenerateCandidates(sample, options.blocking), options, report);
  TermFrequencies given_tf, family_tf;
  for (const auto& r : records) {
    given_tf.Add(r.given);
    family_tf.Add(r.family);
  }
  return Matcher(trained.model(), std::move(given_tf), std::move(family_tf), options);
}

ScoredPair Matcher::Score(const std::vector<PreparedRecord>& records, uint32_t a,
                          uint32_t b) const {
  const uint32_t lo = std::min(a, b), hi = std::max(a, b);
  ScoredPair p = Score(records[lo], records[hi]);
  p.a = lo;
  p.b = hi;
  return p;
}

ScoredPair Matcher::Score(const PreparedRecord& ra, const PreparedRecord& rb) const {
  ScoredPair p;
  p.a = 0;
  p.b = 1;
  p.levels = Compare(ra, rb);
  double w = model_.PriorLog2() + model_.BayesFactorLog2(p.levels);
  if (options_.term_frequency) {
    const size_t g = static_cast<size_t>(Field::kGiven), f = static_cast<size_t>(Field::kFamily);
    if (p.levels[g] == level::kExact) {
      w += given_tf_.Adjustment(ra.given, model_.fields[g].u[level::kExact]);
    }
    if (p.levels[f] == level::kExact) {
      w += family_tf_.Adjustment(ra.family, model_.fields[f].u[level::kExact]);
    }
  }
  p.weight = w;
  p.probability = ProbabilityFromWeight(w);
  Decide(p);
  return p;
}

void Matcher::Decide(ScoredPair& p) const {
  const uint8_t nhs = p.levels[static_cast<size_t>(Field::kNhsNumber)];
  MatchDecision d = MatchDecision::kNonMatch;
  if (p.probability >= options_.auto_link_probability) {
    d = MatchDecision::kAutoLink;
  } else if (p.probability >= options_.review_probability) {
    d = MatchDecision::kReview;
    p.reason = "match probability in the review band";
  }
  if (nhs == level::kExact) {
    double demographic = p.weight - model_.PriorLog2() - model_.LevelWeight(Field::kNhsNumber, nhs);
    if (demographic < options_.nhs_min_demographic_weight) {
      // A valid, equal NHS number is strong, but not proof: the number may
      // have been keyed onto another person's record. A human decides.
      d = MatchDecision::kReview;
      p.reason = "NHS number agrees but the demographics disagree";
    } else if (d == MatchDecision::kNonMatch) {
      d = MatchDecision::kReview;
      p.reason = "NHS number agrees but the match probability is low";
    }
  } else if (nhs == level::kDifferent2 && d == MatchDecision::kAutoLink) {
    d = MatchDecision::kReview;
    p.reason = "demographics agree but the valid NHS numbers differ";
  } else if (d == MatchDecision::kAutoLink &&
             p.levels[static_cast<size_t>(Field::kGiven)] == level::kGivenOther &&
             p.levels[static_cast<size_t>(Field::kSex)] == level::kDifferent2) {
    // A household (twins, siblings) agrees on everything a home shares, and
    // counted together those fields can outweigh a different given name AND
    // a different sex. Two identity items disagreeing at once: a human
    // decides. (Same-sex twins differ by given name only: not caught here.)
    d = MatchDecision::kReview;
    p.reason = "given name and sex both differ (a household: twins or siblings?)";
  } else if (d == MatchDecision::kAutoLink && options_.twins_to_review &&
             p.levels[static_cast<size_t>(Field::kGiven)] == level::kGivenOther) {
    const uint8_t dob = p.levels[static_cast<size_t>(Field::kDob)];
    const uint8_t other_id = p.levels[static_cast<size_t>(Field::kOtherId)];
    const bool id_agrees = nhs == level::kExact || other_id == level::kExact ||
                           other_id == level::kIdOneEdit;
    if ((dob == level::kExact || dob == level::kDobTransposed) && !id_agrees) {
      d = MatchDecision::kReview;
      p.reason = "same birth date, different given name, no identifier agrees (twins?)";
    }
  }
  p.decision = d;
}

Clustering Matcher::Cluster(const std::vector<PreparedRecord>& records,
                            const std::vector<ScoredPair>& scored,
                            const CannotLink& cannot_link) const {
  const uint32_t n = static_cast<uint32_t>(records.size());
  std::vector<uint32_t> parent(n);
  std::iota(parent.begin(), parent.end(), 0u);
  std::vector<std::vector<uint32_t>> members(n);
  for (uint32_t i = 0; i < n; ++i) members[i] = {i};
  auto find = [&](uint32_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };

  Clustering out;
  std::vector<const ScoredPair*> links;
  for (const auto& p : scored) {
    if (p.decision == MatchDecision::kAutoLink) links.push_back(&p);
    if (p.decision == MatchDecision::kReview) out.review.push_back(p);
  }
  std::sort(links.begin(), links.end(), [](const ScoredPair* x, const ScoredPair* y) {
    return x->weight != y->weight ? x->weight > y->weight
                                  : std::tie(x->a, x->b) < std::tie(y->a, y->b);
  });
  for (const ScoredPair* p : links) {
    uint32_t ra = find(p->a), rb = find(p->b);
    if (ra == rb) continue;
    bool safe = true;
    const char* why = "linking would join records that clearly differ";
    for (uint32_t x : members[ra]) {
      for (uint32_t y : members[rb]) {
        if (!cannot_link.empty() && cannot_link.count({std::min(x, y), std::max(x, y)})) {
          safe = false;
          why = "linking would join records a reviewer said are different people";
          break;
        }
        if (x == p->a && y == p->b) continue;
        ScoredPair cross = Score(records, x, y);
        bool nhs_conflict =
            cross.levels[static_cast<size_t>(Field::kNhsNumber)] == level::kDifferent2;
        if (cross.probability < options_.cluster_cross_probability || nhs_conflict) {
          safe = false;
          break;
        }
      }
      if (!safe) break;
    }
    if (!safe) {
      ++out.refused_merges;
      ScoredPair r = *p;
      r.decision = MatchDecision::kReview;
      r.reason = why;
      out.review.push_back(std::move(r));
      continue;
    }
    if (members[ra].size() < members[rb].size()) std::swap(ra, rb);
    parent[rb] = ra;
    members[ra].insert(members[ra].end(), members[rb].begin(), members[rb].end());
    members[rb].clear();
  }
  out.cluster_of.assign(n, 0);
  std::vector<uint32_t> dense(n, UINT32_MAX);
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t r = find(i);
    if (dense[r] == UINT32_MAX) dense[r] = static_cast<uint32_t>(out.clusters++);
    out.cluster_of[i] = dense[r];
  }
  return out;
}

MatchRun MatchRecords(const std::vector<PersonRecord>& records, const std::vector<uint32_t>& sides,
                      const MatcherOptions& options, const CannotLink& cannot_link) {
  MatchRun run;
  run.prepared.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    run.prepared.push_back(Prepare(records[i], i < sides.size() ? sides[i] : 0));
  }
  run.candidates = GenerateCandidates(run.prepared, options.blocking, &run.blocking);
  Matcher matcher = Matcher::Train(run.prepared, run.candidates, options, &run.training);
  run.em_iterations = run.training.em_iterations;
  for (const auto& c : run.candidates) {
    ScoredPair p = matcher.Score(run.prepared, c.a, c.b);
    if (p.decision != MatchDecision::kNonMatch) run.scored.push_back(std::move(p));
  }
  run.clustering = matcher.Cluster(run.prepared, run.scored, cannot_link);
  run.model = matcher.model();
  return run;
}

}  // namespace lhcr::identity
