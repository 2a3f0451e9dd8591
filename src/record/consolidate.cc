// Consolidate: the rules of docs/RECORD.md over gathered source records.
#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_map>

#include "base/text.h"
#include "fhir/json.h"
#include "record/record.h"

namespace lhcr::record {
namespace {

using fhir::Json;
using fhir::Member;
using fhir::StringMember;
using terminology::kLoinc;
using terminology::kSnomed;
using text::Lower;

constexpr std::string_view kDmdLevel = "dmd-level";

std::string Str(const Json& o, std::string_view name) { return std::string(StringMember(o, name)); }

std::string Day(std::string_view t) {
  return std::string(t.substr(0, std::min<size_t>(10, t.size())));
}

// The codings of a CodeableConcept member, in order.
std::vector<Coding> Codings(const Json& resource, std::string_view member) {
  std::vector<Coding> out;
  const Json* cc = Member(resource, member);
  if (cc == nullptr) return out;
  const Json* list = Member(*cc, "coding");
  if (list != nullptr && list->IsArray()) {
    for (const Json& c : list->GetArray()) {
      if (!c.IsObject()) continue;
      Coding k{Str(c, "system"), Str(c, "code"), Str(c, "display")};
      if (!k.code.empty()) out.push_back(std::move(k));
    }
  }
  std::string text = Str(*cc, "text");
  if (out.empty() && !text.empty()) out.push_back({"", "", text});
  return out;
}

// The preferred coding: the first in `systems` order, else the first.
Coding Preferred(const std::vector<Coding>& codings,
                 std::initializer_list<std::string_view> systems) {
  for (std::string_view s : systems) {
    for (const Coding& c : codings) {
      if (c.system == s) return c;
    }
  }
  return codings.empty() ? Coding{} : codings.front();
}

std::string CodeKey(const Coding& c) {
  return c.code.empty() ? "text:" + c.display : c.system + "|" + c.code;
}

std::string SourceIdOf(const Json& resource) {
  const Json* meta = Member(resource, "meta");
  if (meta == nullptr) return "";
  std::string_view s = StringMember(*meta, "source");
  return std::string(s.substr(0, s.find('#')));
}

// An organisation reference: its ODS identifier value, else its reference.
std::pair<std::string, std::string> OrgOf(const Json* ref) {
  if (ref == nullptr || !ref->IsObject()) return {};
  std::string display = Str(*ref, "display");
  const Json* id = Member(*ref, "identifier");
  if (id != nullptr && id->IsObject()) {
    std::string v = Str(*id, "value");
    if (!v.empty()) return {v, display};
  }
  return {Str(*ref, "reference"), display};
}

template <typename T>
void AddSource(T& item, const SourceRef& ref) {
  if (std::find(item.sources.begin(), item.sources.end(), ref) == item.sources.end()) {
    item.sources.push_back(ref);
  }
}

struct Parsed {
  explicit Parsed(const SourceItem* i, rapidjson::MemoryPoolAllocator<>* pool)
      : item(i), doc(pool) {}
  const SourceItem* item;
  fhir::JsonDoc doc;  // in the record's one memory pool
  SourceRef ref;
  std::string kind;  // source kind
};

// ---- medicines ------------------------------------------------------------

struct DmdConcept {
  std::string level, vmp, vtm, vmp_display, vtm_display;
};

class DmdResolver {
 public:
  explicit DmdResolver(const terminology::Terminology* t) : t_(t) {}

  // The dm+d level, VMP and VTM of a SNOMED CT code (empty when unknown).
  const DmdConcept& Resolve(const std::string& code) {
    auto it = cache_.find(code);
    if (it != cache_.end()) return it->second;
    DmdConcept c;
    const terminology::Concept* k = Find(code);
    if (k != nullptr) {
      c.level = Level(*k);
      if (c.level == "AMP") {
        for (const std::string& p : k->parents) {
          const terminology::Concept* pk = Find(p);
          if (pk != nullptr && Level(*pk) == "VMP") {
            c.vmp = p;
            c.vmp_display = pk->display;
            k = pk;
            break;
          }
        }
      } else if (c.level == "VMP") {
        c.vmp = code;
        c.vmp_display = k->display;
      } else if (c.level == "VTM") {
        c.vtm = code;
        c.vtm_display = k->display;
      }
      if (c.vtm.empty() && !c.vmp.empty()) {
        for (const std::string& p : k->parents) {
          const terminology::Concept* pk = Find(p);
          if (pk != nullptr && Level(*pk) == "VTM") {
            c.vtm = p;
            c.vtm_display = pk->display;
            break;
          }
        }
      }
    }
    return cache_.emplace(code, std::move(c)).first->second;
  }

 private:
  const terminology::Concept* Find(const std::string& code) const {
    if (t_ == nullptr) return nullptr;
    const terminology::CodeSystem* cs = t_->FindCodeSystem(kSnomed);
    if (cs == nullptr) return nullptr;
    auto it = cs->concepts.find(code);
    return it == cs->concepts.end() ? nullptr : &it->second;
  }
  static std::string Level(const terminology::Concept& k) {
    auto it = k.properties.find(std::string(kDmdLevel));
    return it == k.properties.end() ? "" : it->second;
  }

  const terminology::Terminology* t_;
  std::unordered_map<std::string, DmdConcept> cache_;
};

std::string NormaliseMedStatus(std::string_view s) {
  if (s == "active" || s == "intended" || s == "on-hold" || s == "draft") return "active";
  return "stopped";  // completed, stopped, cancelled, not-taken, entered-in-error, unknown
}

std::string DoseText(const Json& r, std::string_view member) {
  const Json* list = Member(r, member);
  if (list == nullptr || !list->IsArray() || list->Empty()) return "";
  std::string out;
  for (const Json& d : list->GetArray()) {
    std::string t = Str(d, "text");
    if (t.empty()) continue;
    if (!out.empty()) out += "; ";
    out += t;
  }
  return out;
}

bool IsHospital(std::string_view kind) { return kind == "acute" || kind == "mental-health"; }

std::vector<MedicationEntry> Medications(const std::vector<const Parsed*>& in,
                                         const terminology::Terminology* terminology) {
  DmdResolver dmd(terminology);
  std::vector<MedicationEntry> out;
  std::unordered_map<std::string, size_t> by_key;
  for (const Parsed* p : in) {
    const Json& r = p->doc;
    const bool request = p->item->type == "MedicationRequest";
    std::vector<Coding> codings = Codings(r, "medicationCodeableConcept");
    // medication[x] as a reference: a contained Medication's code is read
    // like an inline one; another resource's is not at hand here, so the
    // reference itself (and its display) names the medicine.
    std::string medication_ref;
    if (const Json* mr = Member(r, "medicationReference"); codings.empty() && mr != nullptr) {
      medication_ref = Str(*mr, "reference");
      if (medication_ref.size() > 1 && medication_ref[0] == '#') {
        if (const Json* contained = Member(r, "contained"); contained && contained->IsArray()) {
          for (const Json& c : contained->GetArray()) {
            if (Str(c, "id") == std::string_view(medication_ref).substr(1)) {
              codings = Codings(c, "code");
              break;
            }
          }
        }
      }
      if (codings.empty()) {
        const std::string display = Str(*mr, "display");
        if (!display.empty()) codings.push_back({"", "", display});
      }
    }
    MedicationSource s;
    s.ref = p->ref;
    s.hospital = IsHospital(p->kind);
    s.status = NormaliseMedStatus(StringMember(r, "status"));
    s.dose = DoseText(r, request ? "dosageInstruction" : "dosage");
    if (const Json* period = Member(r, request ? "dispenseRequest" : "effectivePeriod")) {
      const Json* vp = request ? Member(*period, "validityPeriod") : period;
      if (vp != nullptr) {
        s.start = Str(*vp, "start");
        s.end = Str(*vp, "end");
      }
    }
    if (s.start.empty()) s.start = Str(r, "effectiveDateTime");
    s.last_issued = request ? Str(r, "authoredOn") : Str(r, "dateAsserted");
    if (s.last_issued.empty()) s.last_issued = s.start;

    // The dm+d concept: the first SNOMED CT coding the terminology knows as
    // dm+d; a key by VTM when it has one, else by VMP.
    std::string key, vtm, vmp, display;
    for (const Coding& c : codings) {
      if (c.system != kSnomed) continue;
      const DmdConcept& d = dmd.Resolve(c.code);
      if (d.level.empty()) continue;
      s.coding = c;
      s.level = d.level;
      vtm = d.vtm;
      vmp = d.vmp;
      key = !vtm.empty() ? "vtm:" + vtm : "vmp:" + vmp;
      display = !d.vtm_display.empty() ? d.vtm_display : d.vmp_display;
      break;
    }
    if (key.empty()) {
      s.coding = Preferred(codings, {kSnomed});
      key = !s.coding.code.empty()      ? "code:" + s.coding.system + "|" + s.coding.code
            : !s.coding.display.empty() ? "text:" + Lower(s.coding.display)
            // Nothing names the medicine: an entry of its own, never merged
            // with other unnamed records (by another resource's reference
            // when it has one, so two records of one Medication stay one).
            : !medication_ref.empty() && medication_ref[0] != '#' ? "ref:" + medication_ref
                                                                  : "record:" + p->ref.reference;
      display = s.coding.display;
    }
    auto [it, added] = by_key.emplace(key, out.size());
    if (added) {
      MedicationEntry e;
      e.key = key;
      e.vtm = vtm;
      e.vmp = vmp;
      e.display = display.empty() ? s.coding.display : display;
      out.push_back(std::move(e));
    }
    MedicationEntry& e = out[it->second];
    if (e.vmp.empty()) e.vmp = vmp;
    AddSource(e, s.ref);
    e.per_source.push_back(std::move(s));
  }
  for (MedicationEntry& e : out) {
    bool all_hospital = true, any_active = false, any_stopped = false;
    std::set<std::string> doses;
    for (const MedicationSource& s : e.per_source) {
      all_hospital &= s.hospital;
      any_active |= s.status == "active";
      any_stopped |= s.status == "stopped";
      if (!s.dose.empty()) doses.insert(Lower(s.dose));
      if (s.last_issued > e.last_issued) e.last_issued = s.last_issued;
    }
    e.status = all_hospital ? MedicationStatus::kHospitalOnly
               : any_active ? MedicationStatus::kActive
                            : MedicationStatus::kStopped;
    auto describe = [&](auto pred) {
      std::string d;
      for (const MedicationSource& s : e.per_source) {
        if (!pred(s)) continue;
        if (!d.empty()) d += "; ";
        d += s.ref.reference + " (" + (s.ref.source.empty() ? "?" : s.ref.source) + ")";
        if (!s.dose.empty()) d += ": " + s.dose;
      }
      return d;
    };
    if (doses.size() > 1) {
      e.conflicts.push_back(
          {"dose-differs", describe([](const MedicationSource& s) { return !s.dose.empty(); })});
    }
    if (any_active && any_stopped) {
      e.conflicts.push_back(
          {"status-differs",
           "active in " + describe([](const MedicationSource& s) { return s.status == "active"; }) +
               "; stopped in " +
               describe([](const MedicationSource& s) { return s.status == "stopped"; })});
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const MedicationEntry& a, const MedicationEntry& b) {
    if (a.status != b.status) return a.status < b.status;  // active, stopped, hospital-only
    return Lower(a.display) < Lower(b.display);
  });
  return out;
}

// ---- problems and allergies -----------------------------------------------

bool ActiveStatus(const Json& r) {
  std::vector<Coding> cs = Codings(r, "clinicalStatus");
  if (cs.empty()) return true;  // not stated: shown as active, never hidden
  for (const Coding& c : cs) {
    if (c.code == "active" || c.code == "recurrence" || c.code == "relapse") return true;
  }
  return false;
}

std::vector<ProblemEntry> Problems(const std::vector<const Parsed*>& in) {
  std::vector<ProblemEntry> out;
  std::map<std::pair<std::string, std::string>, size_t> by_key;  // (concept, onset day)
  // Records with an onset first, so one without joins the earliest of its concept.
  std::vector<std::pair<const Parsed*, std::string>> rows;
  for (const Parsed* p : in) {
    std::string onset = Day(StringMember(p->doc, "onsetDateTime"));
    if (onset.empty()) {
      if (const Json* op = Member(p->doc, "onsetPeriod")) onset = Day(StringMember(*op, "start"));
    }
    if (onset.empty()) onset = Day(StringMember(p->doc, "recordedDate"));
    rows.emplace_back(p, onset);
  }
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return !a.second.empty() && (b.second.empty() || a.second < b.second);
  });
  for (const auto& [p, onset] : rows) {
    Coding code = Preferred(Codings(p->doc, "code"), {kSnomed});
    std::string concept_key = CodeKey(code);
    std::pair<std::string, std::string> k{concept_key, onset};
    auto it = by_key.find(k);
    if (it == by_key.end() && onset.empty()) {
      it = by_key.lower_bound({concept_key, ""});
      if (it != by_key.end() && it->first.first != concept_key) it = by_key.end();
    }
    if (it == by_key.end()) {
      it = by_key.emplace(k, out.size()).first;
      out.push_back({code, onset, "", {}});
    }
    ProblemEntry& e = out[it->second];
    if (ActiveStatus(p->doc)) {
      e.clinical_status = "active";
    } else if (e.clinical_status.empty()) {
      std::vector<Coding> cs = Codings(p->doc, "clinicalStatus");
      e.clinical_status = cs.empty() ? "" : cs.front().code;
    }
    AddSource(e, p->ref);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const ProblemEntry& a, const ProblemEntry& b) { return a.onset > b.onset; });
  return out;
}

int CriticalityRank(std::string_view c) {
  if (c == "high") return 3;
  if (c == "low") return 2;
  if (c == "unable-to-assess") return 1;
  return 0;
}

std::vector<AllergyEntry> Allergies(const std::vector<const Parsed*>& in) {
  std::vector<AllergyEntry> out;
  std::unordered_map<std::string, size_t> by_key;
  for (const Parsed* p : in) {
    Coding code = Preferred(Codings(p->doc, "code"), {kSnomed});
    auto [it, added] = by_key.emplace(CodeKey(code), out.size());
    if (added) out.push_back({code, "", "", "", {}});
    AllergyEntry& e = out[it->second];
    std::string crit = Str(p->doc, "criticality");
    if (CriticalityRank(crit) > CriticalityRank(e.criticality)) e.criticality = crit;
    std::vector<Coding> cs = Codings(p->doc, "clinicalStatus");
    std::string status = cs.empty() ? "" : cs.front().code;
    if (status == "active") {
      e.clinical_status = "active";
    } else if (e.clinical_status.empty()) {
      e.clinical_status = status;
    }
    std::string rec = Day(StringMember(p->doc, "recordedDate"));
    if (!rec.empty() && (e.recorded.empty() || rec < e.recorded)) e.recorded = rec;
    AddSource(e, p->ref);
  }
  return out;
}

// ---- results --------------------------------------------------------------

std::string EffectiveTime(const Json& r) {
  std::string t = Str(r, "effectiveDateTime");
  if (t.empty()) {
    if (const Json* ep = Member(r, "effectivePeriod")) t = Str(*ep, "start");
  }
  if (t.empty()) t = Str(r, "issued");
  return t;
}

// The point of one value-bearing element (an Observation or a component).
bool ValueOf(const Json& v, ResultPoint* pt) {
  if (const Json* q = Member(v, "valueQuantity")) {
    const Json* num = Member(*q, "value");
    if (num != nullptr && num->IsNumber()) pt->value = num->GetDouble();
    pt->unit = Str(*q, "code");
    if (pt->unit.empty()) pt->unit = Str(*q, "unit");
    return pt->value.has_value();
  }
  if (const Json* cc = Member(v, "valueCodeableConcept")) {
    std::vector<Coding> cs = Codings(v, "valueCodeableConcept");
    pt->text = cs.empty() ? Str(*cc, "text")
                          : (cs.front().display.empty() ? cs.front().code : cs.front().display);
    return true;
  }
  if (const Json* s = Member(v, "valueString"); s != nullptr && s->IsString()) {
    pt->text = fhir::AsView(*s);
    return true;
  }
  return false;
}

std::string TimeKey(const std::string& t) { return t.substr(0, std::min<size_t>(16, t.size())); }

std::string Trend(const ResultSeries& s) {
  const ResultPoint* last = nullptr;
  const ResultPoint* prev = nullptr;
  for (auto it = s.points.rbegin(); it != s.points.rend(); ++it) {
    if (!it->value) continue;
    if (last == nullptr) {
      last = &*it;
    } else if (TimeKey(it->time) != TimeKey(last->time)) {
      prev = &*it;
      break;
    }
  }
  if (last == nullptr || prev == nullptr) return "";
  double a = *prev->value, b = *last->value;
  double scale = std::max(std::fabs(a), 1e-9);
  if ((b - a) / scale > 0.05) return "rising";
  if ((a - b) / scale > 0.05) return "falling";
  return "stable";
}

std::vector<ResultSeries> Results(const std::vector<const Parsed*>& in) {
  std::vector<ResultSeries> out;
  std::unordered_map<std::string, size_t> by_key;
  // Per series: time key (to the minute) -> its points at that time.
  std::vector<std::unordered_map<std::string, std::vector<size_t>>> at_time;
  auto add = [&](const Coding& code, ResultPoint pt) {
    auto [it, added] = by_key.emplace(CodeKey(code), out.size());
    if (added) {
      out.push_back({code, pt.unit, {}, ""});
      at_time.emplace_back();
    }
    ResultSeries& s = out[it->second];
    if (s.unit.empty()) s.unit = pt.unit;
    // Aligned: the same time (to the minute) and value is one point.
    std::vector<size_t>& same_time = at_time[it->second][TimeKey(pt.time)];
    for (size_t i : same_time) {
      ResultPoint& q = s.points[i];
      if (q.value == pt.value && q.text == pt.text && q.unit == pt.unit) {
        for (const SourceRef& r : pt.sources) {
          if (std::find(q.sources.begin(), q.sources.end(), r) == q.sources.end()) {
            q.sources.push_back(r);
          }
        }
        return;
      }
    }
    same_time.push_back(s.points.size());
    s.points.push_back(std::move(pt));
  };
  for (const Parsed* p : in) {
    const Json& r = p->doc;
    std::string time = EffectiveTime(r);
    ResultPoint pt;
    pt.time = time;
    pt.sources = {p->ref};
    bool any = false;
    if (ValueOf(r, &pt)) {
      add(Preferred(Codings(r, "code"), {kLoinc, kSnomed}), pt);
      any = true;
    }
    if (const Json* comps = Member(r, "component"); comps != nullptr && comps->IsArray()) {
      for (const Json& c : comps->GetArray()) {
        ResultPoint cp;
        cp.time = time;
        cp.sources = {p->ref};
        if (!ValueOf(c, &cp)) continue;
        add(Preferred(Codings(c, "code"), {kLoinc, kSnomed}), cp);
        any = true;
      }
    }
    if (!any) {  // no value: still one point, so the record stays in view
      pt.text = Str(r, "status");
      add(Preferred(Codings(r, "code"), {kLoinc, kSnomed}), pt);
    }
  }
  for (ResultSeries& s : out) {
    std::stable_sort(s.points.begin(), s.points.end(),
                     [](const ResultPoint& a, const ResultPoint& b) { return a.time < b.time; });
    s.trend = Trend(s);
  }
  std::stable_sort(out.begin(), out.end(), [](const ResultSeries& a, const ResultSeries& b) {
    return Lower(a.code.display) < Lower(b.code.display);
  });
  return out;
}

// ---- timeline, care team, social care -------------------------------------

void Period(const Json& r, std::string* start, std::string* end) {
  if (const Json* p = Member(r, "period")) {
    *start = Str(*p, "start");
    *end = Str(*p, "end");
  }
}

}  // namespace

std::string_view ToString(MedicationStatus s) {
  switch (s) {
    case MedicationStatus::kActive:
      return "active";
    case MedicationStatus::kStopped:
      return "stopped";
    case MedicationStatus::kHospitalOnly:
      return "hospital-only";
  }
  return "";
}

ConsolidatedRecord Consolidate(const SourceItems& items,
                               const terminology::Terminology* terminology,
                               const ConsolidateOptions& options) {
  ConsolidatedRecord rec;
  rec.person = items.person;
  rec.requested = items.requested;
  rec.patients = items.patients;

  // One memory pool for every document of the record: a Document of its
  // own allocates a 64 KB chunk per resource, and thousands of them cost
  // more than the parsing.
  rapidjson::MemoryPoolAllocator<> pool(1 << 20);
  // The documents are parsed in place, in one copy of all their bytes: their
  // strings are not copied again (the copy lives until the rules are done).
  size_t bytes = 0;
  for (const SourceItem& item : items.items) bytes += item.json.size() + 1;
  std::string arena;
  arena.reserve(bytes);
  std::vector<Parsed> parsed;
  parsed.reserve(items.items.size());
  for (const SourceItem& item : items.items) {
    Parsed& p = parsed.emplace_back(&item, &pool);
    p.ref.reference = item.type + "/" + item.id;
    p.ref.patient = item.patient.empty() ? p.ref.reference : item.patient;
    size_t at = arena.size();
    arena.append(item.json);
    arena.push_back('\0');
    p.doc.ParseInsitu(&arena[at]);
    if (!p.doc.HasParseError() && p.doc.IsObject()) {
      p.ref.source = SourceIdOf(p.doc);
      auto k = options.source_kinds.find(p.ref.source);
      if (k != options.source_kinds.end()) p.kind = k->second;
    } else {
      p.doc.SetObject();
    }
  }

  std::vector<const Parsed*> meds, problems, allergies, results, encounters, episodes, patients;
  for (const Parsed& p : parsed) {
    const std::string& t = p.item->type;
    if (t == "MedicationStatement" || t == "MedicationRequest") {
      meds.push_back(&p);
    } else if (t == "Condition") {
      problems.push_back(&p);
    } else if (t == "AllergyIntolerance") {
      allergies.push_back(&p);
    } else if (t == "Observation") {
      results.push_back(&p);
    } else if (t == "Encounter") {
      encounters.push_back(&p);
    } else if (t == "EpisodeOfCare") {
      episodes.push_back(&p);
    } else if (t == "Patient") {
      patients.push_back(&p);
    } else {
      OtherItem o;
      o.type = t;
      std::vector<Coding> cs = Codings(p.doc, t == "CarePlan" ? "category" : "code");
      if (t == "CarePlan") o.display = Str(p.doc, "title");
      if (o.display.empty() && !cs.empty()) o.display = cs.front().display;
      if (o.display.empty()) o.display = Str(p.doc, "description");
      std::string s, e;
      Period(p.doc, &s, &e);
      o.date = !s.empty() ? s : EffectiveTime(p.doc);
      if (o.date.empty()) o.date = Str(p.doc, "occurrenceDateTime");
      o.sources = {p.ref};
      if (t == "CarePlan") {
        rec.care_plans.push_back(std::move(o));
      } else if (t == "Flag") {
        rec.alerts.push_back(std::move(o));
      } else {
        rec.reports.push_back(std::move(o));
      }
    }
  }
  rec.medications = Medications(meds, terminology);
  rec.problems = Problems(problems);
  rec.allergies = Allergies(allergies);
  rec.results = Results(results);

  // Timeline: one entry per distinct event — the same start, kind and
  // provider from several records (a duplicate registration, a re-sent
  // message) is one entry.
  std::map<std::string, size_t> tl_key;
  std::map<std::string, size_t> team_key;
  auto team = [&](const std::pair<std::string, std::string>& org, const std::string& role,
                  const std::string& when, const SourceRef& ref) {
    if (org.first.empty()) return;
    auto [it, added] = team_key.emplace(org.first + "|" + role, rec.care_team.size());
    if (added) rec.care_team.push_back({org.first, org.second, role, when, when, {}});
    CareTeamMember& m = rec.care_team[it->second];
    if (m.display.empty()) m.display = org.second;
    if (!when.empty() && (m.first_seen.empty() || when < m.first_seen)) m.first_seen = when;
    if (when > m.last_seen) m.last_seen = when;
    AddSource(m, ref);
  };
  auto timeline = [&](const Parsed& p, const std::string& kind) {
    TimelineEntry e;
    e.kind = kind;
    Period(p.doc, &e.start, &e.end);
    std::pair<std::string, std::string> org =
        OrgOf(Member(p.doc, kind == "episode" ? "managingOrganization" : "serviceProvider"));
    e.organisation = org.first;
    e.organisation_display = org.second;
    e.setting = p.kind;
    if (kind == "encounter") {
      if (const Json* c = Member(p.doc, "class"); c != nullptr && c->IsObject()) {
        e.klass = {Str(*c, "system"), Str(*c, "code"), Str(*c, "display")};
      }
      const Json* types = Member(p.doc, "type");
      if (types != nullptr && types->IsArray() && !types->Empty()) {
        const Json& t0 = (*types)[0];
        e.type = Str(t0, "text");
        if (e.type.empty()) {
          if (const Json* cl = Member(t0, "coding"); cl && cl->IsArray() && !cl->Empty()) {
            e.type = Str((*cl)[0], "display");
          }
        }
      }
      if (e.type.empty()) {
        std::vector<Coding> st = Codings(p.doc, "serviceType");
        if (!st.empty()) e.type = st.front().display;
      }
    } else {
      std::vector<Coding> ts;
      const Json* types = Member(p.doc, "type");
      if (types != nullptr && types->IsArray() && !types->Empty()) {
        const Json* cl = Member((*types)[0], "coding");
        if (cl != nullptr && cl->IsArray() && !cl->Empty()) {
          e.klass = {Str((*cl)[0], "system"), Str((*cl)[0], "code"), Str((*cl)[0], "display")};
          e.type = e.klass.display;
        }
      }
    }
    std::string key = kind + "|" + e.start + "|" + e.klass.code + "|" + e.organisation;
    auto [it, added] = tl_key.emplace(key, rec.timeline.size());
    if (added) rec.timeline.push_back(e);
    TimelineEntry& t = rec.timeline[it->second];
    if (t.end.empty()) t.end = e.end;
    AddSource(t, p.ref);
    team(org, p.kind.empty() ? "care provider" : p.kind, e.start, p.ref);
    return e;
  };
  int64_t social_items = 0;
  for (const Parsed* p : encounters) {
    TimelineEntry e = timeline(*p, "encounter");
    if (p->kind == "social-care") {
      ++social_items;
      std::vector<Coding> ts;
      const Json* types = Member(p->doc, "type");
      Coding service{"", "", e.type};
      if (types != nullptr && types->IsArray() && !types->Empty()) {
        const Json* cl = Member((*types)[0], "coding");
        if (cl != nullptr && cl->IsArray() && !cl->Empty()) {
          service = {Str((*cl)[0], "system"), Str((*cl)[0], "code"), Str((*cl)[0], "display")};
        }
      }
      rec.social_care.push_back({"contact", service, e.start, e.end, e.organisation, {p->ref}});
    }
  }
  for (const Parsed* p : episodes) {
    TimelineEntry e = timeline(*p, "episode");
    ++social_items;
    rec.social_care.push_back({"service", e.klass, e.start, e.end, e.organisation, {p->ref}});
  }
  for (const Parsed* p : patients) {
    const Json* gps = Member(p->doc, "generalPractitioner");
    if (gps != nullptr && gps->IsArray()) {
      for (const Json& g : gps->GetArray()) {
        std::string_view type = StringMember(g, "type");
        std::string_view ref = StringMember(g, "reference");
        if (type == "Organization" || ref.rfind("Organization/", 0) == 0) {
          team(OrgOf(&g), "registered GP practice", "", p->ref);
        }
      }
    }
    // The Patient record itself stays in view as a source of its organisation.
    std::pair<std::string, std::string> org = OrgOf(Member(p->doc, "managingOrganization"));
    if (org.first.empty()) org = {p->ref.source.empty() ? p->ref.reference : p->ref.source, ""};
    team(org, p->kind.empty() ? "care provider" : p->kind, "", p->ref);
  }
  std::stable_sort(
      rec.timeline.begin(), rec.timeline.end(),
      [](const TimelineEntry& a, const TimelineEntry& b) { return a.start > b.start; });
  std::stable_sort(rec.social_care.begin(), rec.social_care.end(),
                   [](const SocialCareInvolvement& a, const SocialCareInvolvement& b) {
                     return a.start > b.start;
                   });
  std::stable_sort(
      rec.care_team.begin(), rec.care_team.end(),
      [](const CareTeamMember& a, const CareTeamMember& b) { return a.last_seen > b.last_seen; });

  int64_t problems_n = static_cast<int64_t>(problems.size());
  rec.counts = {
      {"medications", static_cast<int64_t>(meds.size()),
       static_cast<int64_t>(rec.medications.size())},
      {"problems", problems_n, static_cast<int64_t>(rec.problems.size())},
      {"allergies", static_cast<int64_t>(allergies.size()),
       static_cast<int64_t>(rec.allergies.size())},
      {"results", static_cast<int64_t>(results.size()), static_cast<int64_t>(rec.results.size())},
      {"timeline", static_cast<int64_t>(encounters.size() + episodes.size()),
       static_cast<int64_t>(rec.timeline.size())},
      {"social-care", social_items, static_cast<int64_t>(rec.social_care.size())},
      {"care-team", static_cast<int64_t>(patients.size() + encounters.size() + episodes.size()),
       static_cast<int64_t>(rec.care_team.size())},
      {"other",
       static_cast<int64_t>(rec.care_plans.size() + rec.alerts.size() + rec.reports.size()),
       static_cast<int64_t>(rec.care_plans.size() + rec.alerts.size() + rec.reports.size())},
  };
  return rec;
}

}  // namespace lhcr::record
