#include "bench_postgres.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace lhcr::bench {
namespace {

namespace fs = std::filesystem;

// The newest /usr/lib/postgresql/<version>/bin/postgres (as PostgresServer).
std::string FindPostgres() {
  std::error_code ec;
  int best = -1;
  std::string out;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const fs::path bin = e.path() / "bin" / "postgres";
    if (access(bin.c_str(), X_OK) != 0) continue;
    const int version = std::atoi(e.path().filename().c_str());
    if (version > best) {
      best = version;
      out = bin.string();
    }
  }
  return out;
}

// utime + stime (+ cutime + cstime with `children`) of a pid in clock ticks,
// and its parent pid; false if it is gone.
bool ProcTimes(pid_t pid, bool children, int64_t* ticks, pid_t* ppid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  if (!std::getline(in, s)) return false;
  const size_t close = s.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(s.substr(close + 2));
  std::vector<std::string> f;  // f[0] is field 3 (state)
  std::string x;
  while (rest >> x && f.size() < 16) f.push_back(x);
  if (f.size() < 15) return false;
  *ppid = static_cast<pid_t>(std::atoll(f[1].c_str()));
  *ticks = std::atoll(f[11].c_str()) + std::atoll(f[12].c_str());
  if (children) *ticks += std::atoll(f[13].c_str()) + std::atoll(f[14].c_str());
  return true;
}

}  // namespace

Result<std::unique_ptr<BenchPostgres>> BenchPostgres::Start(bool durable) {
  std::unique_ptr<BenchPostgres> p(new BenchPostgres());
  ASSIGN_OR_RETURN(p->server_, testing::PostgresServer::Start());
  if (durable) RETURN_IF_ERROR(p->Relaunch());
  return p;
}

Status BenchPostgres::Relaunch() {
  server_->Stop();
  const std::string bin = FindPostgres();
  const std::string dir = server_->dir(), data = dir + "/data", log = dir + "/bench-server.log";
  struct stat st {};
  if (bin.empty() || stat(data.c_str(), &st) != 0) return Status::Unavailable("no postgres or data dir");
  const bool drop = geteuid() == 0;
  const uid_t uid = st.st_uid;
  const gid_t gid = st.st_gid;
  const std::vector<std::string> args = {bin, "-D", data, "-p", std::to_string(server_->port()), "-k", dir,
                                         "-c", "listen_addresses=127.0.0.1", "-c", "fsync=on", "-c",
                                         "synchronous_commit=on", "-c", "full_page_writes=on", "-c",
                                         "max_connections=200", "-c", "logging_collector=off"};
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return Status::Unavailable("fork failed");
  if (pid == 0) {
    if (drop && (syscall(SYS_setgroups, 0, nullptr) != 0 || syscall(SYS_setresgid, gid, gid, gid) != 0 ||
                 syscall(SYS_setresuid, uid, uid, uid) != 0)) {
      _exit(126);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    prctl(PR_SET_PDEATHSIG, SIGQUIT);
    if (getppid() != parent) _exit(1);
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    if (chdir(dir.c_str()) != 0) _exit(126);
    execv(argv[0], argv.data());
    _exit(127);
  }
  own_pid_ = pid;
  const std::string ping = conninfo("postgres") + " connect_timeout=2";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      own_pid_ = -1;
      return Status::Unavailable("postgres exited while starting; see " + log);
    }
    if (PQping(ping.c_str()) == PQPING_OK) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  StopOwn();
  return Status::Unavailable("postgres did not accept connections within 60 s");
}

void BenchPostgres::StopOwn() {
  if (own_pid_ <= 0) return;
  kill(own_pid_, SIGINT);  // fast shutdown
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int status = 0;
  while (waitpid(own_pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(own_pid_, SIGKILL);
      waitpid(own_pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  own_pid_ = -1;
}

BenchPostgres::~BenchPostgres() {
  StopOwn();
  server_.reset();  // stops its server if it is still running and removes the directory
}

std::string BenchPostgres::url(const std::string& database) const {
  return "postgres://postgres@127.0.0.1:" + std::to_string(server_->port()) + "/" + database;
}

std::string BenchPostgres::Query(const std::string& database, const std::string& sql) const {
  PGconn* c = PQconnectdb(conninfo(database).c_str());
  std::string out;
  if (PQstatus(c) == CONNECTION_OK) {
    PGresult* r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) out = PQgetvalue(r, 0, 0);
    PQclear(r);
  }
  PQfinish(c);
  return out;
}

double BenchPostgres::CpuSeconds() const {
  std::ifstream pidfile(server_->dir() + "/data/postmaster.pid");
  pid_t postmaster = 0;
  if (!(pidfile >> postmaster) || postmaster <= 0) return 0;
  int64_t total = 0, ticks = 0;
  pid_t ppid = 0;
  if (ProcTimes(postmaster, /*children=*/true, &ticks, &ppid)) total += ticks;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name[0] < '0' || name[0] > '9') continue;
    const pid_t pid = static_cast<pid_t>(std::atoll(name.c_str()));
    if (ProcTimes(pid, /*children=*/false, &ticks, &ppid) && ppid == postmaster) total += ticks;
  }
  return static_cast<double>(total) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

int64_t BenchPostgres::BytesWritten() const {
  const std::string wal = Query("postgres", "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint");
  const std::string pages = Query(
      "postgres", "SELECT buffers_checkpoint + buffers_clean + buffers_backend FROM pg_stat_bgwriter");
  return std::atoll(wal.c_str()) + std::atoll(pages.c_str()) * 8192;
}

std::string BenchPostgres::Settings() const {
  std::string out;
  for (const char* name : {"server_version", "fsync", "synchronous_commit", "full_page_writes", "wal_sync_method",
                           "shared_buffers", "max_wal_size"}) {
    if (!out.empty()) out += ' ';
    out += std::string(name) + "=" + Query("postgres", std::string("SHOW ") + name);
  }
  return out;
}

}  // namespace lhcr::bench
