// FhirApi: the FHIR R4 RESTful API over HTTP. Routes a request to an
// interaction, negotiates format, reads the headers it understands and
// encodes the result; errors become an OperationOutcome with the HTTP status
// that interaction::HttpStatusFor gives their category (interaction/outcome.h,
// the one place that decides).
//
// Thread-safe: Handle may be called from many threads at once.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "api/http.h"
#include "auth/auth.h"
#include "base/status.h"
#include "interaction/interaction.h"

namespace lhcr::api {

// A FHIR operation on a type (`POST /fhir/Patient/$match`) or, with
// `instance`, on one resource (`GET /fhir/Patient/123/$summary`, the id in
// RequestContext::instance_id): the request's body (a Parameters resource,
// or empty) in, a Response out. An operation that does not affect state is
// also served on GET, its query parameters passed as a Parameters body of
// valueStrings.
struct FhirOperation {
  std::string type;  // "Patient"
  std::string name;  // "match" (without the '$')
  std::string definition;  // its OperationDefinition's canonical URL
  std::function<Result<interaction::Response>(const interaction::RequestContext& ctx,
                                              const std::string& body)>
      run;
  bool affects_state = true;
  bool instance = false;  // served on Type/{id}/$name instead of Type/$name
};

struct FhirApiOptions {
  // The public base URL ("https://shcr.example.org/fhir"). Empty: taken from
  // the request's Host header as http://HOST/fhir.
  std::string base_url;
  // Type- and instance-level operations served besides the interactions.
  std::vector<FhirOperation> operations;
  // The CapabilityStatement's rest.security (a JSON object: the SMART on
  // FHIR service and its oauth-uris); empty: none declared.
  std::string security;
};

class FhirApi {
 public:
  FhirApi(interaction::Interactions& interactions, FhirApiOptions options,
          std::function<std::string()> metrics);

  // `principal`: the caller, as the auth gate (api/auth_gate.h) verified it;
  // null when security is off. Passed on in the RequestContext.
  HttpResponse Handle(const HttpRequest& request, const auth::Principal* principal = nullptr);

  // Whether the request is a cheap point read that may run on an I/O thread.
  static bool IsCheap(const HttpRequest& request);

 private:
  HttpResponse HandleFhir(const HttpRequest& request, std::string_view path,
                          const auth::Principal* principal);
  void DeclareOperations(std::string& capabilities) const;
  void DeclareSecurity(std::string& capabilities) const;

  interaction::Interactions& interactions_;
  FhirApiOptions options_;
  std::function<std::string()> metrics_;
};

}  // namespace lhcr::api
