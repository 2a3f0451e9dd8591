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

// A parameter bound to one resource type: the branches of its expression for
// that type and its index key "<ResourceType>.<code>". Precomputed so index
// extraction does no per-parameter lookups.
struct BoundSearchParam {
  const SearchParam* param = nullptr;
  const std::vector<FhirPath>* paths = nullptr;  // == &param->PathsFor(type)
  std::string key;
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
};

}  // namespace lhcr::fhir
