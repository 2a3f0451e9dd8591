#include "mpi/match_service.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>

#include "base/ids.h"
#include "fhir/json.h"
#include "identity/blocking.h"
#include "identity/fhir_patient.h"
#include "mpi/resources.h"
#include "mpi/scan.h"

namespace lhcr::mpi {

namespace {

using fhir::Json;
using fhir::JsonDoc;

// A block this large says little about one query; skip it (as blocking
// does for the whole region with max_block_size).
constexpr size_t kMaxQueryBlock = 1000;

std::string SourceOf(const Json& r) {
  const Json* meta = fhir::Member(r, "meta");
  std::string_view s = meta ? fhir::StringMember(*meta, "source") : "";
  return std::string(s.substr(0, s.find('#')));
}

}  // namespace

MatchService::MatchService(interaction::Interactions& interactions,
                           identity::MatcherOptions options,
                           const ingest::SourceRegistry* registry, size_t min_records_to_link,
                           size_t max_training_records)
    : interactions_(interactions), options_(std::move(options)), registry_(registry),
      min_records_to_link_(min_records_to_link), max_training_records_(max_training_records) {}

size_t MatchService::indexed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return records_.size();
}

Status MatchService::CatchUp() {
  search::QueryParams params;
  if (!last_updated_.empty()) params.emplace_back("_lastUpdated", "ge" + last_updated_);
  std::string newest = last_updated_;
  RETURN_IF_ERROR(ForEachResource(interactions_, "Patient", params, [&](const Json& p) -> Status {
    const std::string ref = "Patient/" + std::string(fhir::StringMember(p, "id"));
    if (const Json* meta = fhir::Member(p, "meta")) {
      std::string updated(fhir::StringMember(*meta, "lastUpdated"));
      if (updated > newest) newest = updated;
    }
    identity::PersonRecord r = identity::PersonRecordFromPatient(p, SourceOf(p), "");
    r.record_id = ref;
    identity::PreparedRecord prepared = identity::Prepare(r);
    auto [it, inserted] = by_ref_.emplace(ref, static_cast<uint32_t>(records_.size()));
    if (inserted) {
      records_.push_back(std::move(prepared));
      refs_.push_back(ref);
    } else {
      records_[it->second] = std::move(prepared);  // an update: old keys stay, harmless
    }
    for (const std::string& key : identity::BlockingKeys(records_[it->second])) {
      std::vector<uint32_t>& block = blocks_[key];
      if (block.empty() || block.back() != it->second) block.push_back(it->second);
    }
    return Status::Ok();
  }));
  last_updated_ = newest;
  search::QueryParams person_params;
  if (!last_person_updated_.empty()) {
    person_params.emplace_back("_lastUpdated", "ge" + last_person_updated_);
  }
  std::string newest_person = last_person_updated_;
  RETURN_IF_ERROR(
      ForEachResource(interactions_, "Person", person_params, [&](const Json& p) -> Status {
        if (const Json* meta = fhir::Member(p, "meta")) {
          std::string updated(fhir::StringMember(*meta, "lastUpdated"));
          if (updated > newest_person) newest_person = updated;
        }
        const std::string id(fhir::StringMember(p, "id"));
        std::vector<std::string>& members = members_of_[id];
        for (const std::string& old : members) {
          auto it = person_of_.find(old);
          if (it != person_of_.end() && it->second == id) person_of_.erase(it);
        }
        members.clear();
        const Json* links = fhir::Member(p, "link");
        if (links == nullptr || !links->IsArray()) return Status::Ok();
        for (const Json& l : links->GetArray()) {
          if (const Json* t = fhir::Member(l, "target")) {
            const std::string ref(fhir::StringMember(*t, "reference"));
            person_of_[ref] = id;
            members.push_back(ref);
            if (fhir::StringMember(l, "assurance") == "level4") {
              confirmed_.insert(ref);
            } else {
              confirmed_.erase(ref);
            }
          }
        }
        return Status::Ok();
      }));
  last_person_updated_ = newest_person;
  if (!records_.empty() && (matcher_ == nullptr || records_.size() >= 2 * trained_on_)) Train();
  return Status::Ok();
}

void MatchService::Train() {
  matcher_ = std::make_unique<identity::Matcher>(
      identity::Matcher::TrainOnSample(records_, max_training_records_, options_));
  trained_on_ = records_.size();
}

Result<interaction::Response> MatchService::Match(const interaction::RequestContext& ctx,
                                                  const std::string& parameters_json) {
  ASSIGN_OR_RETURN(JsonDoc params, fhir::ParseJson(parameters_json));
  if (!params.IsObject() || fhir::StringMember(params, "resourceType") != "Parameters") {
    return Status::Incorrect("Patient/$match takes a Parameters resource");
  }
  const Json* patient = nullptr;
  bool only_certain = false;
  int count = 10;
  if (const Json* ps = fhir::Member(params, "parameter"); ps && ps->IsArray()) {
    for (const Json& p : ps->GetArray()) {
      std::string_view name = fhir::StringMember(p, "name");
      if (name == "resource") {
        patient = fhir::Member(p, "resource");
      } else if (name == "onlyCertainMatches") {
        const Json* v = fhir::Member(p, "valueBoolean");
        only_certain = v && v->IsBool() && v->GetBool();
      } else if (name == "count") {
        const Json* v = fhir::Member(p, "valueInteger");
        if (v && v->IsInt() && v->GetInt() > 0) count = std::min(v->GetInt(), 100);
      }
    }
  }
  if (patient == nullptr || !patient->IsObject() ||
      fhir::StringMember(*patient, "resourceType") != "Patient") {
    return Status::Incorrect("Patient/$match needs a parameter 'resource' holding a Patient");
  }
  identity::PersonRecord query = identity::PersonRecordFromPatient(*patient, "", "");
  query.record_id = "query";

  struct Hit {
    std::string ref;
    double probability;
  };
  std::vector<Hit> hits;
  {
    std::lock_guard<std::mutex> lock(mu_);
    RETURN_IF_ERROR(CatchUp());
    if (matcher_ != nullptr) {
      const double query_prior = -std::log2(static_cast<double>(std::max<size_t>(records_.size(), 2)));
      const identity::PreparedRecord prepared = identity::Prepare(query);
      std::set<uint32_t> candidates;
      for (const std::string& key : identity::BlockingKeys(prepared)) {
        auto it = blocks_.find(key);
        if (it == blocks_.end() || it->second.size() > kMaxQueryBlock) continue;
        candidates.insert(it->second.begin(), it->second.end());
      }
      for (uint32_t c : candidates) {
        identity::ScoredPair scored = matcher_->Score(prepared, records_[c]);
        // The prior of a query: that it is one of the indexed records, any
        // one alike (odds 1 : N), not the model's prior of two records of
        // the region being one person (tiny when it holds few duplicates).
        const double weight = scored.weight - matcher_->model().PriorLog2() + query_prior;
        const double probability = identity::ProbabilityFromWeight(weight);
        if (probability < options_.review_probability) continue;
        if (only_certain && probability < kCertainProbability) continue;
        hits.push_back({refs_[c], probability});
      }
    }
  }
  std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) {
    return a.probability != b.probability ? a.probability > b.probability : a.ref < b.ref;
  });
  if (hits.size() > static_cast<size_t>(count)) hits.resize(static_cast<size_t>(count));

  JsonDoc bundle(rapidjson::kObjectType);
  auto& a = bundle.GetAllocator();
  auto str = [&](std::string_view s) {
    return Json(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
  };
  bundle.AddMember("resourceType", "Bundle", a);
  bundle.AddMember("type", "searchset", a);
  Json entries(rapidjson::kArrayType);
  for (const Hit& h : hits) {
    const std::string id = h.ref.substr(h.ref.find('/') + 1);
    auto stored = interactions_.Read(ctx, "Patient", id, {});
    if (!stored.ok()) continue;  // deleted since it was indexed
    auto doc = fhir::ParseJson(stored->body);
    if (!doc.ok()) continue;
    Json entry(rapidjson::kObjectType);
    entry.AddMember("fullUrl", str(ctx.base_url + "/" + h.ref), a);
    entry.AddMember("resource", Json(*doc, a), a);
    Json search(rapidjson::kObjectType);
    Json ext(rapidjson::kArrayType), grade(rapidjson::kObjectType);
    grade.AddMember("url", str(kMatchGradeSpecExtension), a);
    const char* g = h.probability >= kCertainProbability                ? "certain"
                    : h.probability >= options_.auto_link_probability ? "probable"
                                                                      : "possible";
    grade.AddMember("valueCode", Json(g, a), a);
    ext.PushBack(std::move(grade), a);
    search.AddMember("extension", std::move(ext), a);
    search.AddMember("mode", "match", a);
    search.AddMember("score", std::round(h.probability * 1e6) / 1e6, a);
    entry.AddMember("search", std::move(search), a);
    entries.PushBack(std::move(entry), a);
  }
  bundle.AddMember("total", static_cast<unsigned>(entries.Size()), a);
  bundle.AddMember("entry", std::move(entries), a);
  interaction::Response r;
  r.body = fhir::ToJson(bundle);
  return r;
}

Result<std::string> MatchService::HumanDecision(const std::string& a, const std::string& b) {
  interaction::RequestContext ctx;
  auto stored = interactions_.Read(ctx, "Task", ReviewTaskId(a, b), {});
  if (!stored.ok()) {
    const StatusCode code = stored.status().code();
    if (code == StatusCode::kNotFound || code == StatusCode::kGone) return std::string();
    return stored.status();
  }
  ASSIGN_OR_RETURN(JsonDoc task, fhir::ParseJson(stored->body));
  std::string status(fhir::StringMember(task, "status"));
  return status == "requested" || status == "cancelled" ? std::string() : status;
}

// A linked record whose new demographics no longer match any other record
// of its Person even at the review bar moves out to a Person of its own, with
// a review Task for a human (splitting is the safe direction: a false link is
// the hazard). Returns the new Person's id when it did.
Result<std::optional<std::string>> MatchService::Reevaluate(const Json& patient,
                                                            const std::string& target,
                                                            std::vector<std::string>& out) {
  const std::string person_id = person_of_[target];
  const std::vector<std::string>& members = members_of_[person_id];
  if (matcher_ == nullptr || confirmed_.count(target) || members.size() < 2) {
    return std::optional<std::string>();
  }
  identity::PersonRecord record = identity::PersonRecordFromPatient(patient, SourceOf(patient), "");
  record.record_id = target;
  const identity::PreparedRecord prepared = identity::Prepare(record);
  identity::ScoredPair best;
  std::string best_ref;
  for (const std::string& m : members) {
    auto it = by_ref_.find(m);
    if (m == target || it == by_ref_.end()) continue;
    identity::ScoredPair scored = matcher_->Score(prepared, records_[it->second]);
    if (best_ref.empty() || scored.probability > best.probability) {
      best = scored;
      best_ref = m;
    }
  }
  if (best_ref.empty() || best.probability >= options_.review_probability) {
    return std::optional<std::string>();
  }
  // Out of its Person (guarded by the Person's version).
  interaction::RequestContext ctx;
  ASSIGN_OR_RETURN(interaction::Response stored, interactions_.Read(ctx, "Person", person_id, {}));
  ASSIGN_OR_RETURN(JsonDoc person, fhir::ParseJson(stored.body));
  Json& links = person["link"];
  for (rapidjson::SizeType i = 0; i < links.Size(); ++i) {
    const Json* t = fhir::Member(links[i], "target");
    if (t && fhir::StringMember(*t, "reference") == target) {
      links.Erase(links.Begin() + i);
      break;
    }
  }
  person.RemoveMember("meta");
  auto& a = person.GetAllocator();
  const std::string version = "W/\"" + std::to_string(stored.version.value_or(0)) + "\"";
  out.push_back(R"({"fullUrl":"urn:uuid:)" + StableUuid("Person/" + person_id) +
                R"(","resource":)" + fhir::ToJson(person) +
                R"(,"request":{"method":"PUT","url":"Person/)" + person_id + R"(","ifMatch":)" +
                fhir::ToJson(Json(version.c_str(), a)) + "}}");
  Member me;
  me.ref = target;
  me.source = SourceOf(patient);
  me.json = fhir::ToJson(patient);
  const std::string fresh = "mpi-" + StableUuid("person#split#" + target + "#" + stored.body);
  out.push_back(R"({"fullUrl":"urn:uuid:)" + StableUuid("Person/" + fresh) + R"(","resource":)" +
                PersonJson(fresh, {&me}, {Grade::kCertain}, {1.0}) +
                R"(,"request":{"method":"PUT","url":"Person/)" + fresh + R"("}})");
  ASSIGN_OR_RETURN(std::string decided, HumanDecision(target, best_ref));
  if (!decided.empty()) return std::optional<std::string>(fresh);  // a person's answer stands
  const std::string task_id = ReviewTaskId(target, best_ref);
  out.push_back(R"({"fullUrl":"urn:uuid:)" + StableUuid("Task/" + task_id) + R"(","resource":)" +
                ReviewTaskJson(task_id, target, best_ref, best.probability,
                               Evidence(matcher_->model(), best),
                               "moved out of " + person_id + " after a demographic update",
                               "requested") +
                R"(,"request":{"method":"PUT","url":"Task/)" + task_id + R"("}})");
  return std::optional<std::string>(fresh);
}

Result<std::vector<std::string>> MatchService::LinkEntries(const std::string& bundle_json) {
  ASSIGN_OR_RETURN(JsonDoc bundle, fhir::ParseJson(bundle_json));
  const Json* entries = fhir::Member(bundle, "entry");
  std::vector<std::string> out;
  if (entries == nullptr || !entries->IsArray()) return out;
  std::lock_guard<std::mutex> lock(mu_);
  bool caught_up = false;
  std::unordered_map<std::string, size_t> person_entry;  // Person id -> index in `out`
  for (const Json& e : entries->GetArray()) {
    const Json* p = fhir::Member(e, "resource");
    const Json* req = fhir::Member(e, "request");
    if (p == nullptr || req == nullptr || fhir::StringMember(*p, "resourceType") != "Patient") {
      continue;
    }
    if (!caught_up) {
      RETURN_IF_ERROR(CatchUp());
      caught_up = true;
    }
    // The stored Patient this entry updates, if any.
    std::string target(fhir::StringMember(e, "fullUrl"));
    std::string url(fhir::StringMember(*req, "url"));
    if (size_t q = url.find('?'); q != std::string::npos) {
      interaction::RequestContext ctx;
      search::QueryParams params;
      std::string query = url.substr(q + 1);
      size_t eq = query.find('=');
      if (eq != std::string::npos) params.emplace_back(query.substr(0, eq), query.substr(eq + 1));
      auto found = interactions_.Search(ctx, "Patient", params);
      if (found.ok()) {
        auto d = fhir::ParseJson(found->body);
        const Json* hits = d.ok() ? fhir::Member(*d, "entry") : nullptr;
        if (hits && hits->IsArray()) {
          for (const Json& h : hits->GetArray()) {
            const Json* r = fhir::Member(h, "resource");
            if (r && fhir::StringMember(*r, "resourceType") == "Patient") {
              target = "Patient/" + std::string(fhir::StringMember(*r, "id"));
            }
          }
        }
      }
    }
    if (target.empty()) continue;
    if (person_of_.count(target)) {
      // Already linked: a demographic update is re-evaluated against the
      // Person's other records. A link a person confirmed stays.
      ASSIGN_OR_RETURN(std::optional<std::string> split, Reevaluate(*p, target, out));
      (void)split;
      continue;
    }

    const std::string source = SourceOf(*p);
    identity::PersonRecord record = identity::PersonRecordFromPatient(*p, source, "");
    record.record_id = target;
    const identity::PreparedRecord prepared = identity::Prepare(record);
    // The best candidate that is linked to a Person.
    const identity::ScoredPair* best = nullptr;
    identity::ScoredPair best_pair;
    std::string best_ref;
    if (matcher_ != nullptr) {
      std::set<uint32_t> candidates;
      for (const std::string& key : identity::BlockingKeys(prepared)) {
        auto it = blocks_.find(key);
        if (it == blocks_.end() || it->second.size() > options_.blocking.max_block_size) continue;
        candidates.insert(it->second.begin(), it->second.end());
      }
      for (uint32_t c : candidates) {
        if (refs_[c] == target || !person_of_.count(refs_[c])) continue;
        identity::ScoredPair scored = matcher_->Score(prepared, records_[c]);
        if (best == nullptr || scored.probability > best_pair.probability) {
          best_pair = scored;
          best = &best_pair;
          best_ref = refs_[c];
        }
      }
    }
    Member me;
    me.ref = target;
    me.source = source;
    if (const ingest::Source* s = registry_ ? registry_->FindById(source) : nullptr) {
      me.trust = s->identity_trust;
    }
    me.json = fhir::ToJson(*p);
    const bool trusted = records_.size() >= min_records_to_link_;
    // A pair a person has already decided is not asked again, and a record
    // a reviewer said is someone else never joins that record's Person.
    std::string decided;
    bool rejected = false;
    if (best != nullptr && trusted && best->probability >= options_.review_probability) {
      ASSIGN_OR_RETURN(decided, HumanDecision(target, best_ref));
      for (const std::string& m : members_of_[person_of_[best_ref]]) {
        if (rejected) break;
        ASSIGN_OR_RETURN(std::string d, m == best_ref ? decided : HumanDecision(target, m));
        rejected = d == "rejected";
      }
    }
    if (best != nullptr && trusted && !rejected &&
        best->decision == identity::MatchDecision::kAutoLink) {
      // Into the candidate's Person, guarded by its version.
      const std::string person_id = person_of_[best_ref];
      auto at = person_entry.find(person_id);
      JsonDoc person;
      std::string version;
      if (at != person_entry.end()) {
        auto d = fhir::ParseJson(out[at->second]);
        if (!d.ok()) return d.status();
        person.CopyFrom((*d)["resource"], person.GetAllocator());
        const Json* ifm = fhir::Member((*d)["request"], "ifMatch");
        version = ifm ? std::string(fhir::AsView(*ifm)) : "";
      } else {
        interaction::RequestContext ctx;
        auto stored = interactions_.Read(ctx, "Person", person_id, {});
        if (!stored.ok()) return stored.status();
        auto d = fhir::ParseJson(stored->body);
        if (!d.ok()) return d.status();
        person.CopyFrom(*d, person.GetAllocator());
        version = "W/\"" + std::to_string(stored->version.value_or(0)) + "\"";
      }
      auto& a = person.GetAllocator();
      const Grade grade =
          best->probability >= kCertainProbability ? Grade::kCertain : Grade::kProbable;
      Json link(rapidjson::kObjectType), ext(rapidjson::kArrayType);
      Json g(rapidjson::kObjectType), sc(rapidjson::kObjectType);
      g.AddMember("url", Json(kMatchGradeExtension.data(), a), a);
      g.AddMember("valueCode", Json(GradeName(grade).data(), a), a);
      sc.AddMember("url", Json(kMatchScoreExtension.data(), a), a);
      sc.AddMember("valueDecimal", std::round(best->probability * 1e6) / 1e6, a);
      ext.PushBack(std::move(g), a);
      ext.PushBack(std::move(sc), a);
      link.AddMember("extension", std::move(ext), a);
      Json t(rapidjson::kObjectType);
      t.AddMember("reference", Json(target.c_str(), a), a);
      link.AddMember("target", std::move(t), a);
      link.AddMember("assurance", Json(AssuranceOf(grade).data(), a), a);
      if (!person.HasMember("link")) person.AddMember("link", Json(rapidjson::kArrayType), a);
      person["link"].PushBack(std::move(link), a);
      person.RemoveMember("meta");
      std::string entry = R"({"fullUrl":"urn:uuid:)" + StableUuid("Person/" + person_id) +
                          R"(","resource":)" + fhir::ToJson(person) +
                          R"(,"request":{"method":"PUT","url":"Person/)" + person_id +
                          R"(","ifMatch":)" + fhir::ToJson(Json(version.c_str(), a)) + "}}";
      if (at != person_entry.end()) {
        out[at->second] = entry;
      } else {
        person_entry[person_id] = out.size();
        out.push_back(entry);
      }
      continue;
    }
    // A Person of its own.
    const std::string person_id = "mpi-" + StableUuid("person#" + source + "#" + url);
    std::string person = PersonJson(person_id, {&me}, {Grade::kCertain}, {1.0});
    out.push_back(R"({"fullUrl":"urn:uuid:)" + StableUuid("Person/" + person_id) +
                  R"(","resource":)" + person + R"(,"request":{"method":"PUT","url":"Person/)" +
                  person_id + R"("}})");
    if (best != nullptr && trusted && decided.empty() &&
        best->probability >= options_.review_probability) {
      // Uncertain: a human decides.
      const std::string task_id = ReviewTaskId(target, best_ref);
      out.push_back(R"({"fullUrl":"urn:uuid:)" + StableUuid("Task/" + task_id) +
                    R"(","resource":)" +
                    ReviewTaskJson(task_id, target, best_ref, best->probability,
                                   Evidence(matcher_->model(), *best), best->reason, "requested") +
                    R"(,"request":{"method":"PUT","url":"Task/)" + task_id + R"("}})");
    }
  }
  return out;
}

}  // namespace lhcr::mpi
