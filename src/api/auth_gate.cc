#include "api/auth_gate.h"

#include <strings.h>

#include <mutex>
#include <unordered_map>

#include "api/outcome_response.h"
#include "interaction/bundle_writer.h"
#include "interaction/outcome.h"

namespace lhcr::api {

// Verified tokens until they expire. A lookup hashes the token in place and
// shares the Principal: no copy of either per request.
class AuthGate::Cache {
 public:
  explicit Cache(size_t limit) : limit_(limit) {}

  std::shared_ptr<const auth::Principal> Find(std::string_view token, Millis now) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(token);
    // The verifier's skew is not applied here: an entry ends at `exp`, and
    // the token then goes back to the verifier, which decides.
    if (it == map_.end() || now >= it->second->expires_at) return nullptr;
    return it->second;
  }
  void Put(std::string_view token, std::shared_ptr<const auth::Principal> p) const {
    std::lock_guard<std::mutex> lock(mu_);
    if (map_.size() >= limit_) map_.clear();  // crude but bounded; a miss costs one verify
    map_.emplace(std::string(token), std::move(p));
  }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  size_t limit_;
  mutable std::mutex mu_;
  mutable std::unordered_map<std::string, std::shared_ptr<const auth::Principal>, Hash,
                             std::equal_to<>>
      map_;  // GUARDED_BY(mu_)
};

namespace {

// An RFC 6750 auth-param value: a quoted-string without quotes or
// backslashes in it, and no control characters.
std::string Quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) c = '\'';
    out += c;
  }
  return out + "\"";
}

HttpResponse Json(const std::string& body) {
  HttpResponse r;
  r.body = body;
  r.SetHeader("Content-Type", "application/json");
  r.SetHeader("Cache-Control", "no-store");
  return r;
}

bool OpenPath(std::string_view path) {
  return path == "/healthz" || path == "/metrics" || path == "/fhir/metadata";
}

// Paths for the region's systems and staff, not for patients.
bool StaffOnly(std::string_view path) {
  for (std::string_view p : {"/ingest", "/sources", "/quarantine", "/mpi"}) {
    if (path == p || (path.starts_with(p) && path[p.size()] == '/')) return true;
  }
  return false;
}

}  // namespace

std::string SmartConfiguration(const AuthGateOptions& o, std::string_view origin) {
  std::string j = "{";
  if (!o.jwks.empty()) {
    j += "\"issuer\":" + interaction::JsonString(auth::DevIssuer::kIssuer) + ",";
    j += "\"jwks_uri\":" + interaction::JsonString(std::string(origin) + "/.well-known/jwks.json") +
         ",";
  }
  if (!o.authorize_url.empty()) {
    j += "\"authorization_endpoint\":" + interaction::JsonString(o.authorize_url) + ",";
    j += "\"response_types_supported\":[\"code\"],";
  }
  if (!o.token_url.empty()) {
    j += "\"token_endpoint\":" + interaction::JsonString(o.token_url) + ",";
    j += "\"grant_types_supported\":[\"authorization_code\",\"client_credentials\"],";
    j += "\"token_endpoint_auth_methods_supported\":[\"private_key_jwt\"],";
  }
  j += "\"scopes_supported\":[\"openid\",\"fhirUser\",\"patient/*.read\",\"user/*.read\","
       "\"user/*.write\",\"system/*.read\",\"system/*.write\"],";
  j += "\"code_challenge_methods_supported\":[\"S256\"],";
  j += "\"capabilities\":[\"permission-v1\",\"permission-patient\",\"permission-user\","
       "\"client-confidential-asymmetric\"]}";
  return j;
}

std::string CapabilitySecurity(const AuthGateOptions& o) {
  std::string uris;
  if (!o.token_url.empty()) {
    uris += "{\"url\":\"token\",\"valueUri\":" + interaction::JsonString(o.token_url) + "}";
  }
  if (!o.authorize_url.empty()) {
    if (!uris.empty()) uris += ",";
    uris += "{\"url\":\"authorize\",\"valueUri\":" + interaction::JsonString(o.authorize_url) + "}";
  }
  std::string j = "{\"cors\":false,";
  if (!uris.empty()) {
    j += "\"extension\":[{\"url\":\"http://fhir-registry.smarthealthit.org/StructureDefinition/"
         "oauth-uris\",\"extension\":[" +
         uris + "]}],";
  }
  j += "\"service\":[{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/"
       "restful-security-service\",\"code\":\"SMART-on-FHIR\"}],\"text\":\"OAuth 2.0 bearer "
       "tokens (JWT, RS256 or ES256) from the configured issuers; SMART on FHIR v1 scopes; see "
       "/.well-known/smart-configuration\"}],";
  j += "\"description\":\"Every request except metadata needs Authorization: Bearer <token>; "
       "without a valid token the answer is 401.\"}";
  return j;
}

AuthGate::AuthGate(const auth::TokenVerifier* verifier, Clock& clock, AuthGateOptions options)
    : verifier_(verifier),
      clock_(clock),
      options_(std::move(options)),
      cache_(std::make_unique<Cache>(options_.cache_entries)) {}

AuthGate::~AuthGate() = default;

AuthGate::Admission AuthGate::Admit(const HttpRequest& request) const {
  std::string_view path = request.Path();
  if (verifier_ == nullptr) return {};
  // SMART App Launch puts it under the FHIR base URL ([base]/.well-known/...);
  // it is served at the server's root too.
  if (path == "/fhir/.well-known/smart-configuration" ||
      path == "/.well-known/smart-configuration") {
    std::string origin = options_.origin;
    if (origin.empty()) {
      std::string_view host = request.Header("Host");
      origin = std::string(request.tls ? "https://" : "http://") +
               std::string(host.empty() ? "localhost" : host);
    }
    return {Json(SmartConfiguration(options_, origin)), nullptr};
  }
  if (path == "/.well-known/jwks.json" && !options_.jwks.empty()) {
    return {Json(options_.jwks), nullptr};
  }
  if (OpenPath(path)) return {};

  std::string_view header = request.Header("Authorization");
  if (header.size() < 7 || strncasecmp(header.data(), "Bearer ", 7) != 0) {
    HttpResponse r = OutcomeResponse(Status::Unauthenticated(
        header.empty() ? "a bearer token is needed (Authorization: Bearer ...)"
                       : "the Authorization header is not a bearer token"));
    r.SetHeader("WWW-Authenticate", header.empty()
                                        ? "Bearer realm=\"lhcr\""
                                        : "Bearer realm=\"lhcr\", error=\"invalid_request\"");
    return {std::move(r), nullptr};
  }
  std::string_view token = header.substr(7);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);

  std::shared_ptr<const auth::Principal> principal = cache_->Find(token, clock_.Now());
  if (!principal) {
    Result<auth::Principal> verified = verifier_->Verify(token);
    if (!verified.ok()) {
      HttpResponse r = OutcomeResponse(verified.status());
      r.SetHeader("WWW-Authenticate",
                  "Bearer realm=\"lhcr\", error=\"invalid_token\", "
                  "error_description=" +
                      Quoted(verified.status().message()));
      return {std::move(r), nullptr};
    }
    principal = std::make_shared<const auth::Principal>(std::move(verified).value());
    cache_->Put(token, principal);
  }
  if (principal->kind == auth::PrincipalKind::kPatient && StaffOnly(path)) {
    return {OutcomeResponse(Status::Forbidden(std::string(path) + " is for systems and staff")),
            nullptr};
  }
  return {std::nullopt, std::move(principal)};
}

}  // namespace lhcr::api
