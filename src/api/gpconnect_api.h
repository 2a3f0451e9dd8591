// Patient/$gpc.getstructuredrecord (gpconnect/structured_record.h) as a
// type-level FHIR operation: POST with a Parameters body; the answer a
// GPConnect-StructuredRecord-Bundle-1 collection Bundle, errors
// OperationOutcomes with the Spine error code. Thread-safe, as the
// Interactions it borrows.
#pragma once

#include <memory>

#include "api/fhir_api.h"
#include "base/ids.h"
#include "base/time.h"
#include "compartment/everything.h"

namespace lhcr::api {

FhirOperation StructuredRecordOperation(
    interaction::Interactions& interactions,
    std::shared_ptr<const compartment::PatientCompartment> compartment, Clock& clock,
    IdGenerator& ids);

}  // namespace lhcr::api
