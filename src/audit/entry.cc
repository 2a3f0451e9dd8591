#include "audit/entry.h"

#include <openssl/evp.h>

#include <charconv>

#include "fhir/json.h"
#include "fhir/search_index.h"

namespace lhcr::audit {
namespace {

constexpr std::string_view kPrefix = "{\"resourceType\":\"AuditEvent\",\"id\":\"";
// After the members: the chain extension, whose last value is the hash.
std::string ChainOpen() {
  return std::string(",\"extension\":[{\"url\":\"") + kChainExtensionUrl +
         "\",\"extension\":[{\"url\":\"sequence\",\"valueString\":\"";
}
constexpr std::string_view kPrevOpen = "\"},{\"url\":\"previous\",\"valueString\":\"";
constexpr std::string_view kHashOpen = "\"},{\"url\":\"hash\",\"valueString\":\"";
constexpr std::string_view kClose = "\"}]}]}";
constexpr size_t kHashLen = 64;

using fhir::Json;
using fhir::JsonDoc;

Json Str(std::string_view s, rapidjson::MemoryPoolAllocator<>& a) {
  return Json(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

Json Coding(std::string_view system, std::string_view code, std::string_view display,
            rapidjson::MemoryPoolAllocator<>& a) {
  Json c(rapidjson::kObjectType);
  c.AddMember("system", Str(system, a), a);
  c.AddMember("code", Str(code, a), a);
  if (!display.empty()) c.AddMember("display", Str(display, a), a);
  return c;
}

Json Concept(Json coding, rapidjson::MemoryPoolAllocator<>& a) {
  Json cc(rapidjson::kObjectType);
  Json list(rapidjson::kArrayType);
  list.PushBack(std::move(coding), a);
  cc.AddMember("coding", std::move(list), a);
  return cc;
}

Json Reference(std::string_view type, std::string_view id, rapidjson::MemoryPoolAllocator<>& a) {
  Json r(rapidjson::kObjectType);
  r.AddMember("reference", Str(std::string(type) + "/" + std::string(id), a), a);
  return r;
}

bool IsHex(std::string_view s) {
  if (s.size() != kHashLen) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string_view ActorKindName(ActorKind k) {
  switch (k) {
    case ActorKind::kProfessional:
      return "professional";
    case ActorKind::kPatient:
      return "patient";
    case ActorKind::kSystem:
      return "system";
    default:
      return "anonymous";
  }
}

std::string Sha256Hex(std::string_view text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(len * 2, '0');
  for (unsigned int i = 0; i < len; ++i) {
    out[2 * i] = kHex[md[i] >> 4];
    out[2 * i + 1] = kHex[md[i] & 15];
  }
  return out;
}

std::string Base64(std::string_view s) {
  std::string out(4 * ((s.size() + 2) / 3) + 1, '\0');
  int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

PreparedEntry PrepareEntry(const Event& e, const fhir::SearchParamRegistry& params,
                           bool direct_rows) {
  JsonDoc doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  const std::string recorded = FormatInstant(e.recorded);
  doc.AddMember("resourceType", "AuditEvent", a);
  {
    Json meta(rapidjson::kObjectType);
    meta.AddMember("versionId", "1", a);
    meta.AddMember("lastUpdated", Str(recorded, a), a);
    doc.AddMember("meta", std::move(meta), a);
  }
  doc.AddMember("type", Coding(kTypeSystem, "rest", "RESTful Operation", a), a);
  if (!e.subtype.empty()) {
    Json sub(rapidjson::kArrayType);
    sub.PushBack(Coding(kSubtypeSystem, e.subtype, "", a), a);
    doc.AddMember("subtype", std::move(sub), a);
  }
  char action[2] = {e.action, 0};
  doc.AddMember("action", Str(action, a), a);
  doc.AddMember("recorded", Str(recorded, a), a);
  doc.AddMember("outcome", Str(std::to_string(static_cast<int>(e.outcome)), a), a);
  if (!e.outcome_desc.empty()) doc.AddMember("outcomeDesc", Str(e.outcome_desc, a), a);

  const Actor& who = e.actor;
  const std::string purpose = !who.purpose_of_use.empty()       ? who.purpose_of_use
                              : !who.break_glass_reason.empty() ? "ETREAT"
                                                                : "";
  Json agents(rapidjson::kArrayType);
  {
    Json ag(rapidjson::kObjectType);
    ag.AddMember("type",
                 Concept(Coding("https://lhcr.example/fhir/CodeSystem/actor-kind",
                                ActorKindName(who.kind), "", a),
                         a),
                 a);
    if (!who.role.empty()) {
      Json roles(rapidjson::kArrayType);
      roles.PushBack(Concept(Coding(kRoleSystem, who.role, "", a), a), a);
      ag.AddMember("role", std::move(roles), a);
    }
    Json w(rapidjson::kObjectType);
    if (who.kind == ActorKind::kPatient && !who.patient_id.empty()) {
      w.AddMember("reference", Str("Patient/" + who.patient_id, a), a);
    }
    Json ident(rapidjson::kObjectType);
    ident.AddMember("system", Str(kUserSystem, a), a);
    ident.AddMember("value", Str(who.user.empty() ? "anonymous" : who.user, a), a);
    w.AddMember("identifier", std::move(ident), a);
    ag.AddMember("who", std::move(w), a);
    ag.AddMember("name", Str(who.user.empty() ? "anonymous" : who.user, a), a);
    ag.AddMember("requestor", true, a);
    if (!e.address.empty()) {
      Json net(rapidjson::kObjectType);
      net.AddMember("address", Str(e.address, a), a);
      net.AddMember("type", "2", a);  // IP address
      ag.AddMember("network", std::move(net), a);
    }
    if (!purpose.empty()) {
      Json pou(rapidjson::kArrayType);
      pou.PushBack(
          Concept(Coding("http://terminology.hl7.org/CodeSystem/v3-ActReason", purpose, "", a), a),
          a);
      ag.AddMember("purposeOfUse", std::move(pou), a);
    }
    if (!who.break_glass_reason.empty()) {
      Json ext(rapidjson::kArrayType);
      Json x(rapidjson::kObjectType);
      x.AddMember("url", Str(kBreakGlassExtensionUrl, a), a);
      x.AddMember("valueString", Str(who.break_glass_reason, a), a);
      ext.PushBack(std::move(x), a);
      ag.AddMember("extension", std::move(ext), a);
    }
    agents.PushBack(std::move(ag), a);
  }
  if (!who.org.empty()) {
    Json ag(rapidjson::kObjectType);
    ag.AddMember("type",
                 Concept(Coding("http://terminology.hl7.org/CodeSystem/v3-RoleClass", "PROV",
                                "healthcare provider", a),
                         a),
                 a);
    Json w(rapidjson::kObjectType);
    Json ident(rapidjson::kObjectType);
    ident.AddMember("system", Str(kOdsSystem, a), a);
    ident.AddMember("value", Str(who.org, a), a);
    w.AddMember("identifier", std::move(ident), a);
    ag.AddMember("who", std::move(w), a);
    ag.AddMember("requestor", false, a);
    agents.PushBack(std::move(ag), a);
  }
  doc.AddMember("agent", std::move(agents), a);
  {
    Json src(rapidjson::kObjectType);
    Json obs(rapidjson::kObjectType);
    obs.AddMember("display", "lhcr", a);
    src.AddMember("observer", std::move(obs), a);
    Json types(rapidjson::kArrayType);
    types.PushBack(Coding("http://terminology.hl7.org/CodeSystem/security-source-type", "4",
                          "Application Server", a),
                   a);
    src.AddMember("type", std::move(types), a);
    doc.AddMember("source", std::move(src), a);
  }
  Json entities(rapidjson::kArrayType);
  for (const std::string& p : e.patients) {
    Json en(rapidjson::kObjectType);
    en.AddMember("what", Reference("Patient", p, a), a);
    en.AddMember("type", Coding(kEntityTypeSystem, "1", "Person", a), a);
    en.AddMember("role", Coding(kObjectRoleSystem, "1", "Patient", a), a);
    entities.PushBack(std::move(en), a);
  }
  for (const EntityRef& r : e.entities) {
    if (r.type == "Patient" && !r.id.empty() &&
        std::find(e.patients.begin(), e.patients.end(), r.id) != e.patients.end()) {
      continue;  // already there as the Patient
    }
    Json en(rapidjson::kObjectType);
    if (!r.id.empty()) en.AddMember("what", Reference(r.type, r.id, a), a);
    en.AddMember("type", Coding(kResourceTypeSystem, r.type, "", a), a);
    if (r.id.empty()) {
      en.AddMember("role", Coding(kObjectRoleSystem, "24", "Query", a), a);
      if (!e.query.empty()) en.AddMember("query", Str(Base64(e.query), a), a);
    } else {
      en.AddMember("role", Coding(kObjectRoleSystem, "4", "Domain Resource", a), a);
    }
    if (!e.method_path.empty()) en.AddMember("description", Str(e.method_path, a), a);
    entities.PushBack(std::move(en), a);
  }
  if (entities.Empty() && !e.method_path.empty()) {
    Json en(rapidjson::kObjectType);
    en.AddMember("description", Str(e.method_path, a), a);
    if (!e.query.empty()) en.AddMember("query", Str(Base64(e.query), a), a);
    entities.PushBack(std::move(en), a);
  }
  if (!entities.Empty()) doc.AddMember("entity", std::move(entities), a);

  PreparedEntry p;
  p.recorded = e.recorded;
  p.rows = direct_rows && PlainEvent(e) ? DirectRows(e) : fhir::ExtractIndexRows(doc, params);
  std::string text = fhir::ToJson(doc);
  // `{"resourceType":"AuditEvent",` ... `}`: keep what is between.
  constexpr std::string_view kHead = "{\"resourceType\":\"AuditEvent\",";
  p.members = text.substr(kHead.size(), text.size() - kHead.size() - 1);
  return p;
}

std::string SealEntry(const PreparedEntry& p, int64_t seq, std::string_view prev,
                      std::string* hash) {
  const std::string n = std::to_string(seq);
  const std::string open = ChainOpen();
  std::string out;
  out.reserve(kPrefix.size() + n.size() * 2 + 3 + p.members.size() + open.size() +
              kPrevOpen.size() + prev.size() + kHashOpen.size() + kHashLen + kClose.size());
  out.append(kPrefix).append(n).append("\",").append(p.members).append(open).append(n);
  out.append(kPrevOpen).append(prev).append(kHashOpen);
  const size_t at = out.size();
  out.append(kGenesisHash).append(kClose);
  *hash = Sha256Hex(out);
  out.replace(at, kHashLen, *hash);
  return out;
}

Result<ParsedEntry> ParseEntry(std::string_view text) {
  if (text.substr(0, kPrefix.size()) != kPrefix) {
    return Status::Incorrect("not an lhcr AuditEvent (its text does not start as one)");
  }
  ParsedEntry e;
  std::string_view rest = text.substr(kPrefix.size());
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), e.seq);
  if (ec != std::errc() || e.seq <= 0 || end == rest.data() || *end != '"') {
    return Status::Incorrect("its id is not a sequence number");
  }
  const std::string id(rest.data(), end);
  const std::string open = ChainOpen();
  const size_t at = text.rfind(open);
  if (at == std::string_view::npos) return Status::Incorrect("it has no chain extension");
  std::string_view chain = text.substr(at + open.size());
  if (chain.substr(0, id.size()) != id || chain.substr(id.size(), kPrevOpen.size()) != kPrevOpen) {
    return Status::Incorrect("its chain sequence number is not its id " + id);
  }
  chain.remove_prefix(id.size() + kPrevOpen.size());
  e.prev = std::string(chain.substr(0, kHashLen));
  if (!IsHex(e.prev) || chain.substr(kHashLen, kHashOpen.size()) != kHashOpen) {
    return Status::Incorrect("its previous-entry hash is malformed");
  }
  chain.remove_prefix(kHashLen + kHashOpen.size());
  e.hash = std::string(chain.substr(0, kHashLen));
  if (!IsHex(e.hash) || chain.substr(kHashLen) != kClose) {
    return Status::Incorrect("its hash is malformed or text follows it");
  }
  std::string blank(text);
  blank.replace(text.size() - kClose.size() - kHashLen, kHashLen, kGenesisHash);
  e.recomputed = Sha256Hex(blank);
  return e;
}

}  // namespace lhcr::audit
