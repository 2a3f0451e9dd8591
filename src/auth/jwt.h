// The JOSE mechanics behind auth.h (internal to the auth room): base64url,
// keys as OpenSSL EVP_PKEYs, JWK import/export, and JWS signing and
// verification for RS256 and ES256. Tests and the dev issuer sign with it.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

using EVP_PKEY = struct evp_pkey_st;

namespace lhcr::auth {

std::string Base64UrlEncode(std::string_view bytes);
// Strict: only the URL alphabet, no padding, no stray length; nullopt-like
// error kIncorrect otherwise.
Result<std::string> Base64UrlDecode(std::string_view text);

enum class KeyType { kRsa, kEcP256 };

// A public or private key. Immutable; safe to share between threads.
class Key {
 public:
  static Result<Key> GenerateRsa(int bits);
  static Result<Key> GenerateEcP256();
  // A PEM private key (PKCS#8 or traditional).
  static Result<Key> FromPrivatePem(std::string_view pem);
  // One JWK object (JSON text): kty RSA (n, e) or EC with crv P-256 (x, y).
  static Result<Key> FromJwk(std::string_view jwk_json);

  KeyType type() const { return type_; }
  EVP_PKEY* pkey() const { return pkey_.get(); }
  std::string PrivatePem() const;
  // The public JWK: {"kty":..., ..., "kid":kid, "use":"sig","alg":...}.
  std::string PublicJwk(std::string_view kid) const;
  // The RFC 7638 thumbprint (SHA-256, base64url) of the public key.
  std::string Thumbprint() const;
  // "RS256" or "ES256".
  std::string_view Alg() const { return type_ == KeyType::kRsa ? "RS256" : "ES256"; }

 private:
  Key(KeyType type, std::shared_ptr<EVP_PKEY> pkey) : type_(type), pkey_(std::move(pkey)) {}
  KeyType type_;
  std::shared_ptr<EVP_PKEY> pkey_;
};

// The compact JWS of header and payload (JSON texts) signed with `key` by
// its Alg() (the header must say the same; it is not checked here, so tests
// can make lying tokens).
Result<std::string> SignJws(std::string_view header_json, std::string_view payload_json,
                            const Key& key);
// HS256 over the signing input with `secret` as the HMAC key (for tests of
// key confusion only; lhcr never accepts it).
std::string SignHs256(std::string_view header_json, std::string_view payload_json,
                      std::string_view secret);
// Whether `signature` (raw JWS form: PKCS#1 v1.5 for RS256, R||S for ES256)
// over `signing_input` verifies with `key`.
bool VerifyJws(std::string_view signing_input, std::string_view signature, const Key& key);

}  // namespace lhcr::auth
