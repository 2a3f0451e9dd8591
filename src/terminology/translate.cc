#include "terminology/translate.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <set>

#include "fhir/json.h"

namespace lhcr::terminology {
namespace {

using fhir::Json;

struct Context {
  const Terminology& t;
  const Ucum& ucum;
  std::vector<const ConceptMap*> maps;
  std::set<std::string> local_systems;  // source systems of the maps
  rapidjson::Document::AllocatorType& a;
  BundleTranslation* out;
};

std::string Str(const Json& o, std::string_view name) {
  return std::string(fhir::StringMember(o, name));
}

// A CodeableConcept: add the maps' targets of each local coding.
void TranslateConcept(Context& c, Json& concept_json, const std::string& where) {
  Json* codings = const_cast<Json*>(fhir::Member(concept_json, "coding"));
  if (codings == nullptr || !codings->IsArray()) return;
  std::set<std::pair<std::string, std::string>> present;
  for (const Json& x : codings->GetArray()) {
    if (x.IsObject()) present.emplace(Str(x, "system"), Str(x, "code"));
  }
  std::vector<Translation> add;
  const rapidjson::SizeType n = codings->Size();
  for (rapidjson::SizeType i = 0; i < n; ++i) {
    const Json& x = (*codings)[i];
    if (!x.IsObject()) continue;
    std::string system = Str(x, "system"), code = Str(x, "code");
    if (system.empty() || code.empty() || !c.local_systems.count(system)) continue;
    bool found = false;
    for (const ConceptMap* m : c.maps) {
      auto tr = c.t.Translate(m->url, system, code, "");
      if (!tr.ok()) continue;
      for (Translation& t : *tr) {
        found = true;
        if (present.emplace(t.system, t.code).second) add.push_back(std::move(t));
      }
    }
    if (!found) {
      c.out->findings.push_back(
          {where + ".coding[" + std::to_string(i) + "]", "unmapped-code",
           "code " + system + "|" + code + " has no mapping in this source's concept maps"});
    }
  }
  for (const Translation& t : add) {
    Json coding(rapidjson::kObjectType);
    coding.AddMember("system", Json(t.system.c_str(), c.a), c.a);
    coding.AddMember("code", Json(t.code.c_str(), c.a), c.a);
    if (!t.display.empty()) coding.AddMember("display", Json(t.display.c_str(), c.a), c.a);
    codings->PushBack(std::move(coding), c.a);
    ++c.out->codings_added;
    c.out->changed = true;
  }
}

// Every CodeableConcept (an object with a "coding" array) under `v`.
void Walk(Context& c, Json& v, const std::string& where, int depth) {
  if (depth > 64) return;
  if (v.IsObject()) {
    if (const Json* coding = fhir::Member(v, "coding"); coding != nullptr && coding->IsArray()) {
      TranslateConcept(c, v, where);
    }
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      std::string_view name(it->name.GetString(), it->name.GetStringLength());
      if (name == "coding" || name == "contained") continue;
      Walk(c, it->value, where + "." + std::string(name), depth + 1);
    }
  } else if (v.IsArray()) {
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
      Walk(c, v[i], where + "[" + std::to_string(i) + "]", depth + 1);
    }
  }
}

// The unit the source's map declares for this Observation's code.
std::string MappedUnit(Context& c, const Json& observation) {
  const Json* code = fhir::Member(observation, "code");
  const Json* codings = code != nullptr ? fhir::Member(*code, "coding") : nullptr;
  if (codings == nullptr || !codings->IsArray()) return "";
  for (const Json& x : codings->GetArray()) {
    if (!x.IsObject()) continue;
    std::string system = Str(x, "system");
    if (!c.local_systems.count(system)) continue;
    auto found = c.t.Lookup(system, Str(x, "code"));
    if (!found.ok()) continue;
    auto u = found->properties.find("unit");
    if (u != found->properties.end() && !u->second.empty()) return u->second;
  }
  return "";
}

double Round(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return std::strtod(buf, nullptr);
}

void TranslateQuantity(Context& c, Json& q, const std::string& mapped, const std::string& where) {
  if (!q.IsObject()) return;
  const Json* value = fhir::Member(q, "value");
  if (value == nullptr || !value->IsNumber()) return;
  std::string system = Str(q, "system"), code = Str(q, "code"), unit = Str(q, "unit");
  std::string sent = system == kUcum && !code.empty() ? code : !unit.empty() ? unit : code;
  if (sent.empty()) return;                        // a plain number
  if (!system.empty() && system != kUcum) return;  // another unit system: not ours to judge
  std::string ucum_unit = Ucum::Normalise(sent);
  auto parsed = c.ucum.Parse(ucum_unit);
  if (!parsed.ok()) {
    c.out->findings.push_back(
        {where, "invalid-unit", "unit '" + sent + "' is not UCUM: " + parsed.status().message()});
    return;
  }
  std::string target = ucum_unit;
  double v = value->GetDouble();
  if (!mapped.empty()) {
    auto m = c.ucum.Parse(mapped);
    if (m.ok() && !parsed->Commensurable(*m)) {
      c.out->findings.push_back({where, "unit-mismatch",
                                 "unit '" + sent + "' cannot be converted to '" + mapped +
                                     "', the unit this code is mapped with"});
      return;
    }
    if (m.ok()) target = mapped;
  } else if (!Ucum::CanonicalUnits().count(ucum_unit) &&
             parsed->dims != std::array<int, 8>{}) {
    // Dimensionless units ({score}, %, [ppm], mmol/mol) are never converted
    // into one another without a map: a score is not a ratio.
    auto p = c.ucum.ToPreferred(v, ucum_unit, Ucum::DefaultPreferredUnits());
    if (p.ok()) target = p->unit;
  }
  if (target != ucum_unit) {
    auto converted = c.ucum.Convert(v, ucum_unit, target);
    if (!converted.ok()) return;
    Json original(q, c.a);  // deep copy of the quantity as sent
    Json ext(rapidjson::kObjectType);
    ext.AddMember("url",
                  Json(kOriginalQuantityUrl.data(),
                       static_cast<rapidjson::SizeType>(kOriginalQuantityUrl.size()), c.a),
                  c.a);
    ext.AddMember("valueQuantity", std::move(original), c.a);
    Json exts(rapidjson::kArrayType);
    exts.PushBack(std::move(ext), c.a);
    Json nq(rapidjson::kObjectType);
    nq.AddMember("extension", std::move(exts), c.a);
    nq.AddMember("value", Json(Round(*converted)), c.a);
    if (const Json* cmp = fhir::Member(q, "comparator"))
      nq.AddMember("comparator", Json(*cmp, c.a), c.a);
    nq.AddMember("unit", Json(target.c_str(), c.a), c.a);
    nq.AddMember("system", Json(kUcum.data(), static_cast<rapidjson::SizeType>(kUcum.size()), c.a),
                 c.a);
    nq.AddMember("code", Json(target.c_str(), c.a), c.a);
    q = std::move(nq);
    ++c.out->quantities_converted;
    c.out->changed = true;
    return;
  }
  if (system == kUcum && code == target) return;  // already coded
  auto set = [&](const char* name, const std::string& s) {
    if (Json* m = const_cast<Json*>(fhir::Member(q, name))) {
      m->SetString(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), c.a);
    } else {
      q.AddMember(rapidjson::StringRef(name), Json(s.c_str(), c.a), c.a);
    }
  };
  if (unit.empty()) set("unit", sent);
  set("system", std::string(kUcum));
  set("code", target);
  ++c.out->quantities_coded;
  c.out->changed = true;
}

}  // namespace

Result<BundleTranslation> TranslateBundle(const Terminology& terminology, const Ucum& ucum,
                                          const std::vector<std::string>& map_urls,
                                          std::string_view bundle_json) {
  BundleTranslation out;
  std::vector<const ConceptMap*> maps;
  std::set<std::string> local_systems;
  for (const std::string& url : map_urls) {
    if (const ConceptMap* m = terminology.FindConceptMap(url)) {
      maps.push_back(m);
      for (const MapGroup& g : m->groups) local_systems.insert(g.source);
    }
  }
  // Nothing to do in most Bundles: no local system named, no quantity.
  bool any = bundle_json.find("\"valueQuantity\"") != std::string_view::npos;
  for (const std::string& s : local_systems) {
    any = any || bundle_json.find(s) != std::string_view::npos;
  }
  if (!any) {
    out.bundle_json = std::string(bundle_json);
    return out;
  }
  fhir::NumberTexts texts;
  ASSIGN_OR_RETURN(fhir::JsonDoc doc, fhir::ParseJsonKeepingNumbers(bundle_json, &texts));
  Context c{terminology, ucum, std::move(maps), std::move(local_systems), doc.GetAllocator(), &out};
  Json* entries = doc.IsObject() ? const_cast<Json*>(fhir::Member(doc, "entry")) : nullptr;
  if (entries != nullptr && entries->IsArray()) {
    for (rapidjson::SizeType i = 0; i < entries->Size(); ++i) {
      Json* r = (*entries)[i].IsObject()
                    ? const_cast<Json*>(fhir::Member((*entries)[i], "resource"))
                    : nullptr;
      if (r == nullptr || !r->IsObject()) continue;
      const std::string where = "Bundle.entry[" + std::to_string(i) + "].resource";
      if (!c.local_systems.empty()) Walk(c, *r, where, 0);
      if (fhir::StringMember(*r, "resourceType") != "Observation") continue;
      std::string mapped = MappedUnit(c, *r);
      if (Json* q = const_cast<Json*>(fhir::Member(*r, "valueQuantity"))) {
        TranslateQuantity(c, *q, mapped, where + ".valueQuantity");
      }
      if (Json* comps = const_cast<Json*>(fhir::Member(*r, "component"));
          comps != nullptr && comps->IsArray()) {
        for (rapidjson::SizeType k = 0; k < comps->Size(); ++k) {
          Json& comp = (*comps)[k];
          if (!comp.IsObject()) continue;
          if (Json* q = const_cast<Json*>(fhir::Member(comp, "valueQuantity"))) {
            TranslateQuantity(c, *q, MappedUnit(c, comp),
                              where + ".component[" + std::to_string(k) + "].valueQuantity");
          }
        }
      }
    }
  }
  out.bundle_json =
      out.changed ? fhir::ToJsonKeepingNumbers(doc, texts, "") : std::string(bundle_json);
  return out;
}

}  // namespace lhcr::terminology
