#include "testing/test_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "api/audit_middleware.h"
#include "api/fhir_api.h"
#include "api/http_server.h"
#include "base/ids.h"
#include "base/time.h"
#include "fhir/json.h"
#include "fhir/search_param.h"
#include "fhir/validator.h"
#include "interaction/interaction.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/postgres_server.h"

namespace lhcr::testing {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "lhcr-test-XXXXXX").string();
  char* p = mkdtemp(tmpl.data());
  path_ = p != nullptr ? p : "";
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

std::string ClientResponse::Header(const std::string& name) const {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto it = headers.find(lower);
  return it == headers.end() ? "" : it->second;
}

HttpClient::HttpClient(uint16_t port) : port_(port) {}
HttpClient::~HttpClient() {
  if (fd_ >= 0) close(fd_);
}

int ConnectLoopback(uint16_t port, int timeout_seconds) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{timeout_seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::optional<std::vector<std::pair<std::string, std::string>>> ResponseLocations(
    const std::string& bundle_json) {
  auto doc = fhir::ParseJson(bundle_json);
  if (!doc.ok()) return std::nullopt;
  const fhir::Json* entries = fhir::Member(*doc, "entry");
  if (entries == nullptr || !entries->IsArray()) return std::nullopt;
  std::vector<std::pair<std::string, std::string>> out;
  for (const fhir::Json& e : entries->GetArray()) {
    const fhir::Json* response = fhir::Member(e, "response");
    if (response == nullptr) return std::nullopt;
    std::string location(fhir::StringMember(*response, "location"));
    size_t slash = location.find('/');
    if (slash == std::string::npos) return std::nullopt;
    out.emplace_back(location.substr(0, slash),
                     location.substr(slash + 1, location.find('/', slash + 1) - slash - 1));
  }
  return out;
}

bool HttpClient::Connect() {
  if (fd_ >= 0) return true;
  fd_ = ConnectLoopback(port_, 60);
  return fd_ >= 0;
}

ClientResponse HttpClient::Send(const std::string& method, const std::string& target,
                                const std::string& body,
                                std::vector<std::pair<std::string, std::string>> headers) {
  bool has_ct = false;
  for (const auto& [k, v] : headers) has_ct |= strcasecmp(k.c_str(), "Content-Type") == 0;
  if (!has_ct) headers.emplace_back("Content-Type", "application/fhir+json");
  return Call(method, target, body, headers);
}

ClientResponse HttpClient::Call(const std::string& method, const std::string& target,
                                const std::string& body,
                                const std::vector<std::pair<std::string, std::string>>& headers) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!Connect()) return {};
    std::string req =
        method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) + "\r\n";
    for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
      req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    req += "\r\n";
    req += body;
    size_t sent = 0;
    bool ok = true;
    while (sent < req.size()) {
      ssize_t n = send(fd_, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        ok = false;
        break;
      }
      sent += static_cast<size_t>(n);
    }
    std::string buf;
    ClientResponse r;
    size_t header_end = std::string::npos;
    char chunk[65536];
    while (ok && header_end == std::string::npos) {
      ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) {
        ok = false;
        break;
      }
      buf.append(chunk, static_cast<size_t>(n));
      header_end = buf.find("\r\n\r\n");
    }
    if (!ok) {
      close(fd_);
      fd_ = -1;
      if (attempt == 0 && buf.empty()) continue;  // stale keep-alive connection
      return {};
    }
    std::istringstream hs(buf.substr(0, header_end));
    std::string line;
    std::getline(hs, line);
    if (line.size() >= 12) r.status = std::atoi(line.c_str() + 9);
    while (std::getline(hs, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string k = line.substr(0, colon);
      for (char& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      size_t vs = line.find_first_not_of(' ', colon + 1);
      r.headers[k] = vs == std::string::npos ? "" : line.substr(vs);
    }
    size_t length = std::strtoull(r.Header("content-length").c_str(), nullptr, 10);
    if (method == "HEAD" || r.status == 204 || r.status == 304) length = 0;
    std::string rest = buf.substr(header_end + 4);
    while (rest.size() < length) {
      ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) break;
      rest.append(chunk, static_cast<size_t>(n));
    }
    r.body = rest.substr(0, length);
    if (strcasecmp(r.Header("connection").c_str(), "close") == 0) {
      close(fd_);
      fd_ = -1;
    }
    return r;
  }
  return {};
}

struct TestServer::State {
  std::unique_ptr<TempDir> owned_dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<audit::AuditLog> audit_log;      // with options.audit
  std::unique_ptr<audit::AuditedStore> audited;    // with options.audit
  std::unique_ptr<api::AuditMiddleware> audit_mw;  // with options.audit
  std::unique_ptr<interaction::Interactions> interactions;
  std::unique_ptr<api::FhirApi> api;
  std::unique_ptr<api::HttpServer> server;
};

TestServer::TestServer(std::unique_ptr<State> s) : s_(std::move(s)) {}
TestServer::~TestServer() { Stop(); }

std::unique_ptr<TestServer> TestServer::Start(const TestServerOptions& options) {
  auto s = std::make_unique<State>();
  std::string dir = options.data_dir;
  if (dir.empty()) {
    s->owned_dir = std::make_unique<TempDir>();
    dir = s->owned_dir->path();
  }
  std::string kind = options.store;
  if (kind.empty()) {
    const char* env = std::getenv("LHCR_TEST_STORE");
    kind = env != nullptr ? env : "sqlite";
  }
  Result<std::unique_ptr<store::Store>> store = Status::Incorrect("unknown store " + kind);
  if (kind == "sqlite") {
    store::SqliteOptions so;
    so.path = dir + "/lhcr.db";
    so.synchronous_full = false;  // tests do not need power-cut durability
    store = store::OpenSqliteStore(so);
  } else if (kind == "postgres" || store::IsPostgresUrl(kind)) {
    store::PostgresOptions po;
    po.conninfo = kind;
    if (kind == "postgres") {
      auto pg = PostgresServer::Shared();
      if (!pg.ok()) {
        std::cerr << "TestServer: " << pg.status().ToString() << "\n";
        return nullptr;
      }
      auto conninfo = (*pg)->CreateDatabase(PostgresServer::DatabaseFor(dir));
      if (!conninfo.ok()) return nullptr;
      po.conninfo = *conninfo;
    }
    store = store::OpenPostgresStore(po);
  }
  if (!store.ok()) {
    std::cerr << "TestServer: " << store.status().ToString() << "\n";
    return nullptr;
  }
  s->store = std::move(store).value();
  store::Store* writes = s->store.get();
  if (options.audit) {
    audit::AuditOptions ao;
    ao.dir = dir;
    auto log = audit::AuditLog::Open(*s->store, fhir::SearchParamRegistry::R4(), ao, SystemClock());
    if (!log.ok()) {
      std::cerr << "TestServer: " << log.status().ToString() << "\n";
      return nullptr;
    }
    s->audit_log = std::move(log).value();
    s->audited = std::make_unique<audit::AuditedStore>(*s->store, *s->audit_log);
    s->audit_mw = std::make_unique<api::AuditMiddleware>(*s->audit_log);
    writes = s->audited.get();
  }
  s->interactions = std::make_unique<interaction::Interactions>(
      *writes, fhir::SearchParamRegistry::R4(), fhir::Validator::R4(), SystemClock(),
      UuidGenerator());
  s->api = std::make_unique<api::FhirApi>(*s->interactions, api::FhirApiOptions{},
                                          [] { return std::string("lhcr_up 1\n"); });
  api::HttpServerOptions ho;
  ho.host = "127.0.0.1";
  ho.port = 0;
  api::FhirApi* fhir_api = s->api.get();
  api::AuditMiddleware* audit_mw = s->audit_mw.get();
  auto server = api::HttpServer::Start(
      ho,
      [fhir_api, audit_mw](const api::HttpRequest& r) {
        if (audit_mw == nullptr) return fhir_api->Handle(r);
        return audit_mw->Handle(r, [fhir_api](const api::HttpRequest& q) { return fhir_api->Handle(q); });
      },
      [](const api::HttpRequest& r) { return api::FhirApi::IsCheap(r); });
  if (!server.ok()) return nullptr;
  s->server = std::move(server).value();
  return std::unique_ptr<TestServer>(new TestServer(std::move(s)));
}

uint16_t TestServer::port() const { return s_->server->port(); }
std::string TestServer::base() const {
  return "http://127.0.0.1:" + std::to_string(port()) + "/fhir";
}
store::Store& TestServer::store() { return *s_->store; }

void TestServer::Stop() {
  if (s_->server) s_->server->Stop();
  if (s_->audit_log) s_->audit_log->Close();  // its queue, then a last checkpoint
  if (s_->store) s_->store->Close();
}

std::string SharedDataDir() {
  if (const char* e = std::getenv("LHCR_SHARED_DATA")) return e;
#ifdef LHCR_SHARED_DATA
  return LHCR_SHARED_DATA;
#else
  return "../shared/data";
#endif
}

std::string FhirPackageDir() {
  if (const char* e = std::getenv("LHCR_FHIR_PACKAGE")) return e;
#ifdef LHCR_FHIR_PACKAGE
  return LHCR_FHIR_PACKAGE;
#else
  return ".deps/hl7.fhir.r4.examples/package";
#endif
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace lhcr::testing
