// Groups of R4 resource types that lhcr treats alike.
#pragma once

#include <string_view>

namespace lhcr::fhir {

// The conformance and terminology resource types: those that define FHIR,
// its profiles and its terminologies (StructureDefinition, SearchParameter,
// ValueSet, CodeSystem, ...) rather than record anyone's care.
bool IsConformanceType(std::string_view type);

}  // namespace lhcr::fhir
