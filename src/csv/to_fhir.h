// A source's CSV extract to FHIR R4: the per-source column mapping (the
// "csv" member of the source's entry in sources.json, docs/SYNTH.md "CSV
// column mapping") and the mapper that turns an extract into one transaction
// Bundle per source record, ready for interaction::Interactions::Bundle
// (POST /fhir). docs/CSV.md has the rules in full.
//
// Rows sharing the record id (the `record_id_column`) are one person record
// of the source; each record becomes one Bundle:
//   * a Patient (conditional PUT on the local identifier: the record id in
//     CsvSourceInfo::patient_id_system), from the last row of the record;
//   * one resource per row that holds an event, of the type
//     `event_types[category]` (Encounter or EpisodeOfCare; Encounter when the
//     category is not listed), conditional PUT on the event identifier;
//   * a Provenance (PUT by an id derived from source and record id) whose
//     targets are every resource of the Bundle and whose agent is the source
//     organisation.
// References inside a Bundle use urn:uuid fullUrls derived from the source
// id and the resource's identifier, so mapping the same extract twice gives
// byte-identical Bundles. Every resource has meta.source
// "<source_id>#<record id>" (each percent-encoded where a uri needs it) and,
// where UK Core has one, its UK Core profile.
//
// Data-quality problems do not fail a record: the item is left out (or kept
// as said) and a Finding says so, with the codes hl7v2::Finding uses
// (invalid-nhs-number, test-nhs-number, missing-item, invalid-date,
// unmapped-code, unmapped-value) and three of the CSV's own:
// conflicting-demographics (rows of one record disagree on a patient field;
// the last row wins), duplicate-row (an event identifier twice in a record;
// the last row wins) and rejected-row (a row that cannot be used: skipped).
//
// Applying a Bundle twice writes every resource twice (a PUT is a new
// version). hl7v2::DropStaleEntries removes the entries whose stored
// counterpart already says the same, so that a daily full extract only
// writes what changed. (meta.source names the record, not an extract, and
// these Bundles carry no message time, so its "same message" rule, which
// needs equal message times, never applies to them.)
//
// All functions are pure (no I/O, no clock) and safe to call from several
// threads at once.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "csv/csv.h"
#include "hl7v2/to_fhir.h"

namespace lhcr::csv {

// valueQuantity (unit "h/wk", UCUM): care hours per week of a service
// (event.quantity), on the event resource.
inline constexpr std::string_view kHoursPerWeekExtension =
    "https://lhcr.example/fhir/StructureDefinition/care-hours-per-week";
// valueCoding: the source's category of the event (event.category), on the
// event resource (an Encounter also has it as serviceType).
inline constexpr std::string_view kEventCategoryExtension =
    "https://lhcr.example/fhir/StructureDefinition/source-event-category";

// The targets a column may name in `field`:
//   patient.identifier.local (the record id column, and only it),
//   patient.identifier.nhs-number, patient.name.given (several allowed, in
//   order), patient.name.family, patient.birthDate, patient.gender,
//   patient.address.line (several allowed), patient.address.city,
//   patient.address.postalCode, event.identifier, event.category,
//   event.code, event.code.display, event.period.start, event.period.end,
//   event.quantity, and "ignore" (a column that is read and not used).
struct CsvColumn {
  std::string name;    // the header text (with no header: the position decides)
  std::string field;   // one of the targets above
  std::string system;  // code system URI of a coded column (event.category, event.code)
  std::string note;    // free text for people
  bool operator==(const CsvColumn&) const = default;
};

struct CsvMapping {
  char delimiter = ',';
  char quote = '"';
  bool header = true;
  // DD, MM and YYYY with separators ("DD/MM/YYYY", "YYYY-MM-DD") or none
  // ("YYYYMMDD"); with separators, day and month may have one digit.
  std::string date_format = "DD/MM/YYYY";
  std::string record_id_column;
  std::vector<CsvColumn> columns;
  std::map<std::string, std::string> local_codes;  // event.code -> display
  std::map<std::string, std::string> event_types;  // event.category -> FHIR resource type
  Dialect dialect() const { return {delimiter, quote, header}; }
  bool operator==(const CsvMapping&) const = default;
};

// Parses the JSON text of a "csv" member. kIncorrect naming the member when:
// it is not an object; delimiter / quote is not a one-character string (or
// they are equal, or CR/LF); header is not a boolean; date_format is not a
// pattern as above; encoding is given and is not UTF-8; record_id_column is
// missing or names no column; columns is missing, empty or holds an entry
// without a string name and field; a name is repeated; a field is not a
// known target, or a single-valued target is named twice; the record id
// column is not the patient.identifier.local column; local_codes or
// event_types is not an object of strings; an event type is not Encounter
// or EpisodeOfCare. Members this reader does not know (line_terminator,
// row, ...) are ignored.
Result<CsvMapping> ParseCsvMapping(std::string_view json);

// Who sent the extract, and the URIs of its identifier and code systems.
// Empty systems get defaults (WithDefaults) from the ODS code, as the FHIR
// sources of sources.json name theirs: "https://fhir.example.nhs.uk/<ODS>/Id/
// patient", ".../Id/encounter", ".../Id/episodeofcare", coded columns
// without a system ".../CodeSystem/<column name, lower case>"; without an ODS
// code, "https://fhir.<source_id>.example/..." instead.
struct CsvSourceInfo {
  std::string source_id;  // "la-x99": meta.source, Provenance
  std::string ods_code;   // "X99": managing organisation, Provenance agent
  std::string patient_id_system;
  std::string encounter_id_system;
  std::string episode_of_care_id_system;
  std::string code_system_prefix;  // for coded columns without a system
  // When the extract was produced (a FHIR instant): Provenance.recorded.
  // Empty: "1970-01-01T00:00:00Z".
  std::string extract_time;
  // This CsvSourceInfo with every empty system filled in.
  CsvSourceInfo WithDefaults() const;
};

struct Finding {
  std::string location;  // "row 12, column NHSNo" (data row, 1-based, header not counted)
  std::string code;      // see the top of this file
  std::string message;
  bool operator==(const Finding&) const = default;
};

// One source record: its Bundle and what was found while mapping it.
struct CsvRecord {
  std::string record_id;
  std::string bundle_json;  // FHIR R4 transaction Bundle
  std::vector<Finding> findings;
  int first_row = 0;  // data row number of the record's first row
};

struct CsvMapped {
  std::vector<CsvRecord> records;                // in order of first appearance
  std::vector<Finding> findings_without_record;  // rejected rows without a record id
  int rows = 0;                                  // data rows read
};

// Maps a whole extract. Errors: kIncorrect when the text does not parse as
// CSV in the mapping's dialect (the message names line and column; nothing
// is mapped), when the header lacks a mapped column, or (without a header)
// when the rows do not have one field per mapped column.
Result<CsvMapped> MapCsvToFhir(std::string_view text, const CsvMapping& mapping,
                               const CsvSourceInfo& source);

}  // namespace lhcr::csv
