// HttpServer: a generic, self-defending HTTP/1.1 server (Boost.Beast parser,
// Asio coroutines). It knows nothing about FHIR: it turns bytes into
// HttpRequest values, calls a Handler, and writes the HttpResponse back.
//
// Threading. `io_threads` threads each run their own event loop; a connection
// lives on exactly one of them for its whole life, so per-connection state
// needs no locks. Requests for which `run_inline` returns true are handled
// directly on that I/O thread (no thread hop: they must be fast and must not
// block). All other requests are handed to a fixed pool of `worker_threads`
// threads, where the handler may block (e.g. on a database commit); the
// response is posted back to the connection's I/O thread. Requests on one
// connection are handled strictly one after another, so pipelined requests
// are answered in order. The Handler and the predicate are therefore called
// concurrently from many threads and must be thread-safe. A connection has
// at most one request in flight, so the worker queue is bounded by
// max_connections.
//
// Defence (each ends the connection after the error response, with
// `Connection: close`):
//   body over max_body_bytes (Content-Length or chunked)   -> 413
//   header section over max_header_bytes                   -> 431
//   malformed request                                      -> 400
//   request not complete within read_timeout (slowloris)   -> 408, closed
//   keep-alive connection idle for idle_timeout            -> closed
//   client not reading a response within read_timeout      -> closed
//   more than max_connections open connections             -> 503, closed
//   handler throws                                         -> 500 (connection kept)
// Timeouts are checked by a per-connection watchdog and fire between the
// deadline and the deadline plus a quarter of the shortest timeout.
// `Expect: 100-continue` is answered with 100 Continue once the headers are
// accepted. HEAD responses carry the Content-Length of the body the handler
// returned but no body. Every response gets Content-Length (except 1xx/204)
// and Date; the server strips any Content-Length, Date, Connection or
// Transfer-Encoding header set by the handler (for HEAD, a handler-set
// Content-Length is kept). A handler may set `Connection: close` to end the
// connection after its response.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "api/http.h"
#include "base/status.h"

namespace lhcr::api {

struct HttpServerOptions {
  std::string host = "127.0.0.1";  // numeric address or a resolvable name
  uint16_t port = 0;               // 0 = any free port; see HttpServer::port()
  int io_threads = 2;
  int worker_threads = 8;
  size_t max_body_bytes = 64 * 1024 * 1024;
  size_t max_header_bytes = 16 * 1024;  // request line plus all header fields
  // The whole request, including its body, must arrive within this time of
  // its first byte. Also bounds how long writing one response may take.
  std::chrono::milliseconds read_timeout{30000};
  // A keep-alive connection with no request in progress is closed after this.
  std::chrono::milliseconds idle_timeout{60000};
  int max_connections = 1024;
  // Stop() waits this long for in-flight requests before closing connections.
  std::chrono::milliseconds stop_grace{10000};
  // TLS (https): a PEM certificate chain and its private key; both empty:
  // plain HTTP. Only TLS 1.2 and later are offered. The handshake must
  // finish within read_timeout. Over TLS the server-made 408 and 503 are not
  // sent (the connection is just closed).
  std::string tls_cert_file;
  std::string tls_key_file;
  // Mutual TLS: PEM CA certificates that client certificates must chain to.
  // A client that presents one must present a valid one; with
  // tls_require_client_cert, every client must. The verified subject is in
  // HttpRequest::tls_client_subject.
  std::string tls_client_ca_file;
  bool tls_require_client_cert = false;
};

// Counters since Start. A snapshot: fields are read one by one without a
// common lock, so they may be mutually inconsistent by a request or two.
struct HttpServerStats {
  uint64_t requests_total = 0;  // responses written (incl. server-made errors)
  uint64_t responses_2xx = 0;
  uint64_t responses_3xx = 0;
  uint64_t responses_4xx = 0;
  uint64_t responses_5xx = 0;
  uint64_t connections_accepted = 0;  // admitted (not counting rejected)
  uint64_t active_connections = 0;
  uint64_t rejected_connections = 0;  // over max_connections or while stopping
  uint64_t timeouts = 0;              // read, write and idle timeouts
  uint64_t handler_exceptions = 0;
};

class HttpServer {
 public:
  // Called concurrently from I/O and worker threads. May throw: an exception
  // becomes a 500 with a short text body.
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  // True: run the handler on the I/O thread (must be fast, must not block).
  // Null, false or throwing: run it on the worker pool.
  using InlinePredicate = std::function<bool(const HttpRequest&)>;

  // Binds host:port, listens and starts the I/O and worker threads.
  // Fails with kIncorrect for bad options, a null handler or unusable TLS
  // files, kUnavailable if the address cannot be bound (e.g. the port is in
  // use).
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                   Handler handler, InlinePredicate run_inline);

  // Stop()s.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port (the actual one if options.port was 0). Thread-safe.
  uint16_t port() const;

  // Stops accepting, lets requests already being read or handled finish (up
  // to options.stop_grace; their responses carry `Connection: close`), closes
  // idle and remaining connections, waits for running handlers to return and
  // joins all threads. Idempotent and thread-safe, but must not be called
  // from a handler (it would wait for itself).
  void Stop();

  // Thread-safe.
  HttpServerStats stats() const;

  class Impl;  // defined in http_server.cc

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lhcr::api
