#include "fhir/resource_types.h"

#include <algorithm>
#include <array>

namespace lhcr::fhir {

bool IsConformanceType(std::string_view type) {
  static constexpr std::array<std::string_view, 14> kTypes = {
      "CapabilityStatement",     "CodeSystem",
      "CompartmentDefinition",   "ConceptMap",
      "GraphDefinition",         "ImplementationGuide",
      "MessageDefinition",       "NamingSystem",
      "OperationDefinition",     "SearchParameter",
      "StructureDefinition",     "StructureMap",
      "TerminologyCapabilities", "ValueSet"};
  return std::find(kTypes.begin(), kTypes.end(), type) != kTypes.end();
}

}  // namespace lhcr::fhir
