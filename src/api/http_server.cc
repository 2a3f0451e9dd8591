#include "api/http_server.h"

// Boost 1.74's Asio needs <utility> before it in C++20 mode.
#include <strings.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <charconv>
#include <condition_variable>
#include <ctime>
#include <exception>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

namespace lhcr::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using ErrorCode = boost::system::error_code;

// Connections are pinned to one single-threaded io_context, so the concrete
// executor type avoids the type-erased any_io_executor on every operation.
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Acceptor = asio::basic_socket_acceptor<tcp, Executor>;
using Timer = asio::basic_waitable_timer<Clock, asio::wait_traits<Clock>, Executor>;
template <typename T>
using Task = asio::awaitable<T, Executor>;
constexpr asio::use_awaitable_t<Executor> kAwait;

constexpr size_t kReadChunk = 16 * 1024;
// After a final response we half-close and drain what the client still
// sends, so that it reads our response instead of a reset.
constexpr Clock::duration kLingerTime = std::chrono::milliseconds(1000);
constexpr size_t kLingerBytes = 4 * 1024 * 1024;
constexpr auto kAcceptBackoff = std::chrono::milliseconds(50);

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

bool IContains(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    if (strncasecmp(hay.data() + i, needle.data(), needle.size()) == 0) return true;
  }
  return false;
}

std::string_view Sv(beast::string_view s) { return {s.data(), s.size()}; }

// Not find_first_of("\r\n"): libstdc++ runs a memchr over the set for
// every character, and this checks every response header.
bool HasCrLf(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c == '\r' || c == '\n'; });
}

void AppendInt(std::string& out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Entity";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Status";
  }
}

// RFC 7231 IMF-fixdate, formatted at most once per second per thread.
std::string_view HttpDate() {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  thread_local time_t cached = -1;
  thread_local char buf[40];
  thread_local int len = 0;
  time_t now = time(nullptr);
  if (now != cached) {
    struct tm t;
    gmtime_r(&now, &t);
    len = snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[t.tm_wday % 7],
                   t.tm_mday, kMonths[t.tm_mon % 12], t.tm_year + 1900, t.tm_hour, t.tm_min,
                   t.tm_sec);
    cached = now;
  }
  return {buf, static_cast<size_t>(len)};
}

// A complete response made by the server itself (errors, 503 rejections).
std::string PlainResponse(int status, bool close) {
  std::string_view reason = ReasonPhrase(status);
  std::string out;
  out.reserve(160);
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reason;
  out += "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ";
  out += std::to_string(reason.size() + 1);
  out += "\r\nDate: ";
  out += HttpDate();
  if (close) out += "\r\nConnection: close";
  out += "\r\n\r\n";
  out += reason;
  out += '\n';
  return out;
}

HttpResponse TextResponse(int status) {
  HttpResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  r.body = std::string(ReasonPhrase(status)) + "\n";
  return r;
}

// Runs fn() on `pool` and completes on the completion handler's own executor
// (the connection's I/O thread) with its result.
template <typename Fn, typename Token>
auto AsyncRunOn(asio::thread_pool& pool, Fn fn, Token&& token) {
  return asio::async_initiate<Token, void(HttpResponse)>(
      [&pool](auto handler, Fn fn) {
        asio::post(pool, [fn = std::move(fn), handler = std::move(handler)]() mutable {
          HttpResponse response = fn();
          auto ex = asio::get_associated_executor(handler);
          asio::post(ex, [handler = std::move(handler), response = std::move(response)]() mutable {
            std::move(handler)(std::move(response));
          });
        });
      },
      token, std::move(fn));
}

}  // namespace

class Connection;

class HttpServer::Impl {
 public:
  Impl(const HttpServerOptions& options, Handler handler, InlinePredicate run_inline)
      : options_(options),
        handler_(std::move(handler)),
        run_inline_(std::move(run_inline)),
        tick_(std::max<Clock::duration>(std::min(options.read_timeout, options.idle_timeout) / 4,
                                        std::chrono::milliseconds(1))) {
    for (int i = 0; i < options.io_threads; ++i) {
      iocs_.push_back(std::make_unique<asio::io_context>(1));
    }
    acceptor_ = std::make_unique<Acceptor>(iocs_[0]->get_executor());
  }

  ~Impl() {
    Stop();
    // Order matters: connections and the acceptor hold I/O objects of the
    // io_contexts, and destroying an io_context destroys the coroutine
    // frames still queued on it.
    conns_.clear();
    acceptor_.reset();
    workers_.reset();
    iocs_.clear();
  }

  Status Bind();
  Status SetUpTls();
  void Run();
  void Stop();

  HttpResponse CallHandler(const HttpRequest& request) noexcept;
  bool RunInline(const HttpRequest& request) noexcept;

  // Admits a new connection unless stopping or full.
  bool Register(const std::shared_ptr<Connection>& conn);
  void Unregister(const std::shared_ptr<Connection>& conn);
  bool stopping() const { return stopping_.load(std::memory_order_relaxed); }
  asio::thread_pool& workers() { return *workers_; }

  void CountResponse(int status) {
    requests_total_.fetch_add(1, std::memory_order_relaxed);
    if (status >= 500) {
      responses_5xx_.fetch_add(1, std::memory_order_relaxed);
    } else if (status >= 400) {
      responses_4xx_.fetch_add(1, std::memory_order_relaxed);
    } else if (status >= 300) {
      responses_3xx_.fetch_add(1, std::memory_order_relaxed);
    } else {
      responses_2xx_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  HttpServerStats stats() const;

  const HttpServerOptions options_;
  const Handler handler_;
  const InlinePredicate run_inline_;
  const Clock::duration tick_;  // watchdog period
  uint16_t port_ = 0;
  // Set by SetUpTls when the options name a certificate; read-only after.
  std::unique_ptr<asio::ssl::context> tls_;

  std::atomic<uint64_t> requests_total_{0}, responses_2xx_{0}, responses_3xx_{0}, responses_4xx_{0},
      responses_5xx_{0}, accepted_{0}, rejected_{0}, timeouts_{0}, handler_exceptions_{0};

 private:
  Task<void> AcceptLoop();

  std::vector<std::unique_ptr<asio::io_context>> iocs_;
  std::unique_ptr<Acceptor> acceptor_;  // runs on iocs_[0]
  std::unique_ptr<asio::thread_pool> workers_;
  std::vector<asio::executor_work_guard<Executor>> guards_;
  std::vector<std::thread> io_threads_;

  std::atomic<bool> stopping_{false};
  std::mutex stop_mu_;
  bool stopped_ = false;  // guarded by stop_mu_

  mutable std::mutex conns_mu_;
  std::condition_variable conns_cv_;
  // Open connections, guarded by conns_mu_. stopping_ is set under it too.
  std::unordered_set<std::shared_ptr<Connection>> conns_;
};

namespace {

enum class Phase {
  kIdle,      // waiting for the first byte of a request: idle_timeout
  kReading,   // request partly received: read_timeout from its first byte
  kHandling,  // handler running on a worker: no deadline
  kWriting,   // writing a response: read_timeout
  kLinger,    // draining after a final response: kLingerTime
  kClosed,
};

}  // namespace

// One client connection. All members are used only on the connection's
// io_context thread (each io_context is run by exactly one thread).
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(HttpServer::Impl& server, Socket socket)
      : server_(server), socket_(std::move(socket)), timer_(socket_.get_executor()) {}

  Executor executor() { return socket_.get_executor(); }

  // The connection's whole life: serve requests, then close and unregister.
  Task<void> Run() {
    auto self = shared_from_this();
    ErrorCode ec;
    socket_.set_option(tcp::no_delay(true), ec);
    auto ep = socket_.remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
    ArmWatchdog();
    bool linger = false;
    try {
      if (server_.tls_ != nullptr && !co_await Handshake()) {
        Close();
        server_.Unregister(self);
        co_return;
      }
      linger = co_await Serve();
    } catch (const std::exception&) {
      // e.g. std::bad_alloc: drop this connection, keep the server.
    }
    if (linger && phase_ != Phase::kClosed) co_await Linger();
    Close();
    server_.Unregister(self);
  }

  // Stop(): close now if idle, otherwise after the current response.
  void OnStop() {
    stop_requested_ = true;
    if (phase_ == Phase::kIdle || phase_ == Phase::kLinger) Close();
  }

  void Close() {
    phase_ = Phase::kClosed;
    ErrorCode ec;
    socket_.close(ec);
    timer_.cancel(ec);
  }

  // Over max_connections or stopping: a best-effort 503 without blocking.
  void Reject() {
    ErrorCode ec;
    socket_.non_blocking(true, ec);
    std::string response = PlainResponse(503, /*close=*/true);
    if (server_.tls_ == nullptr) socket_.write_some(asio::buffer(response), ec);
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

 private:
  using Parser = bhttp::request_parser<bhttp::string_body>;
  using TlsStream = asio::ssl::stream<Socket&>;

  // The TLS handshake, within read_timeout; false if it failed.
  Task<bool> Handshake() {
    tls_ = std::make_unique<TlsStream>(socket_, *server_.tls_);
    SetPhase(Phase::kReading, Clock::now() + server_.options_.read_timeout);
    ErrorCode ec;
    co_await tls_->async_handshake(asio::ssl::stream_base::server,
                                   asio::redirect_error(kAwait, ec));
    if (ec || phase_ == Phase::kClosed) co_return false;
    if (X509* cert = SSL_get1_peer_certificate(tls_->native_handle())) {
      BIO* bio = BIO_new(BIO_s_mem());
      if (bio != nullptr) {
        X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
        char* data = nullptr;
        long len = BIO_get_mem_data(bio, &data);
        if (len > 0) tls_subject_.assign(data, static_cast<size_t>(len));
        BIO_free(bio);
      }
      X509_free(cert);
    }
    SetPhase(Phase::kIdle, Clock::now() + server_.options_.idle_timeout);
    co_return true;
  }

  // Reads some bytes into buffer_ (decrypted when over TLS).
  Task<size_t> ReadSome(ErrorCode& ec) {
    if (tls_) {
      co_return co_await tls_->async_read_some(buffer_.prepare(kReadChunk),
                                               asio::redirect_error(kAwait, ec));
    }
    co_return co_await socket_.async_read_some(buffer_.prepare(kReadChunk),
                                               asio::redirect_error(kAwait, ec));
  }

  template <typename Buffers>
  Task<void> WriteAll(const Buffers& buffers, ErrorCode& ec) {
    if (tls_) {
      co_await asio::async_write(*tls_, buffers, asio::redirect_error(kAwait, ec));
    } else {
      co_await asio::async_write(socket_, buffers, asio::redirect_error(kAwait, ec));
    }
  }

  void SetPhase(Phase phase, Clock::time_point deadline) {
    phase_ = phase;
    deadline_ = deadline;
  }

  // A periodic check instead of re-arming a timer per request: setting a
  // deadline is a plain store, and the timer fires at most every tick_.
  void ArmWatchdog() {
    timer_.expires_at(std::min(deadline_, Clock::now() + server_.tick_));
    timer_.async_wait([self = shared_from_this()](const ErrorCode&) { self->OnWatchdog(); });
  }

  void OnWatchdog() {
    if (phase_ == Phase::kClosed) return;
    if (Clock::now() < deadline_) {
      ArmWatchdog();
      return;
    }
    if (phase_ != Phase::kLinger) server_.timeouts_.fetch_add(1, std::memory_order_relaxed);
    if (phase_ == Phase::kReading && !writing_ && tls_ == nullptr) {
      // Best effort; the client is probably not reading anyway.
      ErrorCode ec;
      socket_.non_blocking(true, ec);
      std::string response = PlainResponse(408, /*close=*/true);
      socket_.write_some(asio::buffer(response), ec);
      server_.CountResponse(408);
      socket_.shutdown(tcp::socket::shutdown_send, ec);
    }
    // Cancels the session's pending operation; it then finishes.
    Close();
  }

  // Serves requests until the connection should end. Returns true if a
  // final response was written and the connection should linger.
  Task<bool> Serve() {
    for (;;) {
      if ((stop_requested_ || server_.stopping()) && buffer_.size() == 0) co_return false;
      Parser parser;
      parser.header_limit(
          static_cast<uint32_t>(std::min<size_t>(server_.options_.max_header_bytes, UINT32_MAX)));
      parser.body_limit(server_.options_.max_body_bytes);
      parser.eager(true);

      int error_status = co_await ReadRequest(parser);
      if (error_status < 0) co_return false;  // closed, reset or timed out
      if (error_status > 0) {
        HttpResponse response = TextResponse(error_status);
        co_await Write(response, /*head=*/false, /*close=*/true, /*keep_alive_header=*/false);
        co_return true;
      }

      const bool keep_alive = parser.keep_alive();
      const bool http10 = parser.get().version() < 11;
      HttpRequest request = ToRequest(parser.release());
      HttpResponse response;
      if (server_.RunInline(request)) {
        SetPhase(Phase::kHandling, Clock::time_point::max());
        response = server_.CallHandler(request);
      } else {
        SetPhase(Phase::kHandling, Clock::time_point::max());
        response = co_await AsyncRunOn(
            server_.workers(), [this, &request]() noexcept { return server_.CallHandler(request); },
            kAwait);
      }
      if (phase_ == Phase::kClosed) co_return false;  // force-closed while handling
      bool close = !keep_alive || stop_requested_ || server_.stopping() ||
                   IContains(ResponseHeader(response, "Connection"), "close");
      bool ok = co_await Write(response, request.method == "HEAD", close, http10 && !close);
      if (!ok) co_return false;
      if (close) co_return true;
    }
  }

  // Reads one request into `parser`. Returns 0 when complete, an HTTP status
  // for a request that must be refused, or -1 if the connection is gone.
  Task<int> ReadRequest(Parser& parser) {
    if (buffer_.size() > 0) {
      SetPhase(Phase::kReading, Clock::now() + server_.options_.read_timeout);
    } else {
      SetPhase(Phase::kIdle, Clock::now() + server_.options_.idle_timeout);
    }
    bool expect_checked = false;
    for (;;) {
      bool need_read = buffer_.size() == 0;
      if (!need_read) {
        ErrorCode ec;
        size_t used = parser.put(buffer_.data(), ec);
        buffer_.consume(used);
        if (ec == bhttp::error::need_more) {
          need_read = true;
        } else if (ec == bhttp::error::body_limit) {
          co_return 413;
        } else if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
          co_return 431;
        } else if (ec) {
          co_return 400;
        } else if (used == 0 && !parser.is_done()) {
          need_read = true;
        }
        if (!expect_checked && parser.is_header_done()) {
          expect_checked = true;
          const auto& msg = parser.get();
          // RFC 7230 3.3.3: a request whose framing we cannot determine.
          if (msg.count(bhttp::field::transfer_encoding) > 0 && !parser.chunked()) co_return 400;
          if (!parser.is_done() && buffer_.size() == 0 && msg.version() >= 11 &&
              IEquals(Sv(msg[bhttp::field::expect]), "100-continue")) {
            static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
            writing_ = true;
            co_await WriteAll(asio::buffer(kContinue), ec);
            writing_ = false;
            if (ec) co_return -1;
          }
        }
        if (parser.is_done()) co_return 0;
      }
      if (!need_read) continue;

      ErrorCode ec;
      size_t n = co_await ReadSome(ec);
      buffer_.commit(n);
      if (ec) {
        // EOF before a complete request, reset, or closed by the watchdog.
        co_return -1;
      }
      if (phase_ == Phase::kIdle) {
        SetPhase(Phase::kReading, Clock::now() + server_.options_.read_timeout);
      }
    }
  }

  HttpRequest ToRequest(bhttp::request<bhttp::string_body>&& msg) {
    HttpRequest r;
    r.method = Sv(msg.method_string());
    r.target = Sv(msg.target());
    for (const auto& field : msg) {
      r.headers.emplace_back(Sv(field.name_string()), Sv(field.value()));
    }
    r.body = std::move(msg.body());
    r.remote = remote_;
    r.tls = tls_ != nullptr;
    r.tls_client_subject = tls_subject_;
    return r;
  }

  static std::string_view ResponseHeader(const HttpResponse& r, std::string_view name) {
    for (const auto& [k, v] : r.headers) {
      if (IEquals(k, name)) return v;
    }
    return {};
  }

  // Writes `response`; false if the connection failed.
  Task<bool> Write(const HttpResponse& response, bool head, bool close, bool keep_alive_header) {
    int status = response.status;
    if (status < 200 || status > 999) status = 500;  // 1xx finals are not ours to send
    const bool bodyless = status == 204 || status == 304;
    const bool send_body = !head && !bodyless;

    std::string& out = head_buf_;
    out.clear();
    out += "HTTP/1.1 ";
    AppendInt(out, static_cast<uint64_t>(status));
    out += ' ';
    out += ReasonPhrase(status);
    out += "\r\n";
    std::string_view head_length;
    for (const auto& [name, value] : response.headers) {
      if (name.empty() || HasCrLf(name) || HasCrLf(value)) continue;  // no header injection
      if (IEquals(name, "Content-Length")) {
        if (head && !value.empty() && value.size() < 20 &&
            value.find_first_not_of("0123456789") == std::string::npos) {
          head_length = value;
        }
        continue;
      }
      if (IEquals(name, "Connection") || IEquals(name, "Date") ||
          IEquals(name, "Transfer-Encoding")) {
        continue;
      }
      out += name;
      out += ": ";
      out += value;
      out += "\r\n";
    }
    if (!bodyless) {
      out += "Content-Length: ";
      if (!head_length.empty()) {
        out += head_length;
      } else {
        AppendInt(out, response.body.size());
      }
      out += "\r\n";
    }
    out += "Date: ";
    out += HttpDate();
    out += "\r\n";
    if (close) {
      out += "Connection: close\r\n";
    } else if (keep_alive_header) {
      out += "Connection: keep-alive\r\n";
    }
    out += "\r\n";

    server_.CountResponse(status);
    SetPhase(Phase::kWriting, Clock::now() + server_.options_.read_timeout);
    std::array<asio::const_buffer, 2> buffers{
        asio::buffer(out), send_body ? asio::buffer(response.body) : asio::const_buffer()};
    ErrorCode ec;
    writing_ = true;
    co_await WriteAll(buffers, ec);
    writing_ = false;
    co_return !ec && phase_ != Phase::kClosed;
  }

  // Half-closes and discards what the client still sends, bounded in time
  // and bytes, so the client sees our final response rather than a reset.
  Task<void> Linger() {
    ErrorCode ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) co_return;
    SetPhase(Phase::kLinger,
             Clock::now() + std::min<Clock::duration>(kLingerTime, server_.options_.read_timeout));
    if (stop_requested_) co_return;
    buffer_.clear();
    size_t drained = 0;
    while (drained < kLingerBytes && phase_ != Phase::kClosed) {
      size_t n = co_await socket_.async_read_some(buffer_.prepare(kReadChunk),
                                                  asio::redirect_error(kAwait, ec));
      if (ec) break;
      drained += n;
    }
  }

  HttpServer::Impl& server_;
  Socket socket_;
  Timer timer_;
  Phase phase_ = Phase::kIdle;
  Clock::time_point deadline_ = Clock::time_point::max();
  bool writing_ = false;  // a write is in flight; the watchdog must not write
  bool stop_requested_ = false;
  beast::flat_buffer buffer_;
  std::string head_buf_;  // response head, reused across requests
  std::string remote_;
  std::unique_ptr<TlsStream> tls_;  // set after a TLS handshake
  std::string tls_subject_;         // the verified client certificate's subject
};

Status HttpServer::Impl::SetUpTls() {
  if (options_.tls_cert_file.empty() && options_.tls_key_file.empty()) {
    if (!options_.tls_client_ca_file.empty() || options_.tls_require_client_cert) {
      return Status::Incorrect("mutual TLS needs a server certificate and key");
    }
    return Status::Ok();
  }
  if (options_.tls_cert_file.empty() || options_.tls_key_file.empty()) {
    return Status::Incorrect("TLS needs both a certificate and a private key");
  }
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ErrorCode ec;
  ctx->use_certificate_chain_file(options_.tls_cert_file, ec);
  if (ec) return Status::Incorrect("TLS certificate " + options_.tls_cert_file + ": " + ec.message());
  ctx->use_private_key_file(options_.tls_key_file, asio::ssl::context::pem, ec);
  if (ec) return Status::Incorrect("TLS key " + options_.tls_key_file + ": " + ec.message());
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    return Status::Incorrect("TLS key " + options_.tls_key_file + " does not match the certificate");
  }
  if (!options_.tls_client_ca_file.empty()) {
    ctx->load_verify_file(options_.tls_client_ca_file, ec);
    if (ec) {
      return Status::Incorrect("TLS client CA " + options_.tls_client_ca_file + ": " + ec.message());
    }
    ctx->set_verify_mode(asio::ssl::verify_peer |
                         (options_.tls_require_client_cert ? asio::ssl::verify_fail_if_no_peer_cert
                                                           : 0));
  } else if (options_.tls_require_client_cert) {
    return Status::Incorrect("requiring client certificates needs a client CA");
  }
  tls_ = std::move(ctx);
  return Status::Ok();
}

Status HttpServer::Impl::Bind() {
  ErrorCode ec;
  auto address = asio::ip::make_address(options_.host, ec);
  tcp::endpoint endpoint;
  if (!ec) {
    endpoint = tcp::endpoint(address, options_.port);
  } else {
    asio::ip::tcp::resolver resolver(*iocs_[0]);
    auto results = resolver.resolve(options_.host, std::to_string(options_.port),
                                    asio::ip::tcp::resolver::passive, ec);
    if (ec || results.empty()) {
      return Status::Incorrect("cannot resolve host '" + options_.host + "': " + ec.message());
    }
    endpoint = results.begin()->endpoint();
  }
  const std::string where = options_.host + ":" + std::to_string(options_.port);
  acceptor_->open(endpoint.protocol(), ec);
  if (ec) return Status::Unavailable("open socket for " + where + ": " + ec.message());
  acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  acceptor_->bind(endpoint, ec);
  if (ec) return Status::Unavailable("bind " + where + ": " + ec.message());
  acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::Unavailable("listen on " + where + ": " + ec.message());
  port_ = acceptor_->local_endpoint(ec).port();
  if (ec) return Status::Unavailable("local endpoint of " + where + ": " + ec.message());
  return Status::Ok();
}

void HttpServer::Impl::Run() {
  workers_ = std::make_unique<asio::thread_pool>(options_.worker_threads);
  for (auto& ioc : iocs_) guards_.push_back(asio::make_work_guard(ioc->get_executor()));
  asio::co_spawn(iocs_[0]->get_executor(), AcceptLoop(), asio::detached);
  for (auto& ioc : iocs_) {
    io_threads_.emplace_back([io = ioc.get()] {
      for (;;) {
        try {
          io->run();
          return;
        } catch (const std::exception&) {
          // A throwing completion handler must not take the server down.
        }
      }
    });
  }
}

Task<void> HttpServer::Impl::AcceptLoop() {
  size_t next = 0;
  Timer backoff(acceptor_->get_executor());
  for (;;) {
    asio::io_context& ioc = *iocs_[next];
    next = (next + 1) % iocs_.size();
    ErrorCode ec;
    Socket socket =
        co_await acceptor_->async_accept(ioc.get_executor(), asio::redirect_error(kAwait, ec));
    if (stopping()) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      // E.g. out of file descriptors: back off instead of spinning.
      backoff.expires_after(kAcceptBackoff);
      co_await backoff.async_wait(asio::redirect_error(kAwait, ec));
      continue;
    }
    auto conn = std::make_shared<Connection>(*this, std::move(socket));
    if (!Register(conn)) {
      rejected_.fetch_add(1, std::memory_order_relaxed);
      conn->Reject();
      continue;
    }
    accepted_.fetch_add(1, std::memory_order_relaxed);
    asio::co_spawn(conn->executor(), conn->Run(), asio::detached);
  }
}

bool HttpServer::Impl::Register(const std::shared_ptr<Connection>& conn) {
  std::lock_guard lock(conns_mu_);
  if (stopping() || conns_.size() >= static_cast<size_t>(options_.max_connections)) return false;
  conns_.insert(conn);
  return true;
}

void HttpServer::Impl::Unregister(const std::shared_ptr<Connection>& conn) {
  std::lock_guard lock(conns_mu_);
  conns_.erase(conn);
  if (conns_.empty()) conns_cv_.notify_all();
}

HttpResponse HttpServer::Impl::CallHandler(const HttpRequest& request) noexcept {
  try {
    return handler_(request);
  } catch (...) {
    handler_exceptions_.fetch_add(1, std::memory_order_relaxed);
  }
  try {
    return TextResponse(500);
  } catch (...) {
    return HttpResponse{500, {}, {}};
  }
}

bool HttpServer::Impl::RunInline(const HttpRequest& request) noexcept {
  if (!run_inline_) return false;
  try {
    return run_inline_(request);
  } catch (...) {
    return false;
  }
}

void HttpServer::Impl::Stop() {
  std::lock_guard stop_lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  if (io_threads_.empty()) return;  // never started

  std::vector<std::shared_ptr<Connection>> snapshot;
  {
    std::lock_guard lock(conns_mu_);
    stopping_.store(true);
    snapshot.assign(conns_.begin(), conns_.end());
  }
  asio::post(acceptor_->get_executor(), [this] {
    ErrorCode ec;
    acceptor_->close(ec);
  });
  for (auto& conn : snapshot) asio::post(conn->executor(), [conn] { conn->OnStop(); });
  snapshot.clear();

  auto wait_for_connections = [this](Clock::duration limit) {
    std::unique_lock lock(conns_mu_);
    conns_cv_.wait_for(lock, limit, [this] { return conns_.empty(); });
    return std::vector<std::shared_ptr<Connection>>(conns_.begin(), conns_.end());
  };
  // In-flight requests finish, then their connections close.
  snapshot = wait_for_connections(options_.stop_grace);
  for (auto& conn : snapshot) asio::post(conn->executor(), [conn] { conn->Close(); });
  snapshot.clear();
  // Handlers still running must return; the I/O threads keep running so
  // their completions can unwind their connections.
  workers_->join();
  wait_for_connections(std::chrono::seconds(1));

  guards_.clear();
  for (auto& ioc : iocs_) ioc->stop();
  for (auto& t : io_threads_) t.join();
}

HttpServerStats HttpServer::Impl::stats() const {
  HttpServerStats s;
  auto get = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  s.requests_total = get(requests_total_);
  s.responses_2xx = get(responses_2xx_);
  s.responses_3xx = get(responses_3xx_);
  s.responses_4xx = get(responses_4xx_);
  s.responses_5xx = get(responses_5xx_);
  s.connections_accepted = get(accepted_);
  s.rejected_connections = get(rejected_);
  s.timeouts = get(timeouts_);
  s.handler_exceptions = get(handler_exceptions_);
  {
    std::lock_guard lock(conns_mu_);
    s.active_connections = conns_.size();
  }
  return s;
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                      Handler handler, InlinePredicate run_inline) {
  if (!handler) return Status::Incorrect("HttpServer: handler is null");
  if (options.io_threads < 1 || options.worker_threads < 1 || options.max_connections < 1) {
    return Status::Incorrect(
        "HttpServer: io_threads, worker_threads and max_connections must be >= 1");
  }
  if (options.max_header_bytes < 64 || options.read_timeout.count() <= 0 ||
      options.idle_timeout.count() <= 0) {
    return Status::Incorrect("HttpServer: max_header_bytes must be >= 64 and timeouts positive");
  }
  auto impl = std::make_unique<Impl>(options, std::move(handler), std::move(run_inline));
  RETURN_IF_ERROR(impl->SetUpTls());
  RETURN_IF_ERROR(impl->Bind());
  impl->Run();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { impl_.reset(); }

uint16_t HttpServer::port() const { return impl_->port_; }

void HttpServer::Stop() { impl_->Stop(); }

HttpServerStats HttpServer::stats() const { return impl_->stats(); }

}  // namespace lhcr::api
