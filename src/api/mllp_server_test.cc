#include "api/mllp_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace lhcr::api {
namespace {

using namespace std::chrono_literals;
using Frame = MllpDeframer::Frame;
using Kind = MllpDeframer::Frame::Kind;

// A small ADT^A01 with control id `id`.
std::string Adt(const std::string& id) {
  return "MSH|^~\\&|PAS|RXH|LHCR|REGION|20240101120000||ADT^A01^ADT_A01|" + id +
         "|P|2.4\rEVN|A01|20240101120000\rPID|1||9434765919^^^NHS^NH||SMITH^JANE||19700101|F\r"
         "PV1|1|I|WARD1\r";
}

// MSH-10 of an HL7 message (test helper; the real parser is src/hl7v2).
std::string ControlId(std::string_view message) {
  std::string_view msh = message.substr(0, message.find('\r'));
  for (int i = 0; i < 9; ++i) {
    size_t p = msh.find('|');
    if (p == std::string_view::npos) return "";
    msh.remove_prefix(p + 1);
  }
  return std::string(msh.substr(0, msh.find('|')));
}

// The MSA-1 and MSA-2 of an ACK, "AA|id".
std::string Msa(std::string_view ack) {
  size_t p = ack.find("\rMSA|");
  if (p == std::string_view::npos) return "";
  std::string_view msa = ack.substr(p + 5);
  msa = msa.substr(0, msa.find('\r'));
  size_t second = msa.find('|');
  if (second == std::string_view::npos) return std::string(msa);
  size_t third = msa.find('|', second + 1);
  return std::string(msa.substr(0, third));
}

std::string TestAck(std::string_view message) {
  return "MSH|^~\\&|LHCR|REGION|PAS|RXH|20240101120000||ACK^A01^ACK|ACK" + ControlId(message) +
         "|P|2.4\rMSA|AA|" + ControlId(message) + "\r";
}

// A blocking MLLP client with timeouts, so a broken server fails a test
// instead of hanging it.
class MllpClient {
 public:
  static std::unique_ptr<MllpClient> Connect(uint16_t port) {
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
    return std::unique_ptr<MllpClient>(new MllpClient(fd));
  }
  ~MllpClient() { close(fd_); }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  bool SendMessage(std::string_view message) { return Send(MllpFrame(message)); }

  // The next framed reply; nullopt on EOF, reset or timeout.
  std::optional<std::string> ReadAck(std::chrono::milliseconds timeout = 5000ms) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (auto f = deframer_.Next()) {
        if (f->kind != Kind::kMessage) return std::nullopt;
        return std::move(f->message);
      }
      if (FillOnce(deadline) <= 0) return std::nullopt;
    }
  }

  // True if the server closes the connection (EOF or reset) within timeout.
  bool WaitClosed(std::chrono::milliseconds timeout = 5000ms) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int r = FillOnce(deadline);
      if (r == 0) return true;
      if (r < 0) return false;
    }
  }

  int fd() const { return fd_; }

 private:
  explicit MllpClient(int fd) : fd_(fd) {}

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
    deframer_.Feed(std::string_view(tmp, static_cast<size_t>(n)));
    return 1;
  }

  int fd_;
  MllpDeframer deframer_;
};

MllpServerOptions SmallOptions() {
  MllpServerOptions o;
  o.io_threads = 2;
  o.worker_threads = 4;
  return o;
}

std::unique_ptr<MllpServer> StartServer(const MllpServerOptions& options,
                                        MllpServer::Handler handler = nullptr,
                                        MllpServer::ErrorHandler on_error = nullptr) {
  if (!handler) {
    handler = [](std::string_view m, const MllpPeer&) { return TestAck(m); };
  }
  auto server = MllpServer::Start(options, std::move(handler), std::move(on_error));
  EXPECT_TRUE(server.ok()) << server.status().message();
  return server.ok() ? std::move(server).value() : nullptr;
}

// Polls `pred` for up to `limit`.
template <typename Pred>
bool Eventually(Pred pred, std::chrono::milliseconds limit = 5000ms) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

// --- framing helpers --------------------------------------------------------

TEST(MllpFrameTest, FrameWrapsMessage) {
  EXPECT_EQ(MllpFrame("MSH|x\r"), std::string("\x0bMSH|x\r\x1c\r"));
  EXPECT_EQ(MllpFrame(""), std::string("\x0b\x1c\r"));
}

TEST(MllpDeframerTest, SameFramesWhateverTheSplit) {
  const std::string stream = "junk" + MllpFrame(Adt("1")) + "\n" + MllpFrame("") +
                             std::string("\x0bMSH|cut") + MllpFrame(Adt("2")) +
                             std::string("\x0bno-cr\x1c") + MllpFrame(Adt("3"));
  const std::vector<Frame> expected = {{Kind::kMessage, Adt("1")},      {Kind::kMessage, ""},
                                       {Kind::kInterrupted, "MSH|cut"}, {Kind::kMessage, Adt("2")},
                                       {Kind::kMessage, "no-cr"},       {Kind::kMessage, Adt("3")}};
  for (size_t split = 0; split <= stream.size(); ++split) {
    MllpDeframer d;
    d.Feed(std::string_view(stream).substr(0, split));
    d.Feed(std::string_view(stream).substr(split));
    std::vector<Frame> got;
    while (auto f = d.Next()) got.push_back(*f);
    ASSERT_EQ(got, expected) << "split at " << split;
    EXPECT_EQ(d.skipped_bytes(), 5u);  // "junk" and the "\n"
    EXPECT_EQ(d.missing_cr(), 1u);
    EXPECT_FALSE(d.in_message());
  }
  // Byte by byte.
  MllpDeframer d;
  for (char c : stream) d.Feed(std::string_view(&c, 1));
  std::vector<Frame> got;
  while (auto f = d.Next()) got.push_back(*f);
  EXPECT_EQ(got, expected);
}

TEST(MllpDeframerTest, OversizedIsCutAndStreamResynchronises) {
  MllpDeframer d(100);
  std::string big = "MSH|^~\\&|A|B|C|D|||ADT^A01|BIG|P|2.4\r" + std::string(5000, 'x');
  d.Feed(std::string("\x0b") + big.substr(0, 2000));
  auto f = d.Next();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->kind, Kind::kOversized);
  EXPECT_EQ(f->message, big.substr(0, 100));  // min(max, 1 KiB), for the MSH
  EXPECT_TRUE(d.in_message());
  EXPECT_EQ(d.partial_message(), "");
  d.Feed(big.substr(2000) + "\x1c\r" + MllpFrame("ok"));
  f = d.Next();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(*f, (Frame{Kind::kMessage, "ok"}));
  EXPECT_FALSE(d.Next().has_value());
  // The prefix does not depend on where reads split the stream.
  MllpDeframer g(2000);
  std::string huge = "\x0b" + big;
  for (size_t i = 0; i < huge.size(); i += 333) g.Feed(huge.substr(i, 333));
  f = g.Next();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(*f, (Frame{Kind::kOversized, big.substr(0, 1024)}));
  // Exactly max bytes is fine.
  MllpDeframer e(3);
  e.Feed(MllpFrame("abc"));
  EXPECT_EQ(e.Next(), (Frame{Kind::kMessage, "abc"}));
}

TEST(MllpMinimalAckTest, SwapsPartiesAndEchoesControlId) {
  std::string ack = MllpMinimalAck(Adt("CTRL42"), "AR", "too big");
  EXPECT_EQ(ack.rfind("MSH|^~\\&|LHCR|REGION|PAS|RXH|", 0), 0u) << ack;
  EXPECT_NE(ack.find("||ACK^A01^ACK|"), std::string::npos) << ack;
  EXPECT_NE(ack.find("|P|2.4\rMSA|AR|CTRL42|too big\rERR|||207^Application internal "
                     "error^HL70357|E||||too big\r"),
            std::string::npos)
      << ack;
  // AA has no ERR; garbage gets empty fields; separators cannot be injected.
  EXPECT_EQ(MllpMinimalAck(Adt("1"), "AA", "").find("ERR"), std::string::npos);
  std::string junk = MllpMinimalAck("\x01\x02garbage", "AR", "bad|text\r");
  EXPECT_NE(junk.find("\rMSA|AR||badtext\r"), std::string::npos) << junk;
  std::string other_separators =
      MllpMinimalAck("MSH#*~\\&#A#B#C#D#T##ADT*A04#ID|1^2#P#2.5\r", "AE", "x");
  EXPECT_NE(other_separators.find("|ACK^A04^ACK|"), std::string::npos) << other_separators;
  EXPECT_NE(other_separators.find("\rMSA|AE|ID12|x\r"), std::string::npos) << other_separators;
}

// --- the server over loopback -----------------------------------------------

TEST(MllpServerTest, OneMessageGetsItsAck) {
  std::mutex mu;
  MllpPeer seen;
  auto server = StartServer(SmallOptions(), [&](std::string_view m, const MllpPeer& peer) {
    std::lock_guard lock(mu);
    seen = peer;
    return TestAck(m);
  });
  ASSERT_TRUE(server);
  auto c = MllpClient::Connect(server->port());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->SendMessage(Adt("MSG00001")));
  auto ack = c->ReadAck();
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(*ack, TestAck(Adt("MSG00001")));
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(seen.connection_id, 1u);
    EXPECT_EQ(seen.remote.rfind("127.0.0.1:", 0), 0u) << seen.remote;
  }
  auto s = server->stats();
  EXPECT_EQ(s.messages_received, 1u);
  EXPECT_TRUE(Eventually([&] { return server->stats().acks_sent == 1u; }));
  EXPECT_EQ(s.naks_sent, 0u);
  EXPECT_EQ(s.connections_accepted, 1u);
  EXPECT_EQ(s.active_connections, 1u);
}

TEST(MllpServerTest, PipelinedMessagesAreAckedInOrder) {
  auto server = StartServer(SmallOptions());
  ASSERT_TRUE(server);
  auto c = MllpClient::Connect(server->port());
  ASSERT_TRUE(c);
  std::string all;
  for (int i = 0; i < 500; ++i) all += MllpFrame(Adt("P" + std::to_string(i)));
  ASSERT_TRUE(c->Send(all));
  for (int i = 0; i < 500; ++i) {
    auto ack = c->ReadAck();
    ASSERT_TRUE(ack.has_value()) << i;
    ASSERT_EQ(Msa(*ack), "AA|P" + std::to_string(i));
  }
  EXPECT_TRUE(Eventually([&] { return server->stats().acks_sent == 500u; }));
}

TEST(MllpServerTest, MessageSplitAcrossManyWrites) {
  auto server = StartServer(SmallOptions());
  ASSERT_TRUE(server);
  auto c = MllpClient::Connect(server->port());
  ASSERT_TRUE(c);
  std::string frame = MllpFrame(Adt("SPLIT"));
  for (size_t i = 0; i < frame.size(); i += 7) {
    ASSERT_TRUE(c->Send(std::string_view(frame).substr(i, 7)));
    std::this_thread::sleep_for(1ms);
  }
  auto ack = c->ReadAck();
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(Msa(*ack), "AA|SPLIT");
}

// 8 senders x 200 messages, one at a time and pipelined; the handler checks
// that each connection's messages reach it in order.
void RunConcurrent(bool pipelined) {
  std::mutex mu;
  std::map<uint64_t, int> last_seen;  // connection id -> last message number
  std::atomic<int> out_of_order{0};
  auto server = StartServer(SmallOptions(), [&](std::string_view m, const MllpPeer& peer) {
    std::string id = ControlId(m);
    int n = std::stoi(id.substr(id.find('-') + 1));
    {
      std::lock_guard lock(mu);
      auto [it, inserted] = last_seen.emplace(peer.connection_id, -1);
      if (n != it->second + 1) out_of_order.fetch_add(1);
      it->second = n;
    }
    return TestAck(m);
  });
  ASSERT_TRUE(server);
  constexpr int kSenders = 8;
  constexpr int kMessages = 200;
  std::vector<std::future<std::string>> results;
  for (int t = 0; t < kSenders; ++t) {
    results.push_back(std::async(std::launch::async, [&, t]() -> std::string {
      auto c = MllpClient::Connect(server->port());
      if (!c) return "connect failed";
      auto id = [t](int i) { return "S" + std::to_string(t) + "-" + std::to_string(i); };
      if (pipelined) {
        std::string all;
        for (int i = 0; i < kMessages; ++i) all += MllpFrame(Adt(id(i)));
        if (!c->Send(all)) return "send failed";
      }
      for (int i = 0; i < kMessages; ++i) {
        if (!pipelined && !c->SendMessage(Adt(id(i)))) return "send failed";
        auto ack = c->ReadAck();
        if (!ack) return "no ack for " + id(i);
        if (Msa(*ack) != "AA|" + id(i)) return "wrong ack for " + id(i) + ": " + Msa(*ack);
      }
      return "";
    }));
  }
  for (auto& r : results) EXPECT_EQ(r.get(), "");
  EXPECT_EQ(out_of_order.load(), 0);
  auto s = server->stats();
  EXPECT_EQ(s.messages_received, uint64_t{kSenders * kMessages});
  // Counted once written, which may be just after the sender read it.
  EXPECT_TRUE(
      Eventually([&] { return server->stats().acks_sent == uint64_t{kSenders * kMessages}; }));
  EXPECT_EQ(s.connections_accepted, uint64_t{kSenders});
}

TEST(MllpServerTest, EightConnectionsTwoHundredMessagesEachInOrder) { RunConcurrent(false); }

TEST(MllpServerTest, EightPipelinedConnectionsInOrder) { RunConcurrent(true); }

TEST(MllpServerTest, GarbageBeforeStartBlockIsSkippedAndCounted) {
  auto server = StartServer(SmallOptions());
  ASSERT_TRUE(server);
  auto c = MllpClient::Connect(server->port());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Send("hello\r\n" + MllpFrame(Adt("G1")) + "\n\n" + MllpFrame(Adt("G2"))));
  auto a1 = c->ReadAck();
  auto a2 = c->ReadAck();
  ASSERT_TRUE(a1 && a2);
  EXPECT_EQ(Msa(*a1), "AA|G1");
  EXPECT_EQ(Msa(*a2), "AA|G2");
  EXPECT_EQ(server->stats().skipped_bytes, 9u);
}

TEST(MllpServerTest, OversizedFrameGetsArAndClose) {
  auto options = SmallOptions();
  options.max_message_bytes = 1024;
  std::atomic<int> calls{0};
  auto server = StartServer(options, [&](std::string_view m, const MllpPeer&) {
    calls.fetch_add(1);
    return TestAck(m);
  });
  ASSERT_TRUE(server);
  auto c = MllpClient::Connect(server->port());
  ASSERT_TRUE(c);
  // The NAK must come without the server reading the whole (endless) frame.
  ASSERT_TRUE(c->Send("\x0b" + Adt("BIG1") + std::string(4000, 'x')));
  auto nak = c->ReadAck();
  ASSERT_TRUE(nak.has_value());
  EXPECT_EQ(Msa(*nak), "AR|BIG1");
  EXPECT_NE(nak->find("\rERR|||207^"), std::string::npos) << *nak;
  EXPECT_TRUE(c->WaitClosed());
  EXPECT_EQ(calls.load(), 0);
  auto s = server->stats();
  EXPECT_EQ(s.framing_errors, 1u);
  EXPECT_EQ(s.naks_sent, 1u);
  EXPECT_EQ(s.messages_received, 0u);
  // The server is fine.
  auto d = MllpClient::Connect(server->port());
  ASSERT_TRUE(d && d->SendMessage(Adt("AFTER")));
  auto ack = d->ReadAck();
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(Msa(*ack), "AA|AFTER");
}

TEST(MllpServerTest, CustomErrorHandlerMakesTheNak) {
  auto options = SmallOptions();
  options.max_message_bytes = 64;
  std::atomic<int> errors{0};
  auto server = StartServer(options, nullptr,
                            [&](MllpError error, std::string_view, const MllpPeer&) -> std::string {
                              errors.fetch_add(1);
                              if (error == MllpError::kInterrupted)
                                return "bad\x1c";  // falls back to the minimal ACK
                              return "MSH|^~\\&|X\rMSA|AR|custom\r";
                            });
  ASSERT_TRUE(server);
  auto c = MllpClient::Connect(server->port());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Send("\x0bMSH|^~\\&|A|B|C|D|||ADT^A01|CUT|P|2.4" + MllpFrame("ok")));
  auto nak = c->ReadAck();
  ASSERT_TRUE(nak.has_value());
  EXPECT_EQ(Msa(*nak), "AR|CUT");
  ASSERT_TRUE(c->SendMessage(std::string(100, 'y')));
  auto ack_ok = c->ReadAck();  // the "ok" message, handled by TestAck
  ASSERT_TRUE(ack_ok.has_value());
  EXPECT_EQ(Msa(*ack_ok), "AA|");
  auto big = c->ReadAck();
  ASSERT_TRUE(big.has_value());
  EXPECT_EQ(*big, "MSH|^~\\&|X\rMSA|AR|custom\r");
  EXPECT_TRUE(c->WaitClosed());
  EXPECT_EQ(errors.load(), 2);
}

TEST(MllpServerTest, HandlerFailureGetsAeAndConnectionKeepsWorking) {
  auto server = StartServer(SmallOptions(), [](std::string_view m, const MllpPeer&) {
    std::string id = ControlId(m);
    if (id == "BOOM") throw std::runtime_error("database on fire");
    if (id == "FRAMEBREAK") return std::string("MSA|AA|\x1c\r");
    if (id == "EMPTY") return std::string();
    return TestAck(m);
  });
  ASSERT_TRUE(server);
  auto c = MllpClient::Connect(server->port());
  ASSERT_TRUE(c);
  for (std::string id : {"BOOM", "OK1", "FRAMEBREAK", "EMPTY", "OK2"}) {
    ASSERT_TRUE(c->SendMessage(Adt(id)));
    auto ack = c->ReadAck();
    ASSERT_TRUE(ack.has_value()) << id;
    bool ok = id.rfind("OK", 0) == 0;
    EXPECT_EQ(Msa(*ack), (ok ? "AA|" : "AE|") + id);
    if (!ok) EXPECT_NE(ack->find("\rERR|||207^"), std::string::npos) << *ack;
  }
  auto s = server->stats();
  EXPECT_EQ(s.handler_failures, 3u);
  EXPECT_EQ(s.naks_sent, 3u);
  EXPECT_TRUE(Eventually([&] { return server->stats().acks_sent == 5u; }));
  EXPECT_EQ(s.active_connections, 1u);
}

TEST(MllpServerTest, StartBlockInsideMessageNaksTheCutFrame) {
  auto server = StartServer(SmallOptions());
  ASSERT_TRUE(server);
  auto c = MllpClient::Connect(server->port());
  ASSERT_TRUE(c);
  std::string cut = Adt("CUT");
  cut.resize(cut.size() / 2);
  ASSERT_TRUE(c->Send("\x0b" + cut + MllpFrame(Adt("WHOLE"))));
  auto a1 = c->ReadAck();
  auto a2 = c->ReadAck();
  ASSERT_TRUE(a1 && a2);
  EXPECT_EQ(Msa(*a1), "AR|CUT");
  EXPECT_EQ(Msa(*a2), "AA|WHOLE");
  // FS without CR still ends a message.
  ASSERT_TRUE(c->Send("\x0b" + Adt("NOCR") + "\x1c"));
  auto a3 = c->ReadAck();
  ASSERT_TRUE(a3.has_value());
  EXPECT_EQ(Msa(*a3), "AA|NOCR");
  EXPECT_EQ(server->stats().framing_errors, 1u);
}

TEST(MllpServerTest, SlowSenderIsDroppedAfterReadTimeout) {
  auto options = SmallOptions();
  options.read_timeout = 300ms;
  auto server = StartServer(options);
  ASSERT_TRUE(server);
  auto c = MllpClient::Connect(server->port());
  ASSERT_TRUE(c);
  auto start = std::chrono::steady_clock::now();
  std::string frame = MllpFrame(Adt("SLOW"));
  // A byte every 50 ms never completes the message in time.
  for (size_t i = 0; i < 10; ++i) {
    c->Send(frame.substr(i, 1));
    std::this_thread::sleep_for(50ms);
  }
  auto nak = c->ReadAck(3000ms);
  ASSERT_TRUE(nak.has_value());
  EXPECT_EQ(Msa(*nak), "AR|");  // MSH-10 not received yet
  EXPECT_TRUE(c->WaitClosed(3000ms));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2000ms);
  EXPECT_TRUE(Eventually([&] { return server->stats().timeouts == 1; }));
  EXPECT_TRUE(Eventually([&] { return server->stats().active_connections == 0; }));
}

TEST(MllpServerTest, IdleConnectionIsClosedAndGarbageDoesNotKeepItOpen) {
  auto options = SmallOptions();
  options.idle_timeout = 300ms;
  auto server = StartServer(options);
  ASSERT_TRUE(server);
  auto c = MllpClient::Connect(server->port());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->SendMessage(Adt("I1")));
  ASSERT_TRUE(c->ReadAck().has_value());
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(c->WaitClosed(3000ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 250ms);

  auto g = MllpClient::Connect(server->port());
  ASSERT_TRUE(g);
  start = std::chrono::steady_clock::now();
  bool closed = false;
  for (int i = 0; i < 40 && !closed; ++i) {
    closed = !g->Send("noise") || g->WaitClosed(50ms);
  }
  EXPECT_TRUE(closed);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
  EXPECT_TRUE(Eventually([&] { return server->stats().timeouts == 2; }));
}

TEST(MllpServerTest, ClientThatNeverReadsAcksIsDropped) {
  auto options = SmallOptions();
  options.read_timeout = 300ms;
  const std::string big_ack = "MSH|^~\\&|X\rMSA|AA|x\rNTE|" + std::string(8000, 'n') + "\r";
  auto server = StartServer(options, [&](std::string_view, const MllpPeer&) { return big_ack; });
  ASSERT_TRUE(server);
  auto c = MllpClient::Connect(server->port());
  ASSERT_TRUE(c && c->SendMessage(Adt("FIRST")));
  ASSERT_TRUE(c->ReadAck().has_value());
  int flags = fcntl(c->fd(), F_GETFL);
  fcntl(c->fd(), F_SETFL, flags | O_NONBLOCK);
  const std::string frame = MllpFrame(Adt("FLOOD"));
  auto deadline = std::chrono::steady_clock::now() + 10s;
  bool broken = false;
  // Keep sending, never read; the server must give up on its writes.
  while (!broken && std::chrono::steady_clock::now() < deadline) {
    ssize_t n = send(c->fd(), frame.data(), frame.size(), MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) broken = true;
    if (n < 0) std::this_thread::sleep_for(10ms);
    if (server->stats().active_connections == 0) broken = true;
  }
  EXPECT_TRUE(broken);
  EXPECT_TRUE(Eventually([&] { return server->stats().active_connections == 0; }));
  EXPECT_GE(server->stats().timeouts, 1u);
}

TEST(MllpServerTest, MaxConnectionsRejectsExtraAndRecovers) {
  auto options = SmallOptions();
  options.max_connections = 2;
  auto server = StartServer(options);
  ASSERT_TRUE(server);
  auto a = MllpClient::Connect(server->port());
  auto b = MllpClient::Connect(server->port());
  ASSERT_TRUE(a && b);
  for (auto* c : {a.get(), b.get()}) {
    ASSERT_TRUE(c->SendMessage(Adt("M")));
    ASSERT_TRUE(c->ReadAck().has_value());
  }
  auto extra = MllpClient::Connect(server->port());
  ASSERT_TRUE(extra);
  extra->SendMessage(Adt("X"));
  EXPECT_TRUE(extra->WaitClosed());
  EXPECT_EQ(server->stats().rejected_connections, 1u);
  a.reset();
  ASSERT_TRUE(Eventually([&] { return server->stats().active_connections == 1; }));
  auto again = MllpClient::Connect(server->port());
  ASSERT_TRUE(again && again->SendMessage(Adt("AGAIN")));
  auto ack = again->ReadAck();
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(Msa(*ack), "AA|AGAIN");
}

TEST(MllpServerTest, StopLetsARunningHandlerFinishAndAcks) {
  std::promise<void> entered;
  std::atomic<bool> release{false};
  auto server = StartServer(SmallOptions(), [&](std::string_view m, const MllpPeer&) {
    entered.set_value();
    for (int i = 0; i < 500 && !release.load(); ++i) std::this_thread::sleep_for(2ms);
    return TestAck(m);
  });
  ASSERT_TRUE(server);
  auto idle = MllpClient::Connect(server->port());
  auto c = MllpClient::Connect(server->port());
  ASSERT_TRUE(idle && c);
  ASSERT_TRUE(c->SendMessage(Adt("LAST")));
  entered.get_future().wait();
  auto stopped = std::async(std::launch::async, [&] { server->Stop(); });
  EXPECT_TRUE(idle->WaitClosed(2000ms));  // idle connections close at once
  release.store(true);
  auto ack = c->ReadAck();
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(Msa(*ack), "AA|LAST");
  EXPECT_TRUE(c->WaitClosed());
  EXPECT_EQ(stopped.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(server->stats().active_connections, 0u);
  server->Stop();  // idempotent
}

TEST(MllpServerTest, StopGraceBoundsAStuckHandler) {
  auto options = SmallOptions();
  options.stop_grace = 100ms;
  std::promise<void> entered;
  auto server = StartServer(options, [&](std::string_view m, const MllpPeer&) {
    entered.set_value();
    std::this_thread::sleep_for(600ms);
    return TestAck(m);
  });
  ASSERT_TRUE(server);
  auto c = MllpClient::Connect(server->port());
  ASSERT_TRUE(c && c->SendMessage(Adt("STUCK")));
  entered.get_future().wait();
  auto start = std::chrono::steady_clock::now();
  server->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3000ms);
  EXPECT_TRUE(c->WaitClosed(1000ms));
}

TEST(MllpServerTest, RandomHostileStreamsNeverBreakTheServer) {
  auto options = SmallOptions();
  options.max_message_bytes = 4096;
  options.read_timeout = 200ms;
  auto server = StartServer(options);
  ASSERT_TRUE(server);
  std::mt19937 rng(12345);
  const std::string pieces[] = {"\x0b",
                                "\x1c",
                                "\r",
                                "\x1c\r",
                                Adt("R"),
                                "MSH|",
                                "\n",
                                std::string(3000, 'z'),
                                std::string("\0\xff", 2)};
  for (int round = 0; round < 60; ++round) {
    auto c = MllpClient::Connect(server->port());
    ASSERT_TRUE(c);
    std::string stream;
    int n = static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) stream += pieces[rng() % std::size(pieces)];
    c->Send(stream);
    // Drain whatever comes back until the server goes quiet or closes.
    while (c->ReadAck(50ms).has_value()) {
    }
  }
  auto c = MllpClient::Connect(server->port());
  ASSERT_TRUE(c && c->SendMessage(Adt("STILL")));
  auto ack = c->ReadAck();
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(Msa(*ack), "AA|STILL");
}

TEST(MllpServerTest, StartFailsOnBadOptionsAndBusyPort) {
  auto null_handler = MllpServer::Start(SmallOptions(), nullptr);
  EXPECT_EQ(null_handler.status().code(), StatusCode::kIncorrect);
  auto bad = SmallOptions();
  bad.worker_threads = 0;
  EXPECT_EQ(
      MllpServer::Start(bad, [](std::string_view, const MllpPeer&) { return "x"; }).status().code(),
      StatusCode::kIncorrect);
  auto server = StartServer(SmallOptions());
  ASSERT_TRUE(server);
  auto busy = SmallOptions();
  busy.port = server->port();
  auto second = MllpServer::Start(busy, [](std::string_view, const MllpPeer&) { return "x"; });
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace lhcr::api
