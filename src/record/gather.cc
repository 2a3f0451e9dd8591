// Gather: the Person of a Patient and every record of every Patient it
// links, read through the index rows of Person.link and of each type's
// `patient` search parameter (one range lookup per Patient and type).
#include <algorithm>
#include <iterator>
#include <unordered_map>

#include "fhir/json.h"
#include "record/record.h"
#include "search/search.h"

namespace lhcr::record {
namespace {

using store::IndexQuery;
using store::IndexType;
using store::Rid;
using store::RidSet;

IndexQuery RefTo(std::string_view type, std::string_view id) {
  IndexQuery q;
  q.type = IndexType::kReference;
  q.op = IndexQuery::Op::kEq;
  q.s1 = std::string(type);
  q.s2 = std::string(id);
  return q;
}

// "Patient/<id>" (relative, or absolute ending so) -> "<id>"; else empty.
std::string PatientIdOf(std::string_view ref) {
  size_t at = ref.rfind("Patient/");
  if (at == std::string_view::npos) return "";
  std::string_view id = ref.substr(at + 8);
  if (size_t h = id.find('/'); h != std::string_view::npos) id = id.substr(0, h);
  return std::string(id);
}

}  // namespace

const std::vector<std::string>& GatheredTypes() {
  static const std::vector<std::string> kTypes = {"MedicationStatement",
                                                  "MedicationRequest",
                                                  "Condition",
                                                  "AllergyIntolerance",
                                                  "Observation",
                                                  "DiagnosticReport",
                                                  "Encounter",
                                                  "EpisodeOfCare",
                                                  "CarePlan",
                                                  "Flag",
                                                  "Procedure",
                                                  "Immunization"};
  return kTypes;
}

Result<SourceItems> Gather(store::StoreView& view, const fhir::SearchParamRegistry& registry,
                           std::string_view patient_id) {
  ASSIGN_OR_RETURN(auto patient, view.Read("Patient", patient_id));
  if (!patient || patient->deleted) {
    return Status::NotFound("Patient/" + std::string(patient_id) + " is not known");
  }
  SourceItems out;
  out.requested = "Patient/" + std::string(patient_id);
  out.patients.push_back(out.requested);

  // The Person that links this Patient (an active one: a merged-away Person
  // is inactive and keeps no links).
  ASSIGN_OR_RETURN(RidSet person_rids,
                   search::MatchParamRows("Person", "link", "", RefTo("Patient", patient_id), view,
                                          registry, nullptr));
  ASSIGN_OR_RETURN(auto persons, view.Fetch(person_rids, std::nullopt));
  for (const store::ResourceVersion& v : persons) {
    auto doc = fhir::ParseJson(v.json);
    if (!doc.ok()) continue;
    const fhir::Json* active = fhir::Member(*doc, "active");
    if (active != nullptr && active->IsBool() && !active->GetBool()) continue;
    out.person = "Person/" + v.id;
    const fhir::Json* links = fhir::Member(*doc, "link");
    if (links == nullptr || !links->IsArray()) break;
    for (const fhir::Json& l : links->GetArray()) {
      const fhir::Json* target = fhir::Member(l, "target");
      if (target == nullptr) continue;
      std::string id = PatientIdOf(fhir::StringMember(*target, "reference"));
      if (id.empty()) continue;
      std::string ref = "Patient/" + id;
      if (std::find(out.patients.begin(), out.patients.end(), ref) == out.patients.end()) {
        out.patients.push_back(std::move(ref));
      }
    }
    break;
  }

  // The Patients themselves (the requested one is already read).
  out.items.push_back({"Patient", patient->id, "", std::move(patient->json)});
  for (size_t i = 1; i < out.patients.size(); ++i) {
    std::string id = out.patients[i].substr(8);
    ASSIGN_OR_RETURN(auto p, view.Read("Patient", id));
    if (!p || p->deleted) continue;
    out.items.push_back({"Patient", p->id, "", std::move(p->json)});
  }
  // Each Patient's compartment, type by type, from the index: the rids of
  // every linked Patient's records of a type, then one fetch for them all.
  std::unordered_map<store::Rid, size_t> owner;  // rid -> index into out.patients
  for (const std::string& type : GatheredTypes()) {
    RidSet all;
    owner.clear();
    for (size_t i = 0; i < out.patients.size(); ++i) {
      std::string_view id = std::string_view(out.patients[i]).substr(8);
      ASSIGN_OR_RETURN(RidSet rids,
                       search::MatchParamRows(type, "patient", "", RefTo("Patient", id), view,
                                              registry, nullptr));
      for (store::Rid r : rids) owner.emplace(r, i);
      if (all.empty()) {
        all = std::move(rids);
      } else if (!rids.empty()) {
        RidSet merged;
        merged.reserve(all.size() + rids.size());
        std::set_union(all.begin(), all.end(), rids.begin(), rids.end(),
                       std::back_inserter(merged));
        all = std::move(merged);
      }
    }
    if (all.empty()) continue;
    ASSIGN_OR_RETURN(auto versions, view.Fetch(all, std::nullopt));
    for (store::ResourceVersion& v : versions) {
      if (v.deleted) continue;
      auto o = owner.find(v.rid);
      if (o == owner.end()) continue;
      out.items.push_back({type, std::move(v.id), out.patients[o->second], std::move(v.json)});
    }
  }
  return out;
}

Result<std::string> Summary(store::Store& store, const fhir::SearchParamRegistry& registry,
                            const terminology::Terminology* terminology,
                            const ConsolidateOptions& consolidate, std::string_view patient_id,
                            const SummaryOptions& options) {
  ASSIGN_OR_RETURN(auto view, store.View());
  ASSIGN_OR_RETURN(SourceItems items, Gather(*view, registry, patient_id));
  ConsolidatedRecord record = Consolidate(items, terminology, consolidate);
  return ToSummaryBundle(record, items, options);
}

}  // namespace lhcr::record
