// Deny by default, end to end: the real `lhcr serve` with the development
// issuer, tokens from the real `lhcr token`, requests over loopback — plain
// HTTP and HTTPS with a throwaway CA made by the openssl command here.
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "testing/lhcr_process.h"
#include "testing/test_server.h"

namespace lhcr {
namespace {

using namespace std::chrono_literals;
using testing::ClientResponse;
using testing::HttpClient;
using testing::LhcrProcess;
using testing::TempDir;

std::string Token(const std::string& data, std::vector<std::string> args) {
  args.insert(args.begin(), {"token", "--data", data});
  std::string error;
  auto p = LhcrProcess::Start(args, &error);
  if (p == nullptr) return "";
  std::string line = p->Line(0, 30s);
  auto status = p->WaitExit(30s);
  if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) return "";
  return line;
}

std::vector<std::pair<std::string, std::string>> Bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

class AuthHttpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    std::string error;
    server_ = LhcrProcess::Serve({"--data", dir_->path(), "--no-fsync", "--dev-issuer"}, &error)
                  .release();
    ASSERT_NE(server_, nullptr) << error;
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
  }
  static TempDir* dir_;
  static LhcrProcess* server_;
};
TempDir* AuthHttpTest::dir_ = nullptr;
LhcrProcess* AuthHttpTest::server_ = nullptr;

TEST_F(AuthHttpTest, WithoutATokenEveryFhirRouteButMetadataIs401) {
  HttpClient c(server_->port());
  for (std::string target : {"/fhir/Patient", "/fhir/Patient/1", "/fhir/Observation?code=x",
                             "/fhir/_history", "/fhir", "/mpi/link", "/sources"}) {
    ClientResponse r = c.Get(target);
    EXPECT_EQ(r.status, 401) << target;
    EXPECT_EQ(r.Header("WWW-Authenticate"), "Bearer realm=\"lhcr\"") << target;
    EXPECT_NE(r.body.find("\"code\":\"login\""), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("a bearer token is needed"), std::string::npos) << r.body;
  }
  ClientResponse post = c.Send("POST", "/fhir/Patient", "{\"resourceType\":\"Patient\"}");
  EXPECT_EQ(post.status, 401);
  EXPECT_EQ(c.Get("/fhir/metadata").status, 200);
  EXPECT_EQ(c.Get("/healthz").status, 200);
}

TEST_F(AuthHttpTest, ARefusedTokenIs401InvalidTokenWithTheReason) {
  HttpClient c(server_->port());
  std::string good = Token(dir_->path(), {"--system"});
  ASSERT_FALSE(good.empty());
  std::string tampered = good;
  tampered[tampered.find('.') + 5] ^= 1;  // a payload byte
  struct Case {
    std::string header;
    std::string reason;
  } cases[] = {
      {"Bearer " + tampered, "bearer token rejected"},
      {"Bearer not.a.jwt", "bearer token rejected: header is not"},
      {"Bearer eyJhbGciOiJub25lIn0.e30.", "alg \\\"none\\\" is not accepted"},
      {"Basic dXNlcjpwYXNz", "not a bearer token"},
  };
  for (const Case& k : cases) {
    ClientResponse r = c.Call("GET", "/fhir/Patient", "", {{"Authorization", k.header}});
    EXPECT_EQ(r.status, 401) << k.header;
    EXPECT_NE(r.body.find(k.reason), std::string::npos) << k.header << " -> " << r.body;
  }
  ClientResponse r = c.Call("GET", "/fhir/Patient", "", Bearer(tampered));
  EXPECT_EQ(r.Header("WWW-Authenticate")
                .rfind("Bearer realm=\"lhcr\", error=\"invalid_token\", "
                       "error_description=\"bearer token rejected",
                       0),
            0u)
      << r.Header("WWW-Authenticate");
}

TEST_F(AuthHttpTest, TokensOfEachKindAreAdmitted) {
  HttpClient c(server_->port());
  std::string system = Token(dir_->path(), {"--system"});
  std::string pro =
      Token(dir_->path(), {"--professional", "555021", "--org", "RX1", "--role", "R8000"});
  std::string patient = Token(dir_->path(), {"--patient", "9990001112"});
  ASSERT_FALSE(system.empty());
  ASSERT_FALSE(pro.empty());
  ASSERT_FALSE(patient.empty());

  ClientResponse created = c.Send(
      "POST", "/fhir/Patient", "{\"resourceType\":\"Patient\",\"gender\":\"female\"}", Bearer(pro));
  ASSERT_EQ(created.status, 201) << created.body;
  std::string location = created.Header("Location");
  std::string id = location.substr(location.find("/Patient/") + 9);
  id = id.substr(0, id.find('/'));
  EXPECT_EQ(c.Call("GET", "/fhir/Patient/" + id, "", Bearer(system)).status, 200);
  EXPECT_EQ(c.Call("GET", "/fhir/Patient?gender=female", "", Bearer(patient)).status, 200);
  // The staff routes are not for patients.
  ClientResponse mpi = c.Call("POST", "/mpi/link", "{}", {{"Authorization", "Bearer " + patient}});
  EXPECT_EQ(mpi.status, 403) << mpi.body;
  // ...but are for professionals (the body is wrong, so 400 or 404, not 401/403).
  ClientResponse mpi_pro = c.Call("POST", "/mpi/link", "{}", Bearer(pro));
  EXPECT_NE(mpi_pro.status, 401);
  EXPECT_NE(mpi_pro.status, 403);
}

TEST_F(AuthHttpTest, TheCapabilityStatementAndSmartConfigurationDeclareTheSecurity) {
  HttpClient c(server_->port());
  ClientResponse meta = c.Get("/fhir/metadata");
  ASSERT_EQ(meta.status, 200);
  EXPECT_NE(meta.body.find("\"security\":{"), std::string::npos);
  EXPECT_NE(meta.body.find("\"code\":\"SMART-on-FHIR\""), std::string::npos);
  ClientResponse smart = c.Get("/.well-known/smart-configuration");
  ASSERT_EQ(smart.status, 200);
  EXPECT_EQ(smart.Header("Content-Type"), "application/json");
  std::string jwks_uri = "\"jwks_uri\":\"http://127.0.0.1:" + std::to_string(server_->port()) +
                         "/.well-known/jwks.json\"";
  EXPECT_NE(smart.body.find(jwks_uri), std::string::npos) << smart.body;
  EXPECT_NE(smart.body.find("\"issuer\":\"https://dev-issuer.lhcr.invalid\""), std::string::npos);
  EXPECT_NE(smart.body.find("\"permission-v1\""), std::string::npos);
  // No token or authorize endpoint is claimed: none is configured.
  EXPECT_EQ(smart.body.find("token_endpoint"), std::string::npos);
  // Also under the FHIR base, where SMART App Launch clients look.
  ClientResponse under_base = c.Get("/fhir/.well-known/smart-configuration");
  EXPECT_EQ(under_base.status, 200);
  EXPECT_EQ(under_base.body, smart.body);
  ClientResponse jwks = c.Get("/.well-known/jwks.json");
  ASSERT_EQ(jwks.status, 200);
  EXPECT_NE(jwks.body.find("\"kty\":\"EC\",\"crv\":\"P-256\""), std::string::npos) << jwks.body;
  EXPECT_EQ(jwks.body.find("\"d\""), std::string::npos) << "private key published";
}

// A second server trusting the first's development issuer as an ordinary
// issuer, its JWKS fetched from the first's /.well-known/jwks.json.
TEST_F(AuthHttpTest, AnIssuersJwksIsFetchedFromItsUrl) {
  TempDir data;
  std::string jwks_url =
      "http://127.0.0.1:" + std::to_string(server_->port()) + "/.well-known/jwks.json";
  std::string error;
  auto second = LhcrProcess::Serve(
      {"--data", data.path(), "--no-fsync", "--issuer", "https://dev-issuer.lhcr.invalid",
       "--audience", "lhcr", "--jwks", jwks_url},
      &error);
  ASSERT_NE(second, nullptr) << error;
  HttpClient c(second->port());
  EXPECT_EQ(c.Get("/fhir/Patient").status, 401);
  std::string token = Token(dir_->path(), {"--system"});
  ClientResponse r = c.Call("GET", "/fhir/Patient", "", Bearer(token));
  EXPECT_EQ(r.status, 200) << r.body;
  // It does not serve the key of an issuer it only trusts.
  EXPECT_EQ(c.Get("/.well-known/jwks.json").status, 401);

  // An unreachable JWKS URL stops the start.
  auto p = LhcrProcess::Start(
      {"serve", "--data", data.path(), "--listen", "127.0.0.1:0", "--issuer", "https://idp.example",
       "--audience", "lhcr", "--jwks", "http://127.0.0.1:1/jwks.json"},
      &error, /*with_stderr=*/true);
  ASSERT_NE(p, nullptr) << error;
  auto status = p->WaitExit(30s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) != 0);
  EXPECT_NE(p->Output().find("JWKS http://127.0.0.1:1/jwks.json: Connection refused"),
            std::string::npos)
      << p->Output();
}

// `lhcr serve` refuses the unsafe combinations.
TEST(AuthServeFlagsTest, RefusesUnsafeCombinations) {
  TempDir dir;
  struct Case {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"--listen", "127.0.0.1:0"}, "no token issuer"},
      {{"--listen", "0.0.0.0:0", "--no-auth", "--allow-plain-http"},
       "--no-auth is allowed on a loopback address only"},
      {{"--listen", "0.0.0.0:0", "--dev-issuer"}, "plain HTTP on 0.0.0.0 is refused"},
      // A name that merely starts like a loopback address is not one.
      {{"--listen", "127.0.0.1.nip.example:0", "--no-auth", "--allow-plain-http"},
       "--no-auth is allowed on a loopback address only"},
      {{"--listen", "127.0.0.1:0", "--dev-issuer", "--mllp", "0.0.0.0:0"},
       "MLLP carries no credentials"},
      {{"--listen", "127.0.0.1:0", "--issuer", "https://idp.example"}, "one --jwks for each"},
  };
  for (Case& k : cases) {
    std::vector<std::string> args = {"serve", "--data", dir.path(), "--no-fsync"};
    args.insert(args.end(), k.args.begin(), k.args.end());
    std::string error;
    auto p = LhcrProcess::Start(args, &error, /*with_stderr=*/true);
    ASSERT_NE(p, nullptr) << error;
    auto status = p->WaitExit(30s);
    ASSERT_TRUE(status.has_value()) << k.message;
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 2) << p->Output();
    EXPECT_NE(p->Output().find(k.message), std::string::npos) << p->Output();
  }
}

// --- HTTPS -----------------------------------------------------------------

int Sh(const std::string& cmd) {
  return std::system(("set -e; " + cmd + " >/dev/null 2>&1").c_str());
}

struct Pki {
  std::string dir, ca, server_cert, server_key, client_cert, client_key;
};

// A CA, a server certificate for 127.0.0.1 and a client certificate.
bool MakePki(const std::string& dir, Pki& pki) {
  pki = {dir,
         dir + "/ca.pem",
         dir + "/server.pem",
         dir + "/server.key",
         dir + "/client.pem",
         dir + "/client.key"};
  std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
  std::string cd = "cd " + dir + " && ";
  return Sh(cd + "openssl req -x509 " + ec +
            " -keyout ca.key -out ca.pem -days 1 -subj /CN=lhcr-test-ca") == 0 &&
         Sh(cd + "openssl req " + ec + " -keyout server.key -out server.csr -subj /CN=127.0.0.1") ==
             0 &&
         Sh(cd +
            "printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext && openssl x509 -req -in "
            "server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 1 "
            "-extfile san.ext") == 0 &&
         Sh(cd + "openssl req " + ec +
            " -keyout client.key -out client.csr -subj /O=Region\\ B/CN=region-b-feed") == 0 &&
         Sh(cd +
            "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out "
            "client.pem -days 1") == 0;
}

struct TlsResult {
  bool handshake = false;
  std::string response;  // the raw HTTP response
};

// One HTTPS request to 127.0.0.1:port, verifying the server against `ca`.
TlsResult HttpsGet(uint16_t port, const Pki& pki, const std::string& target,
                   const std::string& headers = "", bool client_cert = false, int max_version = 0) {
  TlsResult out;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_load_verify_locations(ctx, pki.ca.c_str(), nullptr);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (max_version != 0) {
    SSL_CTX_set_security_level(ctx, 0);  // this client would speak old TLS; the server must not
    SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
    SSL_CTX_set_max_proto_version(ctx, max_version);
  }
  if (client_cert) {
    SSL_CTX_use_certificate_file(ctx, pki.client_cert.c_str(), SSL_FILETYPE_PEM);
    SSL_CTX_use_PrivateKey_file(ctx, pki.client_key.c_str(), SSL_FILETYPE_PEM);
  }
  int fd = testing::ConnectLoopback(port, 10);
  SSL* ssl = SSL_new(ctx);
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
  SSL_set_fd(ssl, fd);
  if (fd >= 0 && SSL_connect(ssl) == 1) {
    out.handshake = true;
    std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
                      headers + "\r\n";
    SSL_write(ssl, req.data(), static_cast<int>(req.size()));
    char buf[4096];
    int n;
    while ((n = SSL_read(ssl, buf, sizeof buf)) > 0) out.response.append(buf, n);
  }
  SSL_free(ssl);
  if (fd >= 0) close(fd);
  SSL_CTX_free(ctx);
  return out;
}

class AuthHttpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (Sh("command -v openssl") != 0) GTEST_SKIP() << "no openssl command (install-deps)";
    ASSERT_TRUE(MakePki(pki_dir_.path(), pki_));
  }
  std::unique_ptr<LhcrProcess> Serve(std::vector<std::string> extra) {
    std::vector<std::string> args = {"--data",     data_.path(),     "--no-fsync", "--dev-issuer",
                                     "--tls-cert", pki_.server_cert, "--tls-key",  pki_.server_key};
    args.insert(args.end(), extra.begin(), extra.end());
    std::string error;
    auto p = LhcrProcess::Serve(args, &error);
    EXPECT_NE(p, nullptr) << error;
    return p;
  }
  TempDir pki_dir_, data_;
  Pki pki_;
};

TEST_F(AuthHttpsTest, ServesHttpsWithTls12OrLaterAndTheGate) {
  auto server = Serve({});
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->Line(0, 1s).rfind("lhcr serving https://127.0.0.1:", 0), 0u);
  TlsResult meta = HttpsGet(server->port(), pki_, "/fhir/metadata");
  ASSERT_TRUE(meta.handshake);
  EXPECT_EQ(meta.response.rfind("HTTP/1.1 200 ", 0), 0u) << meta.response.substr(0, 200);
  TlsResult denied = HttpsGet(server->port(), pki_, "/fhir/Patient");
  EXPECT_EQ(denied.response.rfind("HTTP/1.1 401 ", 0), 0u) << denied.response.substr(0, 200);
  std::string token = Token(data_.path(), {"--system"});
  TlsResult allowed =
      HttpsGet(server->port(), pki_, "/fhir/Patient", "Authorization: Bearer " + token + "\r\n");
  EXPECT_EQ(allowed.response.rfind("HTTP/1.1 200 ", 0), 0u) << allowed.response.substr(0, 200);
  // The SMART configuration names https URLs.
  TlsResult smart = HttpsGet(server->port(), pki_, "/.well-known/smart-configuration");
  EXPECT_NE(smart.response.find("\"jwks_uri\":\"https://127.0.0.1/.well-known/jwks.json\""),
            std::string::npos)
      << smart.response;
  // TLS 1.1 and 1.0 are refused.
  EXPECT_FALSE(
      HttpsGet(server->port(), pki_, "/fhir/metadata", "", false, TLS1_1_VERSION).handshake);
  EXPECT_FALSE(HttpsGet(server->port(), pki_, "/fhir/metadata", "", false, TLS1_VERSION).handshake);
  EXPECT_TRUE(
      HttpsGet(server->port(), pki_, "/fhir/metadata", "", false, TLS1_2_VERSION).handshake);
  // Plain HTTP to the TLS port gets no HTTP answer.
  HttpClient plain(server->port());
  EXPECT_EQ(plain.Get("/fhir/metadata").status, 0);
}

TEST_F(AuthHttpsTest, MutualTlsRequiresAClientCertificateFromTheCa) {
  auto server = Serve({"--tls-client-ca", pki_.ca, "--tls-require-client-cert"});
  ASSERT_NE(server, nullptr);
  TlsResult without = HttpsGet(server->port(), pki_, "/fhir/metadata");
  EXPECT_EQ(without.response.find("HTTP/1.1 200"), std::string::npos);  // refused in the handshake
  TlsResult with = HttpsGet(server->port(), pki_, "/fhir/metadata", "", /*client_cert=*/true);
  ASSERT_TRUE(with.handshake);
  EXPECT_EQ(with.response.rfind("HTTP/1.1 200 ", 0), 0u) << with.response.substr(0, 200);
}

TEST(AuthServeTlsFlagsTest, RefusesAKeyThatIsNotTheCertificates) {
  if (Sh("command -v openssl") != 0) GTEST_SKIP() << "no openssl command (install-deps)";
  TempDir dir, data;
  Pki pki;
  ASSERT_TRUE(MakePki(dir.path(), pki));
  std::string error;
  auto p =
      LhcrProcess::Start({"serve", "--data", data.path(), "--listen", "127.0.0.1:0", "--dev-issuer",
                          "--tls-cert", pki.server_cert, "--tls-key", pki.client_key},
                         &error, true);
  ASSERT_NE(p, nullptr);
  auto status = p->WaitExit(30s);
  ASSERT_TRUE(status.has_value());
  EXPECT_NE(p->Output().find("TLS key " + pki.client_key + ": key values mismatch"),
            std::string::npos)
      << p->Output();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) != 0);
}

}  // namespace
}  // namespace lhcr
