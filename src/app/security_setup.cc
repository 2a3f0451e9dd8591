#include "app/security_setup.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "app/jwks_fetch.h"

namespace lhcr {

void AddSecurityOptions(CLI::App& s, SecurityArgs& a) {
  s.add_option("--tls-cert", a.tls_cert, "PEM certificate chain: serve https (TLS 1.2+)");
  s.add_option("--tls-key", a.tls_key, "PEM private key of --tls-cert");
  s.add_option("--tls-client-ca", a.tls_client_ca,
               "PEM CA(s) for client certificates (mutual TLS for systems)");
  s.add_flag("--tls-require-client-cert", a.tls_require_client_cert,
             "Refuse TLS clients without a certificate from --tls-client-ca");
  s.add_option("--issuer", a.issuers, "Trusted token issuer (iss), repeatable");
  s.add_option("--audience", a.audiences,
               "Audience (aud) tokens must name: one per --issuer, or one for all");
  s.add_option("--jwks", a.jwks,
               "JWKS of each --issuer, in the same order: a file, or an http(s) URL fetched at "
               "start");
  s.add_option("--authorize-url", a.authorize_url,
               "The issuer's OAuth authorization endpoint (SMART configuration)");
  s.add_option("--token-url", a.token_url,
               "The issuer's OAuth token endpoint (SMART configuration)");
  s.add_flag("--dev-issuer", a.dev_issuer,
             "Trust the development issuer (lhcr token; key in DATA/dev-issuer/)");
  s.add_flag("--no-auth", a.no_auth,
             "Security off: no token needed (loopback only; for tests and benchmarks)");
  s.add_flag("--allow-plain-http", a.allow_plain_http,
             "Allow plain HTTP on a non-loopback address");
}

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost") return true;
  // An address, not a name: "127.evil.example" is a name DNS may put anywhere.
  std::string h = host;
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  in_addr v4{};
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return inet_pton(AF_INET6, h.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

void ApplyTls(const SecurityArgs& a, api::HttpServerOptions& http) {
  http.tls_cert_file = a.tls_cert;
  http.tls_key_file = a.tls_key;
  http.tls_client_ca_file = a.tls_client_ca;
  http.tls_require_client_cert = a.tls_require_client_cert;
}

Result<Security> SetUpSecurity(const SecurityArgs& a, const std::string& data_dir,
                               const std::string& host, const std::string& mllp_host,
                               const std::string& base_url, Clock& clock) {
  Security sec;
  sec.tls = !a.tls_cert.empty() || !a.tls_key.empty();
  const bool loopback = IsLoopbackHost(host);
  if (!sec.tls && !loopback && !a.allow_plain_http) {
    return Status::Incorrect("plain HTTP on " + host +
                             " is refused: give --tls-cert and --tls-key, or --allow-plain-http");
  }
  if (a.no_auth) {
    if (!loopback) return Status::Incorrect("--no-auth is allowed on a loopback address only");
    if (a.dev_issuer || !a.issuers.empty()) {
      return Status::Incorrect("--no-auth cannot be combined with --dev-issuer or --issuer");
    }
    sec.gate = std::make_unique<api::AuthGate>(nullptr, clock, api::AuthGateOptions{});
    return sec;
  }
  if (!mllp_host.empty() && !IsLoopbackHost(mllp_host)) {
    return Status::Incorrect("--mllp " + mllp_host +
                             ": MLLP carries no credentials, so with security on it listens on "
                             "loopback only (put an interface engine in front)");
  }
  if (a.jwks.size() != a.issuers.size()) {
    return Status::Incorrect("give one --jwks for each --issuer");
  }
  if (!a.issuers.empty() && a.audiences.size() != 1 && a.audiences.size() != a.issuers.size()) {
    return Status::Incorrect("give one --audience for all issuers or one for each");
  }
  std::vector<auth::IssuerConfig> issuers;
  for (size_t i = 0; i < a.issuers.size(); ++i) {
    ASSIGN_OR_RETURN(std::string jwks,
                     IsJwksUrl(a.jwks[i]) ? FetchJwks(a.jwks[i]) : auth::LoadJwks(a.jwks[i]));
    issuers.push_back(
        {a.issuers[i], a.audiences.size() == 1 ? a.audiences[0] : a.audiences[i], std::move(jwks)});
  }
  api::AuthGateOptions go;
  // The origin of --base-url: "https://shcr.example.org/fhir" -> "https://shcr.example.org".
  size_t scheme = base_url.find("://");
  if (scheme != std::string::npos) go.origin = base_url.substr(0, base_url.find('/', scheme + 3));
  go.authorize_url = a.authorize_url;
  go.token_url = a.token_url;
  if (a.dev_issuer) {
    ASSIGN_OR_RETURN(sec.dev_issuer, auth::DevIssuer::Open(data_dir, clock));
    issuers.push_back(sec.dev_issuer->Config());
    go.jwks = sec.dev_issuer->Jwks();
  }
  if (issuers.empty()) {
    return Status::Incorrect(
        "no token issuer: give --issuer URL --audience AUD --jwks FILE, or --dev-issuer, or "
        "--no-auth (loopback only) to serve without security");
  }
  ASSIGN_OR_RETURN(sec.verifier, auth::TokenVerifier::Create(std::move(issuers), clock));
  sec.capability_security = api::CapabilitySecurity(go);
  sec.gate = std::make_unique<api::AuthGate>(sec.verifier.get(), clock, std::move(go));
  return sec;
}

}  // namespace lhcr
