#include "synthetic_bundles.h"

#include <algorithm>
#include <cstdio>

namespace lhcr::bench {
namespace {

// splitmix64: small, fast, good enough for synthetic data.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  int Int(int lo, int hi) { return lo + static_cast<int>(Next() % static_cast<uint64_t>(hi - lo + 1)); }
  double Real(double lo, double hi) {
    return lo + (hi - lo) * static_cast<double>(Next() >> 11) / static_cast<double>(1ULL << 53);
  }
  template <typename T>
  const T& Pick(const std::vector<T>& v) { return v[Next() % v.size()]; }

 private:
  uint64_t s_;
};

std::string Uuid(Rng& r) {
  uint64_t a = r.Next(), b = r.Next();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>(0x8000 | ((b >> 48) & 0x3fff)),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

// A date-time in 2015..2024, as FHIR dateTime with a zone.
std::string DateTime(Rng& r) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:00+00:00", r.Int(2015, 2024), r.Int(1, 12),
                r.Int(1, 28), r.Int(7, 19), r.Int(0, 59));
  return buf;
}
std::string Date(Rng& r, int y0, int y1) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", r.Int(y0, y1), r.Int(1, 12), r.Int(1, 28));
  return buf;
}
std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string Coding(std::string_view system, std::string_view code, std::string_view display) {
  return "{\"system\":\"" + std::string(system) + "\",\"code\":\"" + std::string(code) +
         "\",\"display\":\"" + std::string(display) + "\"}";
}
std::string Concept(std::string_view system, std::string_view code, std::string_view display) {
  return "{\"coding\":[" + Coding(system, code, display) + "],\"text\":\"" + std::string(display) + "\"}";
}
std::string Ref(const std::string& urn) { return "{\"reference\":\"urn:uuid:" + urn + "\"}"; }

const std::vector<std::string_view> kWords = {
    "reviewed",  "in",        "clinic",   "with",      "patient",  "and",       "carer",
    "discussed", "results",   "plan",     "follow-up", "in",       "primary",   "care",
    "advised",   "to",        "continue", "current",   "treatment", "no",       "new",
    "concerns",  "reported",  "stable",   "since",     "last",     "review",    "bloods",
    "repeated",  "medication", "reconciled", "safety-netting", "given", "letter", "sent"};

// The narrative: a summary line and a table, padded with notes to `target`
// bytes of div content.
std::string Narrative(Rng& r, const std::string& summary, size_t target) {
  std::string div = "<div xmlns=\\\"http://www.w3.org/1999/xhtml\\\"><p><b>" + summary + "</b></p><p>";
  while (div.size() < target) {
    div += kWords[r.Next() % kWords.size()];
    div += ' ';
  }
  div += "</p></div>";
  return "\"text\":{\"status\":\"generated\",\"div\":\"" + div + "\"}";
}

std::string Meta(std::string_view source) {
  return "\"meta\":{\"source\":\"urn:lhcr:bench:" + std::string(source) + "\"}";
}

// Resource sizes are spread around the 2.7 KB mean (1.75 .. 3.8 KB).
size_t TargetSize(Rng& r) { return static_cast<size_t>(r.Int(1750, 3800)); }

std::string Finish(Rng& r, std::string body, const std::string& summary) {
  size_t target = TargetSize(r);
  size_t pad = target > body.size() + 120 ? target - body.size() - 120 : 40;
  body += "," + Narrative(r, summary, pad) + "}";
  return body;
}

const std::vector<std::string_view> kFamily = {"Smith", "Jones", "Taylor", "Brown", "Williams",
                                               "Wilson", "Johnson", "Davies", "Patel", "Khan"};
const std::vector<std::string_view> kGiven = {"Ann", "Oliver", "Amelia", "George", "Isla",
                                              "Harry", "Ava", "Noah", "Mia", "Arthur"};
const std::vector<std::string_view> kCity = {"Leeds", "Bradford", "Wakefield", "Harrogate", "York"};

struct Snomed {
  std::string_view code;
  std::string_view display;
};
const std::vector<Snomed> kConditions = {
    {"44054006", "Type 2 diabetes mellitus"}, {"38341003", "Hypertensive disorder"},
    {"195967001", "Asthma"}, {"13645005", "Chronic obstructive lung disease"},
    {"49436004", "Atrial fibrillation"}, {"84114007", "Heart failure"},
    {"709044004", "Chronic kidney disease"}, {"35489007", "Depressive disorder"},
    {"396275006", "Osteoarthritis"}, {"414916001", "Obesity"}};
const std::vector<Snomed> kMedicines = {
    {"325242002", "Metformin 500mg tablets"}, {"318858003", "Ramipril 5mg capsules"},
    {"320000009", "Atorvastatin 20mg tablets"}, {"317972002", "Amlodipine 5mg tablets"},
    {"319740004", "Bisoprolol 2.5mg tablets"}, {"320176004", "Salbutamol 100micrograms inhaler"},
    {"321208003", "Sertraline 50mg tablets"}, {"322236009", "Paracetamol 500mg tablets"}};
const std::vector<Snomed> kAllergens = {
    {"764146007", "Penicillin"}, {"387207008", "Ibuprofen"}, {"91935009", "Peanut"},
    {"300916003", "Latex"}, {"387406002", "Sulfonamide"}};
const std::vector<Snomed> kEncounterTypes = {
    {"185347001", "Encounter for problem"}, {"390906007", "Follow-up encounter"},
    {"270427003", "Patient-initiated encounter"}, {"11429006", "Consultation"}};

}  // namespace

const std::vector<LoincCode>& LoincCodes() {
  static const std::vector<LoincCode> kCodes = {
      {"8867-4", "Heart rate", "/min", 50, 110},
      {"8480-6", "Systolic blood pressure", "mm[Hg]", 95, 180},
      {"8462-4", "Diastolic blood pressure", "mm[Hg]", 55, 110},
      {"29463-7", "Body weight", "kg", 45, 130},
      {"8302-2", "Body height", "cm", 150, 195},
      {"39156-5", "Body mass index", "kg/m2", 17, 42},
      {"8310-5", "Body temperature", "Cel", 35.5, 39.5},
      {"9279-1", "Respiratory rate", "/min", 10, 28},
      {"2339-0", "Glucose [Mass/volume] in Blood", "mg/dL", 60, 250},
      {"4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 4.5, 11},
      {"2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", 120, 300},
      {"2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", "mg/dL", 50, 400},
      {"2085-9", "HDL Cholesterol", "mg/dL", 25, 90},
      {"13457-7", "LDL Cholesterol (calculated)", "mg/dL", 50, 220},
      {"2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.5, 3},
      {"33914-3", "eGFR (MDRD)", "mL/min/{1.73_m2}", 15, 120},
      {"718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 9, 17},
      {"6690-2", "Leukocytes [#/volume] in Blood", "10*3/uL", 3, 14},
      {"2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 128, 148},
      {"2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 3, 6}};
  return kCodes;
}

PatientRecord MakePatientRecord(int64_t n, uint64_t seed, int resources_per_patient) {
  Rng r(seed * 0x100000001b3ULL + static_cast<uint64_t>(n) * 0x9e3779b97f4a7c15ULL + 1);
  resources_per_patient = std::max(resources_per_patient, 10);
  // The mix: 8% encounters, 8% conditions, 10% medication requests, 3%
  // allergies, the rest observations.
  const int encounters = std::max(1, resources_per_patient * 8 / 100);
  const int conditions = std::max(1, resources_per_patient * 8 / 100);
  const int meds = std::max(1, resources_per_patient * 10 / 100);
  const int allergies = std::max(1, resources_per_patient * 3 / 100);
  const int observations = resources_per_patient - 1 - encounters - conditions - meds - allergies;

  PatientRecord out;
  std::vector<std::pair<std::string, std::string>> entries;  // (type, fullUrl uuid)
  auto add = [&](const std::string& type, const std::string& uuid, std::string json) {
    out.resource_bytes += json.size();
    out.resources.push_back(std::move(json));
    entries.emplace_back(type, uuid);
  };
  const std::string source = "gp-B" + std::to_string(82000 + n % 97);

  // Patient.
  const std::string pid = Uuid(r);
  {
    char nhs[16];
    std::snprintf(nhs, sizeof nhs, "9%09lld", static_cast<long long>(n % 1000000000));
    std::string family(r.Pick(kFamily)), given(r.Pick(kGiven)), city(r.Pick(kCity));
    bool female = (r.Next() & 1) != 0;
    std::string b = "{\"resourceType\":\"Patient\"," + Meta(source) +
                    ",\"identifier\":[{\"system\":\"https://fhir.nhs.uk/Id/nhs-number\",\"value\":\"" +
                    nhs + "\"},{\"system\":\"urn:lhcr:bench:mrn\",\"value\":\"MRN" + std::to_string(n) +
                    "\"}],\"active\":true,\"name\":[{\"use\":\"official\",\"family\":\"" + family +
                    "\",\"given\":[\"" + given + "\"],\"prefix\":[\"" + (female ? "Mrs" : "Mr") +
                    "\"]}],\"telecom\":[{\"system\":\"phone\",\"value\":\"01632 9" +
                    std::to_string(10000 + r.Int(0, 89999)) + "\",\"use\":\"home\"}],\"gender\":\"" +
                    (female ? "female" : "male") + "\",\"birthDate\":\"" + Date(r, 1930, 2010) +
                    "\",\"address\":[{\"use\":\"home\",\"line\":[\"" + std::to_string(r.Int(1, 200)) +
                    " High Street\"],\"city\":\"" + city + "\",\"postalCode\":\"LS" +
                    std::to_string(r.Int(1, 29)) + " " + std::to_string(r.Int(1, 9)) +
                    "AB\",\"country\":\"GB\"}],\"generalPractitioner\":[{\"identifier\":{\"system\":"
                    "\"https://fhir.nhs.uk/Id/ods-organization-code\",\"value\":\"" + source.substr(3) +
                    "\"},\"display\":\"Practice " + source.substr(3) + "\"}]";
    add("Patient", pid, Finish(r, std::move(b), given + " " + family));
  }
  // Encounters.
  std::vector<std::string> enc_ids;
  for (int i = 0; i < encounters; ++i) {
    const std::string eid = Uuid(r);
    const Snomed& t = r.Pick(kEncounterTypes);
    std::string start = DateTime(r);
    std::string b = "{\"resourceType\":\"Encounter\"," + Meta(source) +
                    ",\"identifier\":[{\"system\":\"urn:lhcr:bench:encounter\",\"value\":\"E" +
                    std::to_string(n) + "-" + std::to_string(i) +
                    "\"}],\"status\":\"finished\",\"class\":{\"system\":\"http://terminology.hl7.org/"
                    "CodeSystem/v3-ActCode\",\"code\":\"AMB\",\"display\":\"ambulatory\"},\"type\":[" +
                    Concept("http://snomed.info/sct", t.code, t.display) + "],\"subject\":" + Ref(pid) +
                    ",\"period\":{\"start\":\"" + start + "\",\"end\":\"" + start +
                    "\"},\"serviceProvider\":{\"display\":\"Practice " + source.substr(3) + "\"}";
    add("Encounter", eid, Finish(r, std::move(b), std::string(t.display)));
    enc_ids.push_back(eid);
  }
  // Observations.
  const auto& loinc = LoincCodes();
  for (int i = 0; i < observations; ++i) {
    const std::string oid = Uuid(r);
    const LoincCode& c = loinc[r.Next() % loinc.size()];
    const bool vital = &c - loinc.data() < 8;
    const double v = r.Real(c.lo, c.hi);
    std::string when = DateTime(r);
    std::string b =
        "{\"resourceType\":\"Observation\"," + Meta(source) +
        ",\"identifier\":[{\"system\":\"urn:lhcr:bench:obs\",\"value\":\"O" + std::to_string(n) + "-" +
        std::to_string(i) + "\"}],\"status\":\"final\",\"category\":[" +
        Concept("http://terminology.hl7.org/CodeSystem/observation-category",
                vital ? "vital-signs" : "laboratory", vital ? "Vital Signs" : "Laboratory") +
        "],\"code\":" + Concept("http://loinc.org", c.code, c.display) + ",\"subject\":" + Ref(pid) +
        ",\"encounter\":" + Ref(enc_ids[r.Next() % enc_ids.size()]) + ",\"effectiveDateTime\":\"" +
        when + "\",\"issued\":\"" + when.substr(0, 19) + ".000Z\",\"performer\":[{\"display\":\"" +
        source + " clinician\"}],\"valueQuantity\":{\"value\":" + Num(v) + ",\"unit\":\"" +
        std::string(c.unit) + "\",\"system\":\"http://unitsofmeasure.org\",\"code\":\"" +
        std::string(c.unit) + "\"},\"referenceRange\":[{\"low\":{\"value\":" + Num(c.lo) +
        ",\"unit\":\"" + std::string(c.unit) + "\",\"system\":\"http://unitsofmeasure.org\",\"code\":\"" +
        std::string(c.unit) + "\"},\"high\":{\"value\":" + Num(c.hi) + ",\"unit\":\"" +
        std::string(c.unit) + "\",\"system\":\"http://unitsofmeasure.org\",\"code\":\"" +
        std::string(c.unit) + "\"}}]";
    add("Observation", oid, Finish(r, std::move(b), std::string(c.display) + " " + Num(v)));
  }
  // Conditions.
  for (int i = 0; i < conditions; ++i) {
    const std::string cid = Uuid(r);
    const Snomed& c = r.Pick(kConditions);
    std::string b =
        "{\"resourceType\":\"Condition\"," + Meta(source) + ",\"clinicalStatus\":" +
        Concept("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active") +
        ",\"verificationStatus\":" +
        Concept("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed") +
        ",\"category\":[" +
        Concept("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item",
                "Problem List Item") +
        "],\"code\":" + Concept("http://snomed.info/sct", c.code, c.display) + ",\"subject\":" +
        Ref(pid) + ",\"encounter\":" + Ref(enc_ids[r.Next() % enc_ids.size()]) +
        ",\"onsetDateTime\":\"" + DateTime(r) + "\",\"recordedDate\":\"" + DateTime(r) + "\"";
    add("Condition", cid, Finish(r, std::move(b), std::string(c.display)));
  }
  // Medication requests.
  for (int i = 0; i < meds; ++i) {
    const std::string mid = Uuid(r);
    const Snomed& m = r.Pick(kMedicines);
    std::string b =
        "{\"resourceType\":\"MedicationRequest\"," + Meta(source) +
        ",\"identifier\":[{\"system\":\"urn:lhcr:bench:rx\",\"value\":\"RX" + std::to_string(n) + "-" +
        std::to_string(i) + "\"}],\"status\":\"active\",\"intent\":\"order\",\"medicationCodeableConcept\":" +
        Concept("http://snomed.info/sct", m.code, m.display) + ",\"subject\":" + Ref(pid) +
        ",\"encounter\":" + Ref(enc_ids[r.Next() % enc_ids.size()]) + ",\"authoredOn\":\"" + DateTime(r) +
        "\",\"requester\":{\"display\":\"" + source + " prescriber\"},\"dosageInstruction\":[{\"text\":"
        "\"One to be taken daily\",\"timing\":{\"repeat\":{\"frequency\":1,\"period\":1,\"periodUnit\":"
        "\"d\"}},\"doseAndRate\":[{\"doseQuantity\":{\"value\":1,\"unit\":\"tablet\"}}]}],"
        "\"dispenseRequest\":{\"numberOfRepeatsAllowed\":" + std::to_string(r.Int(0, 6)) +
        ",\"quantity\":{\"value\":28,\"unit\":\"tablet\"}}";
    add("MedicationRequest", mid, Finish(r, std::move(b), std::string(m.display)));
  }
  // Allergies.
  for (int i = 0; i < allergies; ++i) {
    const std::string aid = Uuid(r);
    const Snomed& a = r.Pick(kAllergens);
    std::string b =
        "{\"resourceType\":\"AllergyIntolerance\"," + Meta(source) + ",\"clinicalStatus\":" +
        Concept("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", "Active") +
        ",\"verificationStatus\":" +
        Concept("http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "confirmed",
                "Confirmed") +
        ",\"type\":\"allergy\",\"category\":[\"medication\"],\"criticality\":\"low\",\"code\":" +
        Concept("http://snomed.info/sct", a.code, a.display) + ",\"patient\":" + Ref(pid) +
        ",\"recordedDate\":\"" + DateTime(r) + "\",\"reaction\":[{\"manifestation\":[" +
        Concept("http://snomed.info/sct", "271807003", "Eruption of skin") +
        "],\"severity\":\"mild\"}]";
    add("AllergyIntolerance", aid, Finish(r, std::move(b), std::string(a.display)));
  }

  std::string& bundle = out.bundle;
  bundle.reserve(out.resource_bytes + entries.size() * 120 + 64);
  bundle = "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[";
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i > 0) bundle += ',';
    bundle += "{\"fullUrl\":\"urn:uuid:" + entries[i].second + "\",\"resource\":" + out.resources[i] +
              ",\"request\":{\"method\":\"POST\",\"url\":\"" + entries[i].first + "\"}}";
  }
  bundle += "]}";
  return out;
}

}  // namespace lhcr::bench
