#include "auth/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <rapidjson/document.h>

#include <array>
#include <cstring>

namespace lhcr::auth {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

std::shared_ptr<EVP_PKEY> Own(EVP_PKEY* p) { return std::shared_ptr<EVP_PKEY>(p, EVP_PKEY_free); }

// The type lhcr can use a key for, or an error for any other key.
Result<KeyType> TypeOf(EVP_PKEY* pkey) {
  if (EVP_PKEY_is_a(pkey, "RSA")) {
    if (EVP_PKEY_get_bits(pkey) < 2048) return Status::Incorrect("RSA key shorter than 2048 bits");
    return KeyType::kRsa;
  }
  if (EVP_PKEY_is_a(pkey, "EC")) {
    char group[64] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &len) == 1 &&
        (std::strcmp(group, "prime256v1") == 0 || std::strcmp(group, "P-256") == 0)) {
      return KeyType::kEcP256;
    }
    return Status::Incorrect("EC key not on curve P-256");
  }
  return Status::Incorrect("key is neither RSA nor EC P-256");
}

std::string BnBytes(const BIGNUM* bn, int width) {
  int n = BN_num_bytes(bn);
  int size = width > n ? width : n;
  std::string out(static_cast<size_t>(size), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), size);
  return out;
}

std::string GetBn(EVP_PKEY* pkey, const char* name, int width) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) return "";
  BnPtr owned(bn);
  return BnBytes(bn, width);
}

Result<std::string> JwkMember(const rapidjson::Value& jwk, const char* name) {
  auto it = jwk.FindMember(name);
  if (it == jwk.MemberEnd() || !it->value.IsString()) {
    return Status::Incorrect(std::string("JWK has no string \"") + name + "\"");
  }
  return Base64UrlDecode(std::string_view(it->value.GetString(), it->value.GetStringLength()));
}

Result<std::shared_ptr<EVP_PKEY>> FromParams(const char* name, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  OSSL_PARAM_BLD_free(bld);
  if (params == nullptr) return Status::Fault("OpenSSL could not build key parameters");
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, name, nullptr));
  EVP_PKEY* pkey = nullptr;
  bool ok = ctx && EVP_PKEY_fromdata_init(ctx.get()) == 1 &&
            EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params) == 1;
  OSSL_PARAM_free(params);
  if (!ok || pkey == nullptr) return Status::Incorrect(std::string("not a valid ") + name + " key");
  auto owned = Own(pkey);
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    return Status::Incorrect(std::string("not a valid ") + name + " public key");
  }
  return owned;
}

}  // namespace

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<unsigned char>(bytes[k]); };
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = byte(i) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (rest == 2) {
    uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

Result<std::string> Base64UrlDecode(std::string_view text) {
  static const std::array<int8_t, 256> kValue = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    for (int i = 0; i < 64; ++i)
      t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
    return t;
  }();
  if (text.size() % 4 == 1) return Status::Incorrect("base64url text of impossible length");
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int8_t v = kValue[static_cast<unsigned char>(c)];
    if (v < 0) return Status::Incorrect("not base64url");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  // The leftover bits must be zero (a canonical encoding).
  if ((acc & ((1u << bits) - 1)) != 0) return Status::Incorrect("not canonical base64url");
  return out;
}

Result<Key> Key::GenerateRsa(int bits) {
  EVP_PKEY* p = EVP_RSA_gen(static_cast<unsigned>(bits));
  if (p == nullptr) return Status::Fault("OpenSSL could not generate an RSA key");
  return Key(KeyType::kRsa, Own(p));
}

Result<Key> Key::GenerateEcP256() {
  EVP_PKEY* p = EVP_EC_gen("P-256");
  if (p == nullptr) return Status::Fault("OpenSSL could not generate an EC key");
  return Key(KeyType::kEcP256, Own(p));
}

Result<Key> Key::FromPrivatePem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Status::Fault("OpenSSL could not allocate");
  EVP_PKEY* p = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (p == nullptr) return Status::Incorrect("not a PEM private key");
  auto owned = Own(p);
  ASSIGN_OR_RETURN(KeyType type, TypeOf(p));
  return Key(type, std::move(owned));
}

Result<Key> Key::FromJwk(std::string_view jwk_json) {
  rapidjson::Document doc;
  doc.Parse(jwk_json.data(), jwk_json.size());
  if (doc.HasParseError() || !doc.IsObject()) return Status::Incorrect("JWK is not a JSON object");
  auto kty = doc.FindMember("kty");
  if (kty == doc.MemberEnd() || !kty->value.IsString()) {
    return Status::Incorrect("JWK has no \"kty\"");
  }
  std::string_view type(kty->value.GetString(), kty->value.GetStringLength());
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  if (bld == nullptr) return Status::Fault("OpenSSL could not allocate");
  if (type == "RSA") {
    auto n = JwkMember(doc, "n");
    auto e = JwkMember(doc, "e");
    if (!n.ok() || !e.ok()) {
      OSSL_PARAM_BLD_free(bld);
      return !n.ok() ? n.status() : e.status();
    }
    BnPtr bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()),
                         static_cast<int>(n->size()), nullptr));
    BnPtr bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()),
                         static_cast<int>(e->size()), nullptr));
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n.get());
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e.get());
    ASSIGN_OR_RETURN(std::shared_ptr<EVP_PKEY> p, FromParams("RSA", bld));
    ASSIGN_OR_RETURN(KeyType t, TypeOf(p.get()));
    return Key(t, std::move(p));
  }
  if (type == "EC") {
    auto crv = doc.FindMember("crv");
    if (crv == doc.MemberEnd() || !crv->value.IsString() ||
        std::string_view(crv->value.GetString()) != "P-256") {
      OSSL_PARAM_BLD_free(bld);
      return Status::Incorrect("EC JWK not on curve P-256");
    }
    auto x = JwkMember(doc, "x");
    auto y = JwkMember(doc, "y");
    if (!x.ok() || !y.ok() || x->size() != 32 || y->size() != 32) {
      OSSL_PARAM_BLD_free(bld);
      return Status::Incorrect("EC JWK needs 32-byte x and y");
    }
    std::string point = "\x04" + *x + *y;
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
    ASSIGN_OR_RETURN(std::shared_ptr<EVP_PKEY> p, FromParams("EC", bld));
    return Key(KeyType::kEcP256, std::move(p));
  }
  OSSL_PARAM_BLD_free(bld);
  return Status::Incorrect("JWK kty \"" + std::string(type) + "\" is not RSA or EC");
}

std::string Key::PrivatePem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), pkey_.get(), nullptr, nullptr, 0, nullptr,
                                       nullptr) != 1) {
    return "";
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string Key::Thumbprint() const {
  std::string canonical;
  if (type_ == KeyType::kRsa) {
    canonical = "{\"e\":\"" + Base64UrlEncode(GetBn(pkey_.get(), OSSL_PKEY_PARAM_RSA_E, 0)) +
                "\",\"kty\":\"RSA\",\"n\":\"" +
                Base64UrlEncode(GetBn(pkey_.get(), OSSL_PKEY_PARAM_RSA_N, 0)) + "\"}";
  } else {
    canonical = "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"" +
                Base64UrlEncode(GetBn(pkey_.get(), OSSL_PKEY_PARAM_EC_PUB_X, 32)) + "\",\"y\":\"" +
                Base64UrlEncode(GetBn(pkey_.get(), OSSL_PKEY_PARAM_EC_PUB_Y, 32)) + "\"}";
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(canonical.data(), canonical.size(), md, &len, EVP_sha256(), nullptr);
  return Base64UrlEncode(std::string_view(reinterpret_cast<char*>(md), len));
}

std::string Key::PublicJwk(std::string_view kid) const {
  std::string j;
  if (type_ == KeyType::kRsa) {
    j = "{\"kty\":\"RSA\",\"n\":\"" +
        Base64UrlEncode(GetBn(pkey_.get(), OSSL_PKEY_PARAM_RSA_N, 0)) + "\",\"e\":\"" +
        Base64UrlEncode(GetBn(pkey_.get(), OSSL_PKEY_PARAM_RSA_E, 0)) + "\"";
  } else {
    j = "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" +
        Base64UrlEncode(GetBn(pkey_.get(), OSSL_PKEY_PARAM_EC_PUB_X, 32)) + "\",\"y\":\"" +
        Base64UrlEncode(GetBn(pkey_.get(), OSSL_PKEY_PARAM_EC_PUB_Y, 32)) + "\"";
  }
  j += ",\"kid\":\"" + std::string(kid) + "\",\"use\":\"sig\",\"alg\":\"" + std::string(Alg()) +
       "\"}";
  return j;
}

Result<std::string> SignJws(std::string_view header_json, std::string_view payload_json,
                            const Key& key) {
  std::string input = Base64UrlEncode(header_json) + "." + Base64UrlEncode(payload_json);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.pkey()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1) {
    return Status::Fault("OpenSSL could not sign");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return Status::Fault("OpenSSL could not sign");
  }
  sig.resize(len);
  if (key.type() == KeyType::kEcP256) {
    // DER ECDSA-Sig-Value -> the fixed-width R||S of JWS (RFC 7518 3.4).
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    if (es == nullptr) return Status::Fault("OpenSSL gave an unreadable ECDSA signature");
    std::string raw = BnBytes(ECDSA_SIG_get0_r(es), 32) + BnBytes(ECDSA_SIG_get0_s(es), 32);
    ECDSA_SIG_free(es);
    sig = std::move(raw);
  }
  return input + "." + Base64UrlEncode(sig);
}

std::string SignHs256(std::string_view header_json, std::string_view payload_json,
                      std::string_view secret) {
  std::string input = Base64UrlEncode(header_json) + "." + Base64UrlEncode(payload_json);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), md, &len);
  return input + "." + Base64UrlEncode(std::string_view(reinterpret_cast<char*>(md), len));
}

bool VerifyJws(std::string_view signing_input, std::string_view signature, const Key& key) {
  std::string der;
  if (key.type() == KeyType::kEcP256) {
    if (signature.size() != 64) return false;
    ECDSA_SIG* es = ECDSA_SIG_new();
    BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()), 32, nullptr);
    BIGNUM* s =
        BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()) + 32, 32, nullptr);
    if (es == nullptr || r == nullptr || s == nullptr) {
      ECDSA_SIG_free(es);
      BN_free(r);
      BN_free(s);
      return false;
    }
    ECDSA_SIG_set0(es, r, s);
    unsigned char* out = nullptr;
    int len = i2d_ECDSA_SIG(es, &out);
    ECDSA_SIG_free(es);
    if (len <= 0) return false;
    der.assign(reinterpret_cast<char*>(out), static_cast<size_t>(len));
    OPENSSL_free(out);
    signature = der;
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.pkey()) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(),
                          reinterpret_cast<const unsigned char*>(signing_input.data()),
                          signing_input.size()) == 1;
}

}  // namespace lhcr::auth
