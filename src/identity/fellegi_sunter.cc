#include "identity/fellegi_sunter.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace lhcr::identity {

FellegiSunterModel FellegiSunterModel::Initial() {
  FellegiSunterModel model;
  for (size_t f = 0; f < kFieldCount; ++f) {
    size_t n = LevelCount(static_cast<Field>(f));
    FieldModel& fm = model.fields[f];
    fm.m.assign(n, 0.0);
    fm.u.assign(n, 0.0);
    // Level 1 is the strongest agreement, the last is "different".
    for (size_t l = 1; l < n; ++l) {
      fm.m[l] = l == 1 ? 0.9 : 0.1 / static_cast<double>(n - 2);
      fm.u[l] = l == n - 1 ? 0.9 : 0.1 / static_cast<double>(n - 2);
    }
  }
  model.lambda = 0.01;
  return model;
}

double FellegiSunterModel::LevelWeight(Field f, uint8_t level) const {
  if (level == 0) return 0.0;
  const FieldModel& fm = fields[static_cast<size_t>(f)];
  return std::log2(fm.m[level] / fm.u[level]);
}

bool IsLocationField(Field f) {
  return f == Field::kPostcode || f == Field::kHouseNumber || f == Field::kAddress ||
         f == Field::kTown || f == Field::kRegion;
}

namespace {

// log2((1 - moved) x 2^stayed + moved), without overflow.
double MixMoved(double stayed, double moved) {
  if (moved <= 0) return stayed;
  const double a = std::log2(1.0 - moved) + stayed, b = std::log2(moved);
  const double hi = std::max(a, b), lo = std::min(a, b);
  return hi + std::log2(1.0 + std::exp2(lo - hi));
}

// The location fields' summed LevelWeight, and whether any is present.
std::pair<double, bool> StayedWeight(const FellegiSunterModel& model, const ComparisonVector& v) {
  double w = 0;
  bool present = false;
  for (size_t f = 0; f < kFieldCount; ++f) {
    if (v[f] == level::kMissing || !IsLocationField(static_cast<Field>(f))) continue;
    w += model.LevelWeight(static_cast<Field>(f), v[f]);
    present = true;
  }
  return {w, present};
}

}  // namespace

double FellegiSunterModel::LocationWeight(const ComparisonVector& v) const {
  auto [stayed, present] = StayedWeight(*this, v);
  return present ? MixMoved(stayed, moved) : 0.0;
}

double FellegiSunterModel::BayesFactorLog2(const ComparisonVector& v) const {
  double w = 0;
  for (size_t f = 0; f < kFieldCount; ++f) {
    if (!IsLocationField(static_cast<Field>(f))) w += LevelWeight(static_cast<Field>(f), v[f]);
  }
  return w + LocationWeight(v);
}

double FellegiSunterModel::PriorLog2() const { return std::log2(lambda / (1.0 - lambda)); }

std::string FellegiSunterModel::Describe() const {
  std::string out;
  char buf[256];
  std::snprintf(buf, sizeof buf, "lambda %.6f (prior weight %.2f)\n", lambda, PriorLog2());
  out += buf;
  std::snprintf(buf, sizeof buf, "moved %.4f (location fields of a match compared as random)\n",
                moved);
  out += buf;
  for (size_t f = 0; f < kFieldCount; ++f) {
    Field field = static_cast<Field>(f);
    for (size_t l = 1; l < fields[f].m.size(); ++l) {
      std::snprintf(buf, sizeof buf, "  %-12s %-30s m %.5f u %.6f weight %+.2f\n",
                    std::string(FieldName(field)).c_str(), LevelNames(field)[l].c_str(),
                    fields[f].m[l], fields[f].u[l], LevelWeight(field, static_cast<uint8_t>(l)));
      out += buf;
    }
  }
  return out;
}

double ProbabilityFromWeight(double w) { return 1.0 / (1.0 + std::exp2(-w)); }

void PatternCounts::Add(const ComparisonVector& v, double count) {
  uint64_t key = 0;
  for (size_t f = 0; f < kFieldCount; ++f) key = (key << 4) | (v[f] & 0xF);
  auto [it, inserted] = index_.emplace(key, patterns.size());
  if (inserted) {
    patterns.push_back(v);
    counts.push_back(count);
  } else {
    counts[it->second] += count;
  }
}

namespace {

constexpr double kPseudoCount = 1e-3;
constexpr double kFloor = 1e-9;
// `moved` stays inside these: at 0 EM could never bring it back.
constexpr double kMinMoved = 1e-4, kMaxMoved = 0.9;

void Normalise(std::vector<double>& p, double pseudo) {
  double sum = 0;
  for (size_t l = 1; l < p.size(); ++l) sum += p[l] + pseudo;
  for (size_t l = 1; l < p.size(); ++l) p[l] = std::max(kFloor, (p[l] + pseudo) / sum);
}

}  // namespace

void MakeMonotone(const SimilarityOrder& order, const std::vector<double>& u,
                  std::vector<double>* m) {
  std::vector<double>& p = *m;
  struct Run {
    double m = 0, u = 0;
    size_t first = 0, last = 0;  // positions in order.chain
    double ratio() const { return m / u; }
  };
  std::vector<Run> runs;
  for (size_t i = 0; i < order.chain.size(); ++i) {
    uint8_t l = order.chain[i];
    runs.push_back({p[l], u[l], i, i});
    while (runs.size() >= 2 && runs[runs.size() - 2].ratio() < runs.back().ratio()) {
      Run top = runs.back();
      runs.pop_back();
      runs.back().m += top.m;
      runs.back().u += top.u;
      runs.back().last = top.last;
    }
  }
  for (const Run& r : runs) {
    for (size_t i = r.first; i <= r.last; ++i) p[order.chain[i]] = r.ratio() * u[order.chain[i]];
  }
  if (order.chain.empty()) return;
  const uint8_t first = order.chain.front(), last = order.chain.back();
  for (uint8_t s : order.side) {
    for (uint8_t end : {first, last}) {
      const double rs = p[s] / u[s], re = p[end] / u[end];
      if (end == first ? rs > re : rs < re) {
        const double pooled = (p[s] + p[end]) / (u[s] + u[end]);
        p[s] = pooled * u[s];
        p[end] = pooled * u[end];
      }
    }
  }
}

EmResult EstimateEm(const PatternCounts& data, const FellegiSunterModel& start,
                    const EmOptions& options) {
  EmResult result{start, 0, false, 0, {}};
  FellegiSunterModel& model = result.model;
  double total = 0;
  for (double c : data.counts) total += c;
  if (total <= 0) return result;
  auto fixed = [&](size_t f) {
    return std::find(options.fixed_m.begin(), options.fixed_m.end(), static_cast<Field>(f)) !=
           options.fixed_m.end();
  };
  bool fit_moved = false;
  for (size_t f = 0; f < kFieldCount; ++f) {
    fit_moved = fit_moved || (IsLocationField(static_cast<Field>(f)) && !fixed(f));
  }
  fit_moved = fit_moved && options.estimate_moved && start.moved > 0;
  if (fit_moved) {
    // A lone location field cannot tell a move from a typo (m of a field
    // and moved trade off freely): with no pair holding two, no movers.
    bool two_located = false;
    for (size_t p = 0; p < data.patterns.size() && !two_located; ++p) {
      int present = 0;
      for (size_t f = 0; f < kFieldCount; ++f) {
        present += data.patterns[p][f] != level::kMissing && IsLocationField(static_cast<Field>(f));
      }
      two_located = present >= 2 && data.counts[p] > 0;
    }
    if (!two_located) {
      model.moved = 0;
      fit_moved = false;
    }
  }
  for (int it = 0; it < options.max_iterations; ++it) {
    std::array<std::vector<double>, kFieldCount> m_acc, u_acc;
    for (size_t f = 0; f < kFieldCount; ++f) {
      m_acc[f].assign(model.fields[f].m.size(), 0.0);
      u_acc[f].assign(model.fields[f].u.size(), 0.0);
    }
    double match_total = 0, located = 0, moved = 0;
    const double prior = model.PriorLog2();
    for (size_t p = 0; p < data.patterns.size(); ++p) {
      const ComparisonVector& v = data.patterns[p];
      const double g = ProbabilityFromWeight(prior + model.BayesFactorLog2(v));
      const double c = data.counts[p];
      // q: the chance that a match with these location levels moved.
      auto [stayed, has_location] = StayedWeight(model, v);
      double q = 0;
      if (has_location && model.moved > 0) {
        q = std::exp2(std::log2(model.moved) - MixMoved(stayed, model.moved));
        located += c * g;
        moved += c * g * q;
      }
      match_total += c * g;
      for (size_t f = 0; f < kFieldCount; ++f) {
        if (v[f] == 0) continue;
        // A location field's m is of the matches that did not move.
        m_acc[f][v[f]] += c * g * (IsLocationField(static_cast<Field>(f)) ? 1.0 - q : 1.0);
        u_acc[f][v[f]] += c * (1.0 - g);
      }
    }
    result.expected_matches = match_total;
    result.match_counts = m_acc;
    result.located_matches = located;
    result.moved_matches = moved;
    double change = 0;
    FellegiSunterModel next = model;
    next.lambda = std::clamp(match_total / total, 1e-9, 1.0 - 1e-9);
    change = std::max(change, std::abs(next.lambda - model.lambda));
    if (fit_moved && located > 0) {
      next.moved = std::clamp(moved / located, kMinMoved, kMaxMoved);
      change = std::max(change, std::abs(next.moved - model.moved));
    }
    for (size_t f = 0; f < kFieldCount; ++f) {
      if (options.estimate_u) {
        Normalise(u_acc[f], kPseudoCount);
        next.fields[f].u = u_acc[f];
      }
      if (!fixed(f)) {
        Normalise(m_acc[f], kPseudoCount);
        if (options.monotone) {
          MakeMonotone(LevelOrder(static_cast<Field>(f)), next.fields[f].u, &m_acc[f]);
        }
        next.fields[f].m = m_acc[f];
      }
      for (size_t l = 1; l < next.fields[f].m.size(); ++l) {
        change = std::max(change, std::abs(next.fields[f].m[l] - model.fields[f].m[l]));
        change = std::max(change, std::abs(next.fields[f].u[l] - model.fields[f].u[l]));
      }
    }
    model = next;
    result.iterations = it + 1;
    if (change < options.tolerance) {
      result.converged = true;
      break;
    }
  }
  return result;
}

RuleEmResult EstimateMByRule(const std::vector<RuleSample>& samples,
                             const FellegiSunterModel& start, const EmOptions& options) {
  RuleEmResult result{start, {}};
  std::array<std::vector<double>, kFieldCount> pooled;
  std::array<bool, kFieldCount> estimated{};
  double located = 0, moved = 0;
  for (size_t f = 0; f < kFieldCount; ++f) pooled[f].assign(start.fields[f].m.size(), 0.0);
  for (const RuleSample& sample : samples) {
    double pairs = 0;
    for (double c : sample.data.counts) pairs += c;
    if (pairs <= 0) continue;
    EmOptions rule_options = options;
    rule_options.fixed_m.insert(rule_options.fixed_m.end(), sample.held_out.begin(),
                                sample.held_out.end());
    EmResult em = EstimateEm(sample.data, start, rule_options);
    result.rules.push_back({sample.name, pairs, em.model.lambda, em.iterations, em.converged});
    located += em.located_matches;
    moved += em.moved_matches;
    for (size_t f = 0; f < kFieldCount; ++f) {
      if (std::find(rule_options.fixed_m.begin(), rule_options.fixed_m.end(),
                    static_cast<Field>(f)) != rule_options.fixed_m.end()) {
        continue;
      }
      for (size_t l = 1; l < pooled[f].size(); ++l) {
        pooled[f][l] += em.match_counts[f][l];
        if (em.match_counts[f][l] > 0) estimated[f] = true;
      }
    }
  }
  for (size_t f = 0; f < kFieldCount; ++f) {
    FieldModel& fm = result.model.fields[f];
    if (!estimated[f]) {
      fm.m = fm.u;  // nothing learned: the field weighs nothing
      continue;
    }
    Normalise(pooled[f], kPseudoCount);
    if (options.monotone) MakeMonotone(LevelOrder(static_cast<Field>(f)), fm.u, &pooled[f]);
    fm.m = pooled[f];
  }
  if (options.estimate_moved && start.moved > 0) {
    result.model.moved = located > 0 ? std::clamp(moved / located, kMinMoved, kMaxMoved) : 0.0;
  }
  return result;
}

void EstimateUFromRandomPairs(const PatternCounts& random_pairs, FellegiSunterModel* model) {
  for (size_t f = 0; f < kFieldCount; ++f) {
    std::vector<double> acc(model->fields[f].u.size(), 0.0);
    for (size_t p = 0; p < random_pairs.patterns.size(); ++p) {
      uint8_t l = random_pairs.patterns[p][f];
      if (l != 0) acc[l] += random_pairs.counts[p];
    }
    Normalise(acc, 1.0);  // Laplace: an unseen level is rare, not impossible
    model->fields[f].u = acc;
  }
}

void TermFrequencies::Add(const std::string& value) {
  if (value.empty()) return;
  ++counts_[value];
  ++total_;
}

double TermFrequencies::Frequency(const std::string& value) const {
  if (total_ == 0) return 0;
  auto it = counts_.find(value);
  double n = it == counts_.end() ? 1.0 : it->second;
  return n / static_cast<double>(total_);
}

double TermFrequencies::Adjustment(const std::string& value, double u_exact, double max_up,
                                   double max_down) const {
  double tf = Frequency(value);
  if (tf <= 0 || u_exact <= 0) return 0;
  return std::clamp(std::log2(u_exact / tf), -max_down, max_up);
}

}  // namespace lhcr::identity
