// Record: the consolidated longitudinal record of one person — one
// medication list, one problem list, one allergy list, results as series,
// one timeline, the care team and social care involvement — across every
// source record the MPI links to that person's Person (docs/RECORD.md).
//
// A pipeline of named stages over value types:
//
//   Gather(view, registry, patient_id)        -> SourceItems        (store)
//   Consolidate(items, terminology, options)  -> ConsolidatedRecord (pure)
//   ToSummaryBundle(record, items, options)   -> FHIR document Bundle JSON
//
// Source records are never changed: the consolidated record is a view, and
// every consolidated item names the source records it came from (its
// `sources`); every gathered source record is a source of at least one item
// (nothing from a source is lost from view).
//
// Thread-safety: the functions are pure over their inputs (Gather reads only
// the given view, which belongs to the calling thread); the terminology is
// shared and immutable.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "fhir/search_param.h"
#include "store/store.h"
#include "terminology/terminology.h"

namespace lhcr::record {

// One source record, as a consolidated item cites it.
struct SourceRef {
  std::string reference;  // "MedicationStatement/abc"
  std::string source;     // the sending system: meta.source up to '#' (may be empty)
  std::string patient;    // "Patient/<id>": the source's record of the person
  bool operator==(const SourceRef&) const = default;
};

// ---- Stage 1: Gather ------------------------------------------------------

// One stored source resource (its current version).
struct SourceItem {
  std::string type;  // "Observation"
  std::string id;
  std::string patient;  // "Patient/<id>" it belongs to ("" for the Patient itself)
  std::string json;     // the stored bytes
  bool operator==(const SourceItem&) const = default;
};

// Everything the record holds about one person: the requested Patient's
// Person, every Patient linked to it, and each Patient's clinical records.
struct SourceItems {
  std::string person;                 // "Person/<id>"; empty when the Patient has no Person
  std::string requested;              // "Patient/<id>" asked for
  std::vector<std::string> patients;  // "Patient/<id>" linked, the requested one first
  std::vector<SourceItem> items;      // the Patients themselves, then their records
};

// The resource types gathered from each Patient's compartment (by the index
// rows of their `patient` search parameter).
const std::vector<std::string>& GatheredTypes();

// Reads the Person of Patient/`patient_id` (Person.link) and every record of
// every Patient it links, from the index, never by scanning.
// kNotFound: no such Patient (or it is deleted).
Result<SourceItems> Gather(store::StoreView& view, const fhir::SearchParamRegistry& registry,
                           std::string_view patient_id);

// ---- Stage 2: Consolidate -------------------------------------------------

struct Coding {
  std::string system, code, display;
  bool operator==(const Coding&) const = default;
};

enum class MedicationStatus { kActive, kStopped, kHospitalOnly };
std::string_view ToString(MedicationStatus s);  // "active" | "stopped" | "hospital-only"

// What one source says about a medicine.
struct MedicationSource {
  SourceRef ref;
  Coding coding;            // as the source coded it (dm+d AMP, VMP or VTM)
  std::string level;        // its dm+d level: "AMP" | "VMP" | "VTM" | "" (unknown)
  std::string status;       // "active" | "stopped" (the source's status, normalised)
  std::string dose;         // dosage text, may be empty
  std::string start, end;   // dates as sent
  std::string last_issued;  // authoredOn / dateAsserted / start
  bool hospital = false;    // from a hospital source (acute or mental health)
  bool operator==(const MedicationSource&) const = default;
};

struct Conflict {
  std::string kind;    // "dose-differs" | "status-differs"
  std::string detail;  // human-readable, naming the sources
  bool operator==(const Conflict&) const = default;
};

// One medicine across sources: records whose codes share a dm+d VTM (or,
// without one, a VMP; AMPs count as their VMP) are one entry.
struct MedicationEntry {
  std::string vtm, vmp;  // dm+d concepts (SCTIDs); empty when not known
  std::string key;       // what matched: "vtm:<id>", "vmp:<id>", "code:<system>|<code>", "text:<t>"
  std::string display;   // the VTM's (else VMP's, else the first source's) name
  MedicationStatus status = MedicationStatus::kStopped;
  std::string last_issued;
  std::vector<MedicationSource> per_source;
  std::vector<Conflict> conflicts;
  std::vector<SourceRef> sources;
  bool operator==(const MedicationEntry&) const = default;
};

// One problem: records with the same concept and onset date.
struct ProblemEntry {
  Coding code;
  std::string onset;            // YYYY-MM-DD, or empty
  std::string clinical_status;  // active if any source says so
  std::vector<SourceRef> sources;
  bool operator==(const ProblemEntry&) const = default;
};

// One allergy per substance; the highest criticality any source gives.
struct AllergyEntry {
  Coding code;
  std::string criticality;      // "high" | "low" | "unable-to-assess" | ""
  std::string clinical_status;  // active unless every source says otherwise
  std::string recorded;         // earliest recorded date
  std::vector<SourceRef> sources;
  bool operator==(const AllergyEntry&) const = default;
};

// One result at one time (the same code, time and value from several sources
// is one point).
struct ResultPoint {
  std::string time;             // as sent (instant or date)
  std::optional<double> value;  // quantity value in `unit`
  std::string unit;             // UCUM code
  std::string text;             // a coded or string value, when not a quantity
  std::vector<SourceRef> sources;
  bool operator==(const ResultPoint&) const = default;
};

// One observable over time, in its canonical unit, oldest point first.
struct ResultSeries {
  Coding code;  // LOINC when any source gave it, else SNOMED CT, else the first
  std::string unit;
  std::vector<ResultPoint> points;
  std::string trend;  // "rising" | "falling" | "stable" | "" (fewer than two values)
  bool operator==(const ResultSeries&) const = default;
};

// One encounter or episode of care on the timeline.
struct TimelineEntry {
  std::string kind;  // "encounter" | "episode"
  std::string start, end;
  Coding klass;              // Encounter.class (or the episode's type)
  std::string type;          // type / specialty text
  std::string organisation;  // ODS code of the provider
  std::string organisation_display;
  std::string setting;  // source kind: gp | acute | community | mental-health | social-care | ""
  std::vector<SourceRef> sources;
  bool operator==(const TimelineEntry&) const = default;
};

// An organisation involved in the person's care.
struct CareTeamMember {
  std::string organisation;  // ODS code (or the reference when none)
  std::string display;
  std::string role;  // "registered GP practice" | the setting it provides ("acute", ...)
  std::string first_seen, last_seen;
  std::vector<SourceRef> sources;
  bool operator==(const CareTeamMember&) const = default;
};

// A social care service or contact.
struct SocialCareInvolvement {
  std::string kind;  // "service" (EpisodeOfCare) | "contact" (Encounter)
  Coding service;
  std::string start, end;
  std::string organisation;
  std::vector<SourceRef> sources;
  bool operator==(const SocialCareInvolvement&) const = default;
};

// A record kept as it is (care plans, alerts, reports): one source each.
struct OtherItem {
  std::string type;  // "CarePlan" | "Flag" | "DiagnosticReport" | ...
  std::string display;
  std::string date;
  std::vector<SourceRef> sources;
  bool operator==(const OtherItem&) const = default;
};

// Source records into consolidated items, per category.
struct CategoryCount {
  std::string category;
  int64_t source_items = 0;
  int64_t consolidated = 0;
  bool operator==(const CategoryCount&) const = default;
};

struct ConsolidatedRecord {
  std::string person;
  std::string requested;
  std::vector<std::string> patients;
  std::vector<MedicationEntry> medications;  // active first, then by display
  std::vector<ProblemEntry> problems;        // by onset, newest first
  std::vector<AllergyEntry> allergies;
  std::vector<ResultSeries> results;    // by code display
  std::vector<TimelineEntry> timeline;  // newest first
  std::vector<CareTeamMember> care_team;
  std::vector<SocialCareInvolvement> social_care;  // newest first
  std::vector<OtherItem> care_plans, alerts, reports;
  std::vector<CategoryCount> counts;
};

struct ConsolidateOptions {
  // Source id (meta.source before '#') -> kind: gp | acute | community |
  // mental-health | social-care (the source registry's `kind`). Acute and
  // mental-health sources are hospital sources.
  std::map<std::string, std::string, std::less<>> source_kinds;
};

// Applies the consolidation rules (docs/RECORD.md). `terminology` (may be
// null: medicines then match only by identical code) maps dm+d codes to
// their VMP and VTM. Source records it cannot read are kept as OtherItems.
ConsolidatedRecord Consolidate(const SourceItems& items,
                               const terminology::Terminology* terminology,
                               const ConsolidateOptions& options = {});

// ---- Stage 3: the FHIR document -------------------------------------------

struct SummaryOptions {
  std::string base_url;  // "http://host/fhir": source references become absolute
  int64_t now_ms = 0;    // Bundle.timestamp and Composition.date
};

// The record as a FHIR R4 document Bundle: a Composition (LOINC 60591-5
// patient summary) with the IPS / PRSB sections, the requested Patient, one
// resource per consolidated item and, per item, a Provenance whose entities
// (role "source") are its source records (docs/RECORD.md).
std::string ToSummaryBundle(const ConsolidatedRecord& record, const SourceItems& items,
                            const SummaryOptions& options);

// The three stages for Patient/`patient_id` over one snapshot of `store`:
// the operation Patient/{id}/$summary. kNotFound: no such Patient.
Result<std::string> Summary(store::Store& store, const fhir::SearchParamRegistry& registry,
                            const terminology::Terminology* terminology,
                            const ConsolidateOptions& consolidate, std::string_view patient_id,
                            const SummaryOptions& options);

}  // namespace lhcr::record
