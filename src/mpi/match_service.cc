#include "mpi/match_service.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "fhir/json.h"
#include "identity/blocking.h"
#include "identity/fhir_patient.h"
#include "mpi/scan.h"

namespace lhcr::mpi {

namespace {

using fhir::Json;
using fhir::JsonDoc;

constexpr double kCertainProbability = 0.99999;
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
                           identity::MatcherOptions options)
    : interactions_(interactions), options_(std::move(options)) {}

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
  if (!records_.empty() && (matcher_ == nullptr || records_.size() >= 2 * trained_on_)) Train();
  return Status::Ok();
}

void MatchService::Train() {
  std::vector<identity::CandidatePair> candidates =
      identity::GenerateCandidates(records_, options_.blocking);
  matcher_ = std::make_unique<identity::Matcher>(
      identity::Matcher::Train(records_, candidates, options_));
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
      std::vector<identity::PreparedRecord> pair(2);
      pair[0] = identity::Prepare(query);
      std::set<uint32_t> candidates;
      for (const std::string& key : identity::BlockingKeys(pair[0])) {
        auto it = blocks_.find(key);
        if (it == blocks_.end() || it->second.size() > kMaxQueryBlock) continue;
        candidates.insert(it->second.begin(), it->second.end());
      }
      for (uint32_t c : candidates) {
        pair[1] = records_[c];
        identity::ScoredPair scored = matcher_->Score(pair, 0, 1);
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

}  // namespace lhcr::mpi
