// ToSummaryBundle: the consolidated record as a FHIR R4 document Bundle
// (docs/RECORD.md). Written with RapidJSON's streaming writer: the document
// is built once, in order, with no intermediate DOM.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <map>

#include "base/ids.h"
#include "base/time.h"
#include "record/record.h"

namespace lhcr::record {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr std::string_view kLoinc = "http://loinc.org";
constexpr std::string_view kExt = "https://lhcr.example.org/fhir/StructureDefinition/";

void S(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
void K(Writer& w, std::string_view k) {
  w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
}
void KS(Writer& w, std::string_view k, std::string_view v) {
  K(w, k);
  S(w, v);
}

void CodingJson(Writer& w, const Coding& c) {
  w.StartObject();
  if (!c.system.empty()) KS(w, "system", c.system);
  if (!c.code.empty()) KS(w, "code", c.code);
  if (!c.display.empty()) KS(w, "display", c.display);
  w.EndObject();
}

// A CodeableConcept of these codings (text when none has a code).
void ConceptValue(Writer& w, const std::vector<Coding>& codings) {
  w.StartObject();
  bool coded = false;
  for (const Coding& c : codings) coded |= !c.code.empty();
  if (coded) {
    K(w, "coding");
    w.StartArray();
    for (const Coding& c : codings) {
      if (!c.code.empty()) CodingJson(w, c);
    }
    w.EndArray();
  }
  for (const Coding& c : codings) {
    if (!c.display.empty()) {
      KS(w, "text", c.display);
      break;
    }
  }
  w.EndObject();
}

void Concept(Writer& w, std::string_view key, const std::vector<Coding>& codings) {
  K(w, key);
  ConceptValue(w, codings);
}

void Ref(Writer& w, std::string_view key, std::string_view reference) {
  K(w, key);
  w.StartObject();
  KS(w, "reference", reference);
  w.EndObject();
}

void ExtString(Writer& w, std::string_view name, std::string_view kind, std::string_view value) {
  w.StartObject();
  KS(w, "url", std::string(kExt) + std::string(name));
  KS(w, kind, value);
  w.EndObject();
}

// The date part of a FHIR dateTime for elements that take one.
bool ValidDateTime(std::string_view s) { return s.size() >= 4; }

class DocumentWriter {
 public:
  DocumentWriter(const ConsolidatedRecord& rec, const SourceItems& items,
                 const SummaryOptions& options)
      : rec_(rec), items_(items), o_(options), buf_(nullptr, Estimate(items)), w_(buf_) {
    seed_ = rec.requested + "|" + std::to_string(options.now_ms);
    subject_ = Abs(rec.requested);
  }

  // About the size of the document, so the buffer rarely grows.
  static size_t Estimate(const SourceItems& items) {
    size_t n = 4096;
    for (const SourceItem& it : items.items) n += it.type == "Patient" ? it.json.size() : 200;
    return n;
  }

  std::string Run() {
    now_ = FormatInstant(o_.now_ms);
    w_.StartObject();
    KS(w_, "resourceType", "Bundle");
    K(w_, "identifier");
    w_.StartObject();
    KS(w_, "system", "urn:ietf:rfc:3986");
    KS(w_, "value", "urn:uuid:" + StableUuid(seed_ + "|bundle"));
    w_.EndObject();
    KS(w_, "type", "document");
    KS(w_, "timestamp", now_);
    K(w_, "entry");
    w_.StartArray();
    // The Composition comes first; its section entries are known in advance
    // because every fullUrl is derived from (kind, index).
    Composition();
    for (const SourceItem& it : items_.items) {
      if (it.type != "Patient") continue;
      w_.StartObject();
      KS(w_, "fullUrl", Abs("Patient/" + it.id));
      K(w_, "resource");
      w_.RawValue(it.json.data(), it.json.size(), rapidjson::kObjectType);
      w_.EndObject();
    }
    for (size_t i = 0; i < rec_.medications.size(); ++i) Medication(i);
    for (size_t i = 0; i < rec_.problems.size(); ++i) Problem(i);
    for (size_t i = 0; i < rec_.allergies.size(); ++i) Allergy(i);
    for (size_t i = 0; i < rec_.results.size(); ++i) Result(i);
    for (size_t i = 0; i < rec_.timeline.size(); ++i) Timeline(i);
    for (size_t i = 0; i < rec_.care_team.size(); ++i) Team(i);
    // Care plans, alerts and reports are source records kept as they are:
    // the stored resources themselves.
    for (const auto* list : {&rec_.care_plans, &rec_.alerts, &rec_.reports}) {
      for (const OtherItem& o : *list) {
        const SourceItem* it = Find(o.sources.front().reference);
        if (it == nullptr) continue;
        w_.StartObject();
        KS(w_, "fullUrl", Abs(o.sources.front().reference));
        K(w_, "resource");
        w_.RawValue(it->json.data(), it->json.size(), rapidjson::kObjectType);
        w_.EndObject();
      }
    }
    w_.EndArray();
    w_.EndObject();
    return std::string(buf_.GetString(), buf_.GetSize());
  }

 private:
  std::string Abs(std::string_view ref) const {
    return o_.base_url.empty() ? std::string(ref) : o_.base_url + "/" + std::string(ref);
  }
  std::string Url(std::string_view kind, size_t i) const {
    return "urn:uuid:" + StableUuid(seed_ + "|" + std::string(kind) + "|" + std::to_string(i));
  }
  const SourceItem* Find(const std::string& reference) {
    if (by_ref_.empty()) {
      for (const SourceItem& it : items_.items) by_ref_[it.type + "/" + it.id] = &it;
    }
    auto f = by_ref_.find(reference);
    return f == by_ref_.end() ? nullptr : f->second;
  }

  void Section(std::string_view title, std::string_view code, std::string_view display,
               const std::vector<std::string>& entries) {
    w_.StartObject();
    KS(w_, "title", title);
    Concept(w_, "code", {{std::string(kLoinc), std::string(code), std::string(display)}});
    if (entries.empty()) {
      K(w_, "text");
      w_.StartObject();
      KS(w_, "status", "generated");
      KS(w_, "div",
         "<div xmlns=\"http://www.w3.org/1999/xhtml\">No information in any source</div>");
      w_.EndObject();
      Concept(w_, "emptyReason",
              {{"http://terminology.hl7.org/CodeSystem/list-empty-reason", "unavailable",
                "Unavailable"}});
    } else {
      K(w_, "entry");
      w_.StartArray();
      for (const std::string& e : entries) {
        w_.StartObject();
        KS(w_, "reference", e);
        w_.EndObject();
      }
      w_.EndArray();
    }
    w_.EndObject();
  }

  template <typename T>
  std::vector<std::string> Urls(std::string_view kind, const std::vector<T>& v) const {
    std::vector<std::string> out;
    out.reserve(v.size());
    for (size_t i = 0; i < v.size(); ++i) out.push_back(Url(kind, i));
    return out;
  }

  void Composition() {
    w_.StartObject();
    KS(w_, "fullUrl", Url("composition", 0));
    K(w_, "resource");
    w_.StartObject();
    KS(w_, "resourceType", "Composition");
    KS(w_, "status", "final");
    Concept(w_, "type", {{std::string(kLoinc), "60591-5", "Patient summary Document"}});
    Ref(w_, "subject", subject_);
    KS(w_, "date", now_);
    K(w_, "author");
    w_.StartArray();
    w_.StartObject();
    KS(w_, "display", "lhcr shared care record (consolidated from every linked source)");
    w_.EndObject();
    w_.EndArray();
    KS(w_, "title", "Patient summary");
    if (!rec_.person.empty()) {
      K(w_, "extension");
      w_.StartArray();
      w_.StartObject();
      KS(w_, "url", std::string(kExt) + "record-person");
      K(w_, "valueReference");
      w_.StartObject();
      KS(w_, "reference", Abs(rec_.person));
      w_.EndObject();
      w_.EndObject();
      w_.EndArray();
    }
    K(w_, "section");
    w_.StartArray();
    Section("Problems", "11450-4", "Problem list - Reported", Urls("problem", rec_.problems));
    Section("Medications", "10160-0", "History of Medication use Narrative",
            Urls("medication", rec_.medications));
    Section("Allergies and adverse reactions", "48765-2",
            "Allergies and adverse reactions Document", Urls("allergy", rec_.allergies));
    std::vector<std::string> results = Urls("result", rec_.results);
    for (const OtherItem& o : rec_.reports) results.push_back(Abs(o.sources.front().reference));
    Section("Results", "30954-2", "Relevant diagnostic tests/laboratory data Narrative", results);
    Section("Encounters", "46240-8", "History of Hospitalizations+Outpatient visits Narrative",
            Urls("timeline", rec_.timeline));
    std::vector<std::string> plans;
    for (const OtherItem& o : rec_.care_plans) plans.push_back(Abs(o.sources.front().reference));
    Section("Care plans", "18776-5", "Plan of care note", plans);
    // Social care: the timeline entries that hold its records.
    std::vector<std::string> social;
    for (const SocialCareInvolvement& s : rec_.social_care) {
      for (size_t i = 0; i < rec_.timeline.size(); ++i) {
        const auto& src = rec_.timeline[i].sources;
        if (std::find(src.begin(), src.end(), s.sources.front()) == src.end()) continue;
        std::string u = Url("timeline", i);
        if (std::find(social.begin(), social.end(), u) == social.end()) social.push_back(u);
      }
    }
    Section("Social care", "29762-2", "Social history Narrative", social);
    std::vector<std::string> alerts;
    for (const OtherItem& o : rec_.alerts) alerts.push_back(Abs(o.sources.front().reference));
    Section("Alerts", "104605-1", "Alert", alerts);
    Section("Care team", "85847-2", "Patient Care team information", Urls("team", rec_.care_team));
    w_.EndArray();
    w_.EndObject();
    w_.EndObject();
  }

  // Opens an entry: fullUrl, resource with its type and the record's
  // extensions to follow.
  void Begin(const std::string& url, std::string_view type) {
    w_.StartObject();
    KS(w_, "fullUrl", url);
    K(w_, "resource");
    w_.StartObject();
    KS(w_, "resourceType", type);
  }
  void End() {
    w_.EndObject();
    w_.EndObject();
  }

  // The Provenance of one consolidated item: its source records.
  void Provenance(const std::string& target, const std::vector<SourceRef>& sources) {
    w_.StartObject();
    KS(w_, "fullUrl", "urn:uuid:" + StableUuid(target + "|provenance"));
    K(w_, "resource");
    w_.StartObject();
    KS(w_, "resourceType", "Provenance");
    K(w_, "target");
    w_.StartArray();
    w_.StartObject();
    KS(w_, "reference", target);
    w_.EndObject();
    w_.EndArray();
    KS(w_, "recorded", now_);
    Concept(w_, "activity",
            {{"http://terminology.hl7.org/CodeSystem/v3-DataOperation", "DERIVE", "derive"}});
    K(w_, "agent");
    w_.StartArray();
    w_.StartObject();
    Concept(w_, "type",
            {{"http://terminology.hl7.org/CodeSystem/provenance-participant-type", "assembler",
              "Assembler"}});
    K(w_, "who");
    w_.StartObject();
    KS(w_, "display", "lhcr record consolidation");
    w_.EndObject();
    w_.EndObject();
    w_.EndArray();
    K(w_, "entity");
    w_.StartArray();
    for (const SourceRef& s : sources) {
      w_.StartObject();
      KS(w_, "role", "source");
      K(w_, "what");
      w_.StartObject();
      KS(w_, "reference", Abs(s.reference));
      if (!s.source.empty()) KS(w_, "display", s.source);
      w_.EndObject();
      w_.EndObject();
    }
    w_.EndArray();
    w_.EndObject();
    w_.EndObject();
  }

  void Medication(size_t i) {
    const MedicationEntry& m = rec_.medications[i];
    std::string url = Url("medication", i);
    Begin(url, "MedicationStatement");
    K(w_, "extension");
    w_.StartArray();
    ExtString(w_, "record-medication-status", "valueCode", ToString(m.status));
    for (const Conflict& c : m.conflicts) {
      ExtString(w_, "record-conflict", "valueString", c.kind + ": " + c.detail);
    }
    w_.EndArray();
    // R4 MedicationStatement.status: a hospital-only medicine has the status
    // its hospital gave; otherwise active or stopped.
    std::string status = m.status == MedicationStatus::kStopped ? "stopped" : "active";
    if (m.status == MedicationStatus::kHospitalOnly) {
      bool any_active = false;
      for (const MedicationSource& s : m.per_source) any_active |= s.status == "active";
      status = any_active ? "active" : "stopped";
    }
    KS(w_, "status", status);
    std::vector<Coding> codings;
    if (!m.vtm.empty()) codings.push_back({"http://snomed.info/sct", m.vtm, ""});
    if (!m.vmp.empty()) codings.push_back({"http://snomed.info/sct", m.vmp, ""});
    if (!codings.empty()) codings.front().display = m.display;
    for (const MedicationSource& s : m.per_source) {
      bool dup = false;
      for (const Coding& c : codings) dup |= c.system == s.coding.system && c.code == s.coding.code;
      if (!dup) codings.push_back(s.coding);
    }
    if (codings.empty() || codings.front().display.empty()) {
      codings.insert(codings.begin(), Coding{"", "", m.display});
    }
    Concept(w_, "medicationCodeableConcept", codings);
    Ref(w_, "subject", subject_);
    if (ValidDateTime(m.last_issued)) KS(w_, "dateAsserted", m.last_issued);
    std::vector<const MedicationSource*> doses;
    for (const MedicationSource& s : m.per_source) {
      if (!s.dose.empty()) doses.push_back(&s);
    }
    if (!doses.empty()) {
      K(w_, "dosage");
      w_.StartArray();
      for (const MedicationSource* s : doses) {
        w_.StartObject();
        KS(w_, "text",
           s->dose + " (" + (s->ref.source.empty() ? s->ref.reference : s->ref.source) + ")");
        w_.EndObject();
      }
      w_.EndArray();
    }
    End();
    Provenance(url, m.sources);
  }

  void Problem(size_t i) {
    const ProblemEntry& p = rec_.problems[i];
    std::string url = Url("problem", i);
    Begin(url, "Condition");
    if (!p.clinical_status.empty()) {
      Concept(
          w_, "clinicalStatus",
          {{"http://terminology.hl7.org/CodeSystem/condition-clinical", p.clinical_status, ""}});
    }
    Concept(w_, "code", {p.code});
    Ref(w_, "subject", subject_);
    if (!p.onset.empty()) KS(w_, "onsetDateTime", p.onset);
    End();
    Provenance(url, p.sources);
  }

  void Allergy(size_t i) {
    const AllergyEntry& a = rec_.allergies[i];
    std::string url = Url("allergy", i);
    Begin(url, "AllergyIntolerance");
    if (!a.clinical_status.empty()) {
      Concept(w_, "clinicalStatus",
              {{"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                a.clinical_status, ""}});
    }
    if (!a.criticality.empty()) KS(w_, "criticality", a.criticality);
    Concept(w_, "code", {a.code});
    Ref(w_, "patient", subject_);
    if (!a.recorded.empty()) KS(w_, "recordedDate", a.recorded);
    End();
    Provenance(url, a.sources);
  }

  void Result(size_t i) {
    const ResultSeries& s = rec_.results[i];
    std::string url = Url("result", i);
    Begin(url, "Observation");
    if (!s.trend.empty()) {
      K(w_, "extension");
      w_.StartArray();
      ExtString(w_, "record-trend", "valueCode", s.trend);
      w_.EndArray();
    }
    KS(w_, "status", "final");
    Concept(w_, "code", {s.code});
    Ref(w_, "subject", subject_);
    std::vector<SourceRef> sources;
    if (!s.points.empty()) {
      const ResultPoint& last = s.points.back();
      if (ValidDateTime(last.time)) KS(w_, "effectiveDateTime", last.time);
      if (last.value) {
        K(w_, "valueQuantity");
        w_.StartObject();
        K(w_, "value");
        w_.Double(*last.value);
        if (!last.unit.empty()) {
          KS(w_, "unit", last.unit);
          KS(w_, "system", "http://unitsofmeasure.org");
          KS(w_, "code", last.unit);
        }
        w_.EndObject();
      } else if (!last.text.empty()) {
        KS(w_, "valueString", last.text);
      }
    }
    // The source Observations of every point are the Provenance's entities.
    for (const ResultPoint& p : s.points) {
      for (const SourceRef& r : p.sources) sources.push_back(r);
    }
    End();
    Provenance(url, sources);
  }

  void Timeline(size_t i) {
    const TimelineEntry& t = rec_.timeline[i];
    std::string url = Url("timeline", i);
    const bool episode = t.kind == "episode";
    Begin(url, episode ? "EpisodeOfCare" : "Encounter");
    KS(w_, "status",
       episode ? (t.end.empty() ? "active" : "finished")
               : (t.end.empty() ? "in-progress" : "finished"));
    if (episode) {
      if (!t.klass.code.empty()) {
        K(w_, "type");
        w_.StartArray();
        ConceptValue(w_, {t.klass});
        w_.EndArray();
      }
      Ref(w_, "patient", subject_);
    } else {
      K(w_, "class");
      CodingJson(
          w_, t.klass.code.empty()
                  ? Coding{"http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB", "ambulatory"}
                  : t.klass);
      if (!t.type.empty()) {
        K(w_, "type");
        w_.StartArray();
        w_.StartObject();
        KS(w_, "text", t.type);
        w_.EndObject();
        w_.EndArray();
      }
      Ref(w_, "subject", subject_);
    }
    if (!t.start.empty()) {
      K(w_, "period");
      w_.StartObject();
      KS(w_, "start", t.start);
      if (!t.end.empty()) KS(w_, "end", t.end);
      w_.EndObject();
    }
    if (!t.organisation.empty()) {
      K(w_, episode ? "managingOrganization" : "serviceProvider");
      OrgRef(t.organisation, t.organisation_display);
    }
    End();
    Provenance(url, t.sources);
  }

  void OrgRef(const std::string& org, const std::string& display) {
    w_.StartObject();
    if (org.find('/') != std::string::npos) {
      KS(w_, "reference", org);
    } else {
      KS(w_, "type", "Organization");
      K(w_, "identifier");
      w_.StartObject();
      KS(w_, "system", "https://fhir.nhs.uk/Id/ods-organization-code");
      KS(w_, "value", org);
      w_.EndObject();
    }
    if (!display.empty()) KS(w_, "display", display);
    w_.EndObject();
  }

  void Team(size_t i) {
    const CareTeamMember& m = rec_.care_team[i];
    std::string url = Url("team", i);
    Begin(url, "CareTeam");
    KS(w_, "status", "active");
    Ref(w_, "subject", subject_);
    if (!m.first_seen.empty()) {
      K(w_, "period");
      w_.StartObject();
      KS(w_, "start", m.first_seen);
      if (!m.last_seen.empty()) KS(w_, "end", m.last_seen);
      w_.EndObject();
    }
    K(w_, "participant");
    w_.StartArray();
    w_.StartObject();
    K(w_, "role");
    w_.StartArray();
    w_.StartObject();
    KS(w_, "text", m.role);
    w_.EndObject();
    w_.EndArray();
    K(w_, "member");
    OrgRef(m.organisation, m.display);
    w_.EndObject();
    w_.EndArray();
    End();
    Provenance(url, m.sources);
  }

  const ConsolidatedRecord& rec_;
  const SourceItems& items_;
  const SummaryOptions& o_;
  rapidjson::StringBuffer buf_;
  Writer w_;
  std::string seed_, subject_, now_;
  std::map<std::string, const SourceItem*> by_ref_;
};

}  // namespace

std::string ToSummaryBundle(const ConsolidatedRecord& record, const SourceItems& items,
                            const SummaryOptions& options) {
  return DocumentWriter(record, items, options).Run();
}

}  // namespace lhcr::record
