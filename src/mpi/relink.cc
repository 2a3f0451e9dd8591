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
#include "mpi/scan.h"

namespace lhcr::mpi {

namespace {

using fhir::Json;
using fhir::JsonDoc;
using identity::PersonRecord;

constexpr double kCertainProbability = 0.99999;

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

struct Member {
  std::string ref;      // "Patient/<id>"
  std::string source;   // meta.source up to '#'
  double trust = 0.5;   // the source's identity_trust
  std::string updated;  // meta.lastUpdated
  std::string json;     // the stored Patient
};

// "given=exact(+4.1) family=jw2(+2.0) ...": why a pair scored as it did.
std::string Evidence(const identity::FellegiSunterModel& model, const identity::ScoredPair& p) {
  std::string out;
  char buf[64];
  for (size_t f = 0; f < identity::kFieldCount; ++f) {
    uint8_t level = p.levels[f];
    if (level == 0) continue;
    double w = model.LevelWeight(static_cast<identity::Field>(f), level);
    std::snprintf(buf, sizeof buf, "=%u(%+.1f)", static_cast<unsigned>(level), w);
    if (!out.empty()) out += ' ';
    out += std::string(identity::FieldName(static_cast<identity::Field>(f))) + buf;
  }
  std::snprintf(buf, sizeof buf, "; weight %+.1f, probability %.6f", p.weight, p.probability);
  return out + buf;
}

// Survivorship: the members in order of preference (most trusted source,
// then most recently updated).
std::vector<const Member*> Preferred(const std::vector<const Member*>& members) {
  std::vector<const Member*> order = members;
  std::stable_sort(order.begin(), order.end(), [](const Member* a, const Member* b) {
    if (a->trust != b->trust) return a->trust > b->trust;
    return a->updated > b->updated;
  });
  return order;
}

std::string Decimal(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", v);
  return buf;
}

// The Person for one cluster.
std::string PersonJson(const std::string& id, const std::vector<const Member*>& members,
                       const std::vector<Grade>& grades, const std::vector<double>& scores) {
  JsonDoc person(rapidjson::kObjectType);
  auto& a = person.GetAllocator();
  auto str = [&](std::string_view s) {
    return Json(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
  };
  person.AddMember("resourceType", "Person", a);
  person.AddMember("id", str(id), a);
  Json meta(rapidjson::kObjectType);
  meta.AddMember("source", "lhcr-mpi#relink", a);
  person.AddMember("meta", std::move(meta), a);
  std::vector<JsonDoc> parsed(members.size());
  std::unordered_map<const Member*, const JsonDoc*> doc_of;
  for (size_t i = 0; i < members.size(); ++i) {
    auto d = fhir::ParseJson(members[i]->json);
    if (d.ok()) parsed[i] = std::move(*d);
    doc_of[members[i]] = &parsed[i];
  }
  const std::vector<const Member*> order = Preferred(members);
  // NHS number: the preferred member's valid one.
  for (const Member* m : order) {
    const Json* ids = fhir::Member(*doc_of[m], "identifier");
    std::string nhs;
    if (ids && ids->IsArray()) {
      for (const Json& x : ids->GetArray()) {
        if (fhir::StringMember(x, "system") == hl7v2::kNhsNumberSystem &&
            hl7v2::IsValidNhsNumber(fhir::StringMember(x, "value"))) {
          nhs = std::string(fhir::StringMember(x, "value"));
        }
      }
    }
    if (nhs.empty()) continue;
    Json ident(rapidjson::kObjectType);
    ident.AddMember("system", str(hl7v2::kNhsNumberSystem), a);
    ident.AddMember("value", str(nhs), a);
    Json arr(rapidjson::kArrayType);
    arr.PushBack(std::move(ident), a);
    person.AddMember("identifier", std::move(arr), a);
    break;
  }
  // Each of name, gender, birthDate, address: the preferred member's.
  for (const char* item : {"name", "gender", "birthDate", "address"}) {
    for (const Member* m : order) {
      const Json* v = fhir::Member(*doc_of[m], item);
      if (v == nullptr || (v->IsArray() && v->Empty()) || (v->IsString() && v->GetStringLength() == 0))
        continue;
      person.AddMember(Json(item, a), Json(*v, a), a);
      break;
    }
  }
  person.AddMember("active", true, a);
  Json links(rapidjson::kArrayType);
  for (size_t i = 0; i < members.size(); ++i) {
    Json link(rapidjson::kObjectType);
    Json ext(rapidjson::kArrayType);
    Json grade(rapidjson::kObjectType);
    grade.AddMember("url", str(kMatchGradeExtension), a);
    grade.AddMember("valueCode", str(GradeName(grades[i])), a);
    ext.PushBack(std::move(grade), a);
    Json score(rapidjson::kObjectType);
    score.AddMember("url", str(kMatchScoreExtension), a);
    score.AddMember("valueDecimal", std::round(scores[i] * 1e6) / 1e6, a);
    ext.PushBack(std::move(score), a);
    link.AddMember("extension", std::move(ext), a);
    Json target(rapidjson::kObjectType);
    target.AddMember("reference", str(members[i]->ref), a);
    link.AddMember("target", std::move(target), a);
    link.AddMember("assurance", str(AssuranceOf(grades[i])), a);
    links.PushBack(std::move(link), a);
  }
  person.AddMember("link", std::move(links), a);
  return fhir::ToJson(person);
}

std::string ReviewTaskId(const std::string& a, const std::string& b) {
  const std::string key = a < b ? a + "|" + b : b + "|" + a;
  return "mpi-review-" + Hex(Fnv1a(key), 16) + Hex(Fnv1a(key, 0x51ED27), 16);
}

std::string ReviewTaskJson(const std::string& id, const std::string& a, const std::string& b,
                           double probability, const std::string& evidence,
                           const std::string& reason, const std::string& status) {
  JsonDoc t(rapidjson::kObjectType);
  auto& al = t.GetAllocator();
  auto str = [&](std::string_view s) {
    return Json(s.data(), static_cast<rapidjson::SizeType>(s.size()), al);
  };
  t.AddMember("resourceType", "Task", al);
  t.AddMember("id", str(id), al);
  Json meta(rapidjson::kObjectType);
  meta.AddMember("source", "lhcr-mpi#relink", al);
  t.AddMember("meta", std::move(meta), al);
  t.AddMember("status", str(status), al);
  t.AddMember("intent", "proposal", al);
  Json code(rapidjson::kObjectType), codings(rapidjson::kArrayType), coding(rapidjson::kObjectType);
  coding.AddMember("system", str(kMpiTaskSystem), al);
  coding.AddMember("code", "review-match", al);
  coding.AddMember("display", "Review a possible match", al);
  codings.PushBack(std::move(coding), al);
  code.AddMember("coding", std::move(codings), al);
  t.AddMember("code", std::move(code), al);
  t.AddMember("description",
              str("Are " + a + " and " + b + " the same person? Match probability " +
                  Decimal(probability) + (reason.empty() ? "" : "; " + reason)),
              al);
  Json focus(rapidjson::kObjectType);
  focus.AddMember("reference", str(a), al);
  t.AddMember("focus", std::move(focus), al);
  Json inputs(rapidjson::kArrayType);
  auto input = [&](const char* type, const char* key, Json value) {
    Json in(rapidjson::kObjectType), ty(rapidjson::kObjectType);
    ty.AddMember("text", Json(type, al), al);
    in.AddMember("type", std::move(ty), al);
    in.AddMember(Json(key, al), std::move(value), al);
    inputs.PushBack(std::move(in), al);
  };
  Json other(rapidjson::kObjectType);
  other.AddMember("reference", str(b), al);
  input("candidate", "valueReference", std::move(other));
  input("probability", "valueDecimal", Json(std::round(probability * 1e6) / 1e6));
  input("evidence", "valueString", str(evidence));
  t.AddMember("input", std::move(inputs), al);
  return fhir::ToJson(t);
}

}  // namespace

std::string_view GradeName(Grade g) {
  switch (g) {
    case Grade::kCertain:
      return "certain";
    case Grade::kProbable:
      return "probable";
    case Grade::kPossible:
      return "possible";
  }
  return "possible";
}

std::string_view AssuranceOf(Grade g) {
  switch (g) {
    case Grade::kCertain:
      return "level3";
    case Grade::kProbable:
      return "level2";
    case Grade::kPossible:
      return "level1";
  }
  return "level1";
}

Result<RelinkReport> Relink(interaction::Interactions& interactions,
                            const ingest::SourceRegistry* registry, Clock& clock,
                            const RelinkOptions& options) {
  (void)clock;
  RelinkReport report;
  auto progress = [&](const std::string& stage, size_t done, size_t total) {
    if (options.progress) options.progress(stage, done, total);
  };

  // 1. Every Patient, as stored.
  std::vector<Member> members;
  std::vector<PersonRecord> records;
  std::vector<uint32_t> record_member;  // record index -> member index
  std::vector<std::pair<size_t, std::string>> retired;  // member index, survivor ref
  RETURN_IF_ERROR(ForEachResource(interactions, "Patient", {}, [&](const Json& p) -> Status {
    Member m;
    m.ref = "Patient/" + std::string(fhir::StringMember(p, "id"));
    m.source = SourceOf(p);
    if (const ingest::Source* s = registry ? registry->FindById(m.source) : nullptr) {
      m.trust = s->identity_trust;
    }
    m.updated = LastUpdated(p);
    m.json = fhir::ToJson(p);
    if (std::string survivor = ReplacedBy(p); !survivor.empty()) {
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

  // 2. Match.
  progress("match", 0, records.size());
  identity::MatchRun run =
      identity::MatchRecords(records, std::vector<uint32_t>(records.size(), 0), options.matcher);
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

  // 3. Existing Persons and review Tasks.
  std::unordered_map<std::string, std::string> person_of;  // Patient ref -> Person id
  std::set<std::string> existing_persons;
  RETURN_IF_ERROR(ForEachResource(interactions, "Person", {}, [&](const Json& p) -> Status {
    std::string id(fhir::StringMember(p, "id"));
    existing_persons.insert(id);
    if (const Json* links = fhir::Member(p, "link"); links && links->IsArray()) {
      for (const Json& l : links->GetArray()) {
        if (const Json* t = fhir::Member(l, "target")) {
          person_of[std::string(fhir::StringMember(*t, "reference"))] = id;
        }
      }
    }
    return Status::Ok();
  }));
  std::map<std::string, std::string> task_status;  // review Task id -> status
  RETURN_IF_ERROR(ForEachResource(interactions, "Task",
                          {{"code", std::string(kMpiTaskSystem) + "|review-match"}},
                          [&](const Json& t) -> Status {
                            task_status[std::string(fhir::StringMember(t, "id"))] =
                                std::string(fhir::StringMember(t, "status"));
                            return Status::Ok();
                          }));

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
    writes.push_back(PersonJson(id, ms, grades, scores));
    ++report.persons;
    if (cluster.size() > 1) ++report.multi_record_persons;
  }
  for (const std::string& old : existing_persons) {
    if (claimed.count(old)) continue;
    ++report.retired_persons;
    writes.push_back(R"({"resourceType":"Person","id":")" + old +
                     R"(","meta":{"source":"lhcr-mpi#relink"},"active":false})");
  }

  // 5. Review Tasks.
  std::set<std::string> wanted_tasks;
  for (const identity::ScoredPair& p : run.clustering.review) {
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
