#include "api/terminology_api.h"

#include "terminology/operations.h"

namespace lhcr::api {
namespace {

using interaction::RequestContext;
using interaction::Response;

template <typename Run>
FhirOperation Op(const char* type, const char* name, const char* definition, Run run) {
  FhirOperation op;
  op.type = type;
  op.name = name;
  op.definition = definition;
  op.affects_state = false;
  op.run = [run](const RequestContext&, const std::string& body) -> Result<Response> {
    ASSIGN_OR_RETURN(terminology::OperationParams params, terminology::ParseParameters(body));
    ASSIGN_OR_RETURN(std::string out, run(params));
    Response r;
    r.body = std::move(out);
    return r;
  };
  return op;
}

}  // namespace

std::vector<FhirOperation> TerminologyOperations(std::shared_ptr<const terminology::Terminology> t,
                                                 std::shared_ptr<const terminology::Ucum> ucum) {
  std::vector<FhirOperation> ops;
  ops.push_back(Op("CodeSystem", "lookup",
                   "http://hl7.org/fhir/OperationDefinition/CodeSystem-lookup",
                   [t, ucum](const terminology::OperationParams& p) {
                     return terminology::LookupOperation(*t, *ucum, p);
                   }));
  ops.push_back(Op("ValueSet", "validate-code",
                   "http://hl7.org/fhir/OperationDefinition/ValueSet-validate-code",
                   [t](const terminology::OperationParams& p) {
                     return terminology::ValidateCodeOperation(*t, p);
                   }));
  ops.push_back(Op(
      "ValueSet", "expand", "http://hl7.org/fhir/OperationDefinition/ValueSet-expand",
      [t](const terminology::OperationParams& p) { return terminology::ExpandOperation(*t, p); }));
  ops.push_back(Op("ConceptMap", "translate",
                   "http://hl7.org/fhir/OperationDefinition/ConceptMap-translate",
                   [t](const terminology::OperationParams& p) {
                     return terminology::TranslateOperation(*t, p);
                   }));
  return ops;
}

}  // namespace lhcr::api
