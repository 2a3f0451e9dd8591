// MLLP listener throughput: 8 concurrent senders over loopback, each with its
// own long-lived connection, sending small ADT^A01 messages to an MllpServer
// whose handler builds a minimal ACK (MSA|AA|<control id>).
//
//   BM_Mllp/send_wait     each sender sends one message and waits for its ACK
//   BM_Mllp/pipelined     each sender keeps a window of 16 messages in flight
//   BM_Echo/...           the baseline: the same senders, the same bytes, the
//                         same waiting, against a trivial in-process Asio TCP
//                         echo server (2 I/O threads, like the MllpServer)
//
// After the runs it prints the median messages/s of each and the ratio
// MLLP / echo, the figure docs/BENCHMARKS.md reports.
//
//   build-mllp/bench/mllp_bench [--messages=N]   (default 2000 per sender)
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

// Boost 1.74's Asio needs <utility> before it in C++20 mode.
#include <boost/asio.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "api/mllp_server.h"

namespace {

namespace asio = boost::asio;
using lhcr::api::MllpDeframer;
using lhcr::api::MllpFrame;
using lhcr::api::MllpPeer;
using lhcr::api::MllpServer;
using lhcr::api::MllpServerOptions;

constexpr int kSenders = 8;
constexpr int kWindow = 16;
int g_messages = 2000;  // per sender

std::string Adt(int sender, int i) {
  return "MSH|^~\\&|PAS|RXH|LHCR|REGION|20240101120000||ADT^A01^ADT_A01|S" +
         std::to_string(sender) + "-" + std::to_string(i) +
         "|P|2.4\rEVN|A01|20240101120000\rPID|1||9434765919^^^NHS^NH||SMITH^JANE||19700101|F|||"
         "1 HIGH STREET^^LEEDS^^LS1 1AA\rPV1|1|I|WARD1^BED2|||||C1234567^JONES^ANN\r";
}

std::string_view ControlId(std::string_view message) {
  std::string_view msh = message.substr(0, message.find('\r'));
  for (int i = 0; i < 9; ++i) {
    size_t p = msh.find('|');
    if (p == std::string_view::npos) return {};
    msh.remove_prefix(p + 1);
  }
  return msh.substr(0, msh.find('|'));
}

std::string Ack(std::string_view message, const MllpPeer&) {
  std::string id(ControlId(message));
  return "MSH|^~\\&|LHCR|REGION|PAS|RXH|20240101120000||ACK^A01^ACK|A" + id + "|P|2.4\rMSA|AA|" +
         id + "\r";
}

// --- a trivial echo server: the transport floor --------------------------

class EchoServer {
 public:
  EchoServer() : acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
    asio::co_spawn(ioc_, Accept(), asio::detached);
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }
  ~EchoServer() {
    ioc_.stop();
    for (auto& t : threads_) t.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  asio::awaitable<void> Accept() {
    for (;;) {
      boost::system::error_code ec;
      auto socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      socket.set_option(asio::ip::tcp::no_delay(true), ec);
      asio::co_spawn(ioc_, Echo(std::move(socket)), asio::detached);
    }
  }
  static asio::awaitable<void> Echo(asio::ip::tcp::socket socket) {
    char buf[16384];
    for (;;) {
      boost::system::error_code ec;
      size_t n = co_await socket.async_read_some(asio::buffer(buf),
                                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      co_await asio::async_write(socket, asio::buffer(buf, n),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
    }
  }

  asio::io_context ioc_;
  asio::ip::tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
};

// --- senders ----------------------------------------------------------------

int Connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads with a 10 s limit so a broken server fails the run instead of
// hanging it. False on EOF, error or timeout.
bool Recv(int fd, char* buf, size_t cap, size_t& n) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 10000) <= 0) return false;
  ssize_t r = recv(fd, buf, cap, 0);
  if (r <= 0) return false;
  n = static_cast<size_t>(r);
  return true;
}

// One sender: messages in windows of `window`, each window sent with one
// write, then its replies awaited: ACKs (mllp) or the echoed bytes.
bool Sender(int fd, int sender, int window, bool mllp) {
  MllpDeframer deframer;
  char buf[16384];
  for (int i = 0; i < g_messages; i += window) {
    int count = std::min(window, g_messages - i);
    std::string out;
    for (int k = 0; k < count; ++k) out += MllpFrame(Adt(sender, i + k));
    if (!SendAll(fd, out)) return false;
    if (mllp) {
      for (int got = 0; got < count;) {
        if (auto f = deframer.Next()) {
          if (f->message.find("\rMSA|AA|") == std::string::npos) return false;
          ++got;
          continue;
        }
        size_t n = 0;
        if (!Recv(fd, buf, sizeof buf, n)) return false;
        deframer.Feed(std::string_view(buf, n));
      }
    } else {
      for (size_t got = 0; got < out.size();) {
        size_t n = 0;
        if (!Recv(fd, buf, sizeof buf, n)) return false;
        got += n;
      }
    }
  }
  return true;
}

std::mutex g_mu;
std::map<std::string, std::vector<double>> g_rates;  // guarded by g_mu

// Connects the senders (untimed), then times them all.
void RunSenders(benchmark::State& state, uint16_t port, bool mllp, const std::string& name) {
  const int window = static_cast<int>(state.range(0));
  for (auto _ : state) {
    std::vector<int> fds;
    for (int s = 0; s < kSenders; ++s) fds.push_back(Connect(port));
    if (std::count(fds.begin(), fds.end(), -1) > 0) {
      state.SkipWithError("connect failed");
      break;
    }
    std::atomic<int> failures{0};
    auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int s = 0; s < kSenders; ++s) {
      threads.emplace_back([&, s] {
        if (!Sender(fds[s], s, window, mllp)) failures.fetch_add(1);
      });
    }
    for (auto& t : threads) t.join();
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (int fd : fds) close(fd);
    if (failures.load() > 0) {
      state.SkipWithError("a sender failed");
      break;
    }
    state.SetIterationTime(seconds);
    double rate = kSenders * g_messages / seconds;
    state.counters["msgs_per_s"] = rate;
    std::lock_guard lock(g_mu);
    g_rates[name].push_back(rate);
  }
}

void BM_Mllp(benchmark::State& state) {
  MllpServerOptions options;  // defaults: 2 I/O threads, 8 workers
  auto server = MllpServer::Start(options, Ack);
  if (!server.ok()) {
    state.SkipWithError(server.status().message().c_str());
    return;
  }
  RunSenders(state, (*server)->port(), true,
             state.range(0) == 1 ? "mllp/send_wait" : "mllp/pipelined");
  (*server)->Stop();
}

void BM_Echo(benchmark::State& state) {
  EchoServer echo;
  RunSenders(state, echo.port(), false, state.range(0) == 1 ? "echo/send_wait" : "echo/pipelined");
}

BENCHMARK(BM_Mllp)->Arg(1)->Arg(kWindow)->Iterations(1)->Repetitions(5)->UseManualTime()->Unit(
    benchmark::kMillisecond);
BENCHMARK(BM_Echo)->Arg(1)->Arg(kWindow)->Iterations(1)->Repetitions(5)->UseManualTime()->Unit(
    benchmark::kMillisecond);

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--messages=", 11) == 0) {
      g_messages = std::max(1, std::atoi(argv[i] + 11));
    } else {
      args.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::printf("\n%d senders x %d messages each, median of runs:\n", kSenders, g_messages);
  for (const char* mode : {"send_wait", "pipelined"}) {
    double mllp = Median(g_rates[std::string("mllp/") + mode]);
    double echo = Median(g_rates[std::string("echo/") + mode]);
    std::printf("  %-9s  mllp %9.0f msgs/s   echo %9.0f msgs/s   mllp/echo %.2f\n", mode, mllp,
                echo, echo > 0 ? mllp / echo : 0.0);
  }
  return 0;
}
