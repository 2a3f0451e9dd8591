#include "gpconnect/structured_record.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <unordered_set>

#include "fhir/json.h"
#include "identity/normalise.h"
#include "interaction/bundle_writer.h"
#include "search/search.h"

namespace lhcr::gpconnect {
namespace {

using interaction::JsonString;
using store::IndexQuery;
using store::IndexType;
using store::ResourceVersion;

constexpr std::string_view kNhsSystem = "https://fhir.nhs.uk/Id/nhs-number";
constexpr std::string_view kVerificationExtension =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus";
constexpr std::string_view kSignificanceExtension = "ProblemSignificance";
constexpr std::string_view kSct = "http://snomed.info/sct";

// Spine-ErrorOrWarningCode-1 codes and the categories (hence HTTP statuses:
// interaction/outcome.h) the GP Connect error handling guidance gives them.
Status SpineError(StatusCode category, std::string_view code, std::string_view display,
                  std::string_view issue_code, std::string message) {
  StatusDetail d;
  d.code = std::string(issue_code);
  d.message = message;
  d.details_system = std::string(kSpineErrorSystem);
  d.details_code = std::string(code);
  d.details_display = std::string(display);
  return Status(category, std::move(message)).WithDetails({std::move(d)});
}
Status InvalidResource(std::string m) {
  return SpineError(StatusCode::kUnprocessable, "INVALID_RESOURCE",
                    "Invalid validation of resource", "invalid", std::move(m));
}
Status InvalidParameter(std::string m) {
  return SpineError(StatusCode::kUnprocessable, "INVALID_PARAMETER", "Invalid parameter", "invalid",
                    std::move(m));
}
Status InvalidNhsNumber(std::string m) {
  return SpineError(StatusCode::kIncorrect, "INVALID_NHS_NUMBER", "Invalid NHS number", "value",
                    std::move(m));
}
Status PatientNotFound(std::string m) {
  return SpineError(StatusCode::kNotFound, "PATIENT_NOT_FOUND", "Patient not found", "not-found",
                    std::move(m));
}

// A whole date "YYYY-MM-DD" (no partial dates, times or offsets).
bool IsWholeDate(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  int month = (s[5] - '0') * 10 + (s[6] - '0');
  int day = (s[8] - '0') * 10 + (s[9] - '0');
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

Result<std::string> WholeDate(const fhir::Json* v, std::string_view name, std::string_view today) {
  if (v == nullptr || !v->IsString() || !IsWholeDate(fhir::AsView(*v))) {
    return InvalidParameter(std::string(name) +
                            " must be a whole date (YYYY-MM-DD, no time or offset)");
  }
  std::string d(fhir::AsView(*v));
  if (d > today) return InvalidParameter(std::string(name) + " " + d + " is after today");
  return d;
}

Result<DatePeriod> PeriodPart(const fhir::Json& part, std::string_view name,
                              std::string_view today) {
  const fhir::Json* p = fhir::Member(part, "valuePeriod");
  if (p == nullptr || !p->IsObject()) {
    return InvalidParameter(std::string(name) + " must be a valuePeriod");
  }
  DatePeriod out;
  if (const fhir::Json* s = fhir::Member(*p, "start")) {
    ASSIGN_OR_RETURN(out.start, WholeDate(s, std::string(name) + ".start", today));
  }
  if (const fhir::Json* e = fhir::Member(*p, "end")) {
    ASSIGN_OR_RETURN(out.end, WholeDate(e, std::string(name) + ".end", today));
  }
  if (!out.start.empty() && !out.end.empty() && out.end < out.start) {
    return InvalidParameter(std::string(name) + " ends before it starts");
  }
  return out;
}

Result<bool> BooleanPart(const fhir::Json& part, std::string_view name) {
  const fhir::Json* v = fhir::Member(part, "valueBoolean");
  if (v == nullptr || !v->IsBool()) {
    return InvalidParameter(std::string(name) + " must be a valueBoolean");
  }
  return v->GetBool();
}

// The parts of one include* parameter by name; unknown or repeated parts
// are INVALID_PARAMETER.
Result<std::map<std::string, const fhir::Json*>> Parts(
    const fhir::Json& param, std::string_view name,
    std::initializer_list<std::string_view> allowed) {
  std::map<std::string, const fhir::Json*> out;
  for (auto it = param.MemberBegin(); it != param.MemberEnd(); ++it) {
    std::string_view key = it->name.GetString();
    if (key.rfind("value", 0) == 0 || key == "resource") {
      return InvalidParameter(std::string(name) + " takes no value, only parts");
    }
  }
  const fhir::Json* parts = fhir::Member(param, "part");
  if (parts == nullptr) return out;
  if (!parts->IsArray()) return InvalidResource(std::string(name) + ".part must be an array");
  for (const fhir::Json& p : parts->GetArray()) {
    if (!p.IsObject()) return InvalidResource(std::string(name) + ".part is not an object");
    std::string part_name(fhir::StringMember(p, "name"));
    if (std::find(allowed.begin(), allowed.end(), part_name) == allowed.end()) {
      return InvalidParameter("unknown part '" + part_name + "' of " + std::string(name));
    }
    if (!out.emplace(part_name, &p).second) {
      return InvalidParameter("part '" + part_name + "' of " + std::string(name) +
                              " is given more than once");
    }
  }
  return out;
}

std::string_view ClinicalStatus(const fhir::Json& r) {
  const fhir::Json* cs = fhir::Member(r, "clinicalStatus");
  if (cs == nullptr) return "";
  const fhir::Json* codings = fhir::Member(*cs, "coding");
  if (codings == nullptr || !codings->IsArray() || codings->Empty()) return "";
  return fhir::StringMember((*codings)[0], "code");
}

// The date (first 10 characters) of the first of `paths` present: each a
// member name or "a.b".
std::string DateOf(const fhir::Json& r, std::initializer_list<std::string_view> paths) {
  for (std::string_view path : paths) {
    const fhir::Json* v = &r;
    size_t pos = 0;
    while (v != nullptr && pos <= path.size()) {
      size_t dot = std::min(path.find('.', pos), path.size());
      v = fhir::Member(*v, path.substr(pos, dot - pos));
      pos = dot + 1;
    }
    if (v != nullptr && v->IsString() && v->GetStringLength() >= 10) {
      return std::string(fhir::AsView(*v).substr(0, 10));
    }
  }
  return "";
}

bool InPeriod(const std::string& date, const std::optional<DatePeriod>& p) {
  if (!p) return true;
  if (date.empty()) return false;  // undated: cannot be said to be in the period
  if (!p->start.empty() && date < p->start) return false;
  if (!p->end.empty() && date > p->end) return false;
  return true;
}

std::string Ref(std::string_view type, std::string_view id) {
  std::string r(type);
  r += '/';
  r += id;
  return r;
}

// A record read for the response.
struct Item {
  const ResourceVersion* v;
  fhir::JsonDoc doc;
};

struct Section {
  std::string id;  // List.id suffix
  std::string_view code;
  std::string_view title;
  std::vector<const Item*> entries;  // the List's entries
  std::vector<const Item*> also;     // in the Bundle after them, not List entries
};

std::string ListJson(const Section& s, const std::string& patient_id, const std::string& date) {
  std::string j = R"({"resourceType":"List","id":)" + JsonString("gpc-" + s.id + "-" + patient_id) +
                  R"(,"meta":{"profile":[)" + JsonString(kListProfile) +
                  R"(]},"status":"current","mode":"snapshot","title":)" + JsonString(s.title) +
                  R"(,"code":{"coding":[{"system":)" + JsonString(kSct) +
                  ",\"code\":" + JsonString(s.code) + ",\"display\":" + JsonString(s.title) +
                  R"(}]},"subject":{"reference":)" + JsonString("Patient/" + patient_id) +
                  "},\"date\":" + JsonString(date);
  if (s.entries.empty()) {
    j +=
        R"(,"note":[{"text":"Information not available"}],"emptyReason":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/list-empty-reason","code":"notfound","display":"Not Found"}]})";
  } else {
    j += ",\"entry\":[";
    bool first = true;
    for (const Item* e : s.entries) {
      if (!first) j += ',';
      first = false;
      j += R"({"item":{"reference":)" + JsonString(Ref(e->v->type, e->v->id)) + "}}";
    }
    j += ']';
  }
  j += '}';
  return j;
}

}  // namespace

Result<StructuredRecordRequest> ParseStructuredRecordRequest(std::string_view parameters_json,
                                                             std::string_view today) {
  auto doc = fhir::ParseJson(parameters_json);
  if (!doc.ok()) return InvalidResource("the body is not JSON: " + doc.status().message());
  if (fhir::StringMember(*doc, "resourceType") != "Parameters") {
    return InvalidResource("the body must be a Parameters resource");
  }
  const fhir::Json* list = fhir::Member(*doc, "parameter");
  if (list == nullptr || !list->IsArray()) {
    return InvalidParameter("the patientNHSNumber parameter is required");
  }
  StructuredRecordRequest req;
  std::set<std::string> seen;
  bool has_nhs = false;
  for (const fhir::Json& p : list->GetArray()) {
    if (!p.IsObject()) return InvalidResource("a Parameters.parameter is not an object");
    std::string name(fhir::StringMember(p, "name"));
    if (name != "includeProblems" && !seen.insert(name).second) {
      return InvalidParameter("parameter '" + name + "' is given more than once");
    }
    if (name == "patientNHSNumber") {
      const fhir::Json* id = fhir::Member(p, "valueIdentifier");
      if (id == nullptr || !id->IsObject()) {
        return InvalidParameter("patientNHSNumber must be a valueIdentifier");
      }
      if (fhir::StringMember(*id, "system") != kNhsSystem) {
        return InvalidNhsNumber("patientNHSNumber.system must be " + std::string(kNhsSystem));
      }
      std::string value(fhir::StringMember(*id, "value"));
      if (!identity::IsValidNhsNumber(value)) {
        return InvalidNhsNumber("'" + value +
                                "' is not a valid NHS number (10 digits, modulus 11 check)");
      }
      req.nhs_number = std::move(value);
      has_nhs = true;
    } else if (name == "includeAllergies") {
      ASSIGN_OR_RETURN(auto parts, Parts(p, name, {"includeResolvedAllergies"}));
      auto it = parts.find("includeResolvedAllergies");
      if (it == parts.end()) {
        return InvalidParameter("includeAllergies needs its includeResolvedAllergies part");
      }
      StructuredRecordRequest::Allergies a;
      ASSIGN_OR_RETURN(a.resolved, BooleanPart(*it->second, it->first));
      req.allergies = a;
    } else if (name == "includeMedication") {
      ASSIGN_OR_RETURN(auto parts,
                       Parts(p, name, {"includePrescriptionIssues", "medicationSearchFromDate"}));
      auto it = parts.find("includePrescriptionIssues");
      if (it == parts.end()) {
        return InvalidParameter("includeMedication needs its includePrescriptionIssues part");
      }
      StructuredRecordRequest::Medication m;
      ASSIGN_OR_RETURN(m.prescription_issues, BooleanPart(*it->second, it->first));
      if (auto d = parts.find("medicationSearchFromDate"); d != parts.end()) {
        ASSIGN_OR_RETURN(m.search_from, WholeDate(fhir::Member(*d->second, "valueDate"),
                                                  "medicationSearchFromDate", today));
      }
      req.medication = m;
    } else if (name == "includeConsultations") {
      ASSIGN_OR_RETURN(auto parts,
                       Parts(p, name, {"consultationSearchPeriod", "includeNumberOfMostRecent"}));
      StructuredRecordRequest::Consultations c;
      auto period = parts.find("consultationSearchPeriod");
      auto recent = parts.find("includeNumberOfMostRecent");
      if (period != parts.end() && recent != parts.end()) {
        return InvalidResource(
            "consultationSearchPeriod and includeNumberOfMostRecent may not both be given");
      }
      if (period != parts.end()) {
        ASSIGN_OR_RETURN(c.period, PeriodPart(*period->second, period->first, today));
      }
      if (recent != parts.end()) {
        const fhir::Json* v = fhir::Member(*recent->second, "valueInteger");
        if (v == nullptr || !v->IsInt() || v->GetInt() < 1) {
          return InvalidParameter("includeNumberOfMostRecent must be a positive valueInteger");
        }
        c.most_recent = v->GetInt();
      }
      req.consultations = c;
    } else if (name == "includeProblems") {
      ASSIGN_OR_RETURN(auto parts, Parts(p, name, {"includeStatus", "includeSignificance"}));
      StructuredRecordRequest::Problems pr;
      if (auto s = parts.find("includeStatus"); s != parts.end()) {
        pr.status = std::string(fhir::StringMember(*s->second, "valueCode"));
        if (pr.status != "active" && pr.status != "inactive") {
          return InvalidParameter("includeStatus must be valueCode active or inactive");
        }
      }
      if (auto s = parts.find("includeSignificance"); s != parts.end()) {
        pr.significance = std::string(fhir::StringMember(*s->second, "valueCode"));
        if (pr.significance != "major" && pr.significance != "minor") {
          return InvalidParameter("includeSignificance must be valueCode major or minor");
        }
      }
      req.problems.push_back(pr);
      req.include_problems = true;
    } else if (name == "includeImmunisations" || name == "includeInvestigations" ||
               name == "includeReferrals") {
      ASSIGN_OR_RETURN(auto parts, Parts(p, name, {}));
      (void)parts;
      if (name == "includeImmunisations") req.immunisations = true;
      if (name == "includeInvestigations") req.investigations = true;
      if (name == "includeReferrals") req.referrals = true;
    } else if (name == "includeUncategorisedData") {
      ASSIGN_OR_RETURN(auto parts, Parts(p, name, {"uncategorisedDataSearchPeriod"}));
      StructuredRecordRequest::Uncategorised u;
      if (auto s = parts.find("uncategorisedDataSearchPeriod"); s != parts.end()) {
        ASSIGN_OR_RETURN(u.period, PeriodPart(*s->second, s->first, today));
      }
      req.uncategorised = u;
    } else {
      return InvalidParameter("unknown parameter '" + name + "'");
    }
  }
  if (!has_nhs) return InvalidParameter("the patientNHSNumber parameter is required");
  return req;
}

Result<std::string> BuildStructuredRecord(const StructuredRecordRequest& request,
                                          store::StoreView& view,
                                          const fhir::SearchParamRegistry& registry,
                                          const compartment::PatientCompartment& compartment,
                                          Millis now, const std::string& bundle_id) {
  // The Person holding the NHS number, and its Patients.
  IndexQuery q;
  q.type = IndexType::kToken;
  q.s1 = std::string(kNhsSystem);
  q.s2 = request.nhs_number;
  ASSIGN_OR_RETURN(store::RidSet person_rids,
                   search::MatchParamRows("Person", "identifier", "", q, view, registry, nullptr));
  ASSIGN_OR_RETURN(std::vector<ResourceVersion> persons, view.Fetch(person_rids, std::nullopt));
  std::vector<std::string> patient_ids;
  for (const ResourceVersion& p : persons) {
    auto doc = fhir::ParseJson(p.json);
    if (!doc.ok()) continue;
    const fhir::Json* active = fhir::Member(*doc, "active");
    if (active != nullptr && active->IsBool() && !active->GetBool()) continue;
    const fhir::Json* links = fhir::Member(*doc, "link");
    if (links == nullptr || !links->IsArray()) continue;
    for (const fhir::Json& l : links->GetArray()) {
      const fhir::Json* t = fhir::Member(l, "target");
      std::string_view ref = t ? fhir::StringMember(*t, "reference") : "";
      if (ref.rfind("Patient/", 0) == 0) patient_ids.emplace_back(ref.substr(8));
    }
  }
  if (patient_ids.empty()) {
    return PatientNotFound("no person with NHS number " + request.nhs_number);
  }
  ASSIGN_OR_RETURN(store::RidSet patient_rids, view.ByIds("Patient", patient_ids));
  ASSIGN_OR_RETURN(std::vector<ResourceVersion> patients, view.Fetch(patient_rids, std::nullopt));
  std::vector<Item> patient_items;
  for (const ResourceVersion& p : patients) {
    auto doc = fhir::ParseJson(p.json);
    if (doc.ok()) patient_items.push_back({&p, std::move(*doc)});
  }
  // Deceased, restricted (sensitive) or unverified: not found (spec error table).
  const Item* primary = nullptr;
  for (const Item& it : patient_items) {
    const fhir::Json& d = it.doc;
    const fhir::Json* db = fhir::Member(d, "deceasedBoolean");
    if ((db != nullptr && db->IsBool() && db->GetBool()) ||
        fhir::Member(d, "deceasedDateTime") != nullptr) {
      return PatientNotFound("the person with NHS number " + request.nhs_number + " is deceased");
    }
    if (const fhir::Json* meta = fhir::Member(d, "meta")) {
      if (const fhir::Json* sec = fhir::Member(*meta, "security"); sec && sec->IsArray()) {
        for (const fhir::Json& s : sec->GetArray()) {
          if (fhir::StringMember(s, "code") == "R") {
            return PatientNotFound("the record of NHS number " + request.nhs_number +
                                   " is restricted");
          }
        }
      }
    }
    const fhir::Json* ids = fhir::Member(d, "identifier");
    if (ids == nullptr || !ids->IsArray()) continue;
    for (const fhir::Json& id : ids->GetArray()) {
      if (fhir::StringMember(id, "system") != kNhsSystem ||
          fhir::StringMember(id, "value") != request.nhs_number) {
        continue;
      }
      const fhir::Json* exts = fhir::Member(id, "extension");
      bool verified = false;
      if (exts != nullptr && exts->IsArray()) {
        for (const fhir::Json& e : exts->GetArray()) {
          if (fhir::StringMember(e, "url") != kVerificationExtension) continue;
          const fhir::Json* cc = fhir::Member(e, "valueCodeableConcept");
          const fhir::Json* codings = cc ? fhir::Member(*cc, "coding") : nullptr;
          if (codings == nullptr || !codings->IsArray()) continue;
          for (const fhir::Json& c : codings->GetArray()) {
            verified = verified || fhir::StringMember(c, "code") == "01";
          }
        }
      }
      // The GP's record (one naming a registered practice) is preferred.
      if (verified) {
        const bool names_gp = fhir::Member(d, "generalPractitioner") != nullptr;
        if (primary == nullptr ||
            (names_gp && fhir::Member(primary->doc, "generalPractitioner") == nullptr)) {
          primary = &it;
        }
      }
    }
  }
  if (primary == nullptr) {
    return PatientNotFound("no record holds NHS number " + request.nhs_number +
                           " as present and verified");
  }

  // The registered practice and usual GP: the first record that names them.
  std::string gp_org, gp_practitioner;
  std::vector<const Item*> by_preference = {primary};
  for (const Item& it : patient_items) {
    if (&it != primary) by_preference.push_back(&it);
  }
  for (const Item* it : by_preference) {
    const fhir::Json* gps = fhir::Member(it->doc, "generalPractitioner");
    if (gps == nullptr || !gps->IsArray()) continue;
    for (const fhir::Json& g : gps->GetArray()) {
      std::string_view ref = fhir::StringMember(g, "reference");
      if (gp_org.empty() && ref.rfind("Organization/", 0) == 0) gp_org = ref.substr(13);
      if (gp_practitioner.empty() && ref.rfind("Practitioner/", 0) == 0) {
        gp_practitioner = ref.substr(13);
      }
    }
  }

  // The clinical areas' resources across every linked record.
  compartment::EverythingRequest er;
  er.patient_id = primary->v->id;
  if (request.allergies) er.types.push_back("AllergyIntolerance");
  if (request.medication) {
    er.types.push_back("MedicationStatement");
    er.types.push_back("MedicationRequest");
  }
  if (request.consultations) er.types.push_back("Encounter");
  if (request.include_problems) er.types.push_back("Condition");
  if (request.immunisations) er.types.push_back("Immunization");
  if (request.investigations || request.uncategorised) {
    er.types.push_back("DiagnosticReport");
    er.types.push_back("Observation");
  }
  if (request.referrals) er.types.push_back("ServiceRequest");
  std::vector<ResourceVersion> records;
  if (!er.types.empty()) {
    ASSIGN_OR_RETURN(compartment::Everything found,
                     compartment::CollectEverything(er, view, registry, compartment));
    ASSIGN_OR_RETURN(records, view.Fetch(found.rids, std::nullopt));
  }
  std::vector<Item> items;
  items.reserve(records.size());
  for (const ResourceVersion& v : records) {
    auto doc = fhir::ParseJson(v.json);
    if (doc.ok()) items.push_back({&v, std::move(*doc)});
  }
  auto of_type = [&](std::string_view type) {
    std::vector<const Item*> out;
    for (const Item& it : items) {
      if (it.v->type == type) out.push_back(&it);
    }
    return out;
  };
  // Observations that are a DiagnosticReport's results belong to it.
  std::unordered_set<std::string> report_results;
  for (const Item* r : of_type("DiagnosticReport")) {
    const fhir::Json* res = fhir::Member(r->doc, "result");
    if (res == nullptr || !res->IsArray()) continue;
    for (const fhir::Json& x : res->GetArray()) {
      report_results.insert(std::string(fhir::StringMember(x, "reference")));
    }
  }

  std::vector<Section> sections;
  if (request.allergies) {
    Section active{"allergies", "886921000000105", "Allergies and adverse reactions"};
    Section ended{"ended-allergies", "1103671000000101", "Ended allergies"};
    for (const Item* a : of_type("AllergyIntolerance")) {
      std::string_view s = ClinicalStatus(a->doc);
      (s == "resolved" || s == "inactive" ? ended : active).entries.push_back(a);
    }
    sections.push_back(std::move(active));
    if (request.allergies->resolved) sections.push_back(std::move(ended));
  }
  if (request.medication) {
    Section m{"medications", "933361000000108", "Medications and medical devices"};
    const std::string& from = request.medication->search_from;
    for (const Item* s : of_type("MedicationStatement")) {
      std::string end = DateOf(s->doc, {"effectivePeriod.end", "effectiveDateTime"});
      if (from.empty() || end.empty() || end >= from) m.entries.push_back(s);
    }
    for (const Item* r : of_type("MedicationRequest")) {
      // intent "order": an issue of a prescription (GP Connect's
      // authorisation is intent "plan").
      if (!request.medication->prescription_issues &&
          fhir::StringMember(r->doc, "intent") == "order") {
        continue;
      }
      std::string end = DateOf(r->doc, {"dispenseRequest.validityPeriod.end", "authoredOn"});
      if (from.empty() || end.empty() || end >= from) m.entries.push_back(r);
    }
    sections.push_back(std::move(m));
  }
  if (request.consultations) {
    Section c{"consultations", "1149501000000101", "List of consultations"};
    std::vector<std::pair<std::string, const Item*>> dated;
    for (const Item* e : of_type("Encounter")) {
      std::string start = DateOf(e->doc, {"period.start", "period.end"});
      if (InPeriod(start, request.consultations->period)) dated.emplace_back(start, e);
    }
    if (request.consultations->most_recent) {
      std::stable_sort(dated.begin(), dated.end(),
                       [](const auto& a, const auto& b) { return a.first > b.first; });
      if (static_cast<int>(dated.size()) > *request.consultations->most_recent) {
        dated.resize(*request.consultations->most_recent);
      }
    }
    for (const auto& [d, e] : dated) c.entries.push_back(e);
    sections.push_back(std::move(c));
  }
  if (request.include_problems) {
    Section p{"problems", "717711000000103", "Problems"};
    for (const Item* c : of_type("Condition")) {
      std::string_view s = ClinicalStatus(c->doc);
      std::string significance;
      if (const fhir::Json* exts = fhir::Member(c->doc, "extension"); exts && exts->IsArray()) {
        for (const fhir::Json& e : exts->GetArray()) {
          if (fhir::StringMember(e, "url").find(kSignificanceExtension) != std::string_view::npos) {
            significance = std::string(fhir::StringMember(e, "valueCode"));
          }
        }
      }
      for (const auto& f : request.problems) {
        bool active = s == "active" || s == "recurrence" || s == "relapse";
        if (f.status == "active" && !active) continue;
        if (f.status == "inactive" && active) continue;
        if (!f.significance.empty() && f.significance != significance) continue;
        p.entries.push_back(c);
        break;
      }
    }
    sections.push_back(std::move(p));
  }
  if (request.immunisations) {
    Section i{"immunisations", "1102181000000102", "Immunisations"};
    i.entries = of_type("Immunization");
    sections.push_back(std::move(i));
  }
  if (request.investigations) {
    Section inv{"investigations", "887191000000108", "Investigations and Results"};
    inv.entries = of_type("DiagnosticReport");
    for (const Item* o : of_type("Observation")) {
      if (report_results.contains(Ref("Observation", o->v->id))) inv.also.push_back(o);
    }
    sections.push_back(std::move(inv));
  }
  if (request.referrals) {
    Section r{"referrals", "792931000000107", "Outbound referral"};
    r.entries = of_type("ServiceRequest");
    sections.push_back(std::move(r));
  }
  if (request.uncategorised) {
    Section u{"uncategorised", "826501000000100", "Miscellaneous record"};
    for (const Item* o : of_type("Observation")) {
      if (report_results.contains(Ref("Observation", o->v->id))) continue;
      std::string d = DateOf(o->doc, {"effectiveDateTime", "effectivePeriod.start", "issued"});
      if (InPeriod(d, request.uncategorised->period)) u.entries.push_back(o);
    }
    sections.push_back(std::move(u));
  }

  // The Bundle: the Patient records (the GP's first), the practice, the
  // usual GP and their role, then each List with its resources, then what
  // those refer to.
  std::set<std::string> written;
  std::string entries;
  auto entry = [&](std::string_view type, std::string_view id, std::string_view json) {
    if (!written.insert(Ref(type, id)).second) return;
    if (!entries.empty()) entries += ',';
    entries += "{\"resource\":";
    entries += json;
    entries += '}';
  };
  for (const Item* it : by_preference) entry("Patient", it->v->id, it->v->json);
  std::set<std::pair<std::string, std::string>> refs;
  auto read = [&](std::string_view type, const std::string& id) -> Status {
    if (id.empty()) return Status::Ok();
    ASSIGN_OR_RETURN(auto v, view.Read(type, id));
    if (v && !v->deleted) entry(type, id, v->json);
    return Status::Ok();
  };
  RETURN_IF_ERROR(read("Organization", gp_org));
  RETURN_IF_ERROR(read("Practitioner", gp_practitioner));
  if (!gp_practitioner.empty()) {
    IndexQuery rq;
    rq.type = IndexType::kReference;
    rq.s1 = "Practitioner";
    rq.s2 = gp_practitioner;
    ASSIGN_OR_RETURN(store::RidSet roles, search::MatchParamRows("PractitionerRole", "practitioner",
                                                                 "", rq, view, registry, nullptr));
    ASSIGN_OR_RETURN(auto role_versions, view.Fetch(roles, std::nullopt));
    for (const ResourceVersion& r : role_versions) {
      // The role at the registered practice when it is known.
      if (!gp_org.empty() && r.json.find("\"Organization/" + gp_org + "\"") == std::string::npos) {
        continue;
      }
      entry("PractitionerRole", r.id, r.json);
      break;
    }
  }
  const std::string date = FormatInstant(now);
  for (const Section& s : sections) {
    entries += entries.empty() ? "" : ",";
    entries += "{\"resource\":" + ListJson(s, primary->v->id, date) + "}";
    for (const auto* group : {&s.entries, &s.also}) {
      for (const Item* it : *group) {
        entry(it->v->type, it->v->id, it->v->json);
        compartment::CollectReferences(it->doc, refs);
      }
    }
  }
  for (const auto& [type, id] : refs) {
    if (written.contains(Ref(type, id))) continue;
    RETURN_IF_ERROR(read(type, id));
  }
  return R"({"resourceType":"Bundle","id":)" + JsonString(bundle_id) +
         R"(,"meta":{"lastUpdated":)" + JsonString(date) + R"(,"profile":[)" +
         JsonString(kBundleProfile) + R"(]},"type":"collection","entry":[)" + entries + "]}";
}

}  // namespace lhcr::gpconnect
