// Search: FHIR R4 search (http://hl7.org/fhir/R4/search.html) over a
// StoreView, as a pipeline of named stages:
//
//   ParseSearch(type, params) -> SearchRequest   what was asked, validated
//   Execute(request, view)    -> Matches         every matching rid, ordered
//   (the interaction layer then pages, fetches, adds _include/_revinclude)
//
// Functions here are pure over their inputs and thread-compatible: the
// registry is shared and immutable; a StoreView belongs to one thread.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "fhir/search_param.h"
#include "store/store.h"

namespace lhcr::search {

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// Splits and percent-decodes "a=1&b=2" (form encoding: '+' is a space).
Result<QueryParams> ParseQueryString(std::string_view query);

// One search parameter condition: `name[:modifier]=v1,v2` (values OR'd).
struct Clause {
  std::string code;                 // the search parameter code, e.g. "code", "_id"
  std::string modifier;             // "", "exact", "contains", "missing", "not", "text",
                                    // "identifier", "above", "below", or a target type
  std::vector<std::string> values;  // split on unescaped ',' (still escaped)
  // Chained search, `subject:Patient.name=x`: the clause applied to the
  // resources `code` refers to (modifier, if set, names their type).
  std::vector<Clause> chain;  // zero or one element
  // Reverse chaining, `_has:Observation:patient:code=x`.
  std::string has_type;     // "Observation"
  std::string has_param;    // "patient"
  std::vector<Clause> has;  // zero or one element: the inner clause
};

struct SortKey {
  std::string code;  // "_id", "_lastUpdated", or a search parameter code
  bool descending = false;
};

struct IncludeSpec {
  std::string source_type;  // "Observation" or "*"
  std::string param;        // "patient" or "*"
  std::string target_type;  // optional
  bool iterate = false;
};

enum class SummaryMode { kNone, kTrue, kText, kData, kCount, kFalse };
enum class TotalMode { kDefault, kNone, kEstimate, kAccurate };

struct SearchRequest {
  std::string type;
  std::vector<Clause> clauses;  // AND'd
  std::optional<int> count;
  std::vector<SortKey> sort;
  std::vector<IncludeSpec> includes;
  std::vector<IncludeSpec> revincludes;
  SummaryMode summary = SummaryMode::kNone;
  std::vector<std::string> elements;
  TotalMode total = TotalMode::kDefault;
  // Parameters that were not understood and ignored (lenient handling).
  std::vector<std::string> ignored;
  // The canonical query (what was applied), for self links.
  std::string self_query;
};

struct ParseOptions {
  bool strict = false;  // Prefer: handling=strict -> unknown params are errors
};

// Validates params against the registry. Errors are kIncorrect, naming the
// parameter.
Result<SearchRequest> ParseSearch(std::string_view type, const QueryParams& params,
                                  const fhir::SearchParamRegistry& registry,
                                  const ParseOptions& options = {});

// Every live resource of request.type matching all clauses, sorted by
// request.sort (then by rid).
Result<std::vector<store::Rid>> Execute(const SearchRequest& request, store::StoreView& view,
                                        const fhir::SearchParamRegistry& registry);

// The rids of request.type matching one clause (used for conditional
// interactions too).
Result<store::RidSet> MatchClause(const std::string& type, const Clause& clause,
                                  store::StoreView& view, const fhir::SearchParamRegistry& registry,
                                  const store::RidSet* within);

// The rids of `type` whose index rows of parameter `code` (with `suffix`,
// e.g. ":identifier") match `q`, read from where the registry says those rows
// are kept (fhir::BoundSearchParam::sources); sets q.param itself.
Result<store::RidSet> MatchParamRows(const std::string& type, std::string_view code,
                                     std::string_view suffix, store::IndexQuery q,
                                     store::StoreView& view,
                                     const fhir::SearchParamRegistry& registry,
                                     const store::RidSet* within);

// Splits a search value on unescaped `sep`, un-escaping "\\,", "\\$", "\\|".
std::vector<std::string> SplitEscaped(std::string_view value, char sep);

}  // namespace lhcr::search
