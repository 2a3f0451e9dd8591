// Terminology: the code systems, value sets and concept maps the record
// knows, loaded once from files (docs/TERMINOLOGY.md), and the four
// terminology operations over them: $lookup, $validate-code, $expand and
// $translate. Loaders read the files of the real releases, so a region can
// load its own licensed content the same way as the shipped subset:
//   - FHIR R4 JSON CodeSystem / ValueSet / ConceptMap resources (or Bundles
//     of them), one per file;
//   - SNOMED CT RF2 Snapshot files (sct2_Concept_, sct2_Description_,
//     sct2_Relationship_ with 116680003 |is a|, der2_cRefset_Language for
//     preferred terms), into the system http://snomed.info/sct;
//   - NHS dm+d XML (f_vtm, f_vmp, f_amp): VTMs, VMPs and AMPs are SNOMED CT
//     concepts too (the dm+d identifiers are SCTIDs); an AMP is-a its VMP
//     and a VMP is-a its VTM in the loaded hierarchy, and each carries the
//     property "dmd-level" (VTM | VMP | AMP);
//   - a source's local code map (CSV local_code,display,unit,loinc,snomed):
//     a CodeSystem of its local codes (property "unit": the UCUM unit the
//     source reports in) and a ConceptMap to LOINC and SNOMED CT.
//
// A TerminologyBuilder collects content (not thread-safe); Build() freezes
// it into a Terminology, which is immutable and safe to share between
// threads (shared_ptr<const Terminology>).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"

namespace lhcr::terminology {

inline constexpr std::string_view kSnomed = "http://snomed.info/sct";
inline constexpr std::string_view kLoinc = "http://loinc.org";
inline constexpr std::string_view kUcum = "http://unitsofmeasure.org";

struct Concept {
  std::string code;
  std::string display;
  bool active = true;
  std::vector<std::string> designations;          // other terms (synonyms, FSN)
  std::vector<std::string> parents;               // is-a
  std::map<std::string, std::string> properties;  // "unit" -> "mmol/L", "dmd-level" -> "VMP"
  bool operator==(const Concept&) const = default;
};

struct CodeSystem {
  std::string url;
  std::string version;
  std::string name;
  std::string content = "complete";  // complete | fragment | ... (R4 codesystem-content-mode)
  std::unordered_map<std::string, Concept> concepts;
};

struct ValueSetFilter {
  std::string property;  // "concept" for is-a / descendent-of, else a concept property
  std::string op;        // is-a | descendent-of | is-not-a | = | in
  std::string value;
  bool operator==(const ValueSetFilter&) const = default;
};

struct ValueSetInclude {
  std::string system;
  std::vector<std::string> codes;  // listed concepts; empty with no filter: the whole system
  std::vector<ValueSetFilter> filters;
  std::vector<std::string> value_sets;  // canonical URLs included
  bool operator==(const ValueSetInclude&) const = default;
};

struct ValueSet {
  std::string url;
  std::string version;
  std::string name;
  std::vector<ValueSetInclude> include;
  std::vector<ValueSetInclude> exclude;
  bool operator==(const ValueSet&) const = default;
};

struct MapTarget {
  std::string code;
  std::string display;
  std::string equivalence = "equivalent";  // R4 ConceptMapEquivalence
  bool operator==(const MapTarget&) const = default;
};

struct MapGroup {
  std::string source;                                      // source code system
  std::string target;                                      // target code system
  std::map<std::string, std::vector<MapTarget>> elements;  // source code -> targets
  bool operator==(const MapGroup&) const = default;
};

struct ConceptMap {
  std::string url;
  std::string version;
  std::string name;
  // The value sets it maps from and to (source[x] / target[x]); may be empty.
  std::string source_scope;
  std::string target_scope;
  std::vector<MapGroup> groups;
  bool operator==(const ConceptMap&) const = default;
};

struct LookupResult {
  std::string system, version, name, code, display;
  bool active = true;
  std::vector<std::string> designations;
  std::vector<std::string> parents;   // direct is-a parents
  std::vector<std::string> children;  // direct is-a children
  std::map<std::string, std::string> properties;
};

struct Validation {
  bool result = false;
  std::string display;  // the concept's display when it is in the value set
  std::string message;  // why not, when result is false
};

struct ExpansionItem {
  std::string system, code, display;
  bool operator==(const ExpansionItem&) const = default;
};

struct Expansion {
  std::string url, version;
  int64_t total = 0;  // matching concepts before paging
  int64_t offset = 0;
  std::vector<ExpansionItem> items;
};

struct Translation {
  std::string system, code, display;
  std::string equivalence;
  std::string map_url;  // the ConceptMap that gave it
  bool operator==(const Translation&) const = default;
};

// Counts of what was loaded, for logs and tests.
struct TerminologyStats {
  int64_t code_systems = 0, concepts = 0, is_a_edges = 0, value_sets = 0, concept_maps = 0;
};

class Terminology {
 public:
  // The code system with this canonical URL, or null.
  const CodeSystem* FindCodeSystem(std::string_view url) const;
  const ValueSet* FindValueSet(std::string_view url) const;
  const ConceptMap* FindConceptMap(std::string_view url) const;
  // kNotFound: unknown system, or unknown code in it.
  Result<LookupResult> Lookup(std::string_view system, std::string_view code) const;
  // Whether `code` is `ancestor` or one of its descendants in `system`.
  bool Subsumes(std::string_view system, std::string_view ancestor, std::string_view code) const;
  // kNotFound: unknown value set. A code outside it is result=false.
  Result<Validation> ValidateCode(std::string_view value_set_url, std::string_view system,
                                  std::string_view code, std::string_view display) const;
  // The value set's concepts whose display contains `filter` (case
  // insensitive; empty: all), ordered by system then code (shorter codes first,
  // so SCTIDs sort as numbers), paged by offset
  // and count. kNotFound: unknown value set (or one it includes);
  // kUnsupported (too costly): more than kMaxExpansion concepts, or a
  // filter operator not supported.
  Result<Expansion> Expand(std::string_view value_set_url, std::string_view filter, int64_t offset,
                           int64_t count) const;
  static constexpr int64_t kMaxExpansion = 100'000;
  // Targets of (system, code) in the map `map_url`, or, with map_url empty,
  // in every loaded map with a group from `system` (to `target_system`
  // when not empty). No match is an empty vector. kNotFound: unknown map.
  Result<std::vector<Translation>> Translate(std::string_view map_url, std::string_view system,
                                             std::string_view code,
                                             std::string_view target_system) const;

  TerminologyStats stats() const;
  std::vector<std::string> ValueSetUrls() const;
  std::vector<std::string> ConceptMapUrls() const;

 private:
  friend class TerminologyBuilder;
  // Members of the value set (set of system|code), or an error.
  Status Collect(const ValueSet& vs, int depth, std::vector<ExpansionItem>* out) const;
  Status CollectInclude(const ValueSetInclude& inc, int depth,
                        std::vector<ExpansionItem>* out) const;
  Result<bool> Contains(const ValueSet& vs, std::string_view system, std::string_view code,
                        int depth) const;
  Result<bool> IncludeContains(const ValueSetInclude& inc, std::string_view system,
                               std::string_view code, int depth) const;
  void Descendants(const CodeSystem& cs, const std::string& code, bool self,
                   std::vector<ExpansionItem>* out) const;

  std::map<std::string, CodeSystem, std::less<>> systems_;
  // system -> code -> direct children (the is-a edges reversed).
  std::map<std::string, std::unordered_map<std::string, std::vector<std::string>>, std::less<>>
      children_;
  std::map<std::string, ValueSet, std::less<>> value_sets_;
  std::map<std::string, ConceptMap, std::less<>> maps_;
};

class TerminologyBuilder {
 public:
  // A CodeSystem, ValueSet or ConceptMap resource as FHIR R4 JSON, or a
  // Bundle / collection of them. kIncorrect: not JSON, or not one of those.
  Status AddFhirJson(std::string_view json);
  // Every *.json file in `dir` (not recursive).
  Status LoadFhirDirectory(const std::string& dir);
  // Every sct2_Concept_*Snapshot*, sct2_Description_*Snapshot*,
  // sct2_Relationship_*Snapshot* (not Stated, not Concrete) and
  // der2_cRefset_Language*Snapshot* file under `dir`, recursively.
  // kNotFound when there is no concept file under `dir`.
  Status LoadSnomedRf2(const std::string& dir);
  // Every f_vtm2*.xml, f_vmp2*.xml and f_amp2*.xml file in `dir` (not the
  // pack files f_vmpp2 / f_ampp2).
  // kNotFound when there is none.
  Status LoadDmd(const std::string& dir);
  // The data/terminology layout: `dir`/fhir (FHIR JSON), `dir`/snomed (RF2),
  // `dir`/dmd (dm+d XML); each that exists.
  Status LoadDirectory(const std::string& dir);
  // A source's local code map (CSV "local_code,display,unit,loinc,snomed",
  // header row): a CodeSystem `local_system` and a ConceptMap `map_url`
  // from it to LOINC and to SNOMED CT. kIncorrect: not that CSV.
  Status AddLocalCodeMap(std::string_view csv, const std::string& local_system,
                         const std::string& map_url);

  // Replaces any loaded resource with the same URL; concepts of a code
  // system already present are merged (a later concept replaces one with
  // the same code).
  void AddCodeSystem(CodeSystem cs);
  void AddValueSet(ValueSet vs);
  void AddConceptMap(ConceptMap map);
  // Adds (or replaces) one concept in `system`, creating the system.
  Concept& MutableConcept(const std::string& system, const std::string& code);

  std::shared_ptr<const Terminology> Build() &&;

 private:
  std::map<std::string, CodeSystem, std::less<>> systems_;
  std::map<std::string, ValueSet, std::less<>> value_sets_;
  std::map<std::string, ConceptMap, std::less<>> maps_;
};

}  // namespace lhcr::terminology
