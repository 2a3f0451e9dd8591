// The one HTTP form of an error for every API lhcr serves (FHIR, ingest,
// MPI): an OperationOutcome with the status interaction::HttpStatusFor
// gives the Status's category.
#pragma once

#include "api/http.h"
#include "base/status.h"

namespace lhcr::api {

HttpResponse OutcomeResponse(const Status& status);

}  // namespace lhcr::api
