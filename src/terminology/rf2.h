// SNOMED CT Release Format 2 (RF2) Snapshot files, as SNOMED International
// and NHS England TRUD publish them: UTF-8, tab separated, CRLF line ends, a
// header row of column names, one row per component (SNOMED CT Release File
// Specifications, 4.2 Concept file, 4.3 Description file, 4.4 Relationship
// file, 5.2.2 Language refset). The parsers check the header and every row
// and accumulate into Rf2Content; AddTo moves the result into a builder.
//
// Not thread-safe (an Rf2Content is filled by one thread).
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/status.h"

namespace lhcr::terminology {

class TerminologyBuilder;

inline constexpr std::string_view kIsA = "116680003";
inline constexpr std::string_view kFsnType = "900000000000003001";
inline constexpr std::string_view kPreferred = "900000000000548007";

struct Rf2Content {
  struct ConceptRow {
    std::string effective;
    bool active = true;
  };
  struct DescriptionRow {
    std::string effective;
    bool active = true;
    std::string concept_id;
    bool fsn = false;
    std::string term;
  };
  struct RelationshipRow {
    std::string effective;
    bool active = true;
    std::string source, destination;
  };
  std::unordered_map<std::string, ConceptRow> concepts;
  std::unordered_map<std::string, DescriptionRow> descriptions;
  std::unordered_map<std::string, RelationshipRow> is_a;  // by relationship id
  std::unordered_set<std::string> preferred;              // description ids

  // Moves the content into `builder` as the code system
  // http://snomed.info/sct (version: the latest effectiveTime seen). The
  // display is a preferred synonym when a language refset names one, else
  // the first active synonym, else the FSN.
  void AddTo(TerminologyBuilder& builder);
};

// kIncorrect, naming the line, when the header is not the file's columns or
// a row is malformed (wrong field count, a non-numeric id, an active flag
// other than 0/1, an effectiveTime that is not 8 digits). A later
// effectiveTime for the same id replaces an earlier one.
Status ParseRf2Concepts(std::string_view text, Rf2Content* out);
Status ParseRf2Descriptions(std::string_view text, Rf2Content* out);
// Only active-or-not |is a| rows are kept; other attributes are skipped.
Status ParseRf2Relationships(std::string_view text, Rf2Content* out);
// Language refset (der2_cRefset_Language...): preferred descriptions.
Status ParseRf2Language(std::string_view text, Rf2Content* out);

}  // namespace lhcr::terminology
