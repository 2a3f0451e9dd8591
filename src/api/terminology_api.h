// The terminology operations as FHIR operations of the REST API
// (terminology/operations.h): CodeSystem/$lookup, ValueSet/$validate-code,
// ValueSet/$expand, ConceptMap/$translate, on POST (Parameters body) and GET
// (query parameters); FhirApi declares them in the CapabilityStatement.
//
// Thread-safe: the operations only read the shared, immutable terminology.
#pragma once

#include <memory>
#include <vector>

#include "api/fhir_api.h"
#include "terminology/terminology.h"
#include "terminology/ucum.h"

namespace lhcr::api {

std::vector<FhirOperation> TerminologyOperations(
    std::shared_ptr<const terminology::Terminology> terminology,
    std::shared_ptr<const terminology::Ucum> ucum);

}  // namespace lhcr::api
