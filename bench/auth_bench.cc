// Authentication cost (issue 7): how many bearer tokens a core verifies per
// second (RS256, ES256), against a same-run baseline of reading the same JWT
// without checking its signature (base64url-decode and parse header and
// payload), and what the auth gate costs per request once a token has been
// seen (its cache), against the gate with security off.
//
//   build/bench/auth_bench [--benchmark_repetitions=5]
//
// Figures and the command: docs/BENCHMARKS.md, "Authentication".
#include <benchmark/benchmark.h>
#include <rapidjson/document.h>

#include "api/auth_gate.h"
#include "auth/auth.h"
#include "auth/jwt.h"  // the auth room's own signer, to make RS256 tokens as an issuer would

namespace {

using namespace lhcr;

class FixedClock : public Clock {
 public:
  Millis Now() override { return 1'800'000'000'000; }
};

FixedClock& TheClock() {
  static FixedClock clock;
  return clock;
}

struct Setup {
  auth::Key rsa = *auth::Key::GenerateRsa(2048);
  auth::Key ec = *auth::Key::GenerateEcP256();
  std::unique_ptr<auth::TokenVerifier> verifier;
  std::string rs256, es256;

  Setup() {
    std::string jwks = "{\"keys\":[" + rsa.PublicJwk("rsa-1") + "," + ec.PublicJwk("ec-1") + "]}";
    verifier =
        auth::TokenVerifier::Create(
            {{"https://cis2.example.nhs.uk", "https://shcr.example.org/fhir", jwks}}, TheClock())
            .value();
    // A CIS2-style professional's claims, about 450 bytes as a token.
    std::string claims =
        "{\"iss\":\"https://cis2.example.nhs.uk\",\"aud\":\"https://shcr.example.org/fhir\","
        "\"sub\":\"555021935107\",\"uid\":\"555021935107\",\"exp\":1800003600,\"nbf\":1799999000,"
        "\"jti\":\"6f1d7e0a-8c1b-4d0e-9a77-2b0c6f3e9d12\",\"scope\":\"openid user/*.read "
        "user/Observation.write\",\"selected_roleid\":\"1\",\"nhsid_nrbac_roles\":[{"
        "\"person_roleid\":\"1\",\"org_code\":\"RX1\",\"role_code\":\"S8000:G8000:R8000\"}]}";
    rs256 = *auth::SignJws("{\"alg\":\"RS256\",\"kid\":\"rsa-1\",\"typ\":\"JWT\"}", claims, rsa);
    es256 = *auth::SignJws("{\"alg\":\"ES256\",\"kid\":\"ec-1\",\"typ\":\"JWT\"}", claims, ec);
  }
};

Setup& S() {
  static Setup* s = new Setup();
  return *s;
}

// Baseline: what reading the token costs without trusting it.
void BM_ParseOnly(benchmark::State& state) {
  const std::string& token = S().es256;
  for (auto _ : state) {
    size_t d1 = token.find('.');
    size_t d2 = token.find('.', d1 + 1);
    auto header = auth::Base64UrlDecode(std::string_view(token).substr(0, d1));
    auto payload = auth::Base64UrlDecode(std::string_view(token).substr(d1 + 1, d2 - d1 - 1));
    rapidjson::Document h, p;
    h.Parse(header->data(), header->size());
    p.Parse(payload->data(), payload->size());
    benchmark::DoNotOptimize(p.HasMember("exp"));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseOnly);

void BM_VerifyRS256(benchmark::State& state) {
  for (auto _ : state) {
    auto p = S().verifier->Verify(S().rs256);
    if (!p.ok()) state.SkipWithError(p.status().message().c_str());
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifyRS256);

void BM_VerifyES256(benchmark::State& state) {
  for (auto _ : state) {
    auto p = S().verifier->Verify(S().es256);
    if (!p.ok()) state.SkipWithError(p.status().message().c_str());
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifyES256);

// Per request through the gate: security off (baseline), and on with a
// token it has seen (the cache), as a client reusing its token is.
api::HttpRequest Request(const std::string& token) {
  api::HttpRequest r;
  r.method = "GET";
  r.target = "/fhir/Patient/7d1c0b5e-2a44-4f0e-8f3a-5b6c7d8e9f00";
  r.headers = {{"Host", "127.0.0.1:8080"}, {"Accept", "application/fhir+json"}};
  if (!token.empty()) r.headers.emplace_back("Authorization", "Bearer " + token);
  return r;
}

void BM_GateSecurityOff(benchmark::State& state) {
  api::AuthGate gate(nullptr, TheClock(), {});
  api::HttpRequest r = Request("");
  for (auto _ : state) benchmark::DoNotOptimize(gate.Admit(r));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GateSecurityOff);

void BM_GateCachedToken(benchmark::State& state) {
  api::AuthGate gate(S().verifier.get(), TheClock(), {});
  api::HttpRequest r = Request(S().es256);
  if (!gate.Admit(r).principal) state.SkipWithError("token refused");
  for (auto _ : state) benchmark::DoNotOptimize(gate.Admit(r));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GateCachedToken);

}  // namespace

BENCHMARK_MAIN();
