// auth: who is calling. A bearer token (a JWT signed with RS256 or ES256 by a
// configured issuer) becomes a Principal; nothing else in lhcr reads tokens.
//
//   TokenVerifier  checks a token against the configured issuers and their
//                  keys (JWKS): signature, issuer, audience, expiry,
//                  not-before; any failure is kUnauthenticated with a reason.
//   DevIssuer      a development issuer for the demo and tests: an ES256 key
//                  kept in the data directory, tokens for systems,
//                  professionals and patients (`lhcr token`).
//   ParseScopes    SMART on FHIR v1 scopes ("patient/*.read").
//
// The claims read are those of the national identity services, in the shape
// lhcr needs (docs/SECURITY.md):
//   professional (NHS CIS2 style): `sub`, `uid` (user id) and
//       `nhsid_nrbac_roles` [{"org_code": ODS, "role_code": "S..:G..:R.."}],
//       the entry named by `selected_roleid` (else the first) giving the
//       organisation acted for and the role codes;
//   patient (NHS login style): `nhs_number`, `identity_proofing_level` (P0,
//       P5, P9);
//   system (OAuth 2.0 client credentials): `client_id` (else `azp`, else
//       `sub`) and no person claims.
// Every kind carries `scope` (space separated), `iss`, `aud`, `exp`, and
// optionally `nbf`, `jti`.
//
// Principal, Scope and the functions here are values and pure functions;
// TokenVerifier is immutable after Create and safe to call from many threads;
// DevIssuer is safe to call from many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/time.h"

namespace lhcr::auth {

enum class PrincipalKind { kProfessional, kPatient, kSystem };
// "professional", "patient", "system".
std::string_view PrincipalKindName(PrincipalKind kind);

// A SMART on FHIR v1 resource scope: `context/type.access`, e.g.
// patient/*.read, user/Observation.read, system/*.write, user/*.*.
struct Scope {
  enum class Context { kPatient, kUser, kSystem };
  Context context = Context::kUser;
  std::string resource_type;  // a FHIR type, or "*" for all
  bool read = false;
  bool write = false;
  bool operator==(const Scope&) const = default;
};

// The resource scopes of a space-separated scope string. Other scopes
// (openid, fhirUser, launch, launch/patient, offline_access, profile, ...)
// are not about resources and are skipped. A token that looks like a resource
// scope but is malformed ("patient/Observation", "user/*.delete") is
// kIncorrect.
Result<std::vector<Scope>> ParseScopes(std::string_view scopes);
// "patient/*.read"; read and write together print as ".*".
std::string FormatScope(const Scope& scope);

// The authenticated caller of one request. A value: copy it, compare it,
// print it in a test failure, pass it between threads.
struct Principal {
  PrincipalKind kind = PrincipalKind::kSystem;
  std::string subject;             // `sub`
  std::string user_id;             // professional: `uid` (else `sub`)
  std::string org_ods;             // professional: the ODS code acted for
  std::vector<std::string> roles;  // professional: RBAC codes ("R8000", ...)
  std::string nhs_number;          // patient
  std::string proofing_level;      // patient: "P0", "P5" or "P9"
  std::string client_id;           // system: the client; others: `azp` if any
  std::vector<Scope> scopes;
  std::string issuer;    // `iss`
  std::string token_id;  // `jti`, "" if none
  Millis expires_at = 0;
  // The subject of the verified TLS client certificate, when the request
  // came over mutual TLS; "" otherwise.
  std::string tls_client_subject;

  bool operator==(const Principal&) const = default;
};

// "professional uid=555 org=RX1 roles=R8000 scopes=user/*.read" — for logs
// and test failures.
std::string DescribePrincipal(const Principal& principal);

// One trusted issuer.
struct IssuerConfig {
  std::string issuer;    // the exact `iss` value
  std::string audience;  // must appear in `aud`
  std::string jwks;      // its JSON Web Key Set (RFC 7517), as JSON text
};

struct VerifierOptions {
  // Tolerance for clocks that disagree, applied to exp and nbf.
  Millis clock_skew_ms = 30'000;
};

class TokenVerifier {
 public:
  // Fails with kIncorrect when an issuer is named twice, has no audience, or
  // its JWKS is not JSON or holds no usable RS256/ES256 key (keys of other
  // kinds are skipped). `clock` must outlive the verifier.
  static Result<std::unique_ptr<TokenVerifier>> Create(std::vector<IssuerConfig> issuers,
                                                       Clock& clock, VerifierOptions options = {});
  ~TokenVerifier();
  TokenVerifier(const TokenVerifier&) = delete;
  TokenVerifier& operator=(const TokenVerifier&) = delete;

  // The principal of a compact JWS (the bearer token, without "Bearer ").
  // Checks, in order: three base64url parts with JSON header and payload;
  // `alg` RS256 or ES256 (none, HS* and all others refused); `iss` a
  // configured issuer; a key of that issuer by `kid` (or its only key of the
  // alg's type when the token names none) whose type matches `alg`; the
  // signature; `exp` present and not passed, `nbf` not in the future (both
  // with the skew); `aud` containing the issuer's audience; the claims of
  // one kind of principal; well-formed scopes. Every failure is
  // kUnauthenticated with a message saying which check failed.
  Result<Principal> Verify(std::string_view token) const;

  class Impl;

 private:
  explicit TokenVerifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A JWKS from a file (the text, checked to be a JSON object). kUnavailable
// when the file cannot be read, kIncorrect when it is not JSON. (`lhcr
// serve` fetches a JWKS given as a URL itself: app/jwks_fetch.h.)
Result<std::string> LoadJwks(const std::string& file);

// What a development token says.
struct TokenRequest {
  PrincipalKind kind = PrincipalKind::kSystem;
  std::string user_id;             // professional
  std::string org_ods;             // professional
  std::vector<std::string> roles;  // professional
  std::string nhs_number;          // patient
  std::string proofing_level = "P9";
  std::string client_id = "lhcr-dev-client";
  // Empty: the kind's default — system/*.read system/*.write,
  // user/*.read user/*.write, patient/*.read.
  std::string scope;
  Millis lifetime_ms = 3'600'000;
};

// The development issuer: never to be trusted outside a demo or a test.
class DevIssuer {
 public:
  static constexpr std::string_view kIssuer = "https://dev-issuer.lhcr.invalid";
  static constexpr std::string_view kAudience = "lhcr";

  // Loads the issuer's ES256 key from DIR/dev-issuer/key.pem, creating the
  // directory and the key (mode 0600) on first use. kUnavailable if the
  // directory cannot be written or read, kIncorrect if the file is not a
  // P-256 private key.
  static Result<std::unique_ptr<DevIssuer>> Open(const std::string& data_dir, Clock& clock);
  ~DevIssuer();
  DevIssuer(const DevIssuer&) = delete;
  DevIssuer& operator=(const DevIssuer&) = delete;

  // A signed token for `request` (its claims as described above), or
  // kIncorrect when the request lacks what its kind needs.
  Result<std::string> Issue(const TokenRequest& request) const;
  // The public key as a JWKS ({"keys":[...]}), for /.well-known/jwks.json.
  const std::string& Jwks() const;
  // The issuer's configuration for a TokenVerifier.
  IssuerConfig Config() const;

  class Impl;

 private:
  explicit DevIssuer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lhcr::auth
