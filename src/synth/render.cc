#include "synth/render.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string_view>
#include <vector>

#include "synth/tables.h"

namespace lhcr::synth {
namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr const char* kNhsSystem = "https://fhir.nhs.uk/Id/nhs-number";
constexpr const char* kOdsSystem = "https://fhir.nhs.uk/Id/ods-organization-code";
constexpr const char* kSct = "http://snomed.info/sct";
constexpr const char* kUcum = "http://unitsofmeasure.org";
constexpr const char* kProfile = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-";
constexpr const char* kVerifyExt =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus";
constexpr const char* kVerifyCs =
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland";
constexpr const char* kEthnicExt =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory";
constexpr const char* kEthnicCs = "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland";

struct LabDef {
  const char* local;
  const char* display;
  const char* unit;
  const char* loinc;
  const char* snomed;
  int decimals;
};
// Indexed by Lab.
constexpr LabDef kLabs[kLabCount] = {
    {"HBA1C", "HbA1c (IFCC)", "mmol/mol", "59261-8", "999791000000106", 0},
    {"CHOL", "Serum cholesterol", "mmol/L", "14647-2", "1005671000000105", 1},
    {"CREA", "Creatinine", "umol/L", "14682-9", "1000731000000107", 0},
    {"EGFR", "eGFR (CKD-EPI)", "mL/min/{1.73_m2}", "62238-1", "1011481000000105", 0},
    {"ACR", "Urine albumin:creatinine ratio", "mg/mmol", "32294-1", "1023491000000104", 1},
    {"HB", "Haemoglobin", "g/L", "718-7", "1022431000000105", 0},
    {"WBC", "White cell count", "10*9/L", "6690-2", "", 1},
    {"PLT", "Platelet count", "10*9/L", "777-3", "", 0},
    {"SBP", "Systolic blood pressure", "mm[Hg]", "8480-6", "271649006", 0},
    {"DBP", "Diastolic blood pressure", "mm[Hg]", "8462-4", "271650006", 0},
    {"BMI", "Body mass index", "kg/m2", "39156-5", "60621009", 1},
};

uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A source-local number, distinct for distinct n below 10^9 (affine bijection).
std::string LocalNumber(uint64_t seed, uint64_t salt, uint64_t n, int digits) {
  constexpr uint64_t kSpace = 1'000'000'000;
  uint64_t v = (n % kSpace * 48'271'123 + Mix(seed ^ salt) % kSpace) % kSpace;
  std::string s = std::to_string(v);
  return std::string(static_cast<size_t>(std::max(0, digits - static_cast<int>(s.size()))), '0') +
         s;
}

std::string Uuid(Rng& r) {
  uint64_t a = r(), b = r();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>(0x8000 | (b >> 48 & 0x3fff)),
                static_cast<unsigned long long>(b & 0xffffffffffffull));
  return buf;
}

// The identity a source holds for a person, with noise applied.
struct Ident {
  std::string given, middle, family, nhs, verification = "01";
  int y = 0, m = 0, d = 0;
  Address addr;
  std::string tags;  // noise kinds applied, ';'-separated
  void Tag(std::string_view t) {
    if (!tags.empty()) tags += ';';
    tags += t;
  }
};

std::string Typo(Rng& r, const std::string& s) {
  if (s.size() < 3) return s + s.back();
  std::string t = s;
  size_t i = 1 + static_cast<size_t>(Below(r, static_cast<int>(s.size()) - 2));
  switch (Below(r, 4)) {
    case 0:
      std::swap(t[i], t[i + 1]);
      if (t == s) t.erase(i, 1);
      break;
    case 1:
      t.erase(i, 1);
      break;
    case 2:
      t.insert(i, 1, t[i]);
      break;
    default:
      t[i] = static_cast<char>('a' + (t[i] - 'a' + 1 + Below(r, 24)) % 26);
      break;
  }
  return t;
}

// np: this source's noise probability scale (noise level x source factor).
Ident MakeIdent(Rng& r, const Person& p, double np, Day at, bool gp) {
  Ident id;
  id.given = p.given;
  id.middle = p.middle;
  id.family = !p.previous_family.empty() && at < p.family_changed ? p.previous_family : p.family;
  id.nhs = p.nhs;
  CivilFromDays(p.dob, &id.y, &id.m, &id.d);
  id.addr = p.addresses.front();
  for (const Address& a : p.addresses) {
    if (a.from <= at) id.addr = a;
  }
  if (np <= 0) return id;
  if (!p.previous_family.empty() && at >= p.family_changed && Chance(r, np * 0.5)) {
    id.family = p.previous_family;
    id.Tag("old-surname");
  }
  if (p.addresses.size() > 1 && id.addr.from == p.addresses.back().from && Chance(r, np * 0.4)) {
    id.addr = p.addresses.front();
    id.Tag("old-address");
  }
  if (Chance(r, np * 0.3)) {
    id.family = Typo(r, id.family);
    id.Tag("typo-family");
  }
  if (Chance(r, np * 0.25)) {
    id.given = Typo(r, id.given);
    id.Tag("typo-given");
  } else if (!Nickname(id.given).empty() && Chance(r, np * 0.4)) {
    id.given = Nickname(id.given);
    id.Tag("nickname");
  }
  if (!id.middle.empty() && Chance(r, np * 0.3)) {
    id.middle.clear();
    id.Tag("no-middle-name");
  }
  if (id.d <= 12 && id.d != id.m && Chance(r, np * 0.15)) {
    std::swap(id.d, id.m);
    id.Tag("dob-day-month-swapped");
  }
  if (Chance(r, np * (gp ? 0.1 : 0.5))) {
    id.nhs.clear();
    id.Tag("nhs-missing");
  } else if (Chance(r, np * 0.1)) {
    size_t i = static_cast<size_t>(Below(r, 10));
    id.nhs[i] = static_cast<char>('0' + (id.nhs[i] - '0' + 1 + Below(r, 9)) % 10);
    id.Tag("nhs-wrong");
  }
  if (id.nhs.empty())
    id.verification = "03";
  else if (!gp)
    id.verification = id.tags.empty() ? "01" : "02";
  return id;
}

std::string IdentIsoDob(const Ident& id) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", id.y, id.m, id.d);
  return buf;
}

void AddTruth(std::string* truth, std::string_view source, std::string_view record, const Person& p,
              const Ident& id, RenderStats* st, int source_index) {
  *truth += source;
  *truth += ',';
  *truth += record;
  *truth += ',';
  *truth += p.id;
  *truth += ',';
  *truth += id.tags;
  *truth += '\n';
  st->records[source_index]++;
  if (!id.tags.empty()) st->noisy_records++;
}

std::string NumberText(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// ---------------------------------------------------------------- FHIR

class BundleBuilder {
 public:
  BundleBuilder(Rng& r, std::string ods, std::string record_id)
      : r_(r), ods_(std::move(ods)), record_(std::move(record_id)), w_(buf_) {
    w_.StartObject();
    Key("resourceType"), Str("Bundle");
    Key("type"), Str("transaction");
    Key("entry");
    w_.StartArray();
  }
  std::string LocalSystem(std::string_view type) const {
    std::string lower(type);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return "https://fhir.example.nhs.uk/" + ods_ + "/Id/" + lower;
  }
  // Opens an entry whose resource is updated conditionally on its local
  // identifier; returns its fullUrl. The caller writes the resource members
  // after this and then calls End().
  std::string Begin(std::string_view type, std::string_view local_id) {
    std::string url = "urn:uuid:" + Uuid(r_);
    pending_url_ =
        std::string(type) + "?identifier=" + LocalSystem(type) + "|" + std::string(local_id);
    w_.StartObject();
    Key("fullUrl"), Str(url);
    Key("resource");
    w_.StartObject();
    Key("resourceType"), Str(type);
    Key("meta");
    w_.StartObject();
    Key("profile");
    w_.StartArray();
    Str(std::string(kProfile) + std::string(type));
    w_.EndArray();
    w_.EndObject();
    return url;
  }
  void Identifier(std::string_view type, const std::string& local_id) {
    Key("identifier");
    w_.StartArray();
    w_.StartObject();
    Key("system"), Str(LocalSystem(type));
    Key("value"), Str(local_id);
    w_.EndObject();
    w_.EndArray();
  }
  void End(const char* method = "PUT", std::string url = {}) {
    w_.EndObject();  // resource
    Key("request");
    w_.StartObject();
    Key("method"), Str(method);
    Key("url"), Str(url.empty() ? pending_url_ : url);
    w_.EndObject();
    w_.EndObject();
    ++entries_;
  }
  std::string Finish() {
    w_.EndArray();
    w_.EndObject();
    return std::string(buf_.GetString(), buf_.GetSize());
  }
  int entries() const { return entries_; }

  void Key(std::string_view k) { w_.Key(k.data(), static_cast<rapidjson::SizeType>(k.size())); }
  void Str(std::string_view s) { w_.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }
  void Ref(std::string_view key, const std::string& url) {
    Key(key);
    w_.StartObject();
    Key("reference"), Str(url);
    w_.EndObject();
  }
  void Coding(const char* system, std::string_view code, std::string_view display) {
    w_.StartObject();
    Key("system"), Str(system);
    Key("code"), Str(code);
    if (!display.empty()) Key("display"), Str(display);
    w_.EndObject();
  }
  void Concept(std::string_view key, const char* system, std::string_view code,
               std::string_view display) {
    Key(key);
    w_.StartObject();
    Key("coding");
    w_.StartArray();
    Coding(system, code, display);
    w_.EndArray();
    w_.EndObject();
  }
  void ConceptArray(std::string_view key, const char* system, std::string_view code,
                    std::string_view display) {
    Key(key);
    w_.StartArray();
    w_.StartObject();
    Key("coding");
    w_.StartArray();
    Coding(system, code, display);
    w_.EndArray();
    w_.EndObject();
    w_.EndArray();
  }
  void Quantity(std::string_view key, double v, int decimals, const char* unit) {
    Key(key);
    w_.StartObject();
    Key("value");
    std::string t = NumberText(v, decimals);
    w_.RawValue(t.data(), t.size(), rapidjson::kNumberType);
    Key("unit"), Str(unit);
    Key("system"), Str(kUcum);
    Key("code"), Str(unit);
    w_.EndObject();
  }
  JsonWriter& w() { return w_; }

 private:
  Rng& r_;
  std::string ods_, record_, pending_url_;
  rapidjson::StringBuffer buf_;
  JsonWriter w_;
  int entries_ = 0;
};

std::string OrganisationEntry(BundleBuilder& b, const synth::Organisation& org) {
  std::string url = b.Begin("Organization", org.ods);
  b.Key("identifier");
  b.w().StartArray();
  b.w().StartObject();
  b.Key("system"), b.Str(kOdsSystem);
  b.Key("value"), b.Str(org.ods);
  b.w().EndObject();
  b.w().EndArray();
  b.Key("name"), b.Str(org.name);
  b.End("PUT", std::string("Organization?identifier=") + kOdsSystem + "|" + std::string(org.ods));
  return url;
}

std::string PatientEntry(BundleBuilder& b, const Person& p, const Ident& id,
                         const std::string& record, const std::string& org_url, bool active,
                         bool is_gp) {
  std::string url = b.Begin("Patient", record);
  JsonWriter& w = b.w();
  b.Key("extension");
  w.StartArray();
  w.StartObject();
  b.Key("url"), b.Str(kEthnicExt);
  char ethnic[2] = {p.ethnic, 0};
  b.Concept("valueCodeableConcept", kEthnicCs, ethnic, "");
  w.EndObject();
  w.EndArray();
  b.Key("identifier");
  w.StartArray();
  if (!id.nhs.empty()) {
    w.StartObject();
    b.Key("extension");
    w.StartArray();
    w.StartObject();
    b.Key("url"), b.Str(kVerifyExt);
    b.Concept(
        "valueCodeableConcept", kVerifyCs, id.verification,
        id.verification == "01" ? "Number present and verified" : "Number present but not traced");
    w.EndObject();
    w.EndArray();
    b.Key("system"), b.Str(kNhsSystem);
    b.Key("value"), b.Str(id.nhs);
    w.EndObject();
  }
  w.StartObject();
  b.Key("system"), b.Str(b.LocalSystem("Patient"));
  b.Key("value"), b.Str(record);
  w.EndObject();
  w.EndArray();
  b.Key("active"), w.Bool(active);
  b.Key("name");
  w.StartArray();
  w.StartObject();
  b.Key("use"), b.Str("official");
  b.Key("family"), b.Str(id.family);
  b.Key("given");
  w.StartArray();
  b.Str(id.given);
  if (!id.middle.empty()) b.Str(id.middle);
  w.EndArray();
  w.EndObject();
  w.EndArray();
  b.Key("gender"), b.Str(p.sex == 'M' ? "male" : "female");
  b.Key("birthDate"), b.Str(IdentIsoDob(id));
  if (p.death != 0) b.Key("deceasedDateTime"), b.Str(IsoDate(p.death));
  b.Key("address");
  w.StartArray();
  w.StartObject();
  b.Key("use"), b.Str("home");
  b.Key("line");
  w.StartArray();
  b.Str(id.addr.line1);
  w.EndArray();
  b.Key("city"), b.Str(id.addr.town);
  b.Key("postalCode"), b.Str(id.addr.postcode);
  w.EndObject();
  w.EndArray();
  if (is_gp) {
    b.Key("generalPractitioner");
    w.StartArray();
    w.StartObject();
    b.Key("reference"), b.Str(org_url);
    w.EndObject();
    w.EndArray();
  }
  b.Ref("managingOrganization", org_url);
  b.End();
  return url;
}

void ObservationEntry(BundleBuilder& b, const std::string& pat, const std::string& local,
                      const LabRec& lab, const LabRec* diastolic) {
  const LabDef& def = kLabs[static_cast<int>(lab.kind)];
  b.Begin("Observation", local);
  b.Identifier("Observation", local);
  b.Key("status"), b.Str("final");
  bool vital = lab.kind == Lab::kSystolic || lab.kind == Lab::kBmi;
  b.ConceptArray("category", "http://terminology.hl7.org/CodeSystem/observation-category",
                 vital ? "vital-signs" : "laboratory", vital ? "Vital Signs" : "Laboratory");
  JsonWriter& w = b.w();
  if (diastolic != nullptr) {
    b.Concept("code", kSct, "75367002", "Blood pressure");
  } else {
    b.Concept("code", kSct, def.snomed, def.display);
  }
  b.Ref("subject", pat);
  b.Key("effectiveDateTime"), b.Str(IsoDate(lab.day));
  if (diastolic != nullptr) {
    b.Key("component");
    w.StartArray();
    for (const LabRec* c : {&lab, diastolic}) {
      const LabDef& cd = kLabs[static_cast<int>(c->kind)];
      w.StartObject();
      b.Concept("code", kSct, cd.snomed, cd.display);
      b.Quantity("valueQuantity", c->value, 0, cd.unit);
      w.EndObject();
    }
    w.EndArray();
  } else {
    b.Quantity("valueQuantity", lab.value, def.decimals, def.unit);
  }
  b.End();
}

// The usual dose of each medicine as the GP records it, and the dose a
// hospital changes it to (by Med, in codes.h order).
constexpr std::string_view kGpDoses[kMedCount] = {
    "500mg three times a day", "80mg twice a day",    "40mg at night",
    "5mg once a day",          "5mg once a day",      "2 puffs when required",
    "2 puffs twice a day",     "40mg in the morning", "5mg at night",
    "50mg once a day",         "20mg once a day",     "10mg once a day",
    "20mg once a day"};
constexpr std::string_view kHospitalDoses[kMedCount] = {
    "1g twice a day",  "160mg twice a day",        "80mg at night",       "10mg once a day",
    "10mg once a day", "2 puffs four times a day", "4 puffs twice a day", "80mg in the morning",
    "10mg at night",   "100mg once a day",         "10mg once a day",     "70mg once a week",
    "40mg once a day"};
std::string_view GpDose(Med m) { return kGpDoses[static_cast<int>(m)]; }

void ConditionEntry(BundleBuilder& b, const std::string& pat, const std::string& local,
                    const Code& code, Day onset) {
  b.Begin("Condition", local);
  b.Identifier("Condition", local);
  b.Concept("clinicalStatus", "http://terminology.hl7.org/CodeSystem/condition-clinical", "active",
            "Active");
  b.Concept("verificationStatus", "http://terminology.hl7.org/CodeSystem/condition-ver-status",
            "confirmed", "Confirmed");
  b.ConceptArray("category", "http://terminology.hl7.org/CodeSystem/condition-category",
                 "problem-list-item", "Problem List Item");
  b.Concept("code", kSct, code.code, code.display);
  b.Ref("subject", pat);
  b.Key("onsetDateTime"), b.Str(IsoDate(onset));
  b.Key("recordedDate"), b.Str(IsoDate(onset));
  b.End();
}

void EncounterEntry(BundleBuilder& b, const std::string& pat, const std::string& org,
                    const std::string& local, const char* cls, const char* cls_display,
                    std::string_view type_code, std::string_view type_display, Day start, Day end) {
  b.Begin("Encounter", local);
  b.Identifier("Encounter", local);
  b.Key("status"), b.Str("finished");
  b.Key("class");
  b.Coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", cls, cls_display);
  b.ConceptArray("type", kSct, type_code, type_display);
  b.Ref("subject", pat);
  b.Key("period");
  b.w().StartObject();
  b.Key("start"), b.Str(IsoDate(start));
  b.Key("end"), b.Str(IsoDate(end));
  b.w().EndObject();
  b.Ref("serviceProvider", org);
  b.End();
}

void RenderGp(Rng& r, const Person& p, uint64_t seed, double np, int reg_index, bool duplicate,
              std::array<std::string, kFeedFileCount>* files, std::string* truth, RenderStats* st) {
  const Registration& reg = p.registrations[reg_index];
  const synth::Organisation& org = GpPractices()[reg.practice];
  bool current = reg.to == 0 || (p.death != 0 && reg.to == p.death);
  Day until = current ? ReferenceDay() : reg.to;
  std::string record = LocalNumber(seed, 100 + reg.practice, p.index * 4 + (duplicate ? 1 : 0), 9);
  Ident id = MakeIdent(r, p, np, until, true);
  if (duplicate) id.Tag("duplicate-registration");
  BundleBuilder b(r, std::string(org.ods), record);
  std::string org_url = OrganisationEntry(b, org);
  std::string pat = PatientEntry(b, p, id, record, org_url, current && !duplicate, true);
  int n = 0;
  auto local = [&](const char* kind) { return record + "-" + kind + std::to_string(++n); };
  if (!duplicate) {
    for (const CondRec& c : p.conditions) {
      if (c.onset <= until) ConditionEntry(b, pat, local("c"), c.code, c.onset);
    }
    for (const DeficitRec& d : p.deficits) {
      if (d.onset <= until) ConditionEntry(b, pat, local("f"), d.code, d.onset);
    }
    for (const MedRec& m : p.meds) {
      if (m.start > until) continue;
      std::string l = local("m");
      b.Begin("MedicationStatement", l);
      b.Identifier("MedicationStatement", l);
      bool stopped = m.end != 0 && m.end <= until;
      b.Key("status"), b.Str(stopped ? "stopped" : "active");
      b.Concept("medicationCodeableConcept", kSct, m.code.code, m.code.display);
      b.Ref("subject", pat);
      b.Key("effectivePeriod");
      b.w().StartObject();
      b.Key("start"), b.Str(IsoDate(m.start));
      if (stopped) b.Key("end"), b.Str(IsoDate(m.end));
      b.w().EndObject();
      b.Key("dateAsserted"), b.Str(IsoDate(m.start));
      b.Key("dosage");
      b.w().StartArray();
      b.w().StartObject();
      b.Key("text"), b.Str(GpDose(m.kind));
      b.w().EndObject();
      b.w().EndArray();
      b.End();
    }
    for (const Code& a : p.allergies) {
      if (p.allergies_recorded > until) continue;
      std::string l = local("a");
      b.Begin("AllergyIntolerance", l);
      b.Identifier("AllergyIntolerance", l);
      if (a.code != "716186003") {
        b.Concept("clinicalStatus",
                  "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active",
                  "Active");
      }
      b.Concept("verificationStatus",
                "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                "confirmed", "Confirmed");
      b.Concept("code", kSct, a.code, a.display);
      b.Ref("patient", pat);
      b.Key("recordedDate"), b.Str(IsoDate(p.allergies_recorded));
      b.End();
    }
    if (p.smoking_recorded != 0 && p.smoking_recorded <= until) {
      std::string l = local("s");
      b.Begin("Observation", l);
      b.Identifier("Observation", l);
      b.Key("status"), b.Str("final");
      b.ConceptArray("category", "http://terminology.hl7.org/CodeSystem/observation-category",
                     "social-history", "Social History");
      b.Concept("code", "http://loinc.org", "72166-2", "Tobacco smoking status");
      b.Ref("subject", pat);
      b.Key("effectiveDateTime"), b.Str(IsoDate(p.smoking_recorded));
      switch (p.smoking) {
        case Smoking::kNever:
          b.Concept("valueCodeableConcept", kSct, "266919005", "Never smoked tobacco");
          break;
        case Smoking::kEx:
          b.Concept("valueCodeableConcept", kSct, "8517006", "Ex-smoker");
          break;
        case Smoking::kCurrent:
          b.Concept("valueCodeableConcept", kSct, "77176002", "Smoker");
          break;
      }
      b.End();
    }
    for (size_t i = 0; i < p.gp_labs.size(); ++i) {
      const LabRec& lab = p.gp_labs[i];
      if (lab.day > until || lab.kind == Lab::kDiastolic) continue;
      const LabRec* dia =
          lab.kind == Lab::kSystolic && i + 1 < p.gp_labs.size() ? &p.gp_labs[i + 1] : nullptr;
      ObservationEntry(b, pat, local("o"), lab, dia);
    }
    for (const EncRec& e : p.encounters) {
      if (e.kind != Enc::kGp || e.start > until || e.start < reg.from) continue;
      EncounterEntry(b, pat, org_url, local("e"), "AMB", "ambulatory", "185317003",
                     "Telephone encounter", e.start, e.start);
    }
  }
  st->bundles++;
  st->resources += b.entries();
  files->at(kGpFirst + reg.practice) += b.Finish();
  files->at(kGpFirst + reg.practice) += '\n';
  AddTruth(truth, org.id, record, p, id, st, reg.practice);
}

void RenderCommunity(Rng& r, const Person& p, uint64_t seed, double np, bool duplicate,
                     std::array<std::string, kFeedFileCount>* files, std::string* truth,
                     RenderStats* st) {
  const synth::Organisation& org = CommunityTrust();
  std::string record = "C" + LocalNumber(seed, 200, p.index * 4 + (duplicate ? 1 : 0), 8);
  Day first = ReferenceDay();
  for (const EncRec& e : p.encounters) {
    if (e.kind == Enc::kCommunity) first = std::min(first, e.start);
  }
  Ident id = MakeIdent(r, p, np, first, false);
  if (duplicate) id.Tag("duplicate-registration");
  BundleBuilder b(r, std::string(org.ods), record);
  std::string org_url = OrganisationEntry(b, org);
  std::string pat = PatientEntry(b, p, id, record, org_url, true, false);
  int n = 0;
  for (const EncRec& e : p.encounters) {
    if (e.kind != Enc::kCommunity) continue;
    if (duplicate && n > 0) break;
    const Service& s = CommunityServices()[e.service];
    EncounterEntry(b, pat, org_url, record + "-v" + std::to_string(++n), "HH", "home health",
                   "185460008", std::string("Home visit: ") + std::string(s.display), e.start,
                   e.start);
  }
  st->bundles++;
  st->resources += b.entries();
  files->at(kCommunityFhir) += b.Finish();
  files->at(kCommunityFhir) += '\n';
  AddTruth(truth, org.id, record, p, id, st, 13);
}

// ---------------------------------------------------------------- HL7 v2

struct Message {
  Day event_day;
  int event_minute;
  std::string body;  // segments after MSH, each ending "\r"
  std::string type;  // e.g. "ADT^A01^ADT_A01"
};

std::string Hl7Time(Day d, int minute) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02d%02d", minute / 60 % 24, minute % 60);
  return CompactDate(d) + buf;
}

std::string Pid(const Ident& id, const std::string& mrn, const char* authority, const Person& p) {
  std::string s = "PID|1||" + mrn + "^^^" + authority + "^MR";
  if (!id.nhs.empty()) s += "~" + id.nhs + "^^^NHS^NH";
  char dob[16];
  std::snprintf(dob, sizeof dob, "%04d%02d%02d", id.y, id.m, id.d);
  s += "||" + id.family + "^" + id.given + "^" + id.middle + "||" + dob + "|" + p.sex + "|||" +
       id.addr.line1 + "^^" + id.addr.town + "^^" + id.addr.postcode + "^GBR^H";
  // PID-12..28 empty; PID-29 death date/time, PID-30 death indicator.
  s += std::string(18, '|');
  if (p.death != 0) s += CompactDate(p.death) + "|Y";
  s += "\r";
  return s;
}

std::string Pv1(char cls, std::string_view location, std::string_view service,
                const std::string& visit, const std::string& admit, const std::string& discharge) {
  // PV1-2 class, -3 location, -10 hospital service, -19 visit number,
  // -44 admit and -45 discharge date/time.
  std::string s = "PV1|1|";
  s += cls;
  s += "|" + std::string(location) + "|||||||" + std::string(service) + "|||||||||" + visit;
  s += std::string(25, '|') + admit + "|" + discharge + "\r";
  return s;
}

// Writes the messages of one source for one person, in event order with
// optional out-of-order and late delivery, with control ids unique per file.
void EmitMessages(Rng& r, std::vector<Message>& msgs, double np, const char* app,
                  const char* facility, const std::string& ctrl_prefix, std::string* out, Ident* id,
                  RenderStats* st) {
  std::stable_sort(msgs.begin(), msgs.end(), [](const Message& a, const Message& b) {
    return a.event_day != b.event_day ? a.event_day < b.event_day : a.event_minute < b.event_minute;
  });
  if (msgs.size() > 1 && Chance(r, np * 0.3)) {
    size_t i = static_cast<size_t>(Below(r, static_cast<int>(msgs.size()) - 1));
    std::swap(msgs[i], msgs[i + 1]);
    id->Tag("out-of-order");
  }
  bool tagged_late = false;
  for (size_t i = 0; i < msgs.size(); ++i) {
    const Message& m = msgs[i];
    Day sent = m.event_day;
    int minute = m.event_minute + 1;
    if (Chance(r, np * 0.1)) {
      sent += 1 + Below(r, 20);
      if (!tagged_late) id->Tag("late");
      tagged_late = true;
    }
    *out += std::string("MSH|^~\\&|") + app + "|" + facility + "|LHCR|LHCR|" +
            Hl7Time(sent, minute) + "||" + m.type + "|" + ctrl_prefix + std::to_string(i) +
            "|P|2.4\r";
    *out += m.body;
    st->messages++;
  }
}

// The acute trust's EPMA feed: for each admission, the medicines on the
// discharge prescription as MedicationRequests (category discharge) that
// refer to the trust's Patient by its MRN (a conditional reference, so the
// PAS feed must be ingested first). It codes at a different dm+d level from
// the GP where it can (an AMP of the GP's VMP); now and then it changes a
// dose (metformin to the 1g VMP) or stops a medicine the GP goes on
// recording as active, and sometimes starts omeprazole that no GP ever
// records (hospital-only). Drawn from a stream of its own, (seed, person)
// salted, so the other feeds are exactly as they were without it.
struct HospitalProduct {
  std::string_view vmp, amp, amp_display;
};
// UK drug extension AMPs of synth's canonical VMPs, from the code lists
// (data/terminology/dmd/f_amp2_*.xml holds them).
constexpr HospitalProduct kAmps[] = {
    {"325278007", "42084911000001109", "Metformin 500mg tablets"},
    {"325242002", "378911000001109", "Gliclazide 80mg tablets"},
    {"320000009", "42382311000001100", "Simvastatin 40mg tablets"},
    {"319283006", "995011000001102", "Amlodipine 5mg tablets"},
    {"39113611000001102", "7511000001105", "Salbutamol 100micrograms/dose inhaler CFC free"},
    {"39704111000001102", "1040511000001102", "Sertraline 50mg tablets"},
    {"39728011000001102", "1016611000001108", "Alendronic acid 10mg tablets"},
    {"317335006", "42356411000001102", "Omeprazole 20mg gastro-resistant capsules"},
};
constexpr std::string_view kMetformin1g = "376701008";

void RenderAcuteMedicines(const Person& p, uint64_t seed, const std::string& mrn,
                          std::array<std::string, kFeedFileCount>* files, RenderStats* st) {
  const synth::Organisation& org = AcuteMedicines();
  Rng r = PersonRng(seed ^ 0x45504D4120524541ull /* "EPMA REA" */, p.index);
  const std::string subject = "Patient?identifier=https://fhir.example.nhs.uk/" +
                              std::string(org.ods) + "/Id/patient|" + mrn;
  for (const EncRec& e : p.encounters) {
    if (e.kind != Enc::kAdmission || e.end > ReferenceDay()) continue;
    BundleBuilder b(r, std::string(org.ods), mrn);
    int n = 0;
    auto request = [&](std::string_view code, std::string_view display, std::string_view status,
                       std::string_view dose) {
      std::string local = mrn + "-D" + CompactDate(e.end) + "-" + std::to_string(++n);
      b.Begin("MedicationRequest", local);
      b.Identifier("MedicationRequest", local);
      b.Key("status"), b.Str(status);
      b.Key("intent"), b.Str("order");
      b.ConceptArray("category", "http://terminology.hl7.org/CodeSystem/medicationrequest-category",
                     "discharge", "Discharge");
      b.Concept("medicationCodeableConcept", kSct, code, display);
      b.Ref("subject", subject);
      b.Key("authoredOn"), b.Str(IsoDate(e.end));
      b.Key("dosageInstruction");
      b.w().StartArray();
      b.w().StartObject();
      b.Key("text"), b.Str(dose);
      b.w().EndObject();
      b.w().EndArray();
      b.End();
    };
    bool on_ppi = false;
    for (const MedRec& m : p.meds) {
      if (m.start > e.end || (m.end != 0 && m.end <= e.end)) continue;
      on_ppi = on_ppi || m.kind == Med::kOmeprazole;
      double u = Uniform(r);
      bool amp = Chance(r, 0.6);
      std::string_view code = m.code.code, display = m.code.display;
      if (amp) {
        for (const HospitalProduct& h : kAmps) {
          if (h.vmp == m.code.code) code = h.amp, display = h.amp_display;
        }
      }
      if (u < 0.08) {  // stopped on admission, not restarted
        request(code, display, "stopped", GpDose(m.kind));
      } else if (u < 0.2) {  // dose changed
        if (m.kind == Med::kMetformin) code = kMetformin1g, display = "Metformin 1g tablets";
        request(code, display, "active", kHospitalDoses[static_cast<int>(m.kind)]);
      } else {
        request(code, display, "active", GpDose(m.kind));
      }
    }
    if (!on_ppi && Chance(r, 0.25)) {  // started in hospital, never at the GP
      request("317335006", "Omeprazole 20mg gastro-resistant capsules", "active",
              "20mg once a day");
    }
    if (n == 0) continue;
    st->bundles++;
    st->resources += b.entries();
    files->at(kAcuteMedicines) += b.Finish();
    files->at(kAcuteMedicines) += '\n';
  }
}

void RenderAcute(Rng& r, const Person& p, uint64_t seed, double np,
                 std::array<std::string, kFeedFileCount>* files, std::string* truth,
                 RenderStats* st) {
  const synth::Organisation& org = AcuteTrust();
  std::string mrn = "RA" + LocalNumber(seed, 300, p.index * 4, 8);
  Day first = ReferenceDay();
  for (const EncRec& e : p.encounters) {
    if (e.kind == Enc::kOutpatient || e.kind == Enc::kAe || e.kind == Enc::kAdmission) {
      first = std::min(first, e.start);
    }
  }
  for (const GenomicRec& g : p.genomics) first = std::min(first, g.day);
  Ident id = MakeIdent(r, p, np, first, false);
  std::vector<Message> adt, oru;
  std::string pid = Pid(id, mrn, org.ods.data(), p);
  int visit_no = 0;
  auto visit = [&] { return mrn + "V" + std::to_string(++visit_no); };
  for (const EncRec& e : p.encounters) {
    if (e.kind != Enc::kOutpatient && e.kind != Enc::kAe && e.kind != Enc::kAdmission) continue;
    const Service& spec = HospitalSpecialties()[e.service];
    int t = 8 * 60 + Below(r, 12 * 60);
    std::string v = visit();
    std::string admit = Hl7Time(e.start, t);
    std::string evn = "EVN|";
    if (e.kind == Enc::kAdmission) {
      std::string ward = "WARD" + std::to_string(1 + e.service) + "^^^" + std::string(org.ods);
      adt.push_back({e.start, t,
                     "EVN|A01|" + admit + "\r" + pid + Pv1('I', ward, spec.code, v, admit, ""),
                     "ADT^A01^ADT_A01"});
      if (e.transfer && e.end > e.start) {
        std::string ward2 =
            "WARD" + std::to_string(10 + Below(r, 9)) + "^^^" + std::string(org.ods);
        adt.push_back({e.start + 1, t,
                       "EVN|A02|" + Hl7Time(e.start + 1, t) + "\r" + pid +
                           Pv1('I', ward2, spec.code, v, admit, ""),
                       "ADT^A02^ADT_A02"});
      }
      std::string dis = Hl7Time(e.end, t + 120);
      adt.push_back({e.end, t + 120,
                     "EVN|A03|" + dis + "\r" + pid + Pv1('I', ward, spec.code, v, admit, dis),
                     "ADT^A03^ADT_A03"});
    } else {
      char cls = e.kind == Enc::kAe ? 'E' : 'O';
      std::string loc =
          (e.kind == Enc::kAe ? "ED" : "OPD") + std::string("^^^") + std::string(org.ods);
      adt.push_back({e.start, t,
                     "EVN|A04|" + admit + "\r" + pid + Pv1(cls, loc, spec.code, v, admit, ""),
                     "ADT^A04^ADT_A04"});
    }
    if (!e.labs.empty()) {
      std::string body = pid;
      std::string when = Hl7Time(e.start, t + 60);
      int obr = 0, obx = 0;
      std::string last_panel;
      for (const LabRec& lab : e.labs) {
        const LabDef& d = kLabs[static_cast<int>(lab.kind)];
        std::string panel = lab.kind == Lab::kHba1c ? "HBA1C^HbA1c"
                            : (lab.kind == Lab::kCreatinine || lab.kind == Lab::kEgfr)
                                ? "UE^Urea and electrolytes"
                                : "FBC^Full blood count";
        if (panel != last_panel) {
          ++obr;
          body += "OBR|" + std::to_string(obr) + "|" + v + "-" + std::to_string(obr) + "||" +
                  panel + "^99R9AL|||" + when + std::string(18, '|') + "F\r";
          last_panel = panel;
          obx = 0;
        }
        std::string val = NumberText(lab.value, d.decimals);
        body += "OBX|" + std::to_string(++obx) + "|NM|" + d.local + "^" + d.display + "^99R9AL||" +
                val + "|" + d.unit + "|||||F|||" + when + "\r";
      }
      oru.push_back({e.start, t + 60, body, "ORU^R01^ORU_R01"});
    }
  }
  for (const GenomicRec& g : p.genomics) {
    const GenomicTest& gt = GenomicTests()[g.test];
    std::string when = Hl7Time(g.day, 600);
    std::string body = pid + "OBR|1|" + mrn + "-G" + CompactDate(g.day) + "||" +
                       std::string(gt.local_code) + "^" + std::string(gt.name) + "^99R9AL|||" +
                       when + std::string(18, '|') + "F\r";
    body += "OBX|1|CWE|GENE^Gene studied^99R9AL||" + std::string(gt.hgnc) + "^" +
            std::string(gt.gene) + "^HGNC||||||F|||" + when + "\r";
    body += "OBX|2|CWE|GENVAR^Genetic variant assessment^99R9AL||" +
            std::string(g.variant_found ? "LA9633-4^Present^LN" : "LA9634-2^Absent^LN") +
            "||||||F|||" + when + "\r";
    if (g.variant_found) {
      body += "OBX|3|ST|HGVS^DNA change (HGVS)^99R9AL||" + std::string(gt.variant) + "||||||F|||" +
              when + "\r";
    }
    oru.push_back({g.day, 600, body, "ORU^R01^ORU_R01"});
  }
  // A later demographic update: an address change after a move (A08), or an
  // A31 person update now and then.
  if (p.addresses.size() > 1 && p.addresses.back().from > first && !adt.empty()) {
    Ident now = id;
    now.addr = p.addresses.back();
    Day d = p.addresses.back().from + 1;
    adt.push_back(
        {d, 700,
         "EVN|A08|" + Hl7Time(d, 700) + "\r" + Pid(now, mrn, org.ods.data(), p) + "PV1|1|N\r",
         "ADT^A08^ADT_A01"});
  } else if (!adt.empty() && Chance(r, 0.1)) {
    Day d = std::min(ReferenceDay() - 1, adt.back().event_day + 30);
    adt.push_back({d, 700, "EVN|A31|" + Hl7Time(d, 700) + "\r" + pid, "ADT^A31^ADT_A05"});
  }
  // A duplicate registration under a second MRN, often merged later (A40).
  std::vector<std::pair<std::string, Ident>> dups;
  if (!adt.empty() && Chance(r, np * 0.25)) {
    std::string mrn2 = "RA" + LocalNumber(seed, 300, p.index * 4 + 1, 8);
    Ident id2 = MakeIdent(r, p, np, first, false);
    id2.Tag("duplicate-registration");
    Day d = std::min(ReferenceDay() - 2, adt.back().event_day + 1 + Below(r, 60));
    std::string pid2 = Pid(id2, mrn2, org.ods.data(), p);
    std::string v = visit();
    adt.push_back({d, 800,
                   "EVN|A04|" + Hl7Time(d, 800) + "\r" + pid2 +
                       Pv1('E', "ED^^^" + std::string(org.ods), "180", v, Hl7Time(d, 800), ""),
                   "ADT^A04^ADT_A04"});
    if (Chance(r, 0.6)) {
      adt.push_back({d + 1, 900,
                     "EVN|A40|" + Hl7Time(d + 1, 900) + "\r" + pid + "MRG|" + mrn2 + "^^^" +
                         std::string(org.ods) + "^MR\r",
                     "ADT^A40^ADT_A39"});
      id2.Tag("merged");
    }
    dups.emplace_back(mrn2, id2);
  }
  EmitMessages(r, adt, np, "PAS", org.ods.data(), mrn + "-A", &files->at(kAcuteAdt), &id, st);
  EmitMessages(r, oru, np, "LIMS", org.ods.data(), mrn + "-R", &files->at(kAcuteOru), &id, st);
  AddTruth(truth, org.id, mrn, p, id, st, 12);
  for (auto& [m, i] : dups) AddTruth(truth, org.id, m, p, i, st, 12);
  RenderAcuteMedicines(p, seed, mrn, files, st);
}

void RenderMentalHealth(Rng& r, const Person& p, uint64_t seed, double np,
                        std::array<std::string, kFeedFileCount>* files, std::string* truth,
                        RenderStats* st) {
  const synth::Organisation& org = MentalHealthTrust();
  std::string rid = "MH" + LocalNumber(seed, 400, p.index * 4, 7);
  Day first = ReferenceDay();
  for (const EncRec& e : p.encounters) {
    if (e.kind == Enc::kMentalHealth || e.kind == Enc::kMhInpatient)
      first = std::min(first, e.start);
  }
  Ident id = MakeIdent(r, p, np, first, false);
  std::string pid = Pid(id, rid, org.ods.data(), p);
  std::vector<Message> msgs;
  int n = 0;
  for (const EncRec& e : p.encounters) {
    if (e.kind != Enc::kMentalHealth && e.kind != Enc::kMhInpatient) continue;
    const Service& team = MentalHealthTeams()[e.service];
    std::string v = rid + "E" + std::to_string(++n);
    std::string t0 = Hl7Time(e.start, 600);
    std::string loc = std::string(team.code) + "^^^" + std::string(org.ods);
    if (e.kind == Enc::kMhInpatient) {
      msgs.push_back({e.start, 600,
                      "EVN|A01|" + t0 + "\r" + pid + Pv1('I', loc, team.code, v, t0, ""),
                      "ADT^A01^ADT_A01"});
      std::string t1 = Hl7Time(e.end, 900);
      msgs.push_back({e.end, 900,
                      "EVN|A03|" + t1 + "\r" + pid + Pv1('I', loc, team.code, v, t0, t1),
                      "ADT^A03^ADT_A03"});
    } else {
      msgs.push_back({e.start, 600,
                      "EVN|A04|" + t0 + "\r" + pid + Pv1('O', loc, team.code, v, t0, ""),
                      "ADT^A04^ADT_A04"});
    }
  }
  EmitMessages(r, msgs, np, "MHIS", org.ods.data(), rid + "-", &files->at(kMentalHealthAdt), &id,
               st);
  AddTruth(truth, org.id, rid, p, id, st, 14);
}

// ---------------------------------------------------------------- CSV

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

std::string UkDate(Day d) {
  if (d == 0) return "";
  int y, m, dd;
  CivilFromDays(d, &y, &m, &dd);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d/%02d/%04d", dd, m, y);
  return buf;
}

void RenderSocialCare(Rng& r, const Person& p, uint64_t seed, double np, bool duplicate,
                      std::array<std::string, kFeedFileCount>* files, std::string* truth,
                      RenderStats* st) {
  const synth::Organisation& org = LocalAuthority();
  std::string ref = "ASC" + LocalNumber(seed, 500, p.index * 4 + (duplicate ? 1 : 0), 7);
  Ident id = MakeIdent(r, p, np, p.social.front().start, false);
  if (duplicate) id.Tag("duplicate-registration");
  char dob[16];
  std::snprintf(dob, sizeof dob, "%02d/%02d/%04d", id.d, id.m, id.y);
  std::string nhs = id.nhs.empty()
                        ? ""
                        : id.nhs.substr(0, 3) + " " + id.nhs.substr(3, 3) + " " + id.nhs.substr(6);
  std::string person = CsvField(ref) + "," + CsvField(id.given) + "," + CsvField(id.family) + "," +
                       dob + "," + (p.sex == 'M' ? "Male" : "Female") + "," + nhs + "," +
                       CsvField(id.addr.line1) + "," + CsvField(id.addr.town) + "," +
                       id.addr.postcode + ",";
  std::string& out = files->at(kSocialCareCsv);
  int n = 0;
  for (const SocialRec& s : p.social) {
    if (duplicate && n > 0) break;
    const Service& svc = SocialCareServices()[s.service];
    const char* event = s.service == 0 || s.service == 4 ? "ASSESS"
                        : s.service == 3                 ? "REVIEW"
                                                         : "SERVICE";
    out += person + ref + "-" + std::to_string(++n) + "," + event + "," + std::string(svc.code) +
           "," + CsvField(std::string(svc.display)) + "," + UkDate(s.start) + "," + UkDate(s.end) +
           "," + (s.hours_per_week > 0 ? std::to_string(s.hours_per_week) : "") + "\r\n";
    st->csv_rows++;
  }
  AddTruth(truth, org.id, ref, p, id, st, 15);
}

double SourceFactor(const synth::Organisation& org) { return (1.0 - org.identity_trust) * 5.0; }

}  // namespace

void RenderStats::Add(const RenderStats& o) {
  for (int i = 0; i < kSourceCount; ++i) records[i] += o.records[i];
  bundles += o.bundles;
  resources += o.resources;
  messages += o.messages;
  csv_rows += o.csv_rows;
  noisy_records += o.noisy_records;
}

std::string SocialCareCsvHeader() {
  return "PersonRef,Forename,Surname,DOB,Gender,NHSNo,Address1,Town,PostCode,EventRef,EventType,"
         "ServiceCode,ServiceDesc,StartDate,EndDate,HoursPerWeek\r\n";
}

std::string LabLocalCodesCsv() {
  std::string s = "local_code,display,unit,loinc,snomed\n";
  for (const LabDef& d : kLabs) {
    s += std::string(d.local) + "," + d.display + "," + d.unit + "," + d.loinc + "," + d.snomed +
         "\n";
  }
  s += "GENE,Gene studied,,48018-6,\nGENVAR,Genetic variant assessment,,69548-6,\n"
       "HGVS,DNA change (HGVS),,48004-6,\n";
  return s;
}

void RenderPerson(const Person& p, uint64_t seed, double noise,
                  std::array<std::string, kFeedFileCount>* files, std::string* truth,
                  RenderStats* stats) {
  // Rendering draws from its own stream so that changing the noise level
  // leaves the true population unchanged.
  Rng r = PersonRng(seed ^ 0x5EEDF00Dull, p.index);
  noise = std::clamp(noise, 0.0, 1.0);
  for (int i = 0; i < static_cast<int>(p.registrations.size()); ++i) {
    double np = std::min(1.0, noise * SourceFactor(GpPractices()[p.registrations[i].practice]));
    RenderGp(r, p, seed, np, i, false, files, truth, stats);
    if (i + 1 == static_cast<int>(p.registrations.size()) && Chance(r, np * 0.2)) {
      RenderGp(r, p, seed, np, i, true, files, truth, stats);
    }
  }
  bool acute = !p.genomics.empty(), community = false, mh = false;
  for (const EncRec& e : p.encounters) {
    acute = acute || e.kind == Enc::kOutpatient || e.kind == Enc::kAe || e.kind == Enc::kAdmission;
    community = community || e.kind == Enc::kCommunity;
    mh = mh || e.kind == Enc::kMentalHealth || e.kind == Enc::kMhInpatient;
  }
  if (acute)
    RenderAcute(r, p, seed, std::min(1.0, noise * SourceFactor(AcuteTrust())), files, truth, stats);
  if (community) {
    double np = std::min(1.0, noise * SourceFactor(CommunityTrust()));
    RenderCommunity(r, p, seed, np, false, files, truth, stats);
    if (Chance(r, np * 0.15)) RenderCommunity(r, p, seed, np, true, files, truth, stats);
  }
  if (mh)
    RenderMentalHealth(r, p, seed, std::min(1.0, noise * SourceFactor(MentalHealthTrust())), files,
                       truth, stats);
  if (!p.social.empty()) {
    double np = std::min(1.0, noise * SourceFactor(LocalAuthority()));
    RenderSocialCare(r, p, seed, np, false, files, truth, stats);
    if (Chance(r, np * 0.15)) RenderSocialCare(r, p, seed, np, true, files, truth, stats);
  }
}

}  // namespace lhcr::synth
