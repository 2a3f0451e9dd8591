// Compartment: the Patient compartment of a person's whole record, and the
// Patient/{id}/$everything operation over it
// (http://hl7.org/fhir/R4/patient-operation-everything.html).
//
// In a shared care record a person has one Patient per source, each linked
// by the MPI to one Person (docs/MPI.md). $everything on any of those
// Patients answers for the person: the Person, every Patient it links, every
// resource in the Patient compartment of each (R4
// CompartmentDefinition/patient: the resource types and the search
// parameters that put a resource in it), and the Organizations,
// Practitioners, PractitionerRoles, Locations and Medications they refer
// to. The audit trail (AuditEvent) is left out: it is not the person's care
// record. Membership is read from the search index rows (one index lookup per
// compartment parameter and Patient), never by scanning a table.
//
// Pure functions over a StoreView; thread-compatible (the compartment
// definition and the registry are shared and immutable).
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "fhir/json.h"
#include "fhir/search_param.h"
#include "store/store.h"

namespace lhcr::compartment {

// Which search parameters of which resource types place a resource in a
// Patient's compartment.
class PatientCompartment {
 public:
  struct Member {
    std::string type;                 // "Observation"
    std::vector<std::string> params;  // {"subject", "performer"}
  };

  // R4 CompartmentDefinition/patient from the official package, embedded at
  // build time (parsed on first use, shared). A broken embedded file is a
  // build error and aborts.
  static std::shared_ptr<const PatientCompartment> R4();
  // From a CompartmentDefinition (JSON); kIncorrect when it is not one for
  // Patient.
  static Result<std::shared_ptr<const PatientCompartment>> FromJson(std::string_view json);

  // In the definition's order (by type name).
  const std::vector<Member>& members() const { return members_; }
  // Whether `type` has any parameter in the compartment.
  bool Contains(std::string_view type) const;

 private:
  std::vector<Member> members_;
};

// What $everything was asked (its parameters, R4 Patient-everything).
struct EverythingRequest {
  std::string patient_id;
  std::optional<int64_t> since;    // _since: only resources last updated at or after (ms)
  std::vector<std::string> types;  // _type: only these resource types (empty: all)
  std::optional<int> count;        // _count: the page size
};

// Reads the operation's Parameters (value[x] of any primitive type, as the
// API passes GET query parameters as valueStrings): `_since` (instant),
// `_type` (comma lists, repeatable), `_count` (non-negative integer).
// kIncorrect names the bad parameter; `start`/`end` (care dates) are
// kUnsupported, as is any other parameter (the operation defines no more).
Result<EverythingRequest> ParseEverythingParameters(std::string patient_id,
                                                    std::string_view parameters_json,
                                                    const fhir::SearchParamRegistry& registry);

// The resources that answer a request, as rids of one snapshot, in the
// order they are served: the Patient asked about, the other Patients of its
// Person, the Person, the compartment resources (by type in the
// definition's order, then by rid), then the resources they refer to; each
// once. kNotFound when the Patient is unknown, kGone when it is deleted.
struct Everything {
  std::vector<store::Rid> rids;
  int64_t seq = 0;                    // the snapshot (view.Seq()): fetch the rids as of it
  std::vector<std::string> patients;  // "Patient/<id>" whose compartments were read
  std::vector<std::string> persons;   // "Person/<id>" linking the Patient asked about
};

// Adds to `out` the (type, id) of every relative literal reference
// ("Type/id", optionally with /_history/n) in `resource` to a type
// $everything adds: Organization, Practitioner, PractitionerRole, Location,
// Medication.
void CollectReferences(const fhir::Json& resource,
                       std::set<std::pair<std::string, std::string>>& out);

// The same for a resource's stored JSON text, without parsing it (the
// reader CollectEverything uses: a scan for "reference" members).
void CollectReferencesInText(std::string_view json,
                             std::set<std::pair<std::string, std::string>>& out);

Result<Everything> CollectEverything(const EverythingRequest& request, store::StoreView& view,
                                     const fhir::SearchParamRegistry& registry,
                                     const PatientCompartment& compartment);

}  // namespace lhcr::compartment
