#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "auth/auth.h"
#include "auth/jwt.h"

namespace lhcr::auth {
namespace {

Status Reject(std::string why) { return Status::Unauthenticated("bearer token rejected: " + why); }

std::string_view Str(const rapidjson::Value& v) { return {v.GetString(), v.GetStringLength()}; }

// The string member `name` of `obj`, or "" when absent or not a string.
std::string_view StringClaim(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || !it->value.IsString()) return {};
  return Str(it->value);
}

struct TrustedKey {
  std::string kid;
  Key key;
};

struct Issuer {
  IssuerConfig config;
  std::vector<TrustedKey> keys;
};

Result<std::vector<TrustedKey>> ParseJwks(const std::string& issuer, const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return Status::Incorrect("JWKS of " + issuer + " is not a JSON object");
  }
  auto keys = doc.FindMember("keys");
  if (keys == doc.MemberEnd() || !keys->value.IsArray()) {
    return Status::Incorrect("JWKS of " + issuer + " has no \"keys\" array");
  }
  std::vector<TrustedKey> out;
  for (const auto& jwk : keys->value.GetArray()) {
    if (!jwk.IsObject()) continue;
    std::string_view use = StringClaim(jwk, "use");
    if (!use.empty() && use != "sig") continue;  // encryption keys are no use here
    // Re-serialise the one key for Key::FromJwk.
    std::string one;
    {
      rapidjson::Document copy;
      copy.CopyFrom(jwk, copy.GetAllocator());
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w(buf);
      copy.Accept(w);
      one.assign(buf.GetString(), buf.GetSize());
    }
    auto key = Key::FromJwk(one);
    if (!key.ok()) continue;  // a kind lhcr does not accept (oct, P-384, short RSA)
    std::string_view alg = StringClaim(jwk, "alg");
    if (!alg.empty() && alg != key->Alg()) continue;  // a key for another algorithm
    out.push_back({std::string(StringClaim(jwk, "kid")), std::move(*key)});
  }
  if (out.empty()) return Status::Incorrect("JWKS of " + issuer + " holds no RS256 or ES256 key");
  return out;
}

Result<rapidjson::Document> ParsePart(std::string_view part, const char* what) {
  auto bytes = Base64UrlDecode(part);
  if (!bytes.ok()) return Reject(std::string(what) + " is not base64url");
  rapidjson::Document doc;
  doc.Parse(bytes->data(), bytes->size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return Reject(std::string(what) + " is not a JSON object");
  }
  return doc;
}

// A NumericDate claim in ms; nullopt when absent; error when not a number.
Result<std::optional<Millis>> TimeClaim(const rapidjson::Value& payload, const char* name) {
  auto it = payload.FindMember(name);
  if (it == payload.MemberEnd()) return std::optional<Millis>();
  if (!it->value.IsNumber() || !std::isfinite(it->value.GetDouble())) {
    return Reject(std::string("\"") + name + "\" is not a NumericDate");
  }
  double s = it->value.GetDouble();
  if (s < 0 || s > 253402300799.0) return Reject(std::string("\"") + name + "\" is out of range");
  return std::optional<Millis>(static_cast<Millis>(s * 1000));
}

Status ReadPerson(const rapidjson::Value& payload, Principal& p) {
  if (payload.HasMember("nhs_number")) {
    p.kind = PrincipalKind::kPatient;
    p.nhs_number = std::string(StringClaim(payload, "nhs_number"));
    p.proofing_level = std::string(StringClaim(payload, "identity_proofing_level"));
    if (p.nhs_number.empty()) return Reject("\"nhs_number\" is not a string");
    if (p.proofing_level.empty()) return Reject("patient token has no identity_proofing_level");
    return Status::Ok();
  }
  auto roles = payload.FindMember("nhsid_nrbac_roles");
  if (roles != payload.MemberEnd()) {
    p.kind = PrincipalKind::kProfessional;
    p.user_id = std::string(StringClaim(payload, "uid"));
    if (p.user_id.empty()) p.user_id = p.subject;
    if (p.user_id.empty()) return Reject("professional token has no uid or sub");
    if (!roles->value.IsArray() || roles->value.Empty()) {
      return Reject("\"nhsid_nrbac_roles\" is not a non-empty array");
    }
    std::string_view selected = StringClaim(payload, "selected_roleid");
    const rapidjson::Value* chosen = nullptr;
    for (const auto& r : roles->value.GetArray()) {
      if (!r.IsObject()) return Reject("an nhsid_nrbac_roles entry is not an object");
      if (chosen == nullptr) chosen = &r;
      if (!selected.empty() && StringClaim(r, "person_roleid") == selected) {
        chosen = &r;
        break;
      }
    }
    p.org_ods = std::string(StringClaim(*chosen, "org_code"));
    std::string_view codes = StringClaim(*chosen, "role_code");
    if (p.org_ods.empty() || codes.empty()) {
      return Reject("the professional's role has no org_code or role_code");
    }
    // CIS2 role codes are colon-separated (job role, and any activity codes).
    size_t pos = 0;
    while (pos <= codes.size()) {
      size_t end = codes.find(':', pos);
      if (end == std::string_view::npos) end = codes.size();
      if (end > pos) p.roles.emplace_back(codes.substr(pos, end - pos));
      pos = end + 1;
    }
    return Status::Ok();
  }
  p.kind = PrincipalKind::kSystem;
  if (p.client_id.empty()) p.client_id = p.subject;
  if (p.client_id.empty()) return Reject("system token has no client_id, azp or sub");
  return Status::Ok();
}

}  // namespace

class TokenVerifier::Impl {
 public:
  Impl(Clock& clock, VerifierOptions options) : clock_(clock), options_(options) {}

  Result<Principal> Verify(std::string_view token) const {
    size_t d1 = token.find('.');
    size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
    if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
      return Reject("malformed: a JWT is three base64url parts separated by '.'");
    }
    ASSIGN_OR_RETURN(rapidjson::Document header, ParsePart(token.substr(0, d1), "header"));
    std::string_view alg = StringClaim(header, "alg");
    if (alg != "RS256" && alg != "ES256") {
      return Reject("alg \"" + std::string(alg) + "\" is not accepted (only RS256 and ES256)");
    }
    if (header.HasMember("crit")) return Reject("critical header extensions are not supported");
    ASSIGN_OR_RETURN(rapidjson::Document payload,
                     ParsePart(token.substr(d1 + 1, d2 - d1 - 1), "payload"));
    std::string_view iss = StringClaim(payload, "iss");
    auto issuer_it = issuers_.find(iss);
    if (issuer_it == issuers_.end())
      return Reject("issuer \"" + std::string(iss) + "\" is not trusted");
    const Issuer& issuer = issuer_it->second;

    KeyType want = alg == "RS256" ? KeyType::kRsa : KeyType::kEcP256;
    const Key* key = nullptr;
    auto kid_it = header.FindMember("kid");
    if (kid_it != header.MemberEnd()) {
      if (!kid_it->value.IsString()) return Reject("kid is not a string");
      std::string_view kid = Str(kid_it->value);
      for (const TrustedKey& k : issuer.keys) {
        if (k.kid == kid) key = &k.key;
      }
      if (key == nullptr)
        return Reject("key \"" + std::string(kid) + "\" is not one of the issuer's");
      if (key->type() != want) {
        return Reject("key \"" + std::string(kid) + "\" is not a " + std::string(alg) + " key");
      }
    } else {
      for (const TrustedKey& k : issuer.keys) {
        if (k.key.type() != want) continue;
        if (key != nullptr) return Reject("token names no key (kid) and the issuer has several");
        key = &k.key;
      }
      if (key == nullptr) return Reject("the issuer has no " + std::string(alg) + " key");
    }
    auto sig = Base64UrlDecode(token.substr(d2 + 1));
    if (!sig.ok() || !VerifyJws(token.substr(0, d2), *sig, *key)) {
      return Reject("signature does not verify");
    }

    // From here the claims are the issuer's.
    Millis now = clock_.Now();
    ASSIGN_OR_RETURN(std::optional<Millis> exp, TimeClaim(payload, "exp"));
    ASSIGN_OR_RETURN(std::optional<Millis> nbf, TimeClaim(payload, "nbf"));
    if (!exp) return Reject("no expiry (exp)");
    if (now >= *exp + options_.clock_skew_ms) {
      return Reject("expired at " + FormatInstant(*exp));
    }
    if (nbf && now + options_.clock_skew_ms < *nbf) {
      return Reject("not valid before " + FormatInstant(*nbf));
    }
    bool audience_ok = false;
    auto aud = payload.FindMember("aud");
    if (aud != payload.MemberEnd()) {
      if (aud->value.IsString()) {
        audience_ok = Str(aud->value) == issuer.config.audience;
      } else if (aud->value.IsArray()) {
        for (const auto& a : aud->value.GetArray()) {
          audience_ok = audience_ok || (a.IsString() && Str(a) == issuer.config.audience);
        }
      }
    }
    if (!audience_ok) return Reject("audience is not \"" + issuer.config.audience + "\"");

    Principal p;
    p.issuer = issuer.config.issuer;
    p.subject = std::string(StringClaim(payload, "sub"));
    p.token_id = std::string(StringClaim(payload, "jti"));
    p.client_id = std::string(StringClaim(payload, "client_id"));
    if (p.client_id.empty()) p.client_id = std::string(StringClaim(payload, "azp"));
    p.expires_at = *exp;
    RETURN_IF_ERROR(ReadPerson(payload, p));
    auto scope = payload.FindMember("scope");
    if (scope != payload.MemberEnd()) {
      if (!scope->value.IsString()) return Reject("\"scope\" is not a string");
      auto scopes = ParseScopes(Str(scope->value));
      if (!scopes.ok()) return Reject(scopes.status().message());
      p.scopes = std::move(*scopes);
    }
    return p;
  }

  Clock& clock_;
  VerifierOptions options_;
  std::map<std::string, Issuer, std::less<>> issuers_;
};

Result<std::unique_ptr<TokenVerifier>> TokenVerifier::Create(std::vector<IssuerConfig> issuers,
                                                             Clock& clock,
                                                             VerifierOptions options) {
  auto impl = std::make_unique<Impl>(clock, options);
  for (IssuerConfig& c : issuers) {
    if (c.issuer.empty()) return Status::Incorrect("an issuer has no name");
    if (c.audience.empty()) return Status::Incorrect("issuer " + c.issuer + " has no audience");
    if (impl->issuers_.count(c.issuer) != 0) {
      return Status::Incorrect("issuer " + c.issuer + " is configured twice");
    }
    ASSIGN_OR_RETURN(std::vector<TrustedKey> keys, ParseJwks(c.issuer, c.jwks));
    std::string name = c.issuer;
    impl->issuers_.emplace(name, Issuer{std::move(c), std::move(keys)});
  }
  return std::unique_ptr<TokenVerifier>(new TokenVerifier(std::move(impl)));
}

TokenVerifier::TokenVerifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TokenVerifier::~TokenVerifier() = default;

Result<Principal> TokenVerifier::Verify(std::string_view token) const {
  return impl_->Verify(token);
}

Result<std::string> LoadJwks(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Status::Unavailable("cannot read JWKS file " + file);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return Status::Incorrect("JWKS file " + file + " is not a JSON object");
  }
  return text;
}

}  // namespace lhcr::auth
