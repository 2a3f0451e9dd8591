// SourceRegistry: the feeds the record takes data from, as described by the
// `sources.json` file `lhcr synth` writes (docs/SYNTH.md, "The source
// registry"): for each source its id, ODS code, format, the URIs of its
// local identifier and code systems and, for a CSV source, its column
// mapping. Ingest uses it to recognise who sent a message, to name that
// sender's identifiers and to read its extracts.
//
// A loaded registry is immutable: safe to read from many threads at once.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "csv/to_fhir.h"
#include "hl7v2/to_fhir.h"

namespace lhcr::ingest {

struct Source {
  std::string id;             // "acute-rxx"; MSH-3 of its HL7 v2 feed may name it
  std::string name;           // human-readable
  std::string kind;           // gp | acute | community | mental-health | social-care
  std::string ods_code;       // "RXX"; MSH-4 of its HL7 v2 feed names it
  std::string format;         // fhir | hl7v2 | csv
  double identity_trust = 0;  // 0..1, how far its demographics are trusted
  std::vector<std::string> files;
  // FHIR sources: the system of the record id and the prefix of the others.
  std::string record_id_system;
  std::string resource_id_system_prefix;
  // HL7 v2 sources: the version sent ("2.4"), empty for other formats.
  std::string hl7_version;
  // HL7 coding system name (OBX-3.3, "99R9AL") -> code system URI.
  std::map<std::string, std::string> local_code_systems;
  // Concept maps (canonical URLs of loaded ConceptMaps, sources.json
  // "concept_maps") whose source systems are this source's local codes: at
  // ingest their targets are added beside those codes (docs/TERMINOLOGY.md).
  std::vector<std::string> concept_maps;
  // The source's local code map file ("local_code_map": CSV
  // local_code,display,unit,loinc,snomed), as written (relative to the
  // registry's folder), and its text once LoadSourceRegistry has read it
  // (empty when the file is not there). It becomes the ConceptMap
  // LocalCodeMapUrl(source) from the first of local_code_systems.
  std::string local_code_map;
  std::string local_code_map_csv;
  // CSV sources: the column mapping (the "csv" member); absent otherwise.
  std::optional<csv::CsvMapping> csv;
  bool operator==(const Source&) const = default;
};

class SourceRegistry {
 public:
  SourceRegistry() = default;
  explicit SourceRegistry(std::vector<Source> sources) : sources_(std::move(sources)) {}

  const std::vector<Source>& sources() const { return sources_; }
  // The source with this ODS code / id (exact match), or null.
  const Source* FindByOds(std::string_view ods) const;
  const Source* FindById(std::string_view id) const;

 private:
  std::vector<Source> sources_;
};

// Parses the text of a sources.json. kIncorrect naming the offending source
// (by index) when the JSON is malformed, not an object with a "sources"
// array, or a source lacks a string "id"; duplicate ids are kIncorrect; a
// "csv" member that csv::ParseCsvMapping rejects is kIncorrect naming the
// source by index and id.
// Members this reader does not know are ignored.
Result<SourceRegistry> ParseSourceRegistry(std::string_view json);

// Reads and parses the file at `path`: kUnavailable when it cannot be read,
// else as ParseSourceRegistry (the message names the path).
Result<SourceRegistry> LoadSourceRegistry(const std::string& path);

// How hl7v2::MapToFhir names this source's systems: source_id and ods_code
// as registered; the patient id system is record_id_system, else
// "https://fhir.example.nhs.uk/<ODS>/Id/patient" (the pattern sources.json
// uses for FHIR sources); the lab code system is the first of
// local_code_systems; every other system is left to SourceInfo's defaults.
hl7v2::SourceInfo ToHl7SourceInfo(const Source& source);

// The ConceptMap a source's local code map becomes:
// "https://fhir.example.nhs.uk/<ODS>/ConceptMap/local-codes" (the pattern of
// the sources' identifier systems), else ".../<id>/..." without an ODS code.
std::string LocalCodeMapUrl(const Source& source);
// Every concept map that applies to the source's codes: concept_maps, then
// LocalCodeMapUrl when it has a local code map with local_code_systems.
std::vector<std::string> ConceptMapsOf(const Source& source);

// How csv::MapCsvToFhir names this source's systems: source_id and ods_code
// as registered; the patient id system is record_id_system when set; the
// encounter and episode-of-care id systems are resource_id_system_prefix +
// "encounter" / "episodeofcare" when a prefix is set; everything else (and
// extract_time, which the caller knows) is left to CsvSourceInfo's defaults,
// which follow the pattern sources.json uses for FHIR sources.
csv::CsvSourceInfo ToCsvSourceInfo(const Source& source);

}  // namespace lhcr::ingest
