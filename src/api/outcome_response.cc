#include "api/outcome_response.h"

#include "interaction/outcome.h"

namespace lhcr::api {

HttpResponse OutcomeResponse(const Status& status) {
  HttpResponse r;
  r.status = interaction::HttpStatusFor(status);
  r.body = interaction::OperationOutcomeFor(status);
  r.SetHeader("Content-Type", "application/fhir+json; charset=utf-8");
  return r;
}

}  // namespace lhcr::api
