// SearchParam and SearchParamRegistry: the R4 search parameters, with their
// FHIRPath expressions compiled once.
//
// The registry for R4 is built from the package's SearchParameter resources,
// compacted at build time by tools/gen_search_params.py and embedded in the
// library. A parameter whose expression is a union over several resource types
// ("AllergyIntolerance.patient | CarePlan.subject.where(resolve() is Patient)
// | ...") keeps, per base type, only the branches that start with that type
// (or with no type, or with Resource/DomainResource), so evaluating it on an
// Observation evaluates only the Observation branches.
//
// A registry is immutable once built and safe to use from several threads.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "fhir/fhirpath.h"

namespace lhcr::fhir {

enum class SearchParamType {
  kNumber,
  kDate,
  kString,
  kToken,
  kReference,
  kComposite,
  kQuantity,
  kUri,
  kSpecial
};

// "number", "date", ... as in SearchParameter.type.
std::string_view SearchParamTypeName(SearchParamType type);
// The inverse; kIncorrect for an unknown name.
Result<SearchParamType> ParseSearchParamType(std::string_view name);

struct SearchParam;

struct SearchParamComponent {
  std::string definition;  // canonical URL of the component's SearchParameter
  std::string expression;  // relative to the element the composite selects
  // Compiled `expression` (absent only when the expression is empty).
  std::optional<FhirPath> path;
  // The SearchParameter `definition` names, within the same registry; null
  // when the registry does not hold it.
  const SearchParam* param = nullptr;
};

struct SearchParam {
  std::string url;
  std::string code;
  SearchParamType type = SearchParamType::kToken;
  std::vector<std::string> base;  // resource types, or "Resource" / "DomainResource"
  std::string expression;         // empty for e.g. _text, _content, _query, _filter
  std::vector<std::string> targets;
  std::vector<SearchParamComponent> components;

  // The compiled expression branches that apply to a resource of type
  // `resource_type`; empty when the parameter has no expression or does not
  // apply to that type. Reference branches are compiled with
  // FhirPathOptions::unresolved_reference_type = the single target, if one.
  const std::vector<FhirPath>& PathsFor(std::string_view resource_type) const;

  // Per base type (keys of `base`), the branches for it.
  std::map<std::string, std::vector<FhirPath>, std::less<>> paths_by_base;
};

// Where a search finds the index rows of a parameter: under `key`, and, when
// `target_type` is set, only the reference rows that point at that type.
struct IndexSource {
  std::string key;
  std::string target_type;
};

// A parameter bound to one resource type: the branches of its expression for
// that type and its index key "<ResourceType>.<code>". Precomputed so index
// extraction does no per-parameter lookups.
//
// Rows are written once per distinct expression (docs/BENCHMARKS.md, ingest:
// a quarter of an Observation's rows were copies):
//  - a parameter whose branches are all branches of other parameters of the
//    same type keeps no rows of its own (`stored` false): combo-code is
//    Observation.code | Observation.component.code, so its rows are those of
//    code and component-code;
//  - a reference parameter `E.where(resolve() is T)` whose only target is T,
//    beside a stored reference parameter whose expression is E (patient
//    beside subject), does not write the rows to type T that the other's rows
//    already hold (`narrowed_by` names that parameter in BoundForType).
// `sources` lists where a search reads the parameter's rows; their union is
// exactly the rows ExtractParam gives.
struct BoundSearchParam {
  const SearchParam* param = nullptr;
  const std::vector<FhirPath>* paths = nullptr;  // == &param->PathsFor(type)
  std::string key;
  bool stored = true;
  int narrowed_by = -1;
  std::string narrowed_type;
  std::vector<IndexSource> sources;
};

class SearchParamRegistry {
 public:
  // The R4 registry from the embedded package definitions, parsed on first
  // use (thread-safe) and shared. The embedded data is a build artefact
  // checked by the tests: failing to load it is a programmer error and aborts.
  static std::shared_ptr<const SearchParamRegistry> R4();

  // Builds a registry from a JSON array in the format written by
  // tools/gen_search_params.py. kIncorrect for malformed input or an
  // expression that does not compile.
  static Result<std::shared_ptr<const SearchParamRegistry>> FromJson(std::string_view json);

  // The parameter `code` of `resource_type`: resource-specific ones first,
  // then those based on Resource (_id, _lastUpdated, _tag, _profile,
  // _security, _source, ...) and DomainResource (_text). Null when unknown.
  const SearchParam* Find(std::string_view resource_type, std::string_view code) const;
  // By canonical URL; null when unknown.
  const SearchParam* FindByUrl(std::string_view url) const;
  // All parameters that apply to `resource_type` (including the Resource and
  // DomainResource ones), ordered by code; empty for an unknown type.
  const std::vector<const SearchParam*>& ForType(std::string_view resource_type) const;
  // ForType(resource_type) bound to that type, in the same order.
  const std::vector<BoundSearchParam>& BoundForType(std::string_view resource_type) const;
  // The parameter `code` of `resource_type` bound to it; null when unknown.
  const BoundSearchParam* Bound(std::string_view resource_type, std::string_view code) const;
  // Whether `type` names a concrete R4 resource type ("Patient"; not
  // "DomainResource").
  bool IsResourceType(std::string_view type) const;

  size_t size() const { return params_.size(); }
  const std::vector<std::unique_ptr<SearchParam>>& params() const { return params_; }

 private:
  SearchParamRegistry() = default;
  Status Add(std::unique_ptr<SearchParam> p);
  Status Link();

  std::vector<std::unique_ptr<SearchParam>> params_;
  std::unordered_map<std::string, const SearchParam*> by_url_;
  // Per concrete resource type: code -> parameter, and the ordered list.
  std::map<std::string, std::map<std::string, const SearchParam*, std::less<>>, std::less<>>
      by_type_code_;
  std::map<std::string, std::vector<const SearchParam*>, std::less<>> by_type_;
  std::map<std::string, std::vector<BoundSearchParam>, std::less<>> bound_by_type_;
  // Per type, code -> its entry in bound_by_type_ (which no longer changes).
  std::map<std::string, std::map<std::string, const BoundSearchParam*, std::less<>>, std::less<>>
      bound_index_;
};

}  // namespace lhcr::fhir
