#include "api/mllp_server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

// Boost 1.74's Asio needs <utility> before it in C++20 mode.
#include <boost/asio.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace lhcr::api {

namespace {

namespace asio = boost::asio;
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
// Frames handed to a worker in one hop, at most.
constexpr size_t kMaxBatch = 64;
// After a final NAK we half-close and drain what the client still sends, so
// that it reads the NAK instead of a reset.
constexpr Clock::duration kLingerTime = std::chrono::milliseconds(1000);
constexpr size_t kLingerBytes = 4 * 1024 * 1024;
constexpr auto kAcceptBackoff = std::chrono::milliseconds(50);

constexpr std::string_view kFrameBytes("\x0b\x1c", 2);  // VT or FS

bool HasFrameByte(std::string_view s) {
  return s.find_first_of(kFrameBytes) != std::string_view::npos;
}

std::string_view ErrorText(MllpError error) {
  switch (error) {
    case MllpError::kHandlerFailed:
      return "the receiver failed to process the message";
    case MllpError::kInterrupted:
      return "MLLP frame interrupted by a new start block";
    case MllpError::kOversized:
      return "message exceeds the maximum size";
    case MllpError::kTimeout:
      return "message not completed in time";
  }
  return "error";
}

// Runs fn() on `pool` and completes on the completion handler's own executor
// (the connection's I/O thread) with its result.
template <typename R, typename Fn, typename Token>
auto AsyncRunOn(asio::thread_pool& pool, Fn fn, Token&& token) {
  return asio::async_initiate<Token, void(R)>(
      [&pool](auto handler, Fn fn) {
        asio::post(pool, [fn = std::move(fn), handler = std::move(handler)]() mutable {
          R result = fn();
          auto ex = asio::get_associated_executor(handler);
          asio::post(ex, [handler = std::move(handler), result = std::move(result)]() mutable {
            std::move(handler)(std::move(result));
          });
        });
      },
      token, std::move(fn));
}

}  // namespace

class MllpConnection;

class MllpServer::Impl {
 public:
  Impl(const MllpServerOptions& options, Handler handler, ErrorHandler on_error)
      : options_(options),
        handler_(std::move(handler)),
        on_error_(std::move(on_error)),
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
  void Run();
  void Stop();

  // Appends the framed ACK for one received frame to `out`. Never throws
  // (short of running out of memory while appending).
  void Answer(const MllpDeframer::Frame& frame, const MllpPeer& peer, std::string& out) noexcept;
  // The framed-ready NAK for `error`; never empty, never with VT/FS.
  std::string Nak(MllpError error, std::string_view message, const MllpPeer& peer) noexcept;

  bool Register(const std::shared_ptr<MllpConnection>& conn);
  void Unregister(const std::shared_ptr<MllpConnection>& conn);
  bool stopping() const { return stopping_.load(std::memory_order_relaxed); }
  asio::thread_pool& workers() { return *workers_; }
  MllpServerStats stats() const;

  const MllpServerOptions options_;
  const Handler handler_;
  const ErrorHandler on_error_;
  const Clock::duration tick_;  // watchdog period
  uint16_t port_ = 0;

  std::atomic<uint64_t> messages_received_{0}, acks_sent_{0}, naks_sent_{0}, handler_failures_{0},
      framing_errors_{0}, skipped_bytes_{0}, accepted_{0}, rejected_{0}, timeouts_{0},
      next_connection_id_{1};

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
  std::unordered_set<std::shared_ptr<MllpConnection>> conns_;
};

namespace {

enum class Phase {
  kIdle,      // no message in progress: idle_timeout
  kReading,   // a message partly received: read_timeout from its first byte
  kHandling,  // a batch on a worker: no deadline
  kWriting,   // writing ACKs: read_timeout
  kLinger,    // draining after a final NAK: kLingerTime
  kClosed,
};

}  // namespace

// One sender's connection. All members but peer_ (immutable once running)
// are used only on the connection's io_context thread.
class MllpConnection : public std::enable_shared_from_this<MllpConnection> {
 public:
  MllpConnection(MllpServer::Impl& server, Socket socket, uint64_t id)
      : server_(server),
        socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        deframer_(server.options_.max_message_bytes) {
    peer_.connection_id = id;
  }

  Executor executor() { return socket_.get_executor(); }

  // The connection's whole life: serve messages, then close and unregister.
  Task<void> Run() {
    auto self = shared_from_this();
    ErrorCode ec;
    socket_.set_option(tcp::no_delay(true), ec);
    auto ep = socket_.remote_endpoint(ec);
    if (!ec) peer_.remote = ep.address().to_string() + ":" + std::to_string(ep.port());
    SetPhase(Phase::kIdle, Clock::now() + server_.options_.idle_timeout);
    ArmWatchdog();
    bool linger = false;
    try {
      linger = co_await Serve();
    } catch (const std::exception&) {
      // e.g. std::bad_alloc: drop this connection, keep the server.
    }
    if (linger && phase_ != Phase::kClosed) co_await Linger();
    Close();
    server_.Unregister(self);
  }

  // Stop(): close now unless a batch is being handled or written.
  void OnStop() {
    stop_requested_ = true;
    if (phase_ == Phase::kIdle || phase_ == Phase::kReading || phase_ == Phase::kLinger) Close();
  }

  void Close() {
    phase_ = Phase::kClosed;
    ErrorCode ec;
    socket_.close(ec);
    timer_.cancel(ec);
  }

 private:
  void SetPhase(Phase phase, Clock::time_point deadline) {
    phase_ = phase;
    deadline_ = deadline;
  }

  // A periodic check instead of re-arming a timer per message: setting a
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
    if (phase_ == Phase::kReading && !writing_) {
      // Best effort and non-blocking: a whole NAK or nothing the sender can
      // mistake for one (a short write is cut off by the close anyway).
      std::string nak =
          MllpFrame(server_.Nak(MllpError::kTimeout, deframer_.partial_message(), peer_));
      ErrorCode ec;
      socket_.non_blocking(true, ec);
      size_t n = socket_.write_some(asio::buffer(nak), ec);
      if (!ec && n == nak.size()) {
        server_.acks_sent_.fetch_add(1, std::memory_order_relaxed);
        server_.naks_sent_.fetch_add(1, std::memory_order_relaxed);
      }
      socket_.shutdown(tcp::socket::shutdown_send, ec);
    }
    // Cancels the session's pending operation; it then finishes.
    Close();
  }

  bool StopRequested() const { return stop_requested_ || server_.stopping(); }

  // Serves messages until the connection should end. Returns true if a
  // final NAK was written and the connection should linger.
  Task<bool> Serve() {
    std::vector<MllpDeframer::Frame> batch;
    for (;;) {
      // Answer every frame already received, a batch at a time.
      while (deframer_.has_frame()) {
        if (StopRequested()) co_return false;  // unanswered: the sender resends
        batch.clear();
        bool final_nak = false;
        while (batch.size() < kMaxBatch && !final_nak) {
          auto frame = deframer_.Next();
          if (!frame) break;
          final_nak = frame->kind == MllpDeframer::Frame::Kind::kOversized;
          batch.push_back(std::move(*frame));
        }
        SetPhase(Phase::kHandling, Clock::time_point::max());
        out_ = co_await AsyncRunOn<std::string>(
            server_.workers(),
            [this, &batch]() noexcept {
              std::string out;
              for (const auto& frame : batch) server_.Answer(frame, peer_, out);
              return out;
            },
            kAwait);
        if (phase_ == Phase::kClosed) co_return false;  // force-closed meanwhile
        SetPhase(Phase::kWriting, Clock::now() + server_.options_.read_timeout);
        ErrorCode ec;
        writing_ = true;
        co_await asio::async_write(socket_, asio::buffer(out_), asio::redirect_error(kAwait, ec));
        writing_ = false;
        if (ec || phase_ == Phase::kClosed) co_return false;
        server_.acks_sent_.fetch_add(batch.size(), std::memory_order_relaxed);
        if (final_nak) co_return true;
        if (out_.capacity() > 4 * kReadChunk) std::string().swap(out_);
      }

      // Read more.
      if (StopRequested()) co_return false;
      if (deframer_.skipped_in_a_row() > server_.options_.max_message_bytes) {
        co_return false;  // a stream of non-MLLP bytes
      }
      if (deframer_.in_message()) {
        if (phase_ != Phase::kReading) {
          SetPhase(Phase::kReading, Clock::now() + server_.options_.read_timeout);
        }
      } else if (phase_ != Phase::kIdle) {
        SetPhase(Phase::kIdle, Clock::now() + server_.options_.idle_timeout);
      }
      ErrorCode ec;
      size_t n = co_await socket_.async_read_some(asio::buffer(read_buf_),
                                                  asio::redirect_error(kAwait, ec));
      if (ec || phase_ == Phase::kClosed) co_return false;  // EOF, reset or closed
      uint64_t skipped_before = deframer_.skipped_bytes();
      deframer_.Feed(std::string_view(read_buf_.data(), n));
      if (uint64_t skipped = deframer_.skipped_bytes() - skipped_before; skipped > 0) {
        server_.skipped_bytes_.fetch_add(skipped, std::memory_order_relaxed);
      }
    }
  }

  // Half-closes and discards what the client still sends, bounded in time
  // and bytes, so the client sees our final NAK rather than a reset.
  Task<void> Linger() {
    ErrorCode ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) co_return;
    SetPhase(Phase::kLinger,
             Clock::now() + std::min<Clock::duration>(kLingerTime, server_.options_.read_timeout));
    if (stop_requested_) co_return;
    size_t drained = 0;
    while (drained < kLingerBytes && phase_ != Phase::kClosed) {
      size_t n = co_await socket_.async_read_some(asio::buffer(read_buf_),
                                                  asio::redirect_error(kAwait, ec));
      if (ec) break;
      drained += n;
    }
  }

  MllpServer::Impl& server_;
  Socket socket_;
  Timer timer_;
  MllpPeer peer_;
  MllpDeframer deframer_;
  Phase phase_ = Phase::kIdle;
  Clock::time_point deadline_ = Clock::time_point::max();
  bool writing_ = false;  // a write is in flight; the watchdog must not write
  bool stop_requested_ = false;
  std::array<char, kReadChunk> read_buf_;
  std::string out_;  // framed ACKs of the current batch
};

std::string MllpServer::Impl::Nak(MllpError error, std::string_view message,
                                  const MllpPeer& peer) noexcept {
  const std::string_view code = error == MllpError::kHandlerFailed ? "AE" : "AR";
  try {
    if (on_error_) {
      std::string nak = on_error_(error, message, peer);
      if (!nak.empty() && !HasFrameByte(nak)) return nak;
    }
  } catch (...) {
    // Fall back to the minimal ACK.
  }
  try {
    return MllpMinimalAck(message, code, ErrorText(error));
  } catch (...) {
    return error == MllpError::kHandlerFailed ? "MSH|^~\\&|||||||ACK||P|2.5\rMSA|AE|\r"
                                              : "MSH|^~\\&|||||||ACK||P|2.5\rMSA|AR|\r";
  }
}

void MllpServer::Impl::Answer(const MllpDeframer::Frame& frame, const MllpPeer& peer,
                              std::string& out) noexcept {
  std::string ack;
  if (frame.kind != MllpDeframer::Frame::Kind::kMessage) {
    naks_sent_.fetch_add(1, std::memory_order_relaxed);
  }
  switch (frame.kind) {
    case MllpDeframer::Frame::Kind::kMessage: {
      messages_received_.fetch_add(1, std::memory_order_relaxed);
      bool ok = false;
      try {
        ack = handler_(frame.message, peer);
        ok = !ack.empty() && !HasFrameByte(ack);
      } catch (...) {
      }
      if (!ok) {
        handler_failures_.fetch_add(1, std::memory_order_relaxed);
        naks_sent_.fetch_add(1, std::memory_order_relaxed);
        ack = Nak(MllpError::kHandlerFailed, frame.message, peer);
      }
      break;
    }
    case MllpDeframer::Frame::Kind::kInterrupted:
      framing_errors_.fetch_add(1, std::memory_order_relaxed);
      ack = Nak(MllpError::kInterrupted, frame.message, peer);
      break;
    case MllpDeframer::Frame::Kind::kOversized:
      framing_errors_.fetch_add(1, std::memory_order_relaxed);
      ack = Nak(MllpError::kOversized, frame.message, peer);
      break;
  }
  try {
    out += kMllpStartBlock;
    out += ack;
    out += kMllpEndBlock;
    out += kMllpCarriageReturn;
  } catch (...) {
    // Out of memory: the batch is cut short and the connection will not
    // see these ACKs; dropping it is all that is left.
  }
}

Status MllpServer::Impl::Bind() {
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

void MllpServer::Impl::Run() {
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

Task<void> MllpServer::Impl::AcceptLoop() {
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
    auto conn = std::make_shared<MllpConnection>(
        *this, std::move(socket), next_connection_id_.fetch_add(1, std::memory_order_relaxed));
    if (!Register(conn)) {
      rejected_.fetch_add(1, std::memory_order_relaxed);
      // MLLP has no "busy" reply outside a message: close at once; the
      // sender retries later.
      conn->Close();
      continue;
    }
    accepted_.fetch_add(1, std::memory_order_relaxed);
    asio::co_spawn(conn->executor(), conn->Run(), asio::detached);
  }
}

bool MllpServer::Impl::Register(const std::shared_ptr<MllpConnection>& conn) {
  std::lock_guard lock(conns_mu_);
  if (stopping() || conns_.size() >= static_cast<size_t>(options_.max_connections)) return false;
  conns_.insert(conn);
  return true;
}

void MllpServer::Impl::Unregister(const std::shared_ptr<MllpConnection>& conn) {
  std::lock_guard lock(conns_mu_);
  conns_.erase(conn);
  if (conns_.empty()) conns_cv_.notify_all();
}

void MllpServer::Impl::Stop() {
  std::lock_guard stop_lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  if (io_threads_.empty()) return;  // never started

  std::vector<std::shared_ptr<MllpConnection>> snapshot;
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
    return std::vector<std::shared_ptr<MllpConnection>>(conns_.begin(), conns_.end());
  };
  // Batches being handled finish and are acknowledged, then their
  // connections close.
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

MllpServerStats MllpServer::Impl::stats() const {
  MllpServerStats s;
  auto get = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  s.messages_received = get(messages_received_);
  s.acks_sent = get(acks_sent_);
  s.naks_sent = get(naks_sent_);
  s.handler_failures = get(handler_failures_);
  s.framing_errors = get(framing_errors_);
  s.skipped_bytes = get(skipped_bytes_);
  s.connections_accepted = get(accepted_);
  s.rejected_connections = get(rejected_);
  s.timeouts = get(timeouts_);
  {
    std::lock_guard lock(conns_mu_);
    s.active_connections = conns_.size();
  }
  return s;
}

Result<std::unique_ptr<MllpServer>> MllpServer::Start(const MllpServerOptions& options,
                                                      Handler handler, ErrorHandler on_error) {
  if (!handler) return Status::Incorrect("MllpServer: handler is null");
  if (options.io_threads < 1 || options.worker_threads < 1 || options.max_connections < 1) {
    return Status::Incorrect(
        "MllpServer: io_threads, worker_threads and max_connections must be >= 1");
  }
  if (options.max_message_bytes < 1 || options.read_timeout.count() <= 0 ||
      options.idle_timeout.count() <= 0) {
    return Status::Incorrect("MllpServer: max_message_bytes and timeouts must be positive");
  }
  auto impl = std::make_unique<Impl>(options, std::move(handler), std::move(on_error));
  RETURN_IF_ERROR(impl->Bind());
  impl->Run();
  return std::unique_ptr<MllpServer>(new MllpServer(std::move(impl)));
}

MllpServer::MllpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MllpServer::~MllpServer() { impl_.reset(); }

uint16_t MllpServer::port() const { return impl_->port_; }

void MllpServer::Stop() { impl_->Stop(); }

MllpServerStats MllpServer::stats() const { return impl_->stats(); }

}  // namespace lhcr::api
