// Patient/{id}/$everything as an instance-level FHIR operation: the whole
// record of the person the Patient belongs to (compartment/everything.h),
// served as searchset pages pinned to the snapshot it was read in.
// GET (query parameters) and POST (a Parameters body): _since, _type,
// _count. Thread-safe, as the Interactions it borrows.
#pragma once

#include <memory>

#include "api/fhir_api.h"
#include "compartment/everything.h"

namespace lhcr::api {

FhirOperation EverythingOperation(
    interaction::Interactions& interactions,
    std::shared_ptr<const compartment::PatientCompartment> compartment);

}  // namespace lhcr::api
