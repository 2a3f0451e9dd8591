// Ingest translation (docs/TERMINOLOGY.md, "At ingest"): a source's
// transaction Bundle with its local codes translated and its quantities in
// UCUM canonical units, before it is written.
//
//   - Codes: in every CodeableConcept of every entry's resource, a coding
//     whose system is the source system of one of the source's concept
//     maps gets the maps' targets added beside it, as further codings
//     (never replacing it; a target already present is not added again).
//     A coding from such a system with no target is an "unmapped-code"
//     finding at its location.
//   - Units: an Observation's valueQuantity (and component[].valueQuantity)
//     gets a UCUM system and code. Its target unit is the "unit" property of
//     the Observation's local code (the unit the source's map declares),
//     else the unit as sent when it is one of Ucum::CanonicalUnits() or
//     dimensionless ({score}, [ppm]: never converted into one another),
//     else the first commensurable of Ucum::DefaultPreferredUnits(). When the
//     value changes unit, valueQuantity holds the converted value and the
//     quantity as sent is kept in the extension kOriginalQuantityUrl on it.
//     A unit that is not UCUM (after Ucum::Normalise) is an "invalid-unit"
//     finding and the quantity is left as sent; a unit not commensurable
//     with the map's unit is a "unit-mismatch" finding (left as sent).
// The result is a function of the Bundle and the terminology alone, so a
// resent message translates to the same bytes (and the stale check drops
// it). Numbers keep their text (FHIR decimals) except those converted.
//
// Thread-safe (reads immutable terminology only).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "terminology/terminology.h"
#include "terminology/ucum.h"

namespace lhcr::terminology {

inline constexpr std::string_view kOriginalQuantityUrl =
    "https://lhcr.example.org/fhir/StructureDefinition/original-quantity";

struct TranslationFinding {
  std::string location;  // "Bundle.entry[3].resource.code.coding[0]"
  std::string code;      // unmapped-code | invalid-unit | unit-mismatch
  std::string message;
  bool operator==(const TranslationFinding&) const = default;
};

struct BundleTranslation {
  std::string bundle_json;  // the input as is when nothing changed
  bool changed = false;
  int codings_added = 0;
  int quantities_converted = 0;  // value changed unit
  int quantities_coded = 0;      // UCUM system/code added, value as sent
  std::vector<TranslationFinding> findings;
};

// `map_urls`: the concept maps that apply to this source (unknown URLs are
// skipped). kIncorrect only when `bundle_json` is not JSON.
Result<BundleTranslation> TranslateBundle(const Terminology& terminology, const Ucum& ucum,
                                          const std::vector<std::string>& map_urls,
                                          std::string_view bundle_json);

}  // namespace lhcr::terminology
