// The real `lhcr` binary as a child process, for tests that need a whole
// process: crash safety (kill -9), failover, the MLLP feed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace lhcr::testing {

// The lhcr binary under test: $LHCR_BINARY, else the one this build made.
std::string LhcrBinary();

// The port number right after `prefix` at the start of `line`; 0 if absent.
uint16_t PortAfter(std::string_view line, std::string_view prefix);

// `lhcr ARGS...` with its stdout drained for its whole life (so it never
// blocks or dies writing) and kept. The destructor kills (SIGKILL) and reaps
// it if it still runs; it also dies with the test process
// (PR_SET_PDEATHSIG), so a failing test leaves nothing behind. One thread
// drives it; Output() may be called from any.
class LhcrProcess {
 public:
  // Starts `lhcr args...`; nullptr (and a reason in *error) if it cannot.
  // With `with_stderr`, its stderr goes to the same pipe as its stdout.
  static std::unique_ptr<LhcrProcess> Start(const std::vector<std::string>& args,
                                            std::string* error, bool with_stderr = false);
  // `lhcr serve ARGS --listen 127.0.0.1:0` until it prints its first line
  // ("lhcr serving http(s)://127.0.0.1:PORT/fhir ..."); nullptr and a reason
  // if it does not within 30 s. Security is off (--no-auth) unless ARGS name
  // a token issuer (--dev-issuer or --issuer): tests that are not about
  // security need no tokens.
  static std::unique_ptr<LhcrProcess> Serve(std::vector<std::string> args, std::string* error);
  ~LhcrProcess();

  // The `index`-th line it printed (0-based), waiting up to `timeout`; "" if
  // it has not printed that many lines.
  std::string Line(size_t index, std::chrono::milliseconds timeout);
  // For Serve: the HTTP port from its first line.
  uint16_t port() const { return port_; }

  void Signal(int sig);
  // kill -9 and reap. Idempotent.
  void Kill();
  // Waits for it to end; its wait status, or nullopt on timeout. Its last
  // output is read to the end before this returns.
  std::optional<int> WaitExit(std::chrono::milliseconds timeout);
  std::string Output();

 private:
  LhcrProcess(pid_t pid, int fd);

  pid_t pid_;
  int fd_;
  uint16_t port_ = 0;
  bool reaped_ = false;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string out_;   // guarded by mu_
  bool eof_ = false;  // guarded by mu_
};

}  // namespace lhcr::testing
