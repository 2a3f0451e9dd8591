// The FHIR terminology operations over a loaded Terminology, FHIR R4
// Parameters in, FHIR resources out (as JSON text):
//   CodeSystem/$lookup       system, code [, version, property*] -> Parameters
//                            (name, version, display, designation*,
//                            property* parent/child/inactive/...)
//   ValueSet/$validate-code  url, system, code [, display] (or coding)
//                            -> Parameters (result, message?, display?)
//   ValueSet/$expand         url [, filter, count, offset] -> ValueSet with
//                            expansion (total, offset, contains)
//   ConceptMap/$translate    url, or source / target (the maps with that
//                            scope), or every map; system, code (or
//                            coding) [, targetsystem]
//                            -> Parameters (result, message, match*)
// R4 OperationDefinitions CodeSystem-lookup, ValueSet-validate-code,
// ValueSet-expand, ConceptMap-translate. A parameter's value may be any
// primitive value[x] (GET query parameters arrive as valueString). Errors:
// kIncorrect for a missing or malformed parameter, kNotFound for an unknown
// code system, code (in $lookup), value set or concept map — the API turns
// them into an OperationOutcome with 400 / 404. $lookup on
// http://unitsofmeasure.org validates the expression with UCUM.
//
// Thread-safe (the Terminology and Ucum are immutable).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "terminology/terminology.h"
#include "terminology/ucum.h"

namespace lhcr::terminology {

// The parameters of one call: name -> values in order. A valueCoding
// parameter "coding" becomes coding.system / coding.code / coding.display.
using OperationParams = std::multimap<std::string, std::string>;

// kIncorrect when `body` is not a Parameters resource.
Result<OperationParams> ParseParameters(std::string_view body);

Result<std::string> LookupOperation(const Terminology& t, const Ucum& ucum,
                                    const OperationParams& p);
Result<std::string> ValidateCodeOperation(const Terminology& t, const OperationParams& p);
Result<std::string> ExpandOperation(const Terminology& t, const OperationParams& p);
Result<std::string> TranslateOperation(const Terminology& t, const OperationParams& p);

}  // namespace lhcr::terminology
