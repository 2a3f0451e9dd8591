// Bearer tokens and keys from outside: TokenVerifier::Verify, a JWKS at
// TokenVerifier::Create, one JWK, SMART scopes and base64url must never
// crash on any input; no input is accepted as a token (nothing here is
// signed by the trusted key), and base64url that decodes encodes back to
// the same text (the decoder is strict).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "auth/auth.h"
#include "auth/jwt.h"

namespace {

class FixedClock : public lhcr::Clock {
 public:
  lhcr::Millis Now() override { return 1'800'000'000'000; }
};

void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "jwt_fuzz: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lhcr::auth;
  static FixedClock clock;
  static const Key* key = new Key(*Key::GenerateEcP256());
  static const TokenVerifier* verifier =
      TokenVerifier::Create(
          {{"https://idp.example", "lhcr", "{\"keys\":[" + key->PublicJwk("k1") + "]}"}}, clock)
          ->release();
  std::string_view input(reinterpret_cast<const char*>(data), size);

  auto principal = verifier->Verify(input);
  Check(!principal.ok(), "an unsigned input was accepted");
  Check(principal.status().code() == lhcr::StatusCode::kUnauthenticated, "not kUnauthenticated");

  auto decoded = Base64UrlDecode(input);
  if (decoded.ok()) Check(Base64UrlEncode(*decoded) == input, "base64url not canonical");

  (void)Key::FromJwk(input);
  (void)ParseScopes(input);
  if (size < 4096) (void)TokenVerifier::Create({{"i", "a", std::string(input)}}, clock);
  return 0;
}
