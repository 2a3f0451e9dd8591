// Reading every resource a search finds, page by page, through the FHIR
// interactions (the MPI's view of the record).
#pragma once

#include <functional>
#include <string>

#include "base/status.h"
#include "fhir/json.h"
#include "interaction/interaction.h"

namespace lhcr::mpi {

// Calls `fn` with each resource of `type` that the search `params` finds
// (1000 per page; included resources skipped), stopping at fn's first error.
Status ForEachResource(interaction::Interactions& interactions, const std::string& type,
                       search::QueryParams params,
                       const std::function<Status(const fhir::Json&)>& fn);

}  // namespace lhcr::mpi
