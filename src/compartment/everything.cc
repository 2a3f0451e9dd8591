#include "compartment/everything.h"

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <limits>
#include <map>
#include <set>
#include <span>
#include <unordered_set>

#include "fhir/json.h"
#include "fhir/search_index.h"
#include "search/search.h"

extern "C" const char lhcr_r4_patient_compartment[];
extern "C" const char lhcr_r4_patient_compartment_end[];

namespace lhcr::compartment {
namespace {

using store::IndexQuery;
using store::IndexType;
using store::Rid;

// The types whose resources $everything adds when a compartment resource
// refers to them (R4 Patient-everything: "any resource referenced from
// those, including binaries and attachments" — the ones a record holds).
constexpr std::string_view kReferencedTypes[] = {"Organization", "Practitioner", "PractitionerRole",
                                                 "Location", "Medication"};

// Compartment types $everything leaves out: the audit trail (AuditEvent,
// written for every request by the audit room) is the privacy officer's
// record of who saw what, served through its own access rules, not part of
// the person's care record; it would also grow with every $everything read.
constexpr std::string_view kExcludedTypes[] = {"AuditEvent"};

bool IsExcludedType(std::string_view t) {
  return std::find(std::begin(kExcludedTypes), std::end(kExcludedTypes), t) !=
         std::end(kExcludedTypes);
}

bool IsReferencedType(std::string_view t) {
  return std::find(std::begin(kReferencedTypes), std::end(kReferencedTypes), t) !=
         std::end(kReferencedTypes);
}

// "Type/id" (or "Type/id/_history/n") of a kReferencedTypes type into `out`;
// from raw JSON text (`escaped`) an id holding an escape is skipped, as it
// would have to be decoded and no id of those types has one.
void AddReferencedType(std::string_view ref, bool escaped,
                       std::set<std::pair<std::string, std::string>>& out) {
  size_t slash = ref.find('/');
  if (slash == std::string_view::npos || slash == 0) return;
  std::string_view type = ref.substr(0, slash);
  if (!IsReferencedType(type)) return;
  std::string_view id = ref.substr(slash + 1);
  id = id.substr(0, id.find('/'));
  if (id.empty() || (escaped && id.find('\\') != std::string_view::npos)) return;
  out.emplace(std::string(type), std::string(id));
}

constexpr std::string_view kJsonSpace = " \t\r\n";

// value[x] of a Parameters.parameter as text (strings, numbers, booleans).
std::optional<std::string> PrimitiveValue(const fhir::Json& p) {
  for (auto it = p.MemberBegin(); it != p.MemberEnd(); ++it) {
    std::string_view key = it->name.GetString();
    if (key.rfind("value", 0) != 0) continue;
    if (it->value.IsString()) return std::string(fhir::AsView(it->value));
    if (it->value.IsInt64()) return std::to_string(it->value.GetInt64());
    if (it->value.IsBool()) return std::string(it->value.GetBool() ? "true" : "false");
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

void CollectReferences(const fhir::Json& v, std::set<std::pair<std::string, std::string>>& out) {
  if (v.IsObject()) {
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      if (it->value.IsString() && std::string_view(it->name.GetString()) == "reference") {
        AddReferencedType(fhir::AsView(it->value), /*escaped=*/false, out);
      } else {
        CollectReferences(it->value, out);
      }
    }
  } else if (v.IsArray()) {
    for (const fhir::Json& e : v.GetArray()) CollectReferences(e, out);
  }
}

void CollectReferencesInText(std::string_view json,
                             std::set<std::pair<std::string, std::string>>& out) {
  // Inside a JSON string a quote is escaped, so `"reference"` followed by a
  // colon is always a member name, never text within a value; ids of the
  // referenced types are [A-Za-z0-9.-], which need no escapes.
  constexpr std::string_view kKey = "\"reference\"";
  for (size_t at = json.find(kKey); at != std::string_view::npos;
       at = json.find(kKey, at + kKey.size())) {
    size_t p = json.find_first_not_of(kJsonSpace, at + kKey.size());
    if (p == std::string_view::npos || json[p] != ':') continue;
    p = json.find_first_not_of(kJsonSpace, p + 1);
    if (p == std::string_view::npos || json[p] != '"') continue;
    size_t end = json.find('"', p + 1);
    if (end == std::string_view::npos) break;
    AddReferencedType(json.substr(p + 1, end - p - 1), /*escaped=*/true, out);
  }
}

std::shared_ptr<const PatientCompartment> PatientCompartment::R4() {
  static const std::shared_ptr<const PatientCompartment> r4 = [] {
    std::string_view json(
        lhcr_r4_patient_compartment,
        static_cast<size_t>(lhcr_r4_patient_compartment_end - lhcr_r4_patient_compartment));
    auto c = FromJson(json);
    if (!c.ok()) std::abort();  // the embedded definition is a build artefact
    return *c;
  }();
  return r4;
}

Result<std::shared_ptr<const PatientCompartment>> PatientCompartment::FromJson(
    std::string_view json) {
  ASSIGN_OR_RETURN(fhir::JsonDoc doc, fhir::ParseJson(json));
  if (fhir::StringMember(doc, "resourceType") != "CompartmentDefinition" ||
      fhir::StringMember(doc, "code") != "Patient") {
    return Status::Incorrect("not a CompartmentDefinition for Patient");
  }
  auto c = std::make_shared<PatientCompartment>();
  const fhir::Json* resources = fhir::Member(doc, "resource");
  if (resources == nullptr || !resources->IsArray()) {
    return Status::Incorrect("CompartmentDefinition has no resource list");
  }
  for (const fhir::Json& r : resources->GetArray()) {
    const fhir::Json* params = fhir::Member(r, "param");
    if (params == nullptr || !params->IsArray() || params->Empty()) continue;
    Member m;
    m.type = std::string(fhir::StringMember(r, "code"));
    for (const fhir::Json& p : params->GetArray()) {
      if (p.IsString()) m.params.emplace_back(fhir::AsView(p));
    }
    if (!m.type.empty() && !m.params.empty()) c->members_.push_back(std::move(m));
  }
  return std::shared_ptr<const PatientCompartment>(std::move(c));
}

bool PatientCompartment::Contains(std::string_view type) const {
  for (const Member& m : members_) {
    if (m.type == type) return true;
  }
  return false;
}

Result<EverythingRequest> ParseEverythingParameters(std::string patient_id,
                                                    std::string_view parameters_json,
                                                    const fhir::SearchParamRegistry& registry) {
  EverythingRequest req;
  req.patient_id = std::move(patient_id);
  if (parameters_json.find_first_not_of(" \t\r\n") == std::string_view::npos) return req;
  ASSIGN_OR_RETURN(fhir::JsonDoc doc, fhir::ParseJson(parameters_json));
  if (fhir::StringMember(doc, "resourceType") != "Parameters") {
    return Status::Incorrect("the body must be a Parameters resource");
  }
  const fhir::Json* list = fhir::Member(doc, "parameter");
  if (list == nullptr) return req;
  if (!list->IsArray()) return Status::Incorrect("Parameters.parameter must be an array");
  for (const fhir::Json& p : list->GetArray()) {
    if (!p.IsObject()) return Status::Incorrect("a Parameters.parameter is not an object");
    std::string name(fhir::StringMember(p, "name"));
    if (name == "start" || name == "end") {
      return Status::Unsupported("parameter '" + name +
                                 "' (care date range) is not supported; use _since");
    }
    if (name != "_since" && name != "_type" && name != "_count") {
      return Status::Incorrect("unknown parameter '" + name +
                               "' (Patient/$everything takes _since, _type, _count)");
    }
    std::optional<std::string> value = PrimitiveValue(p);
    if (!value || value->empty()) {
      return Status::Incorrect("parameter '" + name + "' has no value");
    }
    if (name == "_since") {
      auto r = fhir::ParseFhirDateRange(*value);
      if (!r.ok() || value->find('T') == std::string::npos) {
        return Status::Incorrect("_since must be an instant, e.g. 2024-01-02T03:04:05Z, not '" +
                                 *value + "'");
      }
      req.since = r->lo;
    } else if (name == "_count") {
      char* end = nullptr;
      long n = std::strtol(value->c_str(), &end, 10);
      if (*end != '\0' || n < 0 || n > std::numeric_limits<int>::max()) {
        return Status::Incorrect("_count must be a non-negative integer, not '" + *value + "'");
      }
      req.count = static_cast<int>(n);
    } else {
      for (const std::string& t : search::SplitEscaped(*value, ',')) {
        if (!registry.IsResourceType(t)) {
          return Status::Incorrect("_type: '" + t + "' is not a resource type");
        }
        if (std::find(req.types.begin(), req.types.end(), t) == req.types.end()) {
          req.types.push_back(t);
        }
      }
    }
  }
  return req;
}

Result<Everything> CollectEverything(const EverythingRequest& request, store::StoreView& view,
                                     const fhir::SearchParamRegistry& registry,
                                     const PatientCompartment& compartment) {
  Everything out;
  out.seq = view.Seq();
  ASSIGN_OR_RETURN(auto patient, view.Read("Patient", request.patient_id));
  if (!patient) return Status::NotFound("Patient/" + request.patient_id + " is not known");
  if (patient->deleted) return Status::Gone("Patient/" + request.patient_id + " was deleted");

  const bool all_types = request.types.empty();
  auto wanted = [&](std::string_view type) {
    return all_types ||
           std::find(request.types.begin(), request.types.end(), type) != request.types.end();
  };
  std::unordered_set<Rid> seen;
  // With _since: per type, its rids updated since then (read once a type).
  std::map<std::string, store::RidSet, std::less<>> recent;
  // Adds rids (of `type`) that pass _type and _since, each once.
  auto add = [&](std::string_view type, const store::RidSet& rids) -> Status {
    if (!wanted(type) || rids.empty()) return Status::Ok();
    const store::RidSet* keep = nullptr;
    if (request.since) {
      auto it = recent.find(type);
      if (it == recent.end()) {
        ASSIGN_OR_RETURN(
            store::RidSet since,
            view.ByLastUpdated(type, *request.since, std::numeric_limits<int64_t>::max()));
        it = recent.emplace(std::string(type), std::move(since)).first;
      }
      keep = &it->second;
    }
    for (Rid r : rids) {
      if (keep != nullptr && !std::binary_search(keep->begin(), keep->end(), r)) continue;
      if (seen.insert(r).second) out.rids.push_back(r);
    }
    return Status::Ok();
  };

  // The Person(s) that link this Patient, and their Patients.
  IndexQuery q;
  q.type = IndexType::kReference;
  q.s1 = "Patient";
  q.s2 = request.patient_id;
  ASSIGN_OR_RETURN(store::RidSet person_rids,
                   search::MatchParamRows("Person", "link", "", q, view, registry, nullptr));
  ASSIGN_OR_RETURN(auto persons, view.Fetch(person_rids, std::nullopt));
  out.patients.push_back("Patient/" + request.patient_id);
  std::vector<std::string> patient_ids = {request.patient_id};
  for (const store::ResourceVersion& p : persons) {
    out.persons.push_back("Person/" + p.id);
    ASSIGN_OR_RETURN(fhir::JsonDoc doc, fhir::ParseJson(p.json));
    const fhir::Json* links = fhir::Member(doc, "link");
    if (links == nullptr || !links->IsArray()) continue;
    for (const fhir::Json& l : links->GetArray()) {
      const fhir::Json* target = fhir::Member(l, "target");
      if (target == nullptr) continue;
      std::string_view ref = fhir::StringMember(*target, "reference");
      if (ref.rfind("Patient/", 0) != 0) continue;
      std::string id(ref.substr(8));
      if (std::find(patient_ids.begin(), patient_ids.end(), id) == patient_ids.end()) {
        patient_ids.push_back(id);
        out.patients.push_back("Patient/" + id);
      }
    }
  }
  // Referenced resources are found from every member of the record, whether
  // or not its own type is asked for (`_type=Organization` answers with the
  // organisations the record refers to).
  bool any_referenced = false;
  for (std::string_view t : kReferencedTypes) any_referenced = any_referenced || wanted(t);
  std::vector<Rid> members;  // every member, unfiltered, for the reference walk

  // The Patients (asked-about first), then the Person(s).
  for (const std::string& id : patient_ids) {
    ASSIGN_OR_RETURN(store::RidSet live,
                     view.ByIds("Patient", std::span<const std::string>(&id, 1)));
    members.insert(members.end(), live.begin(), live.end());
    RETURN_IF_ERROR(add("Patient", live));
  }
  members.insert(members.end(), person_rids.begin(), person_rids.end());
  RETURN_IF_ERROR(add("Person", person_rids));

  // Every compartment parameter of every type, for each Patient: by type,
  // the union of its parameters' rows. A type neither asked for nor needed
  // for references is not read at all.
  for (const PatientCompartment::Member& m : compartment.members()) {
    if (IsExcludedType(m.type) || (!wanted(m.type) && !any_referenced)) continue;
    store::RidSet rids;
    for (const std::string& param : m.params) {
      if (registry.Find(m.type, param) == nullptr) continue;
      for (const std::string& id : patient_ids) {
        IndexQuery pq;
        pq.type = IndexType::kReference;
        pq.s1 = "Patient";
        pq.s2 = id;
        ASSIGN_OR_RETURN(store::RidSet found,
                         search::MatchParamRows(m.type, param, "", pq, view, registry, nullptr));
        if (found.empty()) continue;
        store::RidSet merged;
        std::set_union(rids.begin(), rids.end(), found.begin(), found.end(),
                       std::back_inserter(merged));
        rids = std::move(merged);
      }
    }
    members.insert(members.end(), rids.begin(), rids.end());
    RETURN_IF_ERROR(add(m.type, rids));
  }

  // The resources the members refer to, when those types are asked for.
  if (any_referenced) {
    std::set<std::pair<std::string, std::string>> refs;
    ASSIGN_OR_RETURN(auto versions, view.Fetch(members, std::nullopt));
    for (const store::ResourceVersion& v : versions) CollectReferencesInText(v.json, refs);
    for (std::string_view t : kReferencedTypes) {
      std::vector<std::string> ids;
      for (auto it = refs.lower_bound({std::string(t), ""}); it != refs.end() && it->first == t;
           ++it) {
        ids.push_back(it->second);
      }
      if (ids.empty()) continue;
      ASSIGN_OR_RETURN(store::RidSet rids, view.ByIds(t, ids));
      RETURN_IF_ERROR(add(t, rids));
    }
  }
  return out;
}

}  // namespace lhcr::compartment
