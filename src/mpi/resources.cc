#include "mpi/resources.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <unordered_map>

#include "base/ids.h"
#include "hl7v2/to_fhir.h"

namespace lhcr::mpi {

using fhir::Json;
using fhir::JsonDoc;

namespace {

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

// "given=exact(+4.1) family=jw2(+2.0) ...": why a pair scored as it did.
std::string Evidence(const identity::FellegiSunterModel& model, const identity::ScoredPair& p) {
  std::string out;
  char buf[64];
  bool location = false;
  for (size_t f = 0; f < identity::kFieldCount; ++f) {
    uint8_t level = p.levels[f];
    if (level == 0) continue;
    const auto field = static_cast<identity::Field>(f);
    if (!out.empty()) out += ' ';
    if (identity::IsLocationField(field)) {
      // Location fields count together (a match may have moved house): each
      // shows its level; their combined weight follows.
      std::snprintf(buf, sizeof buf, "=%u", static_cast<unsigned>(level));
      location = true;
    } else {
      std::snprintf(buf, sizeof buf, "=%u(%+.1f)", static_cast<unsigned>(level),
                    model.LevelWeight(field, level));
    }
    out += std::string(identity::FieldName(field)) + buf;
  }
  if (location) {
    std::snprintf(buf, sizeof buf, " location(%+.1f)", model.LocationWeight(p.levels));
    out += buf;
  }
  std::snprintf(buf, sizeof buf, "; weight %+.1f, probability %.6f", p.weight, p.probability);
  return out + buf;
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

std::pair<std::string, std::string> ReviewTaskPair(const Json& task) {
  std::pair<std::string, std::string> out;
  if (const Json* focus = fhir::Member(task, "focus")) {
    out.first = std::string(fhir::StringMember(*focus, "reference"));
  }
  if (const Json* inputs = fhir::Member(task, "input"); inputs && inputs->IsArray()) {
    for (const Json& in : inputs->GetArray()) {
      if (const Json* v = fhir::Member(in, "valueReference")) {
        out.second = std::string(fhir::StringMember(*v, "reference"));
      }
    }
  }
  return out;
}

}  // namespace lhcr::mpi
