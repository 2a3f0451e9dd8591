#include "identity/evaluation.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string_view>
#include <unordered_map>

namespace lhcr::identity {
namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> SplitCsv(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == ',') {
      out.push_back(Trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(Trim(cur));
  return out;
}

Result<std::vector<std::vector<std::string>>> ReadCsv(const std::string& path,
                                                      const std::vector<std::string>& header) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot open " + path);
  std::string line;
  if (!std::getline(in, line) || SplitCsv(line) != header) {
    return Status::Incorrect(path + ": unexpected header (want " + std::to_string(header.size()) +
                             " columns starting " + header[0] + ")");
  }
  std::vector<std::vector<std::string>> rows;
  size_t lineno = 1;
  while (std::getline(in, line)) {
    ++lineno;
    if (Trim(line).empty()) continue;
    auto row = SplitCsv(line);
    if (row.size() != header.size()) {
      return Status::Incorrect(path + ":" + std::to_string(lineno) + ": " +
                               std::to_string(row.size()) + " fields, want " +
                               std::to_string(header.size()));
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace

Status LoadFebrl(const std::string& path, uint32_t side, LabelledRecords* out) {
  ASSIGN_OR_RETURN(auto rows, ReadCsv(path, {"rec_id", "given_name", "surname", "street_number",
                                             "address_1", "address_2", "suburb", "postcode",
                                             "state", "date_of_birth", "soc_sec_id"}));
  for (auto& row : rows) {
    PersonRecord r;
    r.record_id = row[0];
    r.source_id = path;
    r.given = row[1];
    r.family = row[2];
    r.house_number = row[3];
    for (int i : {4, 5}) {
      if (!row[i].empty()) r.address_lines.push_back(row[i]);
    }
    r.town = row[6];
    r.postcode = row[7];
    if (!row[8].empty()) r.extra[kExtraRegion] = row[8];
    r.dob = ParsePartialDate(row[9]);
    if (!row[10].empty()) r.extra[kExtraOtherId] = row[10];
    // rec-N-org / rec-N-dup-K
    const std::string& id = row[0];
    size_t first = id.find('-'), second = id.find('-', first + 1);
    if (first == std::string::npos || second == std::string::npos) {
      return Status::Incorrect(path + ": record id not rec-N-org/rec-N-dup-K: " + id);
    }
    out->truth.push_back(id.substr(first + 1, second - first - 1));
    out->records.push_back(std::move(r));
    out->sides.push_back(side);
  }
  return Status::Ok();
}

Status LoadSplinkCsv(const std::string& path, LabelledRecords* out) {
  ASSIGN_OR_RETURN(auto rows, ReadCsv(path, {"unique_id", "first_name", "surname", "dob", "city",
                                             "email", "cluster"}));
  for (auto& row : rows) {
    PersonRecord r;
    r.record_id = row[0];
    r.source_id = path;
    r.given = row[1];
    r.family = row[2];
    r.dob = ParsePartialDate(row[3]);
    r.town = row[4];
    if (!row[5].empty()) r.extra[kExtraEmail] = row[5];
    out->truth.push_back(row[6]);
    out->records.push_back(std::move(r));
    out->sides.push_back(0);
  }
  return Status::Ok();
}

PairMetrics EvaluatePairs(const std::vector<uint32_t>& cluster_of,
                          const std::vector<std::string>& truth, const std::vector<uint32_t>& sides,
                          bool cross_side_only) {
  // Count records per (group, side); pairs follow from the counts.
  auto pairs = [&](const auto& key_of) {
    std::map<decltype(key_of(0)), std::array<uint64_t, 2>> counts;
    for (size_t i = 0; i < truth.size(); ++i) counts[key_of(i)][sides[i] ? 1 : 0]++;
    uint64_t total = 0;
    for (const auto& [k, c] : counts) {
      if (cross_side_only) {
        total += c[0] * c[1];
      } else {
        uint64_t n = c[0] + c[1];
        total += n * (n - 1) / 2;
      }
    }
    return total;
  };
  PairMetrics m;
  m.true_pairs = pairs([&](size_t i) { return truth[i]; });
  m.predicted_pairs = pairs([&](size_t i) { return std::to_string(cluster_of[i]); });
  m.true_positives =
      pairs([&](size_t i) { return std::to_string(cluster_of[i]) + "|" + truth[i]; });
  m.precision = m.predicted_pairs ? double(m.true_positives) / double(m.predicted_pairs) : 1.0;
  m.recall = m.true_pairs ? double(m.true_positives) / double(m.true_pairs) : 1.0;
  m.f1 = m.precision + m.recall > 0 ? 2 * m.precision * m.recall / (m.precision + m.recall) : 0;
  return m;
}

ClusterMetrics EvaluateClusters(const std::vector<uint32_t>& cluster_of,
                                const std::vector<std::string>& truth) {
  std::map<uint32_t, std::vector<size_t>> predicted;
  std::map<std::string, std::vector<size_t>> actual;
  for (size_t i = 0; i < truth.size(); ++i) {
    predicted[cluster_of[i]].push_back(i);
    actual[truth[i]].push_back(i);
  }
  ClusterMetrics m;
  m.truth_clusters = actual.size();
  m.predicted_clusters = predicted.size();
  for (const auto& [id, members] : predicted) {
    if (actual[truth[members[0]]] == members) ++m.exact_clusters;
  }
  m.exact_fraction = m.truth_clusters ? double(m.exact_clusters) / double(m.truth_clusters) : 1.0;
  return m;
}

namespace {

std::string DescribeRecord(const PreparedRecord& r) {
  std::string s = "given '" + r.given + "' family '" + r.family + "' dob '" + r.dob_digits + "'";
  if (!r.town.empty()) s += " town '" + r.town + "'";
  if (!r.postcode.empty()) s += " postcode '" + r.postcode + "'";
  if (!r.house_number.empty()) s += " number '" + r.house_number + "'";
  if (!r.address.empty()) s += " address '" + r.address + "'";
  if (!r.other_id.empty()) s += " other_id '" + r.other_id + "'";
  if (!r.email.empty()) s += " email '" + r.email + "'";
  if (!r.region.empty()) s += " region '" + r.region + "'";
  for (const auto& n : r.other_names) s += " other name '" + n + "'";
  if (r.sex != Sex::kUnknown) {
    s += r.sex == Sex::kFemale ? " sex F" : r.sex == Sex::kMale ? " sex M" : " sex O";
  }
  if (!r.nhs_number.empty()) s += " nhs '" + r.nhs_number + "'";
  return s;
}

// Every pair in one predicted cluster whose true persons differ, with both
// records, the pair's score (when it was a candidate) and each field's
// comparison level and weight.
// The scored pair (a, b), a < b, kept by the run (auto-link or review), or
// null (run.scored follows the sorted candidate pairs).
const ScoredPair* FindScored(const MatchRun& run, uint32_t a, uint32_t b) {
  auto it = std::lower_bound(run.scored.begin(), run.scored.end(), std::pair{a, b},
                             [](const ScoredPair& p, const std::pair<uint32_t, uint32_t>& k) {
                               return p.a != k.first ? p.a < k.first : p.b < k.second;
                             });
  return it != run.scored.end() && it->a == a && it->b == b ? &*it : nullptr;
}

bool IsCandidate(const MatchRun& run, uint32_t a, uint32_t b) {
  return std::binary_search(run.candidates.begin(), run.candidates.end(), CandidatePair{a, b});
}

void PrintFalseLinks(const LabelledRecords& data, const MatchRun& run, std::ostream& out) {
  std::map<uint32_t, std::vector<uint32_t>> clusters;
  for (uint32_t i = 0; i < run.clustering.cluster_of.size(); ++i) {
    clusters[run.clustering.cluster_of[i]].push_back(i);
  }
  const bool cross_only = !data.sides.empty() && std::any_of(data.sides.begin(), data.sides.end(),
                                                             [](uint32_t s) { return s != 0; });
  char buf[256];
  for (const auto& [id, members] : clusters) {
    for (size_t i = 0; i < members.size(); ++i) {
      for (size_t j = i + 1; j < members.size(); ++j) {
        const uint32_t a = members[i], b = members[j];
        if (data.truth[a] == data.truth[b]) continue;
        if (cross_only && data.sides[a] == data.sides[b]) continue;
        const PreparedRecord &ra = run.prepared[a], &rb = run.prepared[b];
        if (const ScoredPair* p = FindScored(run, a, b); p != nullptr) {
          std::snprintf(buf, sizeof buf,
                        "false link %u-%u (cluster %u): weight %.2f probability %.8f %s\n", a, b,
                        id, p->weight, p->probability,
                        std::string(MatchDecisionName(p->decision)).c_str());
        } else {
          std::snprintf(buf, sizeof buf, "false link %u-%u (cluster %u): %s (transitive)\n", a, b,
                        id,
                        IsCandidate(run, a, b) ? "a candidate pair scored non-match"
                                               : "not a candidate pair");
        }
        out << buf;
        auto label = [&](uint32_t i) {
          // Regions name the source record; the benchmark files' truth is the id.
          std::string l = "[" + data.truth[i] + "] ";
          if (!data.noise.empty()) {
            l += data.records[i].source_id + "|" + data.records[i].record_id + " noise '" +
                 data.noise[i] + "' ";
          }
          return l;
        };
        out << "  A " << label(a) << DescribeRecord(ra) << "\n";
        out << "  B " << label(b) << DescribeRecord(rb) << "\n";
        ComparisonVector v = Compare(ra, rb);
        out << "  prior " << run.model.PriorLog2() << ";";
        for (size_t f = 0; f < kFieldCount; ++f) {
          if (v[f] == level::kMissing) continue;
          const Field field = static_cast<Field>(f);
          std::snprintf(buf, sizeof buf, " %s=%s(%+.2f)", std::string(FieldName(field)).c_str(),
                        LevelNames(field)[v[f]].c_str(), run.model.LevelWeight(field, v[f]));
          out << buf;
        }
        // The location fields count together (FellegiSunterModel::moved).
        std::snprintf(buf, sizeof buf, " location together(%+.2f)", run.model.LocationWeight(v));
        out << buf << "\n";
      }
    }
  }
}

// Missed links (true pairs not in one predicted cluster): where they were
// lost, and by the noise kinds of their records.
void PrintMissedLinks(const LabelledRecords& data, const MatchRun& run, std::ostream& out) {
  const std::vector<uint32_t>& cluster_of = run.clustering.cluster_of;
  std::unordered_map<std::string, std::vector<uint32_t>> persons;
  for (uint32_t i = 0; i < data.truth.size(); ++i) persons[data.truth[i]].push_back(i);
  auto kinds_of = [&](uint32_t i) {
    std::vector<std::string> kinds;
    std::string_view s = data.noise[i];
    while (!s.empty()) {
      size_t semi = s.find(';');
      if (semi == std::string_view::npos) semi = s.size();
      if (semi > 0) kinds.emplace_back(s.substr(0, semi));
      s.remove_prefix(std::min(s.size(), semi + 1));
    }
    return kinds;
  };
  struct Count {
    uint64_t pairs = 0, missed = 0;
  };
  std::map<std::string, Count> by_kind;
  uint64_t missed = 0, not_candidate = 0, review = 0, non_match = 0, refused = 0;
  for (const auto& [person, members] : persons) {
    for (size_t i = 0; i < members.size(); ++i) {
      for (size_t j = i + 1; j < members.size(); ++j) {
        const uint32_t a = std::min(members[i], members[j]), b = std::max(members[i], members[j]);
        const bool lost = cluster_of[a] != cluster_of[b];
        std::vector<std::string> kinds = kinds_of(a), kb = kinds_of(b);
        kinds.insert(kinds.end(), kb.begin(), kb.end());
        std::sort(kinds.begin(), kinds.end());
        kinds.erase(std::unique(kinds.begin(), kinds.end()), kinds.end());
        if (kinds.empty()) kinds.push_back("(exact)");
        for (const std::string& k : kinds) {
          by_kind[k].pairs++;
          if (lost) by_kind[k].missed++;
        }
        if (!lost) continue;
        ++missed;
        const ScoredPair* p = FindScored(run, a, b);
        if (p == nullptr && !IsCandidate(run, a, b)) {
          ++not_candidate;
        } else if (p == nullptr) {
          ++non_match;
        } else if (p->decision == MatchDecision::kAutoLink) {
          ++refused;
        } else if (p->decision == MatchDecision::kReview) {
          ++review;
        } else {
          ++non_match;
        }
      }
    }
  }
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "missed links %llu: not candidate pairs %llu, review %llu, non-match %llu, "
                "auto-link but merge refused %llu\n",
                static_cast<unsigned long long>(missed),
                static_cast<unsigned long long>(not_candidate),
                static_cast<unsigned long long>(review), static_cast<unsigned long long>(non_match),
                static_cast<unsigned long long>(refused));
  out << buf;
  out << "missed links by noise kind (a true pair counts under every kind of either record):\n";
  for (const auto& [kind, c] : by_kind) {
    std::snprintf(buf, sizeof buf, "  %-24s true pairs %8llu  missed %6llu  (%.4f)\n", kind.c_str(),
                  static_cast<unsigned long long>(c.pairs),
                  static_cast<unsigned long long>(c.missed),
                  c.pairs ? double(c.missed) / double(c.pairs) : 0.0);
    out << buf;
  }
}

}  // namespace

void EvaluateLabelled(const LabelledRecords& data, const MatcherOptions& options,
                      const MpiEvalArgs& args, std::ostream& out) {
  auto start = std::chrono::steady_clock::now();
  MatchRun run = MatchRecords(data.records, data.sides, options);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  PairMetrics pm = EvaluatePairs(run.clustering.cluster_of, data.truth, data.sides,
                                 options.blocking.cross_side_only);
  ClusterMetrics cm = EvaluateClusters(run.clustering.cluster_of, data.truth);
  // Blocking recall: true pairs among the candidates (measured, not used).
  uint64_t true_candidates = 0;
  size_t review_true = 0;
  for (const auto& p : run.candidates) {
    if (data.truth[p.a] == data.truth[p.b]) ++true_candidates;
  }
  for (const auto& p : run.clustering.review) {
    if (data.truth[p.a] == data.truth[p.b] &&
        run.clustering.cluster_of[p.a] != run.clustering.cluster_of[p.b]) {
      ++review_true;
    }
  }
  if (args.show_model) {
    char line[256];
    for (const RuleEstimate& r : run.training.rules) {
      std::snprintf(line, sizeof line, "rule %-12s pairs %10.0f EM lambda %.4f iterations %d%s\n",
                    r.name.c_str(), r.pairs, r.lambda, r.iterations,
                    r.converged ? "" : " (not converged)");
      out << line;
    }
    std::snprintf(line, sizeof line, "EM lambda on the candidate pairs %.6f\n",
                  run.training.candidate_lambda);
    out << line;
    out << run.model.Describe();
  }
  if (args.show_false_links) PrintFalseLinks(data, run, out);
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "records %zu, candidate pairs %zu (true pairs among them %llu of %llu), "
                "blocks skipped %zu, EM iterations %d, %.2f s\n",
                data.records.size(), run.blocking.pairs,
                static_cast<unsigned long long>(true_candidates),
                static_cast<unsigned long long>(pm.true_pairs), run.blocking.skipped_blocks,
                run.em_iterations, seconds);
  out << buf;
  std::snprintf(buf, sizeof buf,
                "pairs: predicted %llu, correct %llu, true %llu; review %zu (%zu true, not "
                "linked); refused merges %zu\n",
                static_cast<unsigned long long>(pm.predicted_pairs),
                static_cast<unsigned long long>(pm.true_positives),
                static_cast<unsigned long long>(pm.true_pairs), run.clustering.review.size(),
                review_true, run.clustering.refused_merges);
  out << buf;
  std::snprintf(buf, sizeof buf, "links: false %llu, missed %llu\n",
                static_cast<unsigned long long>(pm.predicted_pairs - pm.true_positives),
                static_cast<unsigned long long>(pm.true_pairs - pm.true_positives));
  out << buf;
  if (!data.noise.empty()) PrintMissedLinks(data, run, out);
  std::snprintf(buf, sizeof buf,
                "clusters: predicted %zu, true %zu, exactly right %zu (%.4f of true)\n",
                cm.predicted_clusters, cm.truth_clusters, cm.exact_clusters, cm.exact_fraction);
  out << buf;
  std::snprintf(buf, sizeof buf, "precision %.4f recall %.4f f1 %.4f\n", pm.precision, pm.recall,
                pm.f1);
  out << buf;
}

Status RunMpiEval(const MpiEvalArgs& args, const MatcherOptions& base, std::ostream& out) {
  LabelledRecords data;
  MatcherOptions options = base;
  if (!args.truth.empty()) {
    return Status::Incorrect("--truth is evaluated by RunRegionMpiEval (mpi/region_evaluation.h)");
  }
  if (!args.splink.empty()) {
    if (!args.febrl.empty() || !args.link.empty()) {
      return Status::Incorrect("--splink cannot be combined with --febrl/--link");
    }
    RETURN_IF_ERROR(LoadSplinkCsv(args.splink, &data));
  } else if (!args.febrl.empty()) {
    RETURN_IF_ERROR(LoadFebrl(args.febrl, 0, &data));
    if (!args.link.empty()) {
      RETURN_IF_ERROR(LoadFebrl(args.link, 1, &data));
      options.blocking.cross_side_only = true;
    }
  } else {
    return Status::Incorrect("give --febrl FILE [--link FILE_B], --splink FILE or --truth DIR");
  }
  EvaluateLabelled(data, options, args, out);
  return Status::Ok();
}

}  // namespace lhcr::identity
