#include "testing/lhcr_process.h"

#include <algorithm>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace lhcr::testing {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string LhcrBinary() {
  const char* env = std::getenv("LHCR_BINARY");
  if (env != nullptr && *env != '\0') return env;
#ifdef LHCR_BINARY
  return LHCR_BINARY;
#else
  return "lhcr";
#endif
}

uint16_t PortAfter(std::string_view line, std::string_view prefix) {
  if (line.substr(0, prefix.size()) != prefix) return 0;
  long port = std::strtol(std::string(line.substr(prefix.size())).c_str(), nullptr, 10);
  return port > 0 && port < 65536 ? static_cast<uint16_t>(port) : 0;
}

std::unique_ptr<LhcrProcess> LhcrProcess::Start(const std::vector<std::string>& args,
                                                std::string* error, bool with_stderr) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    *error = std::string("pipe: ") + std::strerror(errno);
    return nullptr;
  }
  std::vector<std::string> all = {LhcrBinary()};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    *error = std::string("fork: ") + std::strerror(errno);
    close(fds[0]);
    close(fds[1]);
    return nullptr;
  }
  if (pid == 0) {
    // The child: only async-signal-safe calls until exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(fds[1], STDOUT_FILENO);
    if (with_stderr) dup2(fds[1], STDERR_FILENO);
    for (int fd = 3; fd < 4096; ++fd) close(fd);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  return std::unique_ptr<LhcrProcess>(new LhcrProcess(pid, fds[0]));
}

std::unique_ptr<LhcrProcess> LhcrProcess::Serve(std::vector<std::string> args, std::string* error) {
  bool issuer = std::find_if(args.begin(), args.end(), [](const std::string& a) {
                  return a == "--dev-issuer" || a == "--issuer";
                }) != args.end();
  args.insert(args.begin(), "serve");
  args.insert(args.end(), {"--listen", "127.0.0.1:0"});
  if (!issuer) args.push_back("--no-auth");
  auto p = Start(args, error);
  if (p == nullptr) return nullptr;
  std::string first = p->Line(0, 30s);
  p->port_ = PortAfter(first, first.rfind("lhcr serving https://", 0) == 0
                                  ? "lhcr serving https://127.0.0.1:"
                                  : "lhcr serving http://127.0.0.1:");
  if (p->port_ == 0) {
    *error = "lhcr did not start; its output: " + p->Output();
    return nullptr;  // the destructor kills it
  }
  return p;
}

LhcrProcess::LhcrProcess(pid_t pid, int fd) : pid_(pid), fd_(fd) {
  reader_ = std::thread([this] {
    char buf[4096];
    for (;;) {
      ssize_t n = read(fd_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      std::lock_guard<std::mutex> lock(mu_);
      if (n <= 0) {
        eof_ = true;
        cv_.notify_all();
        return;
      }
      out_.append(buf, static_cast<size_t>(n));
      cv_.notify_all();
    }
  });
}

LhcrProcess::~LhcrProcess() {
  Kill();
  reader_.join();
  close(fd_);
}

std::string LhcrProcess::Line(size_t index, std::chrono::milliseconds timeout) {
  auto nth = [&](std::string* line) {
    size_t begin = 0;
    for (size_t i = 0;; ++i) {
      size_t nl = out_.find('\n', begin);
      if (nl == std::string::npos) return false;
      if (i == index) {
        *line = out_.substr(begin, nl - begin);
        return true;
      }
      begin = nl + 1;
    }
  };
  std::string line;
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return eof_ || nth(&line); });
  nth(&line);
  return line;
}

void LhcrProcess::Signal(int sig) {
  if (!reaped_) kill(pid_, sig);
}

void LhcrProcess::Kill() {
  if (reaped_) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  reaped_ = true;
}

std::optional<int> LhcrProcess::WaitExit(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_until(lock, deadline + 5s, [&] { return eof_; });
      return status;
    }
    if (Clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(10ms);
  }
}

std::string LhcrProcess::Output() {
  std::lock_guard<std::mutex> lock(mu_);
  return out_;
}

}  // namespace lhcr::testing
