#include <gtest/gtest.h>

#include "auth/auth.h"
#include "auth/jwt.h"

namespace lhcr::auth {
namespace {

class FixedClock : public Clock {
 public:
  Millis Now() override { return now; }
  Millis now = 1'800'000'000'000;  // 2027-01-15
};

constexpr char kIss[] = "https://cis2.example.nhs.uk";
constexpr char kAud[] = "https://shcr.example.org/fhir";

// One RSA and one EC key, made once (RSA generation is slow).
struct Keys {
  Key rsa = *Key::GenerateRsa(2048);
  Key ec = *Key::GenerateEcP256();
  Key other_ec = *Key::GenerateEcP256();
};
const Keys& TestKeys() {
  static const Keys* k = new Keys();
  return *k;
}

class TokenVerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string jwks = "{\"keys\":[" + TestKeys().rsa.PublicJwk("rsa-1") + "," +
                       TestKeys().ec.PublicJwk("ec-1") + "]}";
    auto v = TokenVerifier::Create({{kIss, kAud, jwks}}, clock_);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    verifier_ = std::move(*v);
  }

  long Secs(Millis offset = 0) const { return (clock_.now + offset) / 1000; }

  // A professional's claims, valid now, with `extra` spliced in.
  std::string Claims(const std::string& extra = "") const {
    return std::string("{\"iss\":\"") + kIss + "\",\"aud\":\"" + kAud +
           "\",\"sub\":\"555021\",\"uid\":\"555021\",\"exp\":" + std::to_string(Secs(600'000)) +
           ",\"nbf\":" + std::to_string(Secs(-1000)) +
           ",\"jti\":\"t-1\",\"scope\":\"openid user/*.read user/Observation.write\","
           "\"nhsid_nrbac_roles\":[{\"person_roleid\":\"9\",\"org_code\":\"RX1\","
           "\"role_code\":\"S8000:G8000:R8000\"}]" +
           extra + "}";
  }
  std::string Sign(const std::string& claims, const Key& key, const std::string& kid) const {
    std::string header = "{\"alg\":\"" + std::string(key.Alg()) + "\",\"kid\":\"" + kid + "\"}";
    return *SignJws(header, claims, key);
  }
  void ExpectRejected(const std::string& token, const std::string& reason) {
    auto p = verifier_->Verify(token);
    ASSERT_FALSE(p.ok()) << "accepted: " << DescribePrincipal(*p);
    EXPECT_EQ(p.status().code(), StatusCode::kUnauthenticated);
    EXPECT_NE(p.status().message().find(reason), std::string::npos) << p.status().message();
  }

  FixedClock clock_;
  std::unique_ptr<TokenVerifier> verifier_;
};

TEST_F(TokenVerifierTest, AcceptsRs256ProfessionalWithWholePrincipal) {
  auto p = verifier_->Verify(Sign(Claims(), TestKeys().rsa, "rsa-1"));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  Principal want;
  want.kind = PrincipalKind::kProfessional;
  want.subject = "555021";
  want.user_id = "555021";
  want.org_ods = "RX1";
  want.roles = {"S8000", "G8000", "R8000"};
  want.scopes = {{Scope::Context::kUser, "*", true, false},
                 {Scope::Context::kUser, "Observation", false, true}};
  want.issuer = kIss;
  want.token_id = "t-1";
  want.expires_at = Secs(600'000) * 1000;
  EXPECT_EQ(*p, want) << DescribePrincipal(*p);
}

TEST_F(TokenVerifierTest, AcceptsEs256PatientAndSystem) {
  std::string patient = std::string("{\"iss\":\"") + kIss + "\",\"aud\":[\"x\",\"" + kAud +
                        "\"],\"sub\":\"u1\",\"exp\":" + std::to_string(Secs(60'000)) +
                        ",\"nhs_number\":\"9990001112\",\"identity_proofing_level\":\"P9\","
                        "\"scope\":\"patient/*.read\"}";
  auto p = verifier_->Verify(Sign(patient, TestKeys().ec, "ec-1"));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->kind, PrincipalKind::kPatient);
  EXPECT_EQ(p->nhs_number, "9990001112");
  EXPECT_EQ(p->proofing_level, "P9");
  ASSERT_EQ(p->scopes.size(), 1u);
  EXPECT_EQ(FormatScope(p->scopes[0]), "patient/*.read");

  std::string system = std::string("{\"iss\":\"") + kIss + "\",\"aud\":\"" + kAud +
                       "\",\"exp\":" + std::to_string(Secs(60'000)) +
                       ",\"client_id\":\"region-b\",\"scope\":\"system/*.read\"}";
  auto s = verifier_->Verify(Sign(system, TestKeys().ec, "ec-1"));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->kind, PrincipalKind::kSystem);
  EXPECT_EQ(s->client_id, "region-b");
}

TEST_F(TokenVerifierTest, SelectedRoleChoosesTheOrganisation) {
  std::string claims = std::string("{\"iss\":\"") + kIss + "\",\"aud\":\"" + kAud +
                       "\",\"sub\":\"7\",\"exp\":" + std::to_string(Secs(60'000)) +
                       ",\"selected_roleid\":\"2\",\"nhsid_nrbac_roles\":["
                       "{\"person_roleid\":\"1\",\"org_code\":\"RX1\",\"role_code\":\"R8000\"},"
                       "{\"person_roleid\":\"2\",\"org_code\":\"Y0001\",\"role_code\":\"R8003\"}]}";
  auto p = verifier_->Verify(Sign(claims, TestKeys().ec, "ec-1"));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->org_ods, "Y0001");
  EXPECT_EQ(p->roles, std::vector<std::string>{"R8003"});
  EXPECT_EQ(p->user_id, "7");
}

TEST_F(TokenVerifierTest, SkewIsAllowedButNoMore) {
  std::string token = Sign(Claims(), TestKeys().rsa, "rsa-1");
  clock_.now += 600'000 + 29'000;  // expired 29 s ago, skew 30 s
  EXPECT_TRUE(verifier_->Verify(token).ok());
  clock_.now += 2'000;
  ExpectRejected(token, "expired at");
}

TEST_F(TokenVerifierTest, RejectsExpired) {
  ExpectRejected(
      Sign(Claims().replace(Claims().find("\"exp\":") + 6, std::to_string(Secs(600'000)).size(),
                            std::to_string(Secs(-60'000))),
           TestKeys().rsa, "rsa-1"),
      "expired at");
}

TEST_F(TokenVerifierTest, RejectsMissingExpiry) {
  std::string claims =
      std::string("{\"iss\":\"") + kIss + "\",\"aud\":\"" + kAud + "\",\"client_id\":\"c\"}";
  ExpectRejected(Sign(claims, TestKeys().ec, "ec-1"), "no expiry");
}

TEST_F(TokenVerifierTest, RejectsNotYetValid) {
  std::string claims = Claims();
  std::string nbf = "\"nbf\":" + std::to_string(Secs(-1000));
  claims.replace(claims.find(nbf), nbf.size(), "\"nbf\":" + std::to_string(Secs(120'000)));
  ExpectRejected(Sign(claims, TestKeys().ec, "ec-1"), "not valid before");
}

TEST_F(TokenVerifierTest, RejectsWrongIssuer) {
  std::string claims = Claims();
  claims.replace(claims.find(kIss), std::string(kIss).size(), "https://evil.example");
  ExpectRejected(Sign(claims, TestKeys().ec, "ec-1"),
                 "issuer \"https://evil.example\" is not trusted");
}

TEST_F(TokenVerifierTest, RejectsWrongAudience) {
  std::string claims = Claims();
  claims.replace(claims.find(kAud), std::string(kAud).size(), "https://other.example/fhir");
  ExpectRejected(Sign(claims, TestKeys().ec, "ec-1"), "audience is not");
}

TEST_F(TokenVerifierTest, RejectsBadSignature) {
  // Signed by a key the issuer does not have, under the issuer's kid.
  ExpectRejected(Sign(Claims(), TestKeys().other_ec, "ec-1"), "signature does not verify");
  // And a signature that is not even the right length.
  std::string token = Sign(Claims(), TestKeys().ec, "ec-1");
  ExpectRejected(token.substr(0, token.rfind('.') + 1) + "AAAA", "signature does not verify");
}

TEST_F(TokenVerifierTest, RejectsTamperedPayload) {
  std::string token = Sign(Claims(), TestKeys().rsa, "rsa-1");
  size_t d1 = token.find('.');
  size_t d2 = token.find('.', d1 + 1);
  std::string claims = Claims();
  claims.replace(claims.find("RX1"), 3, "RX2");
  std::string forged = token.substr(0, d1 + 1) + Base64UrlEncode(claims) + token.substr(d2);
  ExpectRejected(forged, "signature does not verify");
}

TEST_F(TokenVerifierTest, RejectsAlgNone) {
  std::string token = Base64UrlEncode("{\"alg\":\"none\"}") + "." + Base64UrlEncode(Claims()) + ".";
  ExpectRejected(token, "alg \"none\" is not accepted");
  std::string none_caps = Base64UrlEncode("{\"alg\":\"None\",\"kid\":\"ec-1\"}") + "." +
                          Base64UrlEncode(Claims()) + ".";
  ExpectRejected(none_caps, "is not accepted");
}

TEST_F(TokenVerifierTest, RejectsHs256WithThePublicKeyAsSecret) {
  // Key confusion: a verifier that fed its RSA public key to HMAC would accept this.
  std::string public_jwk = TestKeys().rsa.PublicJwk("rsa-1");
  std::string token = SignHs256("{\"alg\":\"HS256\",\"kid\":\"rsa-1\"}", Claims(), public_jwk);
  ExpectRejected(token, "alg \"HS256\" is not accepted");
}

TEST_F(TokenVerifierTest, RejectsAlgThatDoesNotMatchTheKey) {
  // An EC signature presented under the RSA key's kid, and the reverse.
  std::string header = "{\"alg\":\"ES256\",\"kid\":\"rsa-1\"}";
  ExpectRejected(*SignJws(header, Claims(), TestKeys().ec), "is not a ES256 key");
  header = "{\"alg\":\"RS256\",\"kid\":\"ec-1\"}";
  ExpectRejected(*SignJws(header, Claims(), TestKeys().rsa), "is not a RS256 key");
}

TEST_F(TokenVerifierTest, RejectsUnknownKid) {
  ExpectRejected(Sign(Claims(), TestKeys().ec, "ec-9"), "key \"ec-9\" is not one of the issuer's");
}

TEST_F(TokenVerifierTest, WithoutKidUsesTheOnlyKeyOfTheType) {
  std::string token = *SignJws("{\"alg\":\"ES256\"}", Claims(), TestKeys().ec);
  EXPECT_TRUE(verifier_->Verify(token).ok());
}

TEST_F(TokenVerifierTest, RejectsMalformed) {
  ExpectRejected("", "malformed");
  ExpectRejected("abc", "malformed");
  ExpectRejected("a.b", "malformed");
  ExpectRejected("a.b.c.d", "malformed");
  ExpectRejected("!!.e30.", "header is not base64url");
  ExpectRejected(Base64UrlEncode("[1]") + ".e30.", "header is not a JSON object");
  ExpectRejected(Base64UrlEncode("{\"alg\":\"ES256\"}") + "." + Base64UrlEncode("{") + ".",
                 "payload is not a JSON object");
  std::string claims = Claims();
  claims.replace(claims.find("\"exp\":"), 6, "\"exp\":\"soon\",\"x\":");
  ExpectRejected(Sign(claims, TestKeys().ec, "ec-1"), "\"exp\" is not a NumericDate");
  claims = Claims();
  claims.replace(claims.find("user/*.read"), 11, "user/Observation");
  ExpectRejected(Sign(claims, TestKeys().ec, "ec-1"), "is not context/type.access");
}

TEST_F(TokenVerifierTest, RejectsCriticalHeader) {
  ExpectRejected(
      *SignJws("{\"alg\":\"ES256\",\"kid\":\"ec-1\",\"crit\":[\"exp\"]}", Claims(), TestKeys().ec),
      "critical header");
}

TEST(TokenVerifierCreateTest, RefusesUnusableConfiguration) {
  FixedClock clock;
  std::string jwks = "{\"keys\":[" + TestKeys().ec.PublicJwk("a") + "]}";
  EXPECT_EQ(TokenVerifier::Create({{"i", "", jwks}}, clock).status().code(),
            StatusCode::kIncorrect);
  EXPECT_EQ(TokenVerifier::Create({{"i", "a", jwks}, {"i", "a", jwks}}, clock).status().code(),
            StatusCode::kIncorrect);
  EXPECT_EQ(
      TokenVerifier::Create({{"i", "a", "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"}]}"}}, clock)
          .status()
          .code(),
      StatusCode::kIncorrect);
  EXPECT_EQ(TokenVerifier::Create({{"i", "a", "not json"}}, clock).status().code(),
            StatusCode::kIncorrect);
}

TEST(JwtTest, Base64UrlRoundTripsAndIsStrict) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00"}) {
    EXPECT_EQ(*Base64UrlDecode(Base64UrlEncode(s)), s);
  }
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_FALSE(Base64UrlDecode("Zm9v=").ok());
  EXPECT_FALSE(Base64UrlDecode("Zm9vY").ok());
  EXPECT_FALSE(Base64UrlDecode("Zh").ok());  // non-zero leftover bits
  EXPECT_FALSE(Base64UrlDecode("Zm+v").ok());
}

TEST(JwtTest, JwkRoundTripsAndRejectsBadPoints) {
  auto ec = Key::FromJwk(TestKeys().ec.PublicJwk("k"));
  ASSERT_TRUE(ec.ok()) << ec.status().ToString();
  EXPECT_EQ(ec->Thumbprint(), TestKeys().ec.Thumbprint());
  auto rsa = Key::FromJwk(TestKeys().rsa.PublicJwk("k"));
  ASSERT_TRUE(rsa.ok()) << rsa.status().ToString();
  EXPECT_EQ(rsa->Thumbprint(), TestKeys().rsa.Thumbprint());
  std::string off_curve = "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" +
                          Base64UrlEncode(std::string(32, '\1')) + "\",\"y\":\"" +
                          Base64UrlEncode(std::string(32, '\2')) + "\"}";
  EXPECT_FALSE(Key::FromJwk(off_curve).ok());
}

}  // namespace
}  // namespace lhcr::auth
