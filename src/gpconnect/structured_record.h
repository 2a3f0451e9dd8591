// GP Connect Access Record: Structured over the shared care record —
// `POST Patient/$gpc.getstructuredrecord` (nhsconnect/gpconnect,
// accessrecord_structured_development_retrieve_patient_record): a
// Parameters body with the patient's NHS number and the clinical areas
// wanted in, a `collection` Bundle (GPConnect-StructuredRecord-Bundle-1) out
// with the Patient, the registered GP practice, the usual GP and their
// PractitionerRole when known, then per area a List (its SNOMED code from
// the spec's "Returning data in lists" table) and the area's resources.
//
// The national spec is STU3; lhcr serves the same shape in R4 (ReferralRequest
// is ServiceRequest, ProcedureRequest likewise). The record is the person's:
// every Patient the MPI links to the Person holding the NHS number, read
// through their Patient compartments (compartment/everything.h).
//
// Errors carry the Spine error code (kSpineErrorSystem) as the issue's
// details: INVALID_RESOURCE, INVALID_PARAMETER (kUnprocessable),
// INVALID_NHS_NUMBER (kIncorrect), PATIENT_NOT_FOUND (kNotFound: no Person
// with that NHS number, or the person is deceased, or no record holds the
// number as "present and verified").
//
// Pure functions over a StoreView; thread-compatible.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "compartment/everything.h"
#include "fhir/search_param.h"
#include "store/store.h"

namespace lhcr::gpconnect {

inline constexpr std::string_view kSpineErrorSystem =
    "https://fhir.nhs.uk/STU3/CodeSystem/Spine-ErrorOrWarningCode-1";
inline constexpr std::string_view kBundleProfile =
    "https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-StructuredRecord-Bundle-1";
inline constexpr std::string_view kListProfile =
    "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-List-1";

// Whole dates ("2024-02-01"), either end may be empty.
struct DatePeriod {
  std::string start;
  std::string end;
};

// What was asked. An area that is absent is not returned.
struct StructuredRecordRequest {
  std::string nhs_number;  // 10 digits, check digit valid

  struct Allergies {
    bool resolved = false;  // includeResolvedAllergies (required part)
  };
  std::optional<Allergies> allergies;

  struct Medication {
    bool prescription_issues = false;  // includePrescriptionIssues (required part)
    std::string search_from;           // medicationSearchFromDate, "" for all
  };
  std::optional<Medication> medication;

  struct Consultations {
    std::optional<DatePeriod> period;  // consultationSearchPeriod
    std::optional<int> most_recent;    // includeNumberOfMostRecent
  };
  std::optional<Consultations> consultations;

  struct Problems {
    std::string status;        // includeStatus: "", "active", "inactive"
    std::string significance;  // includeSignificance: "", "major", "minor"
  };
  std::vector<Problems> problems;  // 0..*: each a status/significance combination
  bool include_problems = false;

  bool immunisations = false;
  bool investigations = false;
  bool referrals = false;

  struct Uncategorised {
    std::optional<DatePeriod> period;  // uncategorisedDataSearchPeriod
  };
  std::optional<Uncategorised> uncategorised;
};

// Reads and checks the Parameters (the rules of the spec's error table;
// dates may not be after `today`, "YYYY-MM-DD"). Errors as described above.
Result<StructuredRecordRequest> ParseStructuredRecordRequest(std::string_view parameters_json,
                                                             std::string_view today);

// The response Bundle (JSON) for `request`: `bundle_id` its id, `now` its
// meta.lastUpdated and each List's date.
Result<std::string> BuildStructuredRecord(const StructuredRecordRequest& request,
                                          store::StoreView& view,
                                          const fhir::SearchParamRegistry& registry,
                                          const compartment::PatientCompartment& compartment,
                                          Millis now, const std::string& bundle_id);

}  // namespace lhcr::gpconnect
