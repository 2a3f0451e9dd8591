#include "api/everything_api.h"

#include "base/time.h"

namespace lhcr::api {

FhirOperation EverythingOperation(
    interaction::Interactions& interactions,
    std::shared_ptr<const compartment::PatientCompartment> compartment) {
  FhirOperation op;
  op.type = "Patient";
  op.name = "everything";
  op.definition = "http://hl7.org/fhir/OperationDefinition/Patient-everything";
  op.affects_state = false;
  op.instance = true;
  op.run = [&interactions, compartment](const interaction::RequestContext& ctx,
                                        const std::string& body) -> Result<interaction::Response> {
    ASSIGN_OR_RETURN(
        compartment::EverythingRequest req,
        compartment::ParseEverythingParameters(ctx.instance_id, body, interactions.params()));
    ASSIGN_OR_RETURN(auto view, interactions.store().View());
    ASSIGN_OR_RETURN(
        compartment::Everything found,
        compartment::CollectEverything(req, *view, interactions.params(), *compartment));
    // The self link names what was applied, so it can be followed again.
    std::string self = "Patient/" + req.patient_id + "/$everything";
    std::string query;
    auto add = [&](const std::string& k, const std::string& v) {
      query += (query.empty() ? "?" : "&") + k + "=" + v;
    };
    if (req.since) add("_since", FormatInstant(*req.since));
    if (!req.types.empty()) {
      std::string types;
      for (const std::string& t : req.types) types += (types.empty() ? "" : ",") + t;
      add("_type", types);
    }
    if (req.count) add("_count", std::to_string(*req.count));
    return interactions.PageOf(ctx, std::move(found.rids), found.seq, self + query, req.count);
  };
  return op;
}

}  // namespace lhcr::api
