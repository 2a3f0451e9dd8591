#include "api/gpconnect_api.h"

#include "gpconnect/structured_record.h"

namespace lhcr::api {

FhirOperation StructuredRecordOperation(
    interaction::Interactions& interactions,
    std::shared_ptr<const compartment::PatientCompartment> compartment, Clock& clock,
    IdGenerator& ids) {
  FhirOperation op;
  op.type = "Patient";
  op.name = "gpc.getstructuredrecord";
  op.definition =
      "https://fhir.nhs.uk/STU3/OperationDefinition/GPConnect-GetStructuredRecord-Operation-1";
  // It reads only, but GP Connect defines it as POST with a Parameters body
  // (its parameters have parts, which a query string cannot carry): GET is
  // refused as for an operation that affects state.
  op.affects_state = true;
  op.run = [&interactions, compartment, &clock, &ids](
               const interaction::RequestContext&,
               const std::string& body) -> Result<interaction::Response> {
    const Millis now = clock.Now();
    ASSIGN_OR_RETURN(
        gpconnect::StructuredRecordRequest req,
        gpconnect::ParseStructuredRecordRequest(body, FormatInstant(now).substr(0, 10)));
    ASSIGN_OR_RETURN(auto view, interactions.store().View());
    interaction::Response r;
    ASSIGN_OR_RETURN(r.body, gpconnect::BuildStructuredRecord(req, *view, interactions.params(),
                                                              *compartment, now, ids.Next()));
    return r;
  };
  return op;
}

}  // namespace lhcr::api
