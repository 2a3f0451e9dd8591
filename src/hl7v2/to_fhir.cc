#include "hl7v2/to_fhir.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include "base/ids.h"
#include "base/text.h"
#include "fhir/json.h"
#include "fhir/resource_builder.h"

namespace lhcr::hl7v2 {
namespace {

using text::CleanText;
using text::Code;
using text::PercentEncode;
using text::Slug;
using text::Upper;

using fhir::Json;
using fhir::JsonDoc;
using Alloc = rapidjson::MemoryPoolAllocator<>;

constexpr std::string_view kV2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203";
constexpr std::string_view kActCode = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
constexpr std::string_view kInterp =
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
constexpr std::string_view kLoinc = "http://loinc.org";
constexpr std::string_view kUcum = "http://unitsofmeasure.org";
constexpr std::string_view kVerificationExt =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus";
constexpr std::string_view kVerificationCs =
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland";

// ------------------------------------------------------------ text helpers






std::string Uuid(std::string_view seed) { return StableUuid(seed); }

// A FHIR decimal from an NM value ("+5", ".5", "007.10"); nullopt if not a
// number.
std::optional<std::string> Decimal(std::string_view s) {
  std::string t = CleanText(s);
  std::string_view v = t;
  bool neg = false;
  if (!v.empty() && (v[0] == '+' || v[0] == '-')) {
    neg = v[0] == '-';
    v.remove_prefix(1);
  }
  size_t dot = v.find('.');
  std::string_view ip = v.substr(0, dot);
  std::string_view fp = dot == std::string_view::npos ? std::string_view() : v.substr(dot + 1);
  if (ip.empty() && fp.empty()) return std::nullopt;
  if (ip.size() + fp.size() > 30) return std::nullopt;
  for (char c : ip) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  for (char c : fp) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  while (ip.size() > 1 && ip[0] == '0') ip.remove_prefix(1);
  std::string out = neg ? "-" : "";
  out += ip.empty() ? "0" : std::string(ip);
  if (!fp.empty()) out += "." + std::string(fp);
  if (out == "-0" || out.rfind("-0.", 0) == 0) {
    bool zero =
        std::all_of(out.begin() + 1, out.end(), [](char c) { return c == '0' || c == '.'; });
    if (zero) out.erase(0, 1);
  }
  return out;
}

// ------------------------------------------------------------ JSON building

using Builder = fhir::ResourceBuilder;

// v2 coding system names to FHIR system URIs (HL7 table 0396 and common
// local spellings); empty when the name is not known.
std::string KnownSystem(std::string_view name) {
  std::string n = Upper(std::string(name));
  if (n == "LN" || n == "LOINC") return std::string(kLoinc);
  if (n == "SCT" || n == "SNM" || n == "SNOMED" || n == "SNOMEDCT" || n == "SNM3")
    return "http://snomed.info/sct";
  if (n == "UCUM") return std::string(kUcum);
  if (n == "I10" || n == "ICD10") return "http://hl7.org/fhir/sid/icd-10";
  if (n == "I9" || n == "I9C") return "http://hl7.org/fhir/sid/icd-9-cm";
  if (n.size() == 7 && n.rfind("HL7", 0) == 0) {
    return "http://terminology.hl7.org/CodeSystem/v2-" + n.substr(3);
  }
  return {};
}

using PendingEntry = fhir::PutEntry;

class Mapper {
 public:
  Mapper(const Message& m, const SourceInfo& s) : m_(m), s_(s), b_(doc_.GetAllocator()) {}

  Result<MappedMessage> Run();

 private:
  void Find(std::string location, std::string code, std::string message) {
    out_.findings.push_back({std::move(location), std::move(code), std::move(message)});
  }
  std::optional<FhirTime> Time(const Segment& seg, int field, int comp = 1) {
    std::string raw = seg.Get(field, 1, comp);
    if (raw.empty()) return std::nullopt;
    auto t = ParseTs(raw, s_.default_offset);
    if (!t.ok()) {
      Find(std::string(seg.name()) + "-" + std::to_string(field), "invalid-date",
           t.status().message());
      return std::nullopt;
    }
    return *t;
  }
  // An instant needs seconds and an offset: only full times qualify.
  static bool IsInstant(const FhirTime& t) { return t.precision >= FhirTime::Precision::kHour; }
  void Stamp(Json& resource);
  Status MapPatient();
  void MapEncounter(const std::string& status);
  Status MapResults();
  Json CodeableFromCwe(const Segment& seg, int field, int rep, bool local_lab, std::string* key);
  Json Practitioner(const Segment& seg, int field, int rep);
  std::string Add(std::string url, Json resource,
                  std::vector<std::pair<std::string, std::string>> numbers = {});
  void Finish();

  const Message& m_;
  const SourceInfo& s_;
  JsonDoc doc_;
  Builder b_;
  MappedMessage out_;
  std::vector<PendingEntry> entries_;
  std::string patient_url_;
  std::string encounter_url_;
  Identifier patient_key_;
  std::string meta_source_;
  std::set<std::string> used_ids_;
};

std::string Mapper::Add(std::string url, Json resource,
                        std::vector<std::pair<std::string, std::string>> numbers) {
  std::string full = "urn:uuid:" + Uuid(s_.source_id + "#" + out_.control_id + "#" +
                                        std::to_string(entries_.size()) + "#" + url);
  Stamp(resource);
  entries_.push_back({full, std::move(url), std::move(resource), std::move(numbers)});
  return full;
}

void Mapper::Stamp(Json& r) {
  Json meta = b_.Obj();
  b_.Put(meta, "source", meta_source_);
  b_.Put(r, "meta", std::move(meta));
  if (!out_.message_time.empty()) {
    Json ext = b_.Arr();
    Json e = b_.Obj();
    b_.Put(e, "url", kMessageTimeExtension);
    b_.Put(e, "valueDateTime", out_.message_time);
    b_.Push(ext, std::move(e));
    b_.Put(r, "extension", std::move(ext));
  }
}

Json Mapper::Practitioner(const Segment& seg, int field, int rep) {
  std::string id = seg.Get(field, rep, 1);
  std::vector<std::string> parts;
  for (int c : {6, 3, 4, 2}) {  // prefix, given, middle, family
    std::string p = CleanText(seg.Get(field, rep, c));
    if (!p.empty()) parts.push_back(p);
  }
  std::string display;
  for (const std::string& p : parts) display += (display.empty() ? "" : " ") + p;
  Json ref = b_.Obj();
  if (id.empty() && display.empty()) return ref;
  b_.Put(ref, "type", "Practitioner");
  std::string system = s_.practitioner_id_system;
  if (id.size() == 8 && (id[0] == 'G' || id[0] == 'g') &&
      std::all_of(id.begin() + 1, id.end(), ::isdigit)) {
    system = "https://fhir.hl7.org.uk/Id/gmp-number";
  } else if (id.size() == 7 && std::all_of(id.begin(), id.end(), ::isdigit) &&
             seg.Get(field, rep, 9).empty()) {
    system = "https://fhir.hl7.org.uk/Id/gmc-number";
  }
  if (!CleanText(id).empty()) b_.Put(ref, "identifier", b_.IdentifierJson(system, id));
  b_.Put(ref, "display", display);
  return ref;
}

Status Mapper::MapPatient() {
  auto pid = m_.Find("PID");
  if (!pid) {
    return Status::Incorrect(m_.Event() + ": no PID segment").WithDetails({{"100", "PID", ""}});
  }
  Json p = b_.Obj();
  b_.Put(p, "resourceType", "Patient");
  // Identifiers: PID-3 (and PID-2, where v2.3 feeds put the NHS number).
  struct Cx {
    std::string id, authority, type;
    int field, rep;
  };
  std::vector<Cx> cxs;
  for (int field : {3, 2}) {
    for (int r = 1; r <= std::min(pid->RepetitionCount(field), 50); ++r) {
      Cx cx{CleanText(pid->Get(field, r, 1)), CleanText(pid->Get(field, r, 4, 1)),
            Upper(CleanText(pid->Get(field, r, 5))), field, r};
      if (cx.authority.empty()) cx.authority = CleanText(pid->Get(field, r, 4, 2));
      if (!cx.id.empty()) cxs.push_back(cx);
    }
  }
  auto is_nhs = [](const Cx& c) {
    return c.type == "NH" || Upper(c.authority) == "NHS" ||
           c.authority == "2.16.840.1.113883.2.1.4.1";
  };
  const Cx* key = nullptr;
  for (const char* want : {"MR", "PI", "PT", ""}) {
    for (const Cx& c : cxs) {
      if (key == nullptr && !is_nhs(c) && c.field == 3 && c.type == want) key = &c;
    }
  }
  for (const Cx& c : cxs) {
    if (key == nullptr && !is_nhs(c) && c.field == 3) key = &c;
  }
  Json ids = b_.Arr();
  std::optional<Identifier> nhs;
  std::set<std::pair<std::string, std::string>> seen;
  std::string verification = CleanText(pid->Get(32));
  for (const Cx& c : cxs) {
    std::string loc =
        "PID-" + std::to_string(c.field) + (c.rep > 1 ? "[" + std::to_string(c.rep) + "]" : "");
    Json id = b_.Obj();
    std::string system;
    std::string value = c.id;
    if (is_nhs(c)) {
      std::string digits;
      for (char ch : c.id) {
        if (ch != ' ' && ch != '-') digits.push_back(ch);
      }
      if (!IsValidNhsNumber(digits)) {
        Find(loc, "invalid-nhs-number",
             "'" + c.id + "' is not a valid NHS number (modulus 11); not stored as one");
        continue;
      }
      if (digits.rfind("999", 0) == 0) {
        Find(loc, "test-nhs-number", "NHS number " + digits + " is in the test range 999");
      }
      system = std::string(kNhsNumberSystem);
      value = digits;
      if (verification.size() == 2 && verification[0] == '0' && verification[1] >= '1' &&
          verification[1] <= '8') {
        Json ext = b_.Obj();
        b_.Put(ext, "url", kVerificationExt);
        b_.Put(ext, "valueCodeableConcept", b_.Concept(b_.Coding(kVerificationCs, verification)));
        Json exts = b_.Arr();
        b_.Push(exts, std::move(ext));
        b_.Put(id, "extension", std::move(exts));
      }
      if (!nhs) nhs = Identifier{system, value};
    } else if (&c == key ||
               ((c.type == "MR" || c.type == "PI" || c.type == "PT" || c.type.empty()) &&
                key != nullptr && c.authority == key->authority)) {
      system = s_.patient_id_system;
    } else {
      system = s_.patient_id_system + "/" + Slug(c.authority.empty() ? c.type : c.authority);
      if (!c.type.empty()) b_.Put(id, "type", b_.Concept(b_.Coding(kV2_0203, c.type)));
    }
    if (!seen.insert({system, value}).second) continue;
    if (&c == key) b_.Put(id, "use", "usual");
    b_.Put(id, "system", system);
    b_.Put(id, "value", value);
    b_.Push(ids, std::move(id));
  }
  if (key != nullptr) {
    patient_key_ = {s_.patient_id_system, key->id};
  } else if (nhs) {
    patient_key_ = *nhs;
  } else {
    return Status::Incorrect(
               "PID-3: no usable patient identifier (a local id or a valid NHS number)")
        .WithDetails({{"101", "PID-3", "no usable patient identifier"}});
  }
  b_.Put(p, "identifier", std::move(ids));
  b_.Put(p, "active", Json(true));

  // Names.
  Json names = b_.Arr();
  for (int r = 1; r <= std::min(pid->RepetitionCount(5), 20); ++r) {
    Json n = b_.Obj();
    std::string type = Upper(CleanText(pid->Get(5, r, 7)));
    static const std::map<std::string, std::string> kUse = {
        {"L", "official"}, {"D", "usual"},    {"M", "maiden"}, {"N", "nickname"},
        {"A", "usual"},    {"B", "official"}, {"T", "temp"},   {"BAD", "old"}};
    if (auto it = kUse.find(type); it != kUse.end()) b_.Put(n, "use", it->second);
    b_.Put(n, "family", pid->Get(5, r, 1, 1));
    Json given = b_.Arr();
    b_.Push(given, b_.Str(pid->Get(5, r, 2)));
    b_.Push(given, b_.Str(pid->Get(5, r, 3)));
    b_.Put(n, "given", std::move(given));
    Json prefix = b_.Arr();
    b_.Push(prefix, b_.Str(pid->Get(5, r, 5)));
    b_.Put(n, "prefix", std::move(prefix));
    Json suffix = b_.Arr();
    b_.Push(suffix, b_.Str(pid->Get(5, r, 4)));
    b_.Push(suffix, b_.Str(pid->Get(5, r, 6)));
    b_.Put(n, "suffix", std::move(suffix));
    b_.Push(names, std::move(n));
  }
  if (names.Empty()) Find("PID-5", "missing-item", "no patient name");
  b_.Put(p, "name", std::move(names));

  // Telecom: PID-13 home, PID-14 business.
  Json telecom = b_.Arr();
  for (int field : {13, 14}) {
    for (int r = 1; r <= std::min(pid->RepetitionCount(field), 20); ++r) {
      std::string equip = Upper(CleanText(pid->Get(field, r, 3)));
      std::string use = Upper(CleanText(pid->Get(field, r, 2)));
      std::string value = CleanText(pid->Get(field, r, 1));
      std::string email = CleanText(pid->Get(field, r, 4));
      bool is_email = equip == "INTERNET" || equip == "X.400" || use == "NET";
      if (is_email && !email.empty()) value = email;
      if (value.empty()) {
        std::string cc = CleanText(pid->Get(field, r, 5));
        std::string area = CleanText(pid->Get(field, r, 6));
        std::string local = CleanText(pid->Get(field, r, 7));
        if (!local.empty())
          value = (cc.empty() ? "" : "+" + cc + " ") + area + (area.empty() ? "" : " ") + local;
      }
      if (value.empty()) continue;
      Json t = b_.Obj();
      std::string system = is_email                        ? "email"
                           : equip == "FX"                 ? "fax"
                           : equip == "BP" || use == "BPN" ? "pager"
                                                           : "phone";
      b_.Put(t, "system", system);
      b_.Put(t, "value", value);
      std::string fuse = equip == "CP" ? "mobile" : field == 13 ? "home" : "work";
      if (use == "WPN") fuse = "work";
      b_.Put(t, "use", fuse);
      b_.Push(telecom, std::move(t));
    }
  }
  b_.Put(p, "telecom", std::move(telecom));

  static const std::map<std::string, std::string> kGender = {{"M", "male"},    {"F", "female"},
                                                             {"O", "other"},   {"A", "other"},
                                                             {"U", "unknown"}, {"N", "unknown"}};
  std::string sex = Upper(CleanText(pid->Get(8)));
  if (auto it = kGender.find(sex); it != kGender.end()) {
    b_.Put(p, "gender", it->second);
  } else if (!sex.empty()) {
    Find("PID-8", "unmapped-code", "administrative sex '" + sex + "' not in table 0001");
  }
  if (std::string dob = pid->Get(7); !dob.empty()) {
    auto d = ParseDate(dob);
    if (d.ok()) {
      b_.Put(p, "birthDate", *d);
    } else {
      Find("PID-7", "invalid-date", d.status().message());
    }
  }
  if (auto death = Time(*pid, 29)) {
    b_.Put(p, "deceasedDateTime", death->value);
  } else if (Upper(CleanText(pid->Get(30))) == "Y") {
    b_.Put(p, "deceasedBoolean", Json(true));
  }

  // Addresses.
  Json addresses = b_.Arr();
  for (int r = 1; r <= std::min(pid->RepetitionCount(11), 20); ++r) {
    Json a = b_.Obj();
    std::string type = Upper(CleanText(pid->Get(11, r, 7)));
    if (type == "H" || type == "P") b_.Put(a, "use", "home");
    if (type == "B" || type == "O") b_.Put(a, "use", "work");
    if (type == "C") b_.Put(a, "use", "temp");
    if (type == "BA") b_.Put(a, "use", "old");
    if (type == "M") b_.Put(a, "type", "postal");
    Json lines = b_.Arr();
    b_.Push(lines, b_.Str(pid->Get(11, r, 1, 1)));
    b_.Push(lines, b_.Str(pid->Get(11, r, 2)));
    b_.Put(a, "line", std::move(lines));
    b_.Put(a, "city", pid->Get(11, r, 3));
    b_.Put(a, "district", pid->Get(11, r, 4));
    // A UK postcode is stored in its canonical form ("LS1 4AP").
    std::string pc = Upper(CleanText(pid->Get(11, r, 5)));
    std::string compact;
    for (char c : pc) {
      if (c != ' ') compact.push_back(c);
    }
    bool uk = compact.size() >= 5 && compact.size() <= 7 &&
              std::isalpha(static_cast<unsigned char>(compact[0])) &&
              std::isdigit(static_cast<unsigned char>(compact[compact.size() - 3])) &&
              std::isalpha(static_cast<unsigned char>(compact[compact.size() - 2])) &&
              std::isalpha(static_cast<unsigned char>(compact[compact.size() - 1])) &&
              std::all_of(compact.begin(), compact.end(), ::isalnum);
    b_.Put(a, "postalCode",
           uk ? compact.substr(0, compact.size() - 3) + " " + compact.substr(compact.size() - 3)
              : CleanText(pid->Get(11, r, 5)));
    b_.Put(a, "country", pid->Get(11, r, 6));
    b_.Push(addresses, std::move(a));
  }
  b_.Put(p, "address", std::move(addresses));

  // Registered GP practice and GP (PD1-3, PD1-4).
  if (auto pd1 = m_.Find("PD1")) {
    Json gps = b_.Arr();
    std::string ods = CleanText(pd1->Get(3, 1, 10));
    if (ods.empty()) ods = CleanText(pd1->Get(3, 1, 3));
    std::string practice = pd1->Get(3, 1, 1);
    if (!ods.empty() || !CleanText(practice).empty()) {
      Json ref = b_.Obj();
      b_.Put(ref, "type", "Organization");
      if (!ods.empty()) b_.Put(ref, "identifier", b_.IdentifierJson(kOdsSystem, Upper(ods)));
      b_.Put(ref, "display", practice);
      b_.Push(gps, std::move(ref));
    }
    b_.Push(gps, Practitioner(*pd1, 4, 1));
    b_.Put(p, "generalPractitioner", std::move(gps));
  }
  if (!s_.ods_code.empty()) {
    Json org = b_.Obj();
    b_.Put(org, "type", "Organization");
    b_.Put(org, "identifier", b_.IdentifierJson(kOdsSystem, s_.ods_code));
    b_.Put(p, "managingOrganization", std::move(org));
  }
  if (m_.TriggerEvent() == "A29") {
    p["active"] = false;
    Find("EVN", "person-deleted", "A29: the source deleted this person; Patient.active = false");
  }
  patient_url_ = Add("Patient?identifier=" + PercentEncode(patient_key_.system) + "|" +
                         PercentEncode(patient_key_.value),
                     std::move(p));
  return Status::Ok();
}

void Mapper::MapEncounter(const std::string& status) {
  auto pv1 = m_.Find("PV1");
  if (!pv1) return;
  std::string visit = CleanText(pv1->Get(19, 1, 1));
  if (visit.empty()) {
    if (!CleanText(pv1->Get(2)).empty() || !CleanText(pv1->Get(3)).empty()) {
      Find("PV1-19", "missing-item", "no visit number: the visit is not stored as an Encounter");
    }
    return;
  }
  Json e = b_.Obj();
  b_.Put(e, "resourceType", "Encounter");
  Json ids = b_.Arr();
  b_.Push(ids, b_.IdentifierJson(s_.visit_id_system, visit));
  b_.Put(e, "identifier", std::move(ids));
  b_.Put(e, "status", status);
  std::string pclass = Upper(CleanText(pv1->Get(2)));
  static const std::map<std::string, std::pair<std::string, std::string>> kClass = {
      {"I", {"IMP", "inpatient encounter"}}, {"O", {"AMB", "ambulatory"}},
      {"E", {"EMER", "emergency"}},          {"P", {"PRENC", "pre-admission"}},
      {"R", {"AMB", "ambulatory"}},          {"B", {"IMP", "inpatient encounter"}},
      {"C", {"AMB", "ambulatory"}},          {"N", {"AMB", "ambulatory"}}};
  if (auto it = kClass.find(pclass); it != kClass.end()) {
    b_.Put(e, "class", b_.Coding(kActCode, it->second.first, it->second.second));
  } else {
    if (!pclass.empty())
      Find("PV1-2", "unmapped-code", "patient class '" + pclass + "' not mapped");
    b_.Put(e, "class",
           b_.Coding("http://terminology.hl7.org/CodeSystem/v3-NullFlavor", "UNK", "unknown"));
  }
  b_.Put(e, "subject", b_.Ref(patient_url_));
  // Participants: attending (PV1-7), referring (8), consulting (9), admitting (17).
  Json parts = b_.Arr();
  for (auto [field, code] : {std::pair{7, "ATND"}, {8, "REF"}, {9, "CON"}, {17, "ADM"}}) {
    for (int r = 1; r <= std::min(pv1->RepetitionCount(field), 5); ++r) {
      Json who = Practitioner(*pv1, field, r);
      if (Builder::Empty(who)) continue;
      Json part = b_.Obj();
      Json types = b_.Arr();
      b_.Push(types, b_.Concept(b_.Coding(
                         "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", code)));
      b_.Put(part, "type", std::move(types));
      b_.Put(part, "individual", std::move(who));
      b_.Push(parts, std::move(part));
    }
  }
  b_.Put(e, "participant", std::move(parts));
  Json period = b_.Obj();
  auto admit = Time(*pv1, 44);
  auto discharge = Time(*pv1, 45);
  std::optional<FhirTime> event_time;
  if (auto evn = m_.Find("EVN")) {
    event_time = Time(*evn, 6);
    if (!event_time) event_time = Time(*evn, 2);
  }
  std::string ev = m_.TriggerEvent();
  if (!admit && (ev == "A01" || ev == "A04") && event_time) admit = event_time;
  if (!discharge && ev == "A03" && event_time) discharge = event_time;
  if (admit) b_.Put(period, "start", admit->value);
  if (discharge && (status == "finished" || ev == "A03")) b_.Put(period, "end", discharge->value);
  if (admit && discharge && discharge->epoch_millis < admit->epoch_millis) {
    Find("PV1-45", "invalid-date", "discharge before admission; period end not stored");
    period.RemoveMember("end");
  }
  b_.Put(e, "period", std::move(period));
  // Locations: current (PV1-3), prior (PV1-6) on a transfer.
  auto location = [&](int field) {
    std::vector<std::string> parts;
    for (int c : {1, 2, 3, 4}) {
      std::string v = CleanText(pv1->Get(field, 1, c, 1));
      if (!v.empty()) parts.push_back(v);
    }
    std::string d;
    for (const std::string& x : parts) d += (d.empty() ? "" : ", ") + x;
    return d;
  };
  Json locs = b_.Arr();
  std::string prior = location(6);
  if (!prior.empty() && ev == "A02") {
    Json l = b_.Obj();
    b_.Put(l, "location", b_.Ref("", prior));
    b_.Put(l, "status", "completed");
    b_.Push(locs, std::move(l));
  }
  std::string current = location(3);
  if (!current.empty()) {
    Json l = b_.Obj();
    b_.Put(l, "location", b_.Ref("", current));
    b_.Put(l, "status",
           status == "finished"  ? "completed"
           : status == "planned" ? "planned"
                                 : "active");
    b_.Push(locs, std::move(l));
  }
  b_.Put(e, "location", std::move(locs));
  if (!s_.ods_code.empty()) {
    Json org = b_.Obj();
    b_.Put(org, "type", "Organization");
    b_.Put(org, "identifier", b_.IdentifierJson(kOdsSystem, s_.ods_code));
    b_.Put(e, "serviceProvider", std::move(org));
  }
  encounter_url_ =
      Add("Encounter?identifier=" + PercentEncode(s_.visit_id_system) + "|" + PercentEncode(visit),
          std::move(e));
}

Json Mapper::CodeableFromCwe(const Segment& seg, int field, int rep, bool local_lab,
                             std::string* key) {
  Json codings = b_.Arr();
  std::string text;
  for (int base : {1, 4}) {
    std::string code = Code(seg.Get(field, rep, base));
    std::string display = seg.Get(field, rep, base + 1);
    std::string system_name = CleanText(seg.Get(field, rep, base + 2));
    if (text.empty()) text = CleanText(display);
    if (code.empty()) continue;
    if (key && key->empty()) *key = code;
    std::string known = KnownSystem(system_name);
    if (local_lab) {
      // The lab's own code is kept as sent, in the source's code system.
      b_.Push(codings, b_.Coding(s_.lab_code_system, code, display));
      if (known == kLoinc) b_.Push(codings, b_.Coding(kLoinc, code, display));
    } else {
      std::string system = known.empty() ? s_.lab_code_system : known;
      b_.Push(codings, b_.Coding(system, code, display));
    }
  }
  if (text.empty()) text = CleanText(seg.Get(field, rep, 9));
  Json cc = b_.Obj();
  b_.Put(cc, "coding", std::move(codings));
  b_.Put(cc, "text", text);
  return cc;
}

Status Mapper::MapResults() {
  struct Order {
    std::optional<Segment> obr;
    std::vector<std::pair<Segment, std::vector<Segment>>> obx;  // with NTEs
  };
  std::vector<Order> orders;
  std::optional<Segment> orc;
  for (size_t i = 0; i < m_.segment_count(); ++i) {
    Segment seg = m_.segment(i);
    std::string_view n = seg.name();
    if (n == "ORC") orc = seg;
    if (n == "OBR") orders.push_back({seg, {}});
    if (n == "OBX") {
      if (orders.empty()) orders.push_back({std::nullopt, {}});
      orders.back().obx.push_back({seg, {}});
    }
    if (n == "NTE" && !orders.empty() && !orders.back().obx.empty()) {
      orders.back().obx.back().second.push_back(seg);
    }
  }
  if (orders.empty()) Find("OBR", "missing-item", "ORU without OBR or OBX: no results stored");
  int order_no = 0;
  int obx_no = 0;
  for (Order& o : orders) {
    ++order_no;
    std::string loc = "OBR[" + std::to_string(order_no) + "]";
    std::string filler, placer;
    if (o.obr) {
      filler = CleanText(o.obr->Get(3, 1, 1));
      placer = CleanText(o.obr->Get(2, 1, 1));
    }
    if (filler.empty() && orc) filler = CleanText(orc->Get(3, 1, 1));
    std::string key = !filler.empty() ? filler : !placer.empty() ? "placer-" + placer : "";
    if (key.empty()) {
      key = "msg-" + out_.control_id + "-" + std::to_string(order_no);
      Find(loc + "-3", "missing-item",
           "no filler or placer order number: the report is keyed by the message control id");
    }
    std::vector<std::string> result_urls;
    std::set<std::string> obs_keys;
    std::optional<FhirTime> obr_time;
    if (o.obr) obr_time = Time(*o.obr, 7);
    for (auto& [obx, notes] : o.obx) {
      ++obx_no;
      std::string xloc = "OBX[" + std::to_string(obx_no) + "]";
      Json ob = b_.Obj();
      std::vector<std::pair<std::string, std::string>> numbers;
      b_.Put(ob, "resourceType", "Observation");
      std::string code_key;
      Json code = CodeableFromCwe(obx, 3, 1, true, &code_key);
      if (Builder::Empty(code)) {
        Find(xloc + "-3", "missing-item", "no observation code");
        code = b_.Obj();
        b_.Put(code, "text", "unknown");
      }
      std::string sub = CleanText(obx.Get(4));
      std::string okey =
          key + "-" + (code_key.empty() ? "obx" : code_key) + (sub.empty() ? "" : "-" + sub);
      if (!obs_keys.insert(okey).second) {
        okey += "-" + CleanText(obx.Get(1));
        for (int n = 2; !obs_keys.insert(okey).second; ++n) okey += "-" + std::to_string(n);
      }
      Json ids = b_.Arr();
      b_.Push(ids, b_.IdentifierJson(s_.observation_id_system, okey));
      b_.Put(ob, "identifier", std::move(ids));
      static const std::map<std::string, std::string> kStatus = {
          {"F", "final"},       {"C", "corrected"},        {"P", "preliminary"},
          {"R", "preliminary"}, {"S", "preliminary"},      {"I", "registered"},
          {"X", "cancelled"},   {"D", "entered-in-error"}, {"W", "entered-in-error"},
          {"U", "final"},       {"A", "amended"},          {"O", "registered"}};
      std::string st = Upper(CleanText(obx.Get(11)));
      auto sit = kStatus.find(st);
      if (sit == kStatus.end()) {
        Find(xloc + "-11", st.empty() ? "missing-item" : "unmapped-code",
             "result status '" + st + "' not mapped: status unknown");
      }
      b_.Put(ob, "status", sit == kStatus.end() ? "unknown" : sit->second);
      Json cats = b_.Arr();
      b_.Push(cats,
              b_.Concept(b_.Coding("http://terminology.hl7.org/CodeSystem/observation-category",
                                   "laboratory")));
      b_.Put(ob, "category", std::move(cats));
      b_.Put(ob, "code", std::move(code));
      b_.Put(ob, "subject", b_.Ref(patient_url_));
      if (!encounter_url_.empty()) b_.Put(ob, "encounter", b_.Ref(encounter_url_));
      auto when = Time(obx, 14);
      if (!when) when = obr_time;
      if (when) b_.Put(ob, "effectiveDateTime", when->value);
      // The value, by OBX-2.
      std::string vt = Upper(CleanText(obx.Get(2)));
      std::string unit_code = CleanText(obx.Get(6, 1, 1));
      std::string unit_text = CleanText(obx.Get(6, 1, 2));
      std::string unit_system = KnownSystem(CleanText(obx.Get(6, 1, 3)));
      auto quantity = [&](const std::string& dec, std::string_view comparator,
                          const std::string& ptr) {
        Json q = b_.Obj();
        b_.Put(q, "value", Json(std::strtod(dec.c_str(), nullptr)));
        numbers.push_back({ptr + "/value", dec});
        b_.Put(q, "comparator", comparator);
        b_.Put(q, "unit", unit_text.empty() ? unit_code : unit_text);
        if (unit_system == kUcum && !unit_code.empty()) {
          b_.Put(q, "system", kUcum);
          b_.Put(q, "code", Code(unit_code));
        }
        return q;
      };
      int reps = obx.RepetitionCount(5);
      if (reps > 1 && vt != "TX" && vt != "FT" && vt != "ST") {
        Find(xloc + "-5", "unmapped-value",
             "only the first of " + std::to_string(reps) + " values is kept");
      }
      std::string v1 = CleanText(obx.Get(5, 1, 1));
      if (reps == 0 || obx.IsNull(5)) {
        // No value: a pending or cancelled result.
      } else if (vt == "NM") {
        std::string raw = v1;
        std::string comparator;
        for (std::string_view c : {"<=", ">=", "<", ">"}) {
          if (raw.rfind(c, 0) == 0) {
            comparator = std::string(c);
            raw = CleanText(raw.substr(c.size()));
            break;
          }
        }
        if (auto dec = Decimal(raw)) {
          b_.Put(ob, "valueQuantity", quantity(*dec, comparator, "/valueQuantity"));
        } else {
          Find(xloc + "-5", "unmapped-value", "'" + v1 + "' is not a number (NM): kept as text");
          b_.Put(ob, "valueString", v1);
        }
      } else if (vt == "ST" || vt == "TX" || vt == "FT") {
        std::string text;
        for (int r = 1; r <= std::min(reps, 1000); ++r) {
          std::string part = obx.Get(5, r, 1);
          if (obx.RawAt(5, r, 0).find(m_.encoding().component) != std::string_view::npos) {
            part = m_.Decode(obx.RawAt(5, r, 0));  // a text value holds no components
          }
          text += (r > 1 ? "\n" : "") + part;
        }
        b_.Put(ob, "valueString", text);
      } else if (vt == "CE" || vt == "CWE" || vt == "CNE" || vt == "CF") {
        b_.Put(ob, "valueCodeableConcept", CodeableFromCwe(obx, 5, 1, false, nullptr));
      } else if (vt == "SN") {
        std::string comparator = CleanText(obx.Get(5, 1, 1));
        auto n1 = Decimal(obx.Get(5, 1, 2));
        std::string sep = CleanText(obx.Get(5, 1, 3));
        auto n2 = Decimal(obx.Get(5, 1, 4));
        if (n1 && n2 && (sep == "-" || sep == ":" || sep == "/")) {
          Json range = b_.Obj();
          if (sep == "-") {
            b_.Put(range, "low", quantity(*n1, "", "/valueRange/low"));
            b_.Put(range, "high", quantity(*n2, "", "/valueRange/high"));
            b_.Put(ob, "valueRange", std::move(range));
          } else {
            Json num = b_.Obj();
            b_.Put(num, "value", Json(std::strtod(n1->c_str(), nullptr)));
            numbers.push_back({"/valueRatio/numerator/value", *n1});
            Json den = b_.Obj();
            b_.Put(den, "value", Json(std::strtod(n2->c_str(), nullptr)));
            numbers.push_back({"/valueRatio/denominator/value", *n2});
            b_.Put(range, "numerator", std::move(num));
            b_.Put(range, "denominator", std::move(den));
            b_.Put(ob, "valueRatio", std::move(range));
          }
        } else if (n1 && (comparator.empty() || comparator == "<" || comparator == ">" ||
                          comparator == "<=" || comparator == ">=")) {
          b_.Put(ob, "valueQuantity", quantity(*n1, comparator, "/valueQuantity"));
        } else {
          Find(xloc + "-5", "unmapped-value", "structured numeric not understood: kept as text");
          b_.Put(ob, "valueString", m_.Decode(obx.RawAt(5, 1, 0)));
        }
      } else if (vt == "DT" || vt == "TS" || vt == "DTM") {
        auto t = ParseTs(obx.Get(5, 1, 1), s_.default_offset);
        if (t.ok()) {
          b_.Put(ob, "valueDateTime", t->value);
        } else {
          Find(xloc + "-5", "invalid-date", t.status().message());
        }
      } else {
        Find(xloc + "-2", "unmapped-value",
             "value type '" + vt + "' is not mapped; value not stored");
      }
      // Interpretation (OBX-8, table 0078 codes are the v3 codes).
      Json interp = b_.Arr();
      for (int r = 1; r <= std::min(obx.RepetitionCount(8), 5); ++r) {
        std::string flag = Code(obx.Get(8, r, 1));
        static const std::set<std::string> kFlags = {
            "L", "H",  "LL", "HH", "N", "A",   "AA",  "U",   "D", "B",  "W",  "S", "R",
            "I", "MS", "VS", "<",  ">", "NEG", "POS", "IND", "E", "EX", "HU", "LU"};
        if (flag.empty()) continue;
        if (kFlags.count(Upper(flag))) {
          b_.Push(interp, b_.Concept(b_.Coding(kInterp, Upper(flag))));
        } else {
          Find(xloc + "-8", "unmapped-code", "abnormal flag '" + flag + "' not in table 0078");
          Json cc = b_.Obj();
          b_.Put(cc, "text", flag);
          b_.Push(interp, std::move(cc));
        }
      }
      b_.Put(ob, "interpretation", std::move(interp));
      // Reference range (OBX-7): "3.5-5.0", "<5", ">10", or text.
      std::string range = CleanText(obx.Get(7));
      if (!range.empty()) {
        Json rr = b_.Obj();
        auto bound = [&](const std::string& dec, const std::string& ptr) {
          Json q = b_.Obj();
          b_.Put(q, "value", Json(std::strtod(dec.c_str(), nullptr)));
          numbers.push_back({ptr + "/value", dec});
          b_.Put(q, "unit", unit_text.empty() ? unit_code : unit_text);
          if (unit_system == kUcum && !unit_code.empty()) {
            b_.Put(q, "system", kUcum);
            b_.Put(q, "code", Code(unit_code));
          }
          return q;
        };
        size_t dash = range.find('-', 1);
        if (dash != std::string::npos) {
          auto lo = Decimal(range.substr(0, dash));
          auto hi = Decimal(range.substr(dash + 1));
          if (lo && hi) {
            b_.Put(rr, "low", bound(*lo, "/referenceRange/0/low"));
            b_.Put(rr, "high", bound(*hi, "/referenceRange/0/high"));
          }
        } else if (range[0] == '<') {
          if (auto hi = Decimal(range.substr(range[1] == '=' ? 2 : 1))) {
            b_.Put(rr, "high", bound(*hi, "/referenceRange/0/high"));
          }
        } else if (range[0] == '>') {
          if (auto lo = Decimal(range.substr(range[1] == '=' ? 2 : 1))) {
            b_.Put(rr, "low", bound(*lo, "/referenceRange/0/low"));
          }
        }
        b_.Put(rr, "text", range);
        Json arr = b_.Arr();
        b_.Push(arr, std::move(rr));
        b_.Put(ob, "referenceRange", std::move(arr));
      }
      Json note = b_.Arr();
      for (const Segment& nte : notes) {
        std::string text;
        for (int r = 1; r <= std::min(nte.RepetitionCount(3), 100); ++r) {
          text += (r > 1 ? "\n" : "") + nte.Get(3, r);
        }
        Json a = b_.Obj();
        b_.Put(a, "text", text);
        b_.Push(note, std::move(a));
      }
      b_.Put(ob, "note", std::move(note));
      result_urls.push_back(
          Add("Observation?identifier=" + PercentEncode(s_.observation_id_system) + "|" +
                  PercentEncode(okey),
              std::move(ob), std::move(numbers)));
    }
    // The report.
    Json dr = b_.Obj();
    b_.Put(dr, "resourceType", "DiagnosticReport");
    Json ids = b_.Arr();
    b_.Push(ids, b_.IdentifierJson(s_.order_id_system, key));
    b_.Put(dr, "identifier", std::move(ids));
    static const std::map<std::string, std::string> kReport = {
        {"F", "final"},     {"C", "corrected"}, {"P", "preliminary"}, {"R", "preliminary"},
        {"S", "partial"},   {"A", "partial"},   {"I", "registered"},  {"O", "registered"},
        {"X", "cancelled"}, {"M", "amended"}};
    std::string st = o.obr ? Upper(CleanText(o.obr->Get(25))) : "";
    auto sit = kReport.find(st);
    if (sit == kReport.end()) {
      Find(loc + "-25", st.empty() ? "missing-item" : "unmapped-code",
           "result status '" + st + "' not mapped: status unknown");
    }
    b_.Put(dr, "status", sit == kReport.end() ? "unknown" : sit->second);
    if (o.obr) {
      std::string section = Code(o.obr->Get(24));
      if (!section.empty()) {
        Json cats = b_.Arr();
        b_.Push(cats, b_.Concept(b_.Coding("http://terminology.hl7.org/CodeSystem/v2-0074",
                                           Upper(section))));
        b_.Put(dr, "category", std::move(cats));
      }
    }
    Json code = o.obr ? CodeableFromCwe(*o.obr, 4, 1, true, nullptr) : b_.Obj();
    if (Builder::Empty(code)) {
      Find(loc + "-4", "missing-item", "no universal service identifier");
      code = b_.Obj();
      b_.Put(code, "text", "unknown");
    }
    b_.Put(dr, "code", std::move(code));
    b_.Put(dr, "subject", b_.Ref(patient_url_));
    if (!encounter_url_.empty()) b_.Put(dr, "encounter", b_.Ref(encounter_url_));
    if (obr_time) b_.Put(dr, "effectiveDateTime", obr_time->value);
    if (o.obr) {
      if (auto issued = Time(*o.obr, 22); issued && IsInstant(*issued)) {
        b_.Put(dr, "issued", issued->value);
      }
    }
    if (!s_.ods_code.empty()) {
      Json perf = b_.Arr();
      Json org = b_.Obj();
      b_.Put(org, "type", "Organization");
      b_.Put(org, "identifier", b_.IdentifierJson(kOdsSystem, s_.ods_code));
      b_.Push(perf, std::move(org));
      b_.Put(dr, "performer", std::move(perf));
    }
    Json results = b_.Arr();
    for (const std::string& u : result_urls) b_.Push(results, b_.Ref(u));
    b_.Put(dr, "result", std::move(results));
    Add("DiagnosticReport?identifier=" + PercentEncode(s_.order_id_system) + "|" +
            PercentEncode(key),
        std::move(dr));
  }
  return Status::Ok();
}

void Mapper::Finish() {
  // The Provenance: what came from which message of which source.
  Json prov = b_.Obj();
  b_.Put(prov, "resourceType", "Provenance");
  // Control ids are unique per sender (MSH-10); MSH-7 guards against a
  // sender that reuses them. A resend keeps both, so it names the same id.
  const std::string seed = s_.source_id + "#" + out_.control_id + "#" + m_.Get("MSH-7");
  std::string prov_id = "hl7v2-" + Hex(Fnv1a(seed), 16) + Hex(Fnv1a(seed, 0x51ED27), 16);
  b_.Put(prov, "id", prov_id);
  Json targets = b_.Arr();
  for (const PendingEntry& e : entries_) b_.Push(targets, b_.Ref(e.full_url));
  b_.Put(prov, "target", std::move(targets));
  std::optional<FhirTime> recorded;
  if (auto msh = m_.Find("MSH")) recorded = Time(*msh, 7);
  if (recorded && IsInstant(*recorded)) {
    b_.Put(prov, "recorded", recorded->value);
  } else {
    Find("MSH-7", "missing-item",
         "no message date/time with a time of day; Provenance.recorded "
         "set to 1970-01-01T00:00:00Z");
    b_.Put(prov, "recorded", "1970-01-01T00:00:00Z");
  }
  b_.Put(prov, "activity",
         b_.Concept(b_.Coding("http://terminology.hl7.org/CodeSystem/v3-DataOperation", "UPDATE"),
                    out_.event));
  Json agent = b_.Obj();
  b_.Put(agent, "type",
         b_.Concept(b_.Coding("http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                              "author")));
  Json who = b_.Obj();
  b_.Put(who, "type", "Organization");
  if (!s_.ods_code.empty()) b_.Put(who, "identifier", b_.IdentifierJson(kOdsSystem, s_.ods_code));
  b_.Put(who, "display", s_.source_id);
  b_.Put(agent, "who", std::move(who));
  Json agents = b_.Arr();
  b_.Push(agents, std::move(agent));
  b_.Put(prov, "agent", std::move(agents));
  Json entity = b_.Obj();
  b_.Put(entity, "role", "source");
  Json what = b_.Obj();
  b_.Put(what, "identifier",
         b_.IdentifierJson("urn:lhcr:hl7v2:" + Slug(s_.source_id), out_.control_id));
  b_.Put(what, "display", "HL7 v2 " + out_.event + " message " + out_.control_id);
  b_.Put(entity, "what", std::move(what));
  Json entities = b_.Arr();
  b_.Push(entities, std::move(entity));
  b_.Put(prov, "entity", std::move(entities));
  if (!entries_.empty()) {
    entries_.push_back({"urn:uuid:" + Uuid(prov_id), "Provenance/" + prov_id, std::move(prov), {}});
    Stamp(entries_.back().resource);
  }

  out_.bundle_json = b_.PutTransaction(entries_);
}

Result<MappedMessage> Mapper::Run() {
  out_.event = m_.Event();
  out_.control_id = CleanText(m_.ControlId());
  if (out_.control_id.empty()) {
    return Status::Incorrect("MSH-10: message control id missing")
        .WithDetails({{"101", "MSH-10", "message control id missing"}});
  }
  const std::string type = Upper(CleanText(m_.MessageType()));
  const std::string ev = Upper(CleanText(m_.TriggerEvent()));
  const bool adt = type == "ADT";
  const bool oru = type == "ORU" && (ev == "R01" || ev.empty());
  if (!adt && !oru) {
    return Status::Unsupported("message type " + out_.event +
                               " is not supported (ADT and ORU^R01 are)")
        .WithDetails({{"200", "MSH-9", "unsupported message type"}});
  }
  meta_source_ = s_.source_id + "#" + out_.control_id;
  std::optional<FhirTime> msg_time;
  if (auto evn = m_.Find("EVN")) msg_time = Time(*evn, 2);
  if (!msg_time) {
    if (auto msh = m_.Find("MSH")) msg_time = Time(*msh, 7);
  }
  if (msg_time) out_.message_time = msg_time->value;

  RETURN_IF_ERROR(MapPatient());
  if (adt) {
    static const std::map<std::string, std::string> kStatus = {
        {"A01", "in-progress"}, {"A02", "in-progress"}, {"A03", "finished"},
        {"A04", "in-progress"}, {"A05", "planned"},     {"A06", "in-progress"},
        {"A07", "in-progress"}, {"A09", "in-progress"}, {"A10", "in-progress"},
        {"A11", "cancelled"},   {"A12", "in-progress"}, {"A13", "in-progress"},
        {"A14", "planned"},     {"A15", "in-progress"}, {"A16", "in-progress"},
        {"A21", "onleave"},     {"A22", "in-progress"}, {"A25", "in-progress"},
        {"A26", "in-progress"}, {"A27", "cancelled"},   {"A32", "in-progress"},
        {"A33", "in-progress"}, {"A38", "cancelled"}};
    if (auto it = kStatus.find(ev); it != kStatus.end()) {
      MapEncounter(it->second);
    } else if (ev == "A08") {
      // An update: the visit's state follows from its dates.
      auto pv1 = m_.Find("PV1");
      std::string status = "in-progress";
      if (pv1 && !CleanText(pv1->Get(45)).empty()) status = "finished";
      MapEncounter(status);
    }
    if (ev == "A40" || ev == "A30" || ev == "A34" || ev == "A47") {
      auto mrg = m_.Find("MRG");
      std::string retired = mrg ? CleanText(mrg->Get(1, 1, 1)) : "";
      if (retired.empty()) {
        return Status::Incorrect(out_.event + ": MRG-1 (the prior patient identifier) missing")
            .WithDetails({{"101", "MRG-1", "prior patient identifier missing"}});
      }
      std::string type1 = Upper(CleanText(mrg->Get(1, 1, 5)));
      std::string auth = Upper(CleanText(mrg->Get(1, 1, 4)));
      Identifier old{s_.patient_id_system, retired};
      if (type1 == "NH" || auth == "NHS") old.system = std::string(kNhsNumberSystem);
      out_.merge = MergeInstruction{patient_key_, old};
    }
  } else {
    if (auto pv1 = m_.Find("PV1"); pv1 && !CleanText(pv1->Get(19)).empty()) {
      MapEncounter(CleanText(pv1->Get(45)).empty() ? "in-progress" : "finished");
    }
    RETURN_IF_ERROR(MapResults());
  }
  Finish();
  return std::move(out_);
}

}  // namespace

SourceInfo SourceInfo::WithDefaults() const {
  SourceInfo s = *this;
  std::string base = "https://fhir." + Slug(source_id.empty() ? "source" : source_id) + ".example";
  auto fill = [](std::string& v, std::string d) {
    if (v.empty()) v = std::move(d);
  };
  fill(s.patient_id_system, base + "/Id/patient");
  fill(s.visit_id_system, base + "/Id/visit-number");
  fill(s.order_id_system, base + "/Id/filler-order-number");
  fill(s.observation_id_system, base + "/Id/observation");
  fill(s.practitioner_id_system, base + "/Id/practitioner");
  fill(s.lab_code_system, base + "/lab-codes");
  if (s.default_offset.empty()) s.default_offset = "Z";
  return s;
}

bool IsValidNhsNumber(std::string_view d) {
  if (d.size() != 10 || !std::all_of(d.begin(), d.end(), ::isdigit)) return false;
  if (std::all_of(d.begin(), d.end(), [&](char c) { return c == d[0]; })) return false;
  if (d == "0123456789") return false;
  int sum = 0;
  for (int i = 0; i < 9; ++i) sum += (d[static_cast<size_t>(i)] - '0') * (10 - i);
  int check = 11 - sum % 11;
  if (check == 11) check = 0;
  if (check == 10) return false;
  return check == d[9] - '0';
}

Result<MappedMessage> MapToFhir(const Message& message, const SourceInfo& source) {
  SourceInfo s = source.WithDefaults();
  Mapper mapper(message, s);
  return mapper.Run();
}

// ------------------------------------------------------------ stale entries

namespace {

std::string_view MessageTimeOf(const Json& r) {
  const Json* ext = fhir::Member(r, "extension");
  if (ext == nullptr || !ext->IsArray()) return {};
  for (const Json& e : ext->GetArray()) {
    if (fhir::StringMember(e, "url") == kMessageTimeExtension) {
      return fhir::StringMember(e, "valueDateTime");
    }
  }
  return {};
}

std::optional<int64_t> Millis(std::string_view fhir_time) {
  // Back from FHIR dateTime to DTM digits.
  std::string ts;
  for (size_t i = 0; i < fhir_time.size(); ++i) {
    char c = fhir_time[i];
    if (c == '+' || (c == '-' && i > 7)) {
      ts.push_back(c);
      for (size_t k = i + 1; k < fhir_time.size(); ++k) {
        if (fhir_time[k] != ':') ts.push_back(fhir_time[k]);
      }
      break;
    }
    if (c == 'Z') break;
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') ts.push_back(c);
  }
  auto t = ParseTs(ts);
  if (!t.ok()) return std::nullopt;
  return t->epoch_millis;
}

// The extensions other than the message time: what the source said.
std::vector<const Json*> FactExtensions(const Json& r) {
  std::vector<const Json*> out;
  const Json* ext = fhir::Member(r, "extension");
  if (ext == nullptr || !ext->IsArray()) return out;
  for (const Json& e : ext->GetArray()) {
    if (fhir::StringMember(e, "url") != kMessageTimeExtension) out.push_back(&e);
  }
  return out;
}

// Whether two versions of a resource say the same thing: equal apart from
// id, meta (versionId, lastUpdated, source) and the message time.
bool SameFacts(const Json& stored, const Json& incoming) {
  auto counted = [](const Json& r) {
    size_t n = 0;
    for (rapidjson::SizeType k = 0; k < r.MemberCount(); ++k) {
      const auto& m = *(r.MemberBegin() + k);
      if (m.name != "id" && m.name != "meta" && m.name != "extension") ++n;
    }
    return n;
  };
  if (!stored.IsObject() || !incoming.IsObject() || counted(stored) != counted(incoming)) {
    return false;
  }
  for (rapidjson::SizeType k = 0; k < incoming.MemberCount(); ++k) {
    const auto& m = *(incoming.MemberBegin() + k);
    if (m.name == "id" || m.name == "meta" || m.name == "extension") continue;
    const Json* other = fhir::Member(stored, fhir::AsView(m.name));
    if (other == nullptr || !(*other == m.value)) return false;
  }
  std::vector<const Json*> a = FactExtensions(stored);
  std::vector<const Json*> b = FactExtensions(incoming);
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!(*a[i] == *b[i])) return false;
  }
  return true;
}

// Patient.link is the record's own (merges set it: ingest/merge.h), not
// something a message says: a Patient from a message keeps the stored links,
// and a record replaced by another stays inactive.
void KeepRecordLinks(const Json& stored, Json& incoming, JsonDoc::AllocatorType& a) {
  if (fhir::StringMember(incoming, "resourceType") != "Patient") return;
  const Json* links = fhir::Member(stored, "link");
  if (links == nullptr || !links->IsArray() || links->Empty()) return;
  if (fhir::Member(incoming, "link") == nullptr) {
    incoming.AddMember("link", Json(*links, a), a);
  }
  bool replaced = false;
  for (const Json& l : links->GetArray()) replaced |= fhir::StringMember(l, "type") == "replaced-by";
  if (replaced) {
    if (Json* active = const_cast<Json*>(fhir::Member(incoming, "active")); active != nullptr) {
      active->SetBool(false);
    } else {
      incoming.AddMember("active", false, a);
    }
  }
}

}  // namespace

Result<StaleCheck> DropStaleEntries(std::string_view bundle_json,
                                    const CurrentResourceLookup& lookup) {
  fhir::NumberTexts texts;
  ASSIGN_OR_RETURN(JsonDoc doc, fhir::ParseJsonKeepingNumbers(bundle_json, &texts));
  const Json* entries = fhir::Member(doc, "entry");
  StaleCheck out;
  if (entries == nullptr || !entries->IsArray()) {
    out.bundle_json = std::string(bundle_json);
    return out;
  }
  auto& a = doc.GetAllocator();
  // Pass 1: what is stored for each entry, and where the server will point
  // references to it (a conditional PUT updates the stored resource).
  std::vector<std::optional<JsonDoc>> stored(entries->Size());
  std::map<std::string, std::string> resolved;  // fullUrl -> stored "Type/id"
  int provenance = -1;
  for (rapidjson::SizeType i = 0; i < entries->Size(); ++i) {
    const Json& e = (*entries)[i];
    const Json* res = fhir::Member(e, "resource");
    const Json* req = fhir::Member(e, "request");
    if (res == nullptr || req == nullptr) {
      return Status::Incorrect("Bundle.entry[" + std::to_string(i) + "]: no resource or request");
    }
    std::string type(fhir::StringMember(*res, "resourceType"));
    std::string url(fhir::StringMember(*req, "url"));
    if (type == "Provenance") {
      provenance = static_cast<int>(i);
      continue;
    }
    std::string query;
    if (size_t q = url.find('?'); q != std::string::npos) {
      query = url.substr(q + 1);
    } else if (fhir::StringMember(*req, "method") == "PUT" && url.rfind(type + "/", 0) == 0) {
      query = "_id=" + url.substr(type.size() + 1);
    } else {
      continue;  // a create: nothing stored to compare with
    }
    ASSIGN_OR_RETURN(std::optional<std::string> current, lookup(type, query));
    if (!current) continue;
    ASSIGN_OR_RETURN(JsonDoc parsed, fhir::ParseJson(*current));
    resolved[std::string(fhir::StringMember(e, "fullUrl"))] =
        type + "/" + std::string(fhir::StringMember(parsed, "id"));
    stored[i] = std::move(parsed);
  }
  // References inside the Bundle as the server will store them.
  std::map<std::string, std::string> conditional;  // "Type?query" -> stored "Type/id" or ""
  std::function<void(Json&, const std::map<std::string, std::string>&)> rewrite =
      [&](Json& v, const std::map<std::string, std::string>& to) {
        if (v.IsObject()) {
          // Indexed: clang rejects RapidJSON 1.1's member-iterator comparison
          // in C++20 (ambiguous reversed operator).
          for (rapidjson::SizeType k = 0; k < v.MemberCount(); ++k) {
            auto& m = *(v.MemberBegin() + k);
            if (m.name == "reference" && m.value.IsString()) {
              std::string ref(fhir::AsView(m.value));
              auto it = to.find(ref);
              if (it == to.end() && ref.find('?') != std::string::npos) {
                it = conditional.find(ref);
                if (it == conditional.end()) {
                  // A conditional reference ("Patient?identifier=s|v"): the
                  // server points it at the one stored match.
                  std::string rtype = ref.substr(0, ref.find('?'));
                  auto match = lookup(rtype, ref.substr(ref.find('?') + 1));
                  std::string target;
                  if (match.ok() && *match) {
                    auto parsed = fhir::ParseJson(**match);
                    if (parsed.ok()) {
                      target = rtype + "/" + std::string(fhir::StringMember(*parsed, "id"));
                    }
                  }
                  it = conditional.emplace(ref, target).first;
                }
                if (it->second.empty()) it = to.end();
              }
              if (it != to.end())
                m.value.SetString(it->second.c_str(),
                                  static_cast<rapidjson::SizeType>(it->second.size()), a);
            } else {
              rewrite(m.value, to);
            }
          }
        } else if (v.IsArray()) {
          for (Json& x : v.GetArray()) rewrite(x, to);
        }
      };
  // Pass 2: drop what is older, a resend, or already says the same.
  std::map<std::string, std::string> moved;  // dropped fullUrl -> stored "Type/id"
  std::vector<bool> keep(entries->Size(), true);
  for (rapidjson::SizeType i = 0; i < entries->Size(); ++i) {
    if (!stored[i]) continue;
    Json& e = (*const_cast<Json*>(entries))[i];
    Json& res = e["resource"];
    const JsonDoc& current = *stored[i];
    KeepRecordLinks(current, res, a);
    auto stored_t = Millis(MessageTimeOf(current));
    auto incoming_t = Millis(MessageTimeOf(res));
    const Json* sm = fhir::Member(current, "meta");
    const Json* im = fhir::Member(res, "meta");
    std::string_view stored_source = sm ? fhir::StringMember(*sm, "source") : "";
    // A message is identified by its source's id for it and its time.
    bool same_message = stored_t && incoming_t && *stored_t == *incoming_t &&
                        !stored_source.empty() && im &&
                        fhir::StringMember(*im, "source") == stored_source;
    // Two messages with the same time: the larger meta.source wins, so the
    // outcome is the same in whatever order they come (idempotent re-runs).
    std::string_view incoming_source = im ? fhir::StringMember(*im, "source") : "";
    bool older = stored_t && incoming_t &&
                 (*stored_t > *incoming_t ||
                  (*stored_t == *incoming_t && incoming_source < stored_source));
    bool same_facts = false;
    if (!older && !same_message) {
      Json incoming(res, a);
      rewrite(incoming, resolved);
      same_facts = SameFacts(current, incoming);
    }
    if (older || same_message || same_facts) {
      keep[i] = false;
      moved[std::string(fhir::StringMember(e, "fullUrl"))] =
          std::string(fhir::StringMember(res, "resourceType")) + "/" +
          std::string(fhir::StringMember(current, "id"));
    }
  }
  // Provenance: only kept targets; dropped when none is left.
  if (provenance >= 0) {
    Json& res =
        (*const_cast<Json*>(entries))[static_cast<rapidjson::SizeType>(provenance)]["resource"];
    Json* targets = const_cast<Json*>(fhir::Member(res, "target"));
    if (targets != nullptr && targets->IsArray()) {
      Json kept(rapidjson::kArrayType);
      for (Json& t : targets->GetArray()) {
        if (!moved.count(std::string(fhir::StringMember(t, "reference")))) {
          kept.PushBack(Json(t, a), a);
        }
      }
      if (kept.Empty()) {
        keep[static_cast<size_t>(provenance)] = false;
      } else {
        *targets = std::move(kept);
      }
    }
  }
  std::string body = R"({"resourceType":"Bundle","type":"transaction")";
  std::string list;
  for (rapidjson::SizeType i = 0; i < entries->Size(); ++i) {
    if (!keep[i]) {
      ++out.dropped;
      continue;
    }
    ++out.kept;
    Json& e = (*const_cast<Json*>(entries))[i];
    rewrite(e, moved);  // references to dropped entries: to what is stored
    if (!list.empty()) list += ",";
    list += fhir::ToJsonKeepingNumbers(e, texts, "/entry/" + std::to_string(i));
  }
  if (!list.empty()) body += R"(,"entry":[)" + list + "]";
  body += "}";
  out.bundle_json = std::move(body);
  return out;
}

}  // namespace lhcr::hl7v2
