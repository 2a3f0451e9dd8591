#include "api/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace lhcr::api {
namespace {

using namespace std::chrono_literals;

struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

// A blocking POSIX client with timeouts, so a broken server fails a test
// instead of hanging it.
class RawClient {
 public:
  static std::unique_ptr<RawClient> Connect(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return nullptr;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd);
      return nullptr;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return std::unique_ptr<RawClient>(new RawClient(fd));
  }
  ~RawClient() { close(fd_); }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads one response; nullopt on EOF, reset or timeout.
  std::optional<RawResponse> Read(std::chrono::milliseconds timeout = 5000ms, bool head = false) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(deadline)) return std::nullopt;
    }
    RawResponse r;
    std::string head_text = buf_.substr(0, end + 2);
    buf_.erase(0, end + 4);
    size_t line_end = head_text.find("\r\n");
    std::string status_line = head_text.substr(0, line_end);
    if (status_line.rfind("HTTP/1.1 ", 0) != 0) return std::nullopt;
    r.status = std::stoi(status_line.substr(9, 3));
    size_t pos = line_end + 2;
    while (pos < head_text.size()) {
      size_t e = head_text.find("\r\n", pos);
      std::string line = head_text.substr(pos, e - pos);
      pos = e + 2;
      size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      size_t v = colon + 1;
      while (v < line.size() && line[v] == ' ') ++v;
      r.headers[name] = line.substr(v);
    }
    if (head || r.status < 200 || r.status == 204 || r.status == 304) return r;
    size_t length =
        std::stoul(r.Header("content-length").empty() ? "0" : r.Header("content-length"));
    while (buf_.size() < length) {
      if (!Fill(deadline)) return std::nullopt;
    }
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    return r;
  }

  // True if the server closes the connection (EOF or reset) within timeout;
  // any bytes received meanwhile are kept in pending().
  bool WaitClosed(std::chrono::milliseconds timeout = 5000ms) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int r = FillOnce(deadline);
      if (r == 0) return true;  // closed
      if (r < 0) return false;  // timed out
    }
  }

  const std::string& pending() const { return buf_; }
  int fd() const { return fd_; }

 private:
  explicit RawClient(int fd) : fd_(fd) {}

  bool Fill(std::chrono::steady_clock::time_point deadline) { return FillOnce(deadline) > 0; }

  // 1: got data, 0: EOF or reset, -1: timeout.
  int FillOnce(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) return -1;
    pollfd p{fd_, POLLIN, 0};
    int pr = poll(&p, 1, static_cast<int>(left.count()));
    if (pr == 0) return -1;
    if (pr < 0) return 0;
    char tmp[16384];
    ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return 0;
    buf_.append(tmp, static_cast<size_t>(n));
    return 1;
  }

  int fd_;
  std::string buf_;
};

HttpResponse Echo(const HttpRequest& req) {
  HttpResponse r;
  r.status = 200;
  r.SetHeader("Content-Type", "text/plain");
  r.SetHeader("X-Reply", "yes");
  r.body = req.method + " " + req.target + " x=" + std::string(req.Header("x-test")) +
           " body=" + req.body;
  return r;
}

std::unique_ptr<HttpServer> MustStart(HttpServerOptions options, HttpServer::Handler handler,
                                      HttpServer::InlinePredicate pred = nullptr) {
  auto server = HttpServer::Start(options, std::move(handler), std::move(pred));
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  if (!server.ok()) return nullptr;
  return std::move(server).value();
}

HttpServerOptions SmallOptions() {
  HttpServerOptions o;
  o.io_threads = 2;
  o.worker_threads = 4;
  return o;
}

template <typename Pred>
bool Eventually(Pred pred, std::chrono::milliseconds timeout = 5000ms) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

TEST(HttpServerTest, GetAndPostRoundTrip) {
  auto server = MustStart(SmallOptions(), Echo);
  ASSERT_TRUE(server);
  auto c = RawClient::Connect(server->port());
  ASSERT_TRUE(c);

  ASSERT_TRUE(c->Send("GET /Patient/1?_format=json HTTP/1.1\r\nHost: x\r\nX-Test: abc\r\n\r\n"));
  auto r = c->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "GET /Patient/1?_format=json x=abc body=");
  EXPECT_EQ(r->Header("x-reply"), "yes");
  EXPECT_EQ(r->Header("content-type"), "text/plain");
  EXPECT_EQ(r->Header("content-length"), std::to_string(r->body.size()));
  EXPECT_NE(r->Header("date").find(" GMT"), std::string::npos);
  EXPECT_EQ(r->Header("connection"), "");

  ASSERT_TRUE(
      c->Send("POST /Patient HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world"));
  r = c->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "POST /Patient x= body=hello world");

  // Chunked request body.
  ASSERT_TRUE(
      c->Send("POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
              "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
  r = c->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "POST /c x= body=hello world");

  auto stats = server->stats();
  EXPECT_EQ(stats.requests_total, 3u);
  EXPECT_EQ(stats.responses_2xx, 3u);
  EXPECT_EQ(stats.active_connections, 1u);
}

TEST(HttpServerTest, RequestValueCarriesHeadersAndRemote) {
  std::promise<HttpRequest> seen;
  auto server = MustStart(SmallOptions(), [&](const HttpRequest& req) {
    seen.set_value(req);
    return HttpResponse{204, {}, {}};
  });
  ASSERT_TRUE(server);
  auto c = RawClient::Connect(server->port());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Send("DELETE /a/b?q=1&r=2 HTTP/1.1\r\nHost: h\r\nX-One: 1\r\nx-two: 2\r\n\r\n"));
  auto r = c->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->Header("content-length"), "");
  HttpRequest req = seen.get_future().get();
  EXPECT_EQ(req.method, "DELETE");
  EXPECT_EQ(req.target, "/a/b?q=1&r=2");
  EXPECT_EQ(req.Path(), "/a/b");
  EXPECT_EQ(req.Query(), "q=1&r=2");
  ASSERT_EQ(req.headers.size(), 3u);
  EXPECT_EQ(req.headers[1], (std::pair<std::string, std::string>("X-One", "1")));
  EXPECT_EQ(req.Header("X-TWO"), "2");
  EXPECT_EQ(req.remote.rfind("127.0.0.1:", 0), 0u) << req.remote;
}

TEST(HttpServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  auto server = MustStart(SmallOptions(), Echo);
  ASSERT_TRUE(server);
  auto c = RawClient::Connect(server->port());
  ASSERT_TRUE(c);
  for (int i = 0; i < 20; ++i) {
    std::string path = "/k" + std::to_string(i);
    ASSERT_TRUE(c->Send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto r = c->Read();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->body, "GET " + path + " x= body=");
  }
  EXPECT_EQ(server->stats().connections_accepted, 1u);
}

TEST(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  // Worker dispatch with a variable delay: order must still hold.
  auto server = MustStart(SmallOptions(), [](const HttpRequest& req) {
    if (req.Path() == "/slow") std::this_thread::sleep_for(50ms);
    return Echo(req);
  });
  ASSERT_TRUE(server);
  auto c = RawClient::Connect(server->port());
  ASSERT_TRUE(c);
  ASSERT_TRUE(
      c->Send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
              "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
              "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r1 = c->Read();
  auto r2 = c->Read();
  auto r3 = c->Read();
  ASSERT_TRUE(r1 && r2 && r3);
  EXPECT_EQ(r1->body, "GET /slow x= body=");
  EXPECT_EQ(r2->body, "POST /p x= body=abc");
  EXPECT_EQ(r3->body, "GET /fast x= body=");
}

TEST(HttpServerTest, InlineAndWorkerDispatch) {
  HttpServerOptions o = SmallOptions();
  o.io_threads = 1;  // a blocked inline handler would stall everything
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> slow_started{false};
  std::thread::id inline_thread, worker_thread;
  std::mutex mu;
  auto server = MustStart(
      o,
      [&](const HttpRequest& req) {
        std::lock_guard lock(mu);
        if (req.Path() == "/inline") {
          inline_thread = std::this_thread::get_id();
        } else {
          worker_thread = std::this_thread::get_id();
          slow_started = true;
          mu.unlock();
          released.wait_for(5s);
          mu.lock();
        }
        return Echo(req);
      },
      [](const HttpRequest& req) { return req.Path() == "/inline"; });
  ASSERT_TRUE(server);

  auto slow = RawClient::Connect(server->port());
  ASSERT_TRUE(slow);
  ASSERT_TRUE(slow->Send("GET /blocking HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(Eventually([&] { return slow_started.load(); }));

  // The only I/O thread still serves inline requests while a worker blocks.
  auto fast = RawClient::Connect(server->port());
  ASSERT_TRUE(fast);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(fast->Send("GET /inline HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto r = fast->Read(2000ms);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "GET /inline x= body=");
  }
  release.set_value();
  auto r = slow->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "GET /blocking x= body=");
  std::lock_guard lock(mu);
  EXPECT_NE(inline_thread, worker_thread);
  EXPECT_NE(inline_thread, std::thread::id());
}

TEST(HttpServerTest, ConcurrentClientsAllAnswered) {
  std::atomic<int> handled{0};
  auto server = MustStart(
      SmallOptions(),
      [&](const HttpRequest& req) {
        handled.fetch_add(1);
        return Echo(req);
      },
      [](const HttpRequest& req) { return req.method == "GET"; });
  ASSERT_TRUE(server);
  constexpr int kThreads = 16, kRequests = 200;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::unique_ptr<RawClient> c;
      for (int i = 0; i < kRequests; ++i) {
        if (!c || i % 50 == 0) c = RawClient::Connect(server->port());  // some reconnects
        if (!c) return;
        std::string id = std::to_string(t) + "-" + std::to_string(i);
        bool post = i % 2 == 1;
        std::string req =
            post ? "POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(id.size()) +
                       "\r\n\r\n" + id
                 : "GET /c?" + id + " HTTP/1.1\r\nHost: x\r\n\r\n";
        if (!c->Send(req)) return;
        auto r = c->Read();
        if (!r) return;
        std::string want = post ? "POST /c x= body=" + id : "GET /c?" + id + " x= body=";
        if (r->status == 200 && r->body == want) ok.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kRequests);
  EXPECT_EQ(handled.load(), kThreads * kRequests);
  auto stats = server->stats();
  EXPECT_EQ(stats.requests_total, static_cast<uint64_t>(kThreads * kRequests));
  EXPECT_EQ(stats.connections_accepted, static_cast<uint64_t>(kThreads * kRequests / 50));
}

TEST(HttpServerTest, OversizedContentLengthGets413AndClose) {
  HttpServerOptions o = SmallOptions();
  o.max_body_bytes = 1024;
  std::atomic<int> calls{0};
  auto server = MustStart(o, [&](const HttpRequest& req) {
    calls++;
    return Echo(req);
  });
  ASSERT_TRUE(server);
  auto c = RawClient::Connect(server->port());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" +
                      std::string(2000, 'a')));
  auto r = c->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->Header("connection"), "close");
  EXPECT_TRUE(c->WaitClosed());
  EXPECT_EQ(calls.load(), 0);

  // Exactly at the limit is fine.
  auto c2 = RawClient::Connect(server->port());
  ASSERT_TRUE(c2);
  ASSERT_TRUE(c2->Send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n\r\n" +
                       std::string(1024, 'b')));
  r = c2->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(server->stats().responses_4xx, 1u);
}

TEST(HttpServerTest, OversizedChunkedBodyGets413) {
  HttpServerOptions o = SmallOptions();
  o.max_body_bytes = 1024;
  auto server = MustStart(o, Echo);
  ASSERT_TRUE(server);
  auto c = RawClient::Connect(server->port());
  ASSERT_TRUE(c);
  std::string req = "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 8; ++i) req += "200\r\n" + std::string(512, 'c') + "\r\n";
  req += "0\r\n\r\n";
  ASSERT_TRUE(c->Send(req));
  auto r = c->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->Header("connection"), "close");
  EXPECT_TRUE(c->WaitClosed());
}

TEST(HttpServerTest, OversizedHeadersGet431) {
  HttpServerOptions o = SmallOptions();
  o.max_header_bytes = 1024;
  auto server = MustStart(o, Echo);
  ASSERT_TRUE(server);
  auto c = RawClient::Connect(server->port());
  ASSERT_TRUE(c);
  ASSERT_TRUE(
      c->Send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4000, 'h') + "\r\n\r\n"));
  auto r = c->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_EQ(r->Header("connection"), "close");
  EXPECT_TRUE(c->WaitClosed());

  // Headers that never end are cut off at the limit too.
  auto c2 = RawClient::Connect(server->port());
  ASSERT_TRUE(c2);
  ASSERT_TRUE(c2->Send("GET / HTTP/1.1\r\n"));
  for (int i = 0; i < 100; ++i) {
    if (!c2->Send("X-H" + std::to_string(i) + ": vvvvvvvvvvvvvvvvvvvv\r\n")) break;
  }
  r = c2->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
}

TEST(HttpServerTest, GarbageGets400AndClose) {
  auto server = MustStart(SmallOptions(), Echo);
  ASSERT_TRUE(server);
  for (std::string garbage :
       {std::string("\x01\x02\x03 nonsense\r\n\r\n"), std::string("GET / HTTP/9.9x\r\n\r\n"),
        std::string("GET / HTTP/1.1\r\nBad Header\r\n\r\n"),
        std::string("POST / HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n"),
        std::string("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        // Ambiguous framing (request smuggling).
        std::string("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
        std::string("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nabc"),
        std::string("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n")}) {
    auto c = RawClient::Connect(server->port());
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->Send(garbage));
    auto r = c->Read();
    ASSERT_TRUE(r) << garbage;
    EXPECT_EQ(r->status, 400) << garbage;
    EXPECT_EQ(r->Header("connection"), "close");
    EXPECT_TRUE(c->WaitClosed()) << garbage;
  }
  // Still serving.
  auto c = RawClient::Connect(server->port());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = c->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(HttpServerTest, MutatedRequestsNeverBreakTheServer) {
  HttpServerOptions o = SmallOptions();
  o.max_body_bytes = 4096;
  o.max_header_bytes = 2048;
  auto server = MustStart(o, Echo, [](const HttpRequest& req) { return req.method == "GET"; });
  ASSERT_TRUE(server);
  const std::string base =
      "POST /Patient?name=x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
      "Expect: 100-continue\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
      "GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
  const char kAlphabet[] = "\r\n :;,0123456789abcdefxGET/HTTP\t\x00\xff";
  std::mt19937 rng(1234);
  for (int i = 0; i < 300; ++i) {
    std::string req = base;
    int mutations = 1 + static_cast<int>(rng() % 6);
    for (int m = 0; m < mutations; ++m) {
      size_t pos = rng() % req.size();
      switch (rng() % 4) {
        case 0:
          req[pos] = kAlphabet[rng() % (sizeof kAlphabet - 1)];
          break;
        case 1:
          req.insert(pos, 1, kAlphabet[rng() % (sizeof kAlphabet - 1)]);
          break;
        case 2:
          req.erase(pos, 1 + rng() % 8);
          break;
        case 3:
          req.insert(pos, std::string(rng() % 3000, 'z'));
          break;
      }
      if (req.empty()) req = "x";
    }
    auto c = RawClient::Connect(server->port());
    ASSERT_TRUE(c);
    c->Send(req);
    shutdown(c->fd(), SHUT_WR);  // EOF, so a truncated request ends at once
    EXPECT_TRUE(c->WaitClosed()) << i;
    // Whatever came back is a sequence of well-formed responses.
    const std::string& got = c->pending();
    if (!got.empty() && got.rfind("HTTP/1.1 ", 0) != 0) ADD_FAILURE() << i << ": " << got;
  }
  auto c = RawClient::Connect(server->port());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Send("GET /alive HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = c->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(Eventually([&] { return server->stats().active_connections == 1; }));
}

TEST(HttpServerTest, SlowlorisIsDropped) {
  HttpServerOptions o = SmallOptions();
  o.read_timeout = 300ms;
  auto server = MustStart(o, Echo);
  ASSERT_TRUE(server);
  auto c = RawClient::Connect(server->port());
  ASSERT_TRUE(c);
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(c->Send("GET / HTTP/1.1\r\nHost: x\r\n"));
  // Keep trickling bytes: the deadline is for the whole request.
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(100ms);
    c->Send("X: y\r\n");
  }
  ASSERT_TRUE(c->WaitClosed(3000ms));
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, 300ms);
  EXPECT_LT(elapsed, 2000ms);
  EXPECT_EQ(c->pending().rfind("HTTP/1.1 408 ", 0), 0u) << c->pending();
  EXPECT_TRUE(Eventually([&] { return server->stats().timeouts == 1; }));

  // Slow body too.
  auto c2 = RawClient::Connect(server->port());
  ASSERT_TRUE(c2);
  ASSERT_TRUE(c2->Send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"));
  ASSERT_TRUE(c2->WaitClosed(3000ms));
}

TEST(HttpServerTest, IdleKeepAliveConnectionIsClosed) {
  HttpServerOptions o = SmallOptions();
  o.idle_timeout = 300ms;
  auto server = MustStart(o, Echo);
  ASSERT_TRUE(server);
  auto c = RawClient::Connect(server->port());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(c->Read());
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(c->WaitClosed(3000ms));
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, 250ms);
  EXPECT_TRUE(c->pending().empty());
  EXPECT_TRUE(Eventually([&] { return server->stats().active_connections == 0; }));
  EXPECT_EQ(server->stats().timeouts, 1u);
}

TEST(HttpServerTest, MaxConnectionsRejectsExtraAndRecovers) {
  HttpServerOptions o = SmallOptions();
  o.max_connections = 2;
  auto server = MustStart(o, Echo);
  ASSERT_TRUE(server);
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(RawClient::Connect(server->port()));
    ASSERT_TRUE(held.back());
    ASSERT_TRUE(held.back()->Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    ASSERT_TRUE(held.back()->Read());
  }
  auto extra = RawClient::Connect(server->port());
  ASSERT_TRUE(extra);
  auto r = extra->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->Header("connection"), "close");
  EXPECT_TRUE(extra->WaitClosed());
  EXPECT_EQ(server->stats().rejected_connections, 1u);
  EXPECT_EQ(server->stats().active_connections, 2u);

  held.clear();
  ASSERT_TRUE(Eventually([&] { return server->stats().active_connections == 0; }));
  auto again = RawClient::Connect(server->port());
  ASSERT_TRUE(again);
  ASSERT_TRUE(again->Send("GET /again HTTP/1.1\r\nHost: x\r\n\r\n"));
  r = again->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(HttpServerTest, HandlerExceptionBecomes500) {
  auto server = MustStart(
      SmallOptions(),
      [](const HttpRequest& req) -> HttpResponse {
        if (req.Path() == "/throw") throw std::runtime_error("boom with secrets");
        if (req.Path() == "/throw-int") throw 42;
        return Echo(req);
      },
      [](const HttpRequest& req) { return req.Query() == "inline"; });
  ASSERT_TRUE(server);
  auto c = RawClient::Connect(server->port());
  ASSERT_TRUE(c);
  for (std::string target : {"/throw", "/throw?inline", "/throw-int"}) {
    ASSERT_TRUE(c->Send("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto r = c->Read();
    ASSERT_TRUE(r) << target;
    EXPECT_EQ(r->status, 500);
    EXPECT_EQ(r->body, "Internal Server Error\n");
    EXPECT_EQ(r->Header("connection"), "");
  }
  ASSERT_TRUE(c->Send("GET /fine HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = c->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto stats = server->stats();
  EXPECT_EQ(stats.responses_5xx, 3u);
  EXPECT_EQ(stats.handler_exceptions, 3u);
}

TEST(HttpServerTest, StopFinishesRunningRequest) {
  std::atomic<bool> started{false};
  auto server = MustStart(SmallOptions(), [&](const HttpRequest& req) {
    started = true;
    std::this_thread::sleep_for(400ms);
    return Echo(req);
  });
  ASSERT_TRUE(server);
  auto busy = RawClient::Connect(server->port());
  auto idle = RawClient::Connect(server->port());
  ASSERT_TRUE(busy && idle);
  ASSERT_TRUE(busy->Send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(Eventually([&] { return started.load(); }));
  ASSERT_TRUE(Eventually([&] { return server->stats().active_connections == 2; }));

  auto start = std::chrono::steady_clock::now();
  std::thread stopper([&] { server->Stop(); });
  auto r = busy->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "GET /slow x= body=");
  EXPECT_EQ(r->Header("connection"), "close");
  EXPECT_TRUE(busy->WaitClosed());
  EXPECT_TRUE(idle->WaitClosed());
  stopper.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  server->Stop();  // idempotent
  EXPECT_EQ(RawClient::Connect(server->port()), nullptr);
}

TEST(HttpServerTest, StartOnBusyPortFails) {
  auto first = MustStart(SmallOptions(), Echo);
  ASSERT_TRUE(first);
  HttpServerOptions o = SmallOptions();
  o.port = first->port();
  auto second = HttpServer::Start(o, Echo, nullptr);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("bind"), std::string::npos)
      << second.status().ToString();
}

TEST(HttpServerTest, BadOptionsFail) {
  HttpServerOptions o = SmallOptions();
  o.io_threads = 0;
  EXPECT_EQ(HttpServer::Start(o, Echo, nullptr).status().code(), StatusCode::kIncorrect);
  EXPECT_EQ(HttpServer::Start(SmallOptions(), nullptr, nullptr).status().code(),
            StatusCode::kIncorrect);
}

TEST(HttpServerTest, Expect100Continue) {
  auto server = MustStart(SmallOptions(), Echo);
  ASSERT_TRUE(server);
  auto c = RawClient::Connect(server->port());
  ASSERT_TRUE(c);
  ASSERT_TRUE(
      c->Send("PUT /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
              "Content-Length: 5\r\n\r\n"));
  auto interim = c->Read(2000ms, /*head=*/true);
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c->Send("12345"));
  auto r = c->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "PUT /e x= body=12345");

  // Refused before the body is sent.
  HttpServerOptions o = SmallOptions();
  o.max_body_bytes = 10;
  auto small = MustStart(o, Echo);
  auto c2 = RawClient::Connect(small->port());
  ASSERT_TRUE(c2);
  ASSERT_TRUE(
      c2->Send("PUT /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
               "Content-Length: 500\r\n\r\n"));
  r = c2->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
}

TEST(HttpServerTest, HeadOmitsBody) {
  auto server = MustStart(SmallOptions(), Echo);
  ASSERT_TRUE(server);
  auto c = RawClient::Connect(server->port());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Send("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = c->Read(5000ms, /*head=*/true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("content-length"), std::to_string(std::string("HEAD /h x= body=").size()));
  // The next response starts right away: no body bytes were sent.
  ASSERT_TRUE(c->Send("GET /g HTTP/1.1\r\nHost: x\r\n\r\n"));
  r = c->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "GET /g x= body=");
}

TEST(HttpServerTest, Http10ClosesUnlessKeepAlive) {
  auto server = MustStart(SmallOptions(), Echo);
  ASSERT_TRUE(server);
  auto c = RawClient::Connect(server->port());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  auto r = c->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->Header("connection"), "keep-alive");
  ASSERT_TRUE(c->Send("GET /b HTTP/1.0\r\n\r\n"));
  r = c->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "GET /b x= body=");
  EXPECT_EQ(r->Header("connection"), "close");
  EXPECT_TRUE(c->WaitClosed());
}

TEST(HttpServerTest, HandlerCanCloseAndHeadersAreSanitised) {
  auto server = MustStart(SmallOptions(), [](const HttpRequest&) {
    HttpResponse r;
    r.SetHeader("Connection", "close");
    r.SetHeader("X-Evil", "a\r\nSet-Cookie: b");
    r.SetHeader("Content-Length", "999");
    r.body = "bye";
    return r;
  });
  ASSERT_TRUE(server);
  auto c = RawClient::Connect(server->port());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = c->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "bye");
  EXPECT_EQ(r->Header("content-length"), "3");
  EXPECT_EQ(r->Header("x-evil"), "");
  EXPECT_EQ(r->Header("set-cookie"), "");
  EXPECT_EQ(r->Header("connection"), "close");
  EXPECT_TRUE(c->WaitClosed());
}

}  // namespace
}  // namespace lhcr::api
