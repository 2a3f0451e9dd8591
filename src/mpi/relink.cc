#include "mpi/relink.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <unordered_map>
#include <utility>

#include "base/ids.h"
#include "fhir/json.h"
#include "hl7v2/to_fhir.h"
#include "identity/fhir_patient.h"
#include "mpi/resources.h"
#include "mpi/scan.h"

namespace lhcr::mpi {

namespace {

using fhir::Json;
using fhir::JsonDoc;
using identity::PersonRecord;


std::string SourceOf(const Json& r) {
  const Json* meta = fhir::Member(r, "meta");
  std::string_view s = meta ? fhir::StringMember(*meta, "source") : "";
  return std::string(s.substr(0, s.find('#')));
}

std::string LastUpdated(const Json& r) {
  const Json* meta = fhir::Member(r, "meta");
  return meta ? std::string(fhir::StringMember(*meta, "lastUpdated")) : "";
}

// The Patient this one was replaced by (its source merged it), or "".
std::string ReplacedBy(const Json& p) {
  const Json* links = fhir::Member(p, "link");
  if (links == nullptr || !links->IsArray()) return {};
  for (const Json& l : links->GetArray()) {
    if (fhir::StringMember(l, "type") != "replaced-by") continue;
    if (const Json* other = fhir::Member(l, "other")) {
      return std::string(fhir::StringMember(*other, "reference"));
    }
  }
  return {};
}

// The Person of a cluster plus the records a person linked to it by hand
// (kept with their own level4 links).
std::string WithManualLinks(const std::string& id, std::vector<const Member*> ms,
                            std::vector<Grade> grades, std::vector<double> scores,
                            const std::vector<size_t>& manual, const std::vector<Member>& members,
                            const std::unordered_map<std::string, std::string>& manual_link) {
  for (size_t m : manual) {
    ms.push_back(&members[m]);
    grades.push_back(Grade::kCertain);
    scores.push_back(1.0);
  }
  std::string json = PersonJson(id, ms, grades, scores);
  if (manual.empty()) return json;
  auto doc = fhir::ParseJson(json);
  if (!doc.ok()) return json;
  auto& a = doc->GetAllocator();
  for (Json& l : (*doc)["link"].GetArray()) {
    auto it = manual_link.find(std::string(fhir::StringMember(l["target"], "reference")));
    if (it == manual_link.end()) continue;
    auto stored = fhir::ParseJson(it->second);
    if (stored.ok()) l.CopyFrom(*stored, a);
  }
  return fhir::ToJson(*doc);
}

}  // namespace

Result<RelinkReport> Relink(interaction::Interactions& interactions,
                            const ingest::SourceRegistry* registry, Clock& clock,
                            const RelinkOptions& options) {
  (void)clock;
  RelinkReport report;
  auto progress = [&](const std::string& stage, size_t done, size_t total) {
    if (options.progress) options.progress(stage, done, total);
  };

  // 1. Existing Persons and review Tasks. Links a person made or confirmed
  // (assurance level4) are decisions, not guesses: those records stay where
  // they are and are not matched again.
  std::unordered_map<std::string, std::string> person_of;  // Patient ref -> Person id
  std::unordered_map<std::string, std::string> manual_person;  // level4: Patient -> Person
  std::unordered_map<std::string, std::string> manual_link;    // level4: Patient -> its link
  std::set<std::string> existing_persons;
  RETURN_IF_ERROR(ForEachResource(interactions, "Person", {}, [&](const Json& p) -> Status {
    std::string id(fhir::StringMember(p, "id"));
    existing_persons.insert(id);
    if (const Json* links = fhir::Member(p, "link"); links && links->IsArray()) {
      for (const Json& l : links->GetArray()) {
        if (const Json* t = fhir::Member(l, "target")) {
          const std::string ref(fhir::StringMember(*t, "reference"));
          person_of[ref] = id;
          if (fhir::StringMember(l, "assurance") == "level4") {
            manual_person[ref] = id;
            manual_link[ref] = fhir::ToJson(l);
          }
        }
      }
    }
    return Status::Ok();
  }));
  std::map<std::string, std::string> task_status;  // review Task id -> status
  // Pairs a reviewer rejected ("not the same person"): they stay apart
  // whatever their scores are now.
  std::vector<std::pair<std::string, std::string>> rejected;
  RETURN_IF_ERROR(ForEachResource(interactions, "Task",
                          {{"code", std::string(kMpiTaskSystem) + "|review-match"}},
                          [&](const Json& t) -> Status {
                            std::string status(fhir::StringMember(t, "status"));
                            if (status == "rejected") {
                              auto [a, b] = ReviewTaskPair(t);
                              if (!a.empty() && !b.empty()) rejected.emplace_back(a, b);
                            }
                            task_status[std::string(fhir::StringMember(t, "id"))] =
                                std::move(status);
                            return Status::Ok();
                          }));

  // 2. Every Patient, as stored.
  std::vector<Member> members;
  std::vector<PersonRecord> records;
  std::vector<uint32_t> record_member;  // record index -> member index
  std::vector<std::pair<size_t, std::string>> retired;  // member index, survivor ref
  std::unordered_map<std::string, std::vector<size_t>> manual_members;  // Person -> members
  RETURN_IF_ERROR(ForEachResource(interactions, "Patient", {}, [&](const Json& p) -> Status {
    Member m;
    m.ref = "Patient/" + std::string(fhir::StringMember(p, "id"));
    m.source = SourceOf(p);
    if (const ingest::Source* s = registry ? registry->FindById(m.source) : nullptr) {
      m.trust = s->identity_trust;
    }
    m.updated = LastUpdated(p);
    m.json = fhir::ToJson(p);
    if (manual_person.count(m.ref)) {
      manual_members[manual_person[m.ref]].push_back(members.size());
    } else if (std::string survivor = ReplacedBy(p); !survivor.empty()) {
      retired.emplace_back(members.size(), survivor);
    } else {
      PersonRecord r = identity::PersonRecordFromPatient(p, m.source, "");
      r.record_id = m.ref;
      records.push_back(std::move(r));
      record_member.push_back(static_cast<uint32_t>(members.size()));
    }
    members.push_back(std::move(m));
    if (members.size() % 1000 == 0) progress("read", members.size(), 0);
    return Status::Ok();
  }));
  report.patients = members.size();
  report.matched = records.size();
  progress("read", members.size(), members.size());

  // 3. Match.
  progress("match", 0, records.size());
  identity::CannotLink cannot_link;
  {
    std::unordered_map<std::string, uint32_t> record_of;
    for (uint32_t i = 0; i < records.size(); ++i) record_of[records[i].record_id] = i;
    for (const auto& [a, b] : rejected) {
      auto ia = record_of.find(a), ib = record_of.find(b);
      if (ia == record_of.end() || ib == record_of.end()) continue;
      cannot_link.insert({std::min(ia->second, ib->second), std::max(ia->second, ib->second)});
    }
  }
  identity::MatchRun run = identity::MatchRecords(
      records, std::vector<uint32_t>(records.size(), 0), options.matcher, cannot_link);
  report.em_iterations = run.em_iterations;
  report.refused_merges = run.clustering.refused_merges;
  progress("match", records.size(), records.size());

  // Clusters of member indices, and each record's best score in its cluster.
  const size_t n_clusters = run.clustering.clusters;
  std::vector<std::vector<size_t>> clusters(n_clusters);
  std::vector<double> best(members.size(), -1.0);
  for (size_t r = 0; r < records.size(); ++r) {
    clusters[run.clustering.cluster_of[r]].push_back(record_member[r]);
  }
  for (const identity::ScoredPair& p : run.scored) {
    if (run.clustering.cluster_of[p.a] != run.clustering.cluster_of[p.b]) continue;
    size_t ma = record_member[p.a], mb = record_member[p.b];
    best[ma] = std::max(best[ma], p.probability);
    best[mb] = std::max(best[mb], p.probability);
  }
  // Retired records join their survivor's cluster.
  std::unordered_map<std::string, size_t> cluster_of_ref;
  for (size_t c = 0; c < n_clusters; ++c) {
    for (size_t m : clusters[c]) cluster_of_ref[members[m].ref] = c;
  }
  std::vector<bool> merged_by_source(members.size(), false);
  for (const auto& [m, survivor] : retired) {
    auto it = cluster_of_ref.find(survivor);
    size_t c;
    if (it == cluster_of_ref.end()) {
      c = clusters.size();  // its survivor is gone: a Person of its own
      clusters.emplace_back();
    } else {
      c = it->second;
    }
    clusters[c].push_back(m);
    merged_by_source[m] = true;
  }

  // 4. Persons: ids kept by majority, demographics by survivorship.
  std::vector<std::string> writes;  // resources to PUT
  std::set<std::string> claimed;
  for (auto& cluster : clusters) {
    std::sort(cluster.begin(), cluster.end(),
              [&](size_t x, size_t y) { return members[x].ref < members[y].ref; });
  }
  for (const auto& cluster : clusters) {
    if (cluster.empty()) continue;
    std::map<std::string, int> votes;
    for (size_t m : cluster) {
      auto it = person_of.find(members[m].ref);
      if (it != person_of.end()) ++votes[it->second];
    }
    std::string id;
    int top = 0;
    for (const auto& [pid, v] : votes) {
      if (v > top && !claimed.count(pid)) {
        id = pid;
        top = v;
      }
    }
    if (id.empty()) id = "mpi-" + StableUuid("person#" + members[cluster.front()].ref);
    for (int k = 1; claimed.count(id); ++k) {
      id = "mpi-" + StableUuid("person#" + members[cluster.front()].ref + "#" + std::to_string(k));
    }
    claimed.insert(id);
    std::vector<const Member*> ms;
    std::vector<Grade> grades;
    std::vector<double> scores;
    for (size_t m : cluster) {
      ms.push_back(&members[m]);
      Grade g;
      double score = best[m] < 0 ? 1.0 : best[m];
      if (cluster.size() == 1 || merged_by_source[m]) {
        g = Grade::kCertain;
        score = 1.0;
      } else if (best[m] >= kCertainProbability) {
        g = Grade::kCertain;
      } else if (best[m] >= options.matcher.auto_link_probability) {
        g = Grade::kProbable;
      } else {
        g = Grade::kPossible;
      }
      grades.push_back(g);
      scores.push_back(score);
    }
    writes.push_back(WithManualLinks(id, ms, grades, scores, manual_members[id], members,
                                     manual_link));
    ++report.persons;
    if (ms.size() + manual_members[id].size() > 1) ++report.multi_record_persons;
  }
  for (const std::string& old : existing_persons) {
    if (claimed.count(old)) continue;
    if (auto it = manual_members.find(old); it != manual_members.end() && !it->second.empty()) {
      // Only records a person put there: it stays as they left it.
      writes.push_back(WithManualLinks(old, {}, {}, {}, it->second, members, manual_link));
      ++report.persons;
      if (it->second.size() > 1) ++report.multi_record_persons;
      continue;
    }
    ++report.retired_persons;
    writes.push_back(R"({"resourceType":"Person","id":")" + old +
                     R"(","meta":{"source":"lhcr-mpi#relink"},"active":false})");
  }

  // 5. Review Tasks.
  std::set<std::string> wanted_tasks;
  std::vector<const identity::ScoredPair*> review;
  review.reserve(run.clustering.review.size());
  for (const identity::ScoredPair& p : run.clustering.review) review.push_back(&p);
  std::stable_sort(review.begin(), review.end(),
                   [](const identity::ScoredPair* x, const identity::ScoredPair* y) {
                     return x->probability > y->probability;
                   });
  for (const identity::ScoredPair* pp : review) {
    const identity::ScoredPair& p = *pp;
    if (wanted_tasks.size() >= options.max_review_tasks) {
      ++report.review_not_queued;
      continue;
    }
    const std::string& a = members[record_member[p.a]].ref;
    const std::string& b = members[record_member[p.b]].ref;
    const std::string id = ReviewTaskId(a, b);
    if (!wanted_tasks.insert(id).second) continue;
    ++report.review_pairs;
    auto it = task_status.find(id);
    if (it != task_status.end() && it->second != "requested") continue;  // a human decided
    writes.push_back(ReviewTaskJson(id, std::min(a, b), std::max(a, b), p.probability,
                                    Evidence(run.model, p), p.reason, "requested"));
  }
  for (const auto& [id, status] : task_status) {
    if (status != "requested" || wanted_tasks.count(id)) continue;
    // No longer uncertain: cancelled (kept for the record).
    interaction::RequestContext ctx;
    auto stored = interactions.Read(ctx, "Task", id, {});
    if (!stored.ok()) continue;
    auto doc = fhir::ParseJson(stored->body);
    if (!doc.ok()) continue;
    (*doc)["status"].SetString("cancelled");
    writes.push_back(fhir::ToJson(*doc));
  }

  // 6. Write, skipping what is stored as computed.
  auto lookup = [&](const std::string& type,
                    const std::string& query) -> Result<std::optional<std::string>> {
    interaction::RequestContext ctx;
    std::string id = query.rfind("_id=", 0) == 0 ? query.substr(4) : query;
    auto r = interactions.Read(ctx, type, id, {});
    if (!r.ok()) {
      if (r.status().code() == StatusCode::kNotFound || r.status().code() == StatusCode::kGone) {
        return std::optional<std::string>();
      }
      return r.status();
    }
    return std::optional<std::string>(r->body);
  };
  for (size_t i = 0; i < writes.size(); i += options.entries_per_transaction) {
    std::string bundle = R"({"resourceType":"Bundle","type":"transaction","entry":[)";
    size_t end = std::min(writes.size(), i + options.entries_per_transaction);
    for (size_t k = i; k < end; ++k) {
      auto d = fhir::ParseJson(writes[k]);
      if (!d.ok()) return d.status();
      std::string type(fhir::StringMember(*d, "resourceType"));
      std::string id(fhir::StringMember(*d, "id"));
      if (k > i) bundle += ",";
      bundle += R"({"fullUrl":"urn:uuid:)" + StableUuid(type + "/" + id) + R"(","resource":)" +
                writes[k] + R"(,"request":{"method":"PUT","url":")" + type + "/" + id + R"("}})";
    }
    bundle += "]}";
    ASSIGN_OR_RETURN(hl7v2::StaleCheck checked, hl7v2::DropStaleEntries(bundle, lookup));
    report.unchanged += checked.dropped;
    if (checked.kept > 0) {
      interaction::RequestContext ctx;
      RETURN_IF_ERROR(interactions.Bundle(ctx, checked.bundle_json).status());
      report.written += checked.kept;
    }
    progress("write", end, writes.size());
  }
  return report;
}

}  // namespace lhcr::mpi
