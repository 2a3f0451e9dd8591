// Test helpers: a real lhcr (SQLite store in a temp dir, the FHIR API, the
// HTTP server on a free loopback port) and a small blocking HTTP client, so
// tests that cross rooms talk real HTTP over loopback.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/store.h"

namespace lhcr::testing {

// A fresh temporary directory, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct ClientResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string Header(const std::string& name) const;  // any case; "" if absent
};

// A TCP connection to 127.0.0.1:port with send/receive timeouts and
// TCP_NODELAY (the fd, owned by the caller), or -1.
int ConnectLoopback(uint16_t port, int timeout_seconds);

// The (type, id) of each entry's response.location in a batch or
// transaction response, in entry order; nullopt if the body is not such a
// Bundle or an entry has no location.
std::optional<std::vector<std::pair<std::string, std::string>>> ResponseLocations(
    const std::string& bundle_json);

// One keep-alive HTTP/1.1 connection to 127.0.0.1:port. Reconnects when the
// server closes. Not thread-safe; make one per thread.
class HttpClient {
 public:
  explicit HttpClient(uint16_t port);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request; status 0 and an empty body if the connection failed.
  ClientResponse Call(const std::string& method, const std::string& target,
                      const std::string& body = "",
                      const std::vector<std::pair<std::string, std::string>>& headers = {});
  ClientResponse Get(const std::string& target) { return Call("GET", target); }
  // POST/PUT with Content-Type application/fhir+json.
  ClientResponse Send(const std::string& method, const std::string& target, const std::string& body,
                      std::vector<std::pair<std::string, std::string>> headers = {});

 private:
  bool Connect();
  uint16_t port_;
  int fd_ = -1;
};

struct TestServerOptions {
  std::string data_dir;  // empty: a fresh temp dir owned by the server
  // "sqlite"; "postgres": a database of its own (named after data_dir) on
  // the process's shared PostgresServer; or a postgres:// URL. Empty: the
  // environment's LHCR_TEST_STORE, else "sqlite". So any HTTP suite runs on
  // PostgreSQL with LHCR_TEST_STORE=postgres.
  std::string store;
  // Audit every request (api/audit_middleware.h): the chain in the store,
  // its signing key and checkpoints in data_dir (docs/AUDIT.md).
  bool audit = false;
};

// lhcr serving /fhir on 127.0.0.1 with a free port, in this process.
class TestServer {
 public:
  static std::unique_ptr<TestServer> Start(const TestServerOptions& options = {});
  ~TestServer();

  uint16_t port() const;
  std::string base() const;  // "http://127.0.0.1:PORT/fhir"
  store::Store& store();
  void Stop();

  struct State;

 private:
  explicit TestServer(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

// Where the shared reference data and the FHIR package are (compile-time
// defaults, overridable by LHCR_SHARED_DATA / LHCR_FHIR_PACKAGE env vars).
std::string SharedDataDir();
std::string FhirPackageDir();
// Reads a whole file; "" if it cannot.
std::string ReadFile(const std::string& path);

}  // namespace lhcr::testing
