#include "ingest/fhir_source.h"

#include <utility>

#include "base/ids.h"
#include "fhir/json.h"
#include "hl7v2/to_fhir.h"

namespace lhcr::ingest {

namespace {

using fhir::Json;
using fhir::JsonDoc;

Json Str(std::string_view s, JsonDoc::AllocatorType& a) {
  return Json(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

void SetMember(Json& object, std::string_view name, Json value, JsonDoc::AllocatorType& a) {
  auto it = object.FindMember(Json(rapidjson::StringRef(name.data(), name.size())));
  if (it != object.MemberEnd()) {
    it->value = std::move(value);
  } else {
    object.AddMember(Str(name, a), std::move(value), a);
  }
}

// Data-quality findings on a Patient as a source sent it.
void CheckPatient(const Json& patient, const std::string& where, const std::string& today,
                  std::vector<Finding>& out) {
  const Json* ids = fhir::Member(patient, "identifier");
  if (ids != nullptr && ids->IsArray()) {
    for (rapidjson::SizeType i = 0; i < ids->Size(); ++i) {
      const Json& id = (*ids)[i];
      if (fhir::StringMember(id, "system") != hl7v2::kNhsNumberSystem) continue;
      std::string_view value = fhir::StringMember(id, "value");
      if (!hl7v2::IsValidNhsNumber(value)) {
        out.push_back({where + ".identifier[" + std::to_string(i) + "]", "invalid-nhs-number",
                       "NHS number '" + std::string(value) + "' fails the modulus 11 check"});
      }
    }
  }
  std::string_view birth = fhir::StringMember(patient, "birthDate");
  if (birth.empty()) {
    out.push_back({where + ".birthDate", "missing-item", "no date of birth"});
  } else if (birth.substr(0, 10) > std::string_view(today).substr(0, 10) ||
             birth.substr(0, 4) < "1880") {
    out.push_back({where + ".birthDate", "invalid-date",
                   "date of birth " + std::string(birth) + " is impossible"});
  }
  const Json* names = fhir::Member(patient, "name");
  bool family = false;
  if (names != nullptr && names->IsArray()) {
    for (const Json& n : names->GetArray()) family |= !fhir::StringMember(n, "family").empty();
  }
  if (!family) out.push_back({where + ".name", "missing-item", "no family name"});
}

}  // namespace

Result<StampedBundle> StampSourceBundle(std::string_view bundle_json, const std::string& source_id,
                                        const std::string& ods_code, const std::string& recorded) {
  fhir::NumberTexts texts;
  ASSIGN_OR_RETURN(JsonDoc doc, fhir::ParseJsonKeepingNumbers(bundle_json, &texts));
  if (!doc.IsObject() || fhir::StringMember(doc, "resourceType") != "Bundle") {
    return Status::Incorrect("not a FHIR Bundle");
  }
  if (fhir::StringMember(doc, "type") != "transaction") {
    return Status::Incorrect("Bundle.type is '" + std::string(fhir::StringMember(doc, "type")) +
                             "'; a source sends transaction Bundles");
  }
  Json* entries = const_cast<Json*>(fhir::Member(doc, "entry"));
  if (entries == nullptr || !entries->IsArray() || entries->Empty()) {
    return Status::Incorrect("Bundle has no entries");
  }
  auto& a = doc.GetAllocator();
  StampedBundle out;
  const Json* bid = fhir::Member(doc, "identifier");
  std::string_view bid_value = bid ? fhir::StringMember(*bid, "value") : "";
  out.key = !bid_value.empty() ? std::string(bid_value)
                               : "h" + Hex(Fnv1a(bundle_json), 16) +
                                     Hex(Fnv1a(bundle_json, 0x51ED27), 16);
  const std::string meta_source = source_id + "#" + out.key;
  Json targets(rapidjson::kArrayType);
  for (rapidjson::SizeType i = 0; i < entries->Size(); ++i) {
    Json& e = (*entries)[i];
    const std::string at = "Bundle.entry[" + std::to_string(i) + "]";
    Json* res = e.IsObject() ? const_cast<Json*>(fhir::Member(e, "resource")) : nullptr;
    const Json* req = e.IsObject() ? fhir::Member(e, "request") : nullptr;
    if (res == nullptr || !res->IsObject()) return Status::Incorrect(at + ": no resource");
    if (req == nullptr || fhir::StringMember(*req, "method").empty() ||
        fhir::StringMember(*req, "url").empty()) {
      return Status::Incorrect(at + ": no request method and url");
    }
    std::string_view method = fhir::StringMember(*req, "method");
    if (method == "DELETE") {
      return Status::Unsupported(at + ": DELETE; a source's feed says what is, it does not "
                                      "delete from the shared record");
    }
    std::string_view type = fhir::StringMember(*res, "resourceType");
    if (type == "Patient" && out.lock_key.empty()) {
      out.lock_key = std::string(fhir::StringMember(*req, "url"));
      CheckPatient(*res, at + ".resource", recorded, out.findings);
    } else if (type == "Patient") {
      CheckPatient(*res, at + ".resource", recorded, out.findings);
    }
    Json* meta = const_cast<Json*>(fhir::Member(*res, "meta"));
    if (meta == nullptr || !meta->IsObject()) {
      SetMember(*res, "meta", Json(rapidjson::kObjectType), a);
      meta = const_cast<Json*>(fhir::Member(*res, "meta"));
    }
    SetMember(*meta, "source", Str(meta_source, a), a);
    std::string full_url(fhir::StringMember(e, "fullUrl"));
    if (full_url.empty()) {
      full_url = "urn:uuid:" + StableUuid(meta_source + "#" + std::to_string(i));
      SetMember(e, "fullUrl", Str(full_url, a), a);
    }
    Json ref(rapidjson::kObjectType);
    ref.AddMember("reference", Str(full_url, a), a);
    targets.PushBack(std::move(ref), a);
  }
  // The Provenance: what came in which Bundle from which source.
  const std::string prov_id = "fhir-" + Hex(Fnv1a(meta_source), 16) +
                              Hex(Fnv1a(meta_source, 0x51ED27), 16);
  Json prov(rapidjson::kObjectType);
  prov.AddMember("resourceType", "Provenance", a);
  prov.AddMember("id", Str(prov_id, a), a);
  Json pmeta(rapidjson::kObjectType);
  pmeta.AddMember("source", Str(meta_source, a), a);
  prov.AddMember("meta", std::move(pmeta), a);
  prov.AddMember("target", std::move(targets), a);
  prov.AddMember("recorded", Str(recorded, a), a);
  Json agent(rapidjson::kObjectType);
  {
    Json type(rapidjson::kObjectType), codings(rapidjson::kArrayType), coding(rapidjson::kObjectType);
    coding.AddMember("system", "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                     a);
    coding.AddMember("code", "author", a);
    codings.PushBack(std::move(coding), a);
    type.AddMember("coding", std::move(codings), a);
    agent.AddMember("type", std::move(type), a);
    Json who(rapidjson::kObjectType);
    who.AddMember("type", "Organization", a);
    if (!ods_code.empty()) {
      Json ident(rapidjson::kObjectType);
      ident.AddMember("system", Str(hl7v2::kOdsSystem, a), a);
      ident.AddMember("value", Str(ods_code, a), a);
      who.AddMember("identifier", std::move(ident), a);
    }
    who.AddMember("display", Str(source_id, a), a);
    agent.AddMember("who", std::move(who), a);
  }
  Json agents(rapidjson::kArrayType);
  agents.PushBack(std::move(agent), a);
  prov.AddMember("agent", std::move(agents), a);
  Json entity(rapidjson::kObjectType);
  entity.AddMember("role", "source", a);
  Json what(rapidjson::kObjectType);
  Json wid(rapidjson::kObjectType);
  wid.AddMember("system", Str("urn:lhcr:fhir-bundle:" + source_id, a), a);
  wid.AddMember("value", Str(out.key, a), a);
  what.AddMember("identifier", std::move(wid), a);
  what.AddMember("display", "FHIR transaction Bundle", a);
  entity.AddMember("what", std::move(what), a);
  Json entities(rapidjson::kArrayType);
  entities.PushBack(std::move(entity), a);
  prov.AddMember("entity", std::move(entities), a);
  Json pe(rapidjson::kObjectType);
  pe.AddMember("fullUrl", Str("urn:uuid:" + StableUuid(prov_id), a), a);
  pe.AddMember("resource", std::move(prov), a);
  Json preq(rapidjson::kObjectType);
  preq.AddMember("method", "PUT", a);
  preq.AddMember("url", Str("Provenance/" + prov_id, a), a);
  pe.AddMember("request", std::move(preq), a);
  entries->PushBack(std::move(pe), a);
  out.bundle_json = fhir::ToJsonKeepingNumbers(doc, texts, "");
  return out;
}

}  // namespace lhcr::ingest
