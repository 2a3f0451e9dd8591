// Synthetic patient records for benchmarks: one FHIR R4 transaction Bundle
// per patient, about 100 resources each (Patient, Encounters, Observations
// with LOINC codes, Conditions, MedicationRequests, AllergyIntolerances),
// entries POSTed with urn:uuid fullUrls and references to the Patient and an
// Encounter, as a feed from a care setting would send them. Resources carry
// narrative, identifiers and meta.source so that the average resource is
// about 2.7 KB, the size measured on real shared-care feeds.
//
// Deterministic: the same (patient number, seed) gives the same bytes.
// Pure functions; safe to call from several threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lhcr::bench {

// The LOINC codes the Observations use (code, display, UCUM unit).
struct LoincCode {
  std::string_view code;
  std::string_view display;
  std::string_view unit;
  double lo;  // plausible value range
  double hi;
};
const std::vector<LoincCode>& LoincCodes();

struct PatientRecord {
  std::string bundle;                   // the transaction Bundle JSON
  std::vector<std::string> resources;   // each entry's resource JSON, as in the bundle
  size_t resource_bytes = 0;            // sum of resources[i].size()
};

// The record of patient number `n` (0-based) with `resources_per_patient`
// resources (at least 10).
PatientRecord MakePatientRecord(int64_t n, uint64_t seed, int resources_per_patient = 100);

}  // namespace lhcr::bench
