// AuthGate: deny by default. Every request passes the gate before any API
// sees it; the gate answers it (the open documents, or a refusal) or lets it
// through with the caller's Principal.
//
// Open without a token: /healthz and /metrics (no patient data),
// /fhir/metadata, the SMART configuration (/fhir/.well-known/smart-
// configuration, as SMART App Launch places it under the FHIR base, and
// /.well-known/smart-configuration) and, with the development issuer on,
// /.well-known/jwks.json. Every other path needs
// `Authorization: Bearer <JWT>` that auth::TokenVerifier accepts; otherwise
// 401 with an OperationOutcome (issue code "login", via
// interaction/outcome.h) and `WWW-Authenticate: Bearer realm="lhcr"` (plus
// error="invalid_token" and error_description when a token was sent and
// refused, RFC 6750 3.1). /ingest, /sources, /quarantine and /mpi take system
// and professional callers only (a patient's token is 403).
//
// Security off (a null verifier: `lhcr serve --no-auth`, loopback only) lets
// everything through with no principal and serves no SMART configuration.
//
// Verified tokens are remembered (up to a few thousand, until they expire) so
// a client that reuses its token pays for the signature once.
//
// Thread-safe: Admit may be called from many threads at once.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "api/http.h"
#include "auth/auth.h"

namespace lhcr::api {

struct AuthGateOptions {
  // The server's public origin ("https://shcr.example.org") for the URLs in
  // the SMART configuration; empty: the request's scheme and Host header.
  std::string origin;
  // The development issuer's JWKS, served at /.well-known/jwks.json; empty:
  // not served (the dev issuer is off).
  std::string jwks;
  // The trusted issuers' OAuth endpoints, for the SMART configuration
  // (empty: not declared).
  std::string authorize_url;
  std::string token_url;
  size_t cache_entries = 4096;
};

// The SMART App Launch configuration (/.well-known/smart-configuration) for
// these options at `origin`: the endpoints that exist, the scopes and
// capabilities the gate honours. Also what the CapabilityStatement's
// rest.security (SecurityJson) points to.
std::string SmartConfiguration(const AuthGateOptions& options, std::string_view origin);
// rest.security of the CapabilityStatement (a JSON object): service
// SMART-on-FHIR and the oauth-uris extension with the endpoints that exist.
std::string CapabilitySecurity(const AuthGateOptions& options);

class AuthGate {
 public:
  // `verifier` null: security off. Both must outlive the gate.
  AuthGate(const auth::TokenVerifier* verifier, Clock& clock, AuthGateOptions options);
  ~AuthGate();

  struct Admission {
    // Set: answer the request with this and call nothing else.
    std::optional<HttpResponse> response;
    // Set when the request is admitted with a verified token (shared with
    // the gate's cache; immutable).
    std::shared_ptr<const auth::Principal> principal;
  };
  Admission Admit(const HttpRequest& request) const;

  bool enabled() const { return verifier_ != nullptr; }

 private:
  class Cache;
  const auth::TokenVerifier* verifier_;
  Clock& clock_;
  AuthGateOptions options_;
  std::unique_ptr<Cache> cache_;
};

}  // namespace lhcr::api
