// How `lhcr serve` is secured (docs/SECURITY.md): the serve flags for TLS,
// trusted issuers, the development issuer and security off, checked
// together, and the verifier and gate they make.
//
//   --tls-cert FILE --tls-key FILE        https (TLS 1.2+)
//   --tls-client-ca FILE [--tls-require-client-cert]   mutual TLS
//   --issuer URL --audience AUD --jwks FILE|URL   a trusted issuer
//                                          (repeatable, in step; one
//                                          --audience for all); a JWKS URL
//                                          is fetched once at start
//   --authorize-url URL --token-url URL    the issuers' OAuth endpoints, for
//                                          the SMART configuration
//   --dev-issuer                           trust the development issuer
//                                          (key in DATA/dev-issuer/)
//   --no-auth                              security off (loopback only)
//   --allow-plain-http                     plain HTTP on a non-loopback address
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "api/auth_gate.h"
#include "api/http_server.h"
#include "auth/auth.h"
#include "base/status.h"

namespace lhcr {

struct SecurityArgs {
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  bool tls_require_client_cert = false;
  std::vector<std::string> issuers;
  std::vector<std::string> audiences;
  std::vector<std::string> jwks;
  std::string authorize_url;
  std::string token_url;
  bool dev_issuer = false;
  bool no_auth = false;
  bool allow_plain_http = false;
};

void AddSecurityOptions(CLI::App& serve, SecurityArgs& args);

// What serve runs with. The gate borrows the verifier: keep them together.
struct Security {
  std::unique_ptr<auth::DevIssuer> dev_issuer;    // with --dev-issuer
  std::unique_ptr<auth::TokenVerifier> verifier;  // null: security off
  std::unique_ptr<api::AuthGate> gate;
  std::string capability_security;  // rest.security JSON; "" when off
  bool tls = false;
};

// Checks the flags against the listen hosts and builds the verifier and
// gate. kIncorrect when the combination is not allowed: no issuer and not
// --no-auth; --no-auth, or plain HTTP without --allow-plain-http, on a
// non-loopback address; MLLP (which carries no credentials) on a
// non-loopback address with security on; an --issuer without its --jwks.
// kUnavailable when a file cannot be read. `mllp_host`: "" when no MLLP
// listener. `base_url`: --base-url, whose origin the SMART configuration
// uses ("" = each request's Host).
Result<Security> SetUpSecurity(const SecurityArgs& args, const std::string& data_dir,
                               const std::string& host, const std::string& mllp_host,
                               const std::string& base_url, Clock& clock);
// Puts the TLS files of `args` into the HTTP server's options.
void ApplyTls(const SecurityArgs& args, api::HttpServerOptions& http);

// Whether `host` is a loopback address or name (127.0.0.0/8, ::1, localhost).
bool IsLoopbackHost(const std::string& host);

}  // namespace lhcr
