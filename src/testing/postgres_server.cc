#include "testing/postgres_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace lhcr::testing {
namespace {

namespace fs = std::filesystem;

// The newest /usr/lib/postgresql/<version>/bin that has initdb and postgres.
std::string FindBinDir() {
  std::error_code ec;
  int best = -1;
  std::string out;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    fs::path bin = e.path() / "bin";
    if (access((bin / "initdb").c_str(), X_OK) != 0 || access((bin / "postgres").c_str(), X_OK) != 0) {
      continue;
    }
    int version = std::atoi(e.path().filename().c_str());
    if (version > best) {
      best = version;
      out = bin.string();
    }
  }
  return out;
}

Result<uint16_t> FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Status::Unavailable("socket failed");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    return Status::Unavailable("cannot find a free port");
  }
  close(fd);
  return ntohs(a.sin_port);
}

std::string Tail(const std::string& path, size_t n = 2000) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > n ? s.substr(s.size() - n) : s;
}

// Forks and execs argv as (uid, gid) when drop is set, stdout and stderr
// appended to `log`, in directory `cwd`. With `pdeathsig`, the child gets
// SIGQUIT when the calling thread dies. Everything the child needs is
// prepared before fork: after it, only async-signal-safe calls.
Result<pid_t> Spawn(const std::vector<std::string>& args, const std::string& log,
                    const std::string& cwd, bool drop, uid_t uid, gid_t gid, bool pdeathsig) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return Status::Unavailable("fork failed");
  if (pid == 0) {
    if (drop) {
      // Raw syscalls: only this thread exists in the child.
      if (syscall(SYS_setgroups, 0, nullptr) != 0 || syscall(SYS_setresgid, gid, gid, gid) != 0 ||
          syscall(SYS_setresuid, uid, uid, uid) != 0) {
        _exit(126);
      }
    }
    // The caller may block signals (lhcr serve blocks SIGINT/SIGTERM); the
    // server must get them.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    // Set after the uid change, which would clear it.
    if (pdeathsig) {
      prctl(PR_SET_PDEATHSIG, SIGQUIT);
      if (getppid() != parent) _exit(1);
    }
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    if (chdir(cwd.c_str()) != 0) _exit(126);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

Status RunToEnd(const std::vector<std::string>& args, const std::string& log,
                const std::string& cwd, bool drop, uid_t uid, gid_t gid) {
  ASSIGN_OR_RETURN(pid_t pid, Spawn(args, log, cwd, drop, uid, gid, /*pdeathsig=*/true));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::Unavailable(fs::path(args[0]).filename().string() + " failed: " + Tail(log));
  }
  return Status::Ok();
}

}  // namespace

std::string PostgresServer::conninfo(const std::string& database) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + database;
}

Result<std::unique_ptr<PostgresServer>> PostgresServer::Start() { return Make(nullptr); }

Result<PostgresServer*> PostgresServer::Shared() {
  static Result<std::unique_ptr<PostgresServer>> shared = Start();
  if (!shared.ok()) return shared.status();
  return shared->get();
}

std::string PostgresServer::DatabaseFor(const std::string& dir) {
  std::string name = "t";
  for (char c : fs::path(dir).filename().string()) {
    name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  }
  return name;
}

Result<std::unique_ptr<PostgresServer>> PostgresServer::StartStandby(
    const PostgresServer& primary) {
  return Make(&primary);
}

Result<std::unique_ptr<PostgresServer>> PostgresServer::Make(const PostgresServer* primary) {
  std::unique_ptr<PostgresServer> s(new PostgresServer());
  s->bin_ = FindBinDir();
  if (s->bin_.empty()) {
    return Status::Unavailable(
        "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); "
        "scripts/install-deps.sh installs Debian's postgresql package");
  }
  if (geteuid() == 0) {
    // PostgreSQL will not run as root.
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr) {
      return Status::Unavailable("running as root and there is no 'postgres' user to run "
                                 "PostgreSQL as");
    }
    s->drop_privileges_ = true;
    s->uid_ = pw->pw_uid;
    s->gid_ = pw->pw_gid;
  } else {
    s->uid_ = geteuid();
    s->gid_ = getegid();
  }
  std::string tmpl = (fs::temp_directory_path() / "lhcr-pg-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) return Status::Unavailable("mkdtemp failed");
  s->dir_ = tmpl;
  if (s->drop_privileges_ && chown(s->dir_.c_str(), s->uid_, s->gid_) != 0) {
    return Status::Unavailable("cannot give " + s->dir_ + " to the postgres user");
  }
  const std::string data = s->dir_ + "/data";
  const std::string log = s->dir_ + "/setup.log";
  if (primary == nullptr) {
    RETURN_IF_ERROR(RunToEnd({s->bin_ + "/initdb", "-D", data, "-U", "postgres", "-A", "trust",
                              "-E", "UTF8", "--locale=C", "--no-sync"},
                             log, s->dir_, s->drop_privileges_, s->uid_, s->gid_));
  } else {
    RETURN_IF_ERROR(RunToEnd({s->bin_ + "/pg_basebackup", "-h", "127.0.0.1", "-p",
                              std::to_string(primary->port_), "-U", "postgres", "-D", data, "-R",
                              "-X", "stream", "-c", "fast", "--no-sync"},
                             log, s->dir_, s->drop_privileges_, s->uid_, s->gid_));
  }
  // A port that was free a moment ago may be taken by the time the server
  // binds it: try a few.
  Status launched;
  for (int attempt = 0; attempt < 5; ++attempt) {
    ASSIGN_OR_RETURN(s->port_, FreePort());
    launched = s->Launch();
    if (launched.ok()) break;
  }
  RETURN_IF_ERROR(launched);
  if (primary == nullptr) RETURN_IF_ERROR(s->CreateDatabase("lhcr").status());
  return s;
}

Status PostgresServer::Launch() {
  const std::string log = dir_ + "/server.log";
  ASSIGN_OR_RETURN(
      pid_, Spawn({bin_ + "/postgres", "-D", dir_ + "/data", "-p", std::to_string(port_), "-k",
                   dir_, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c",
                   "synchronous_commit=off", "-c", "full_page_writes=off", "-c",
                   "max_connections=200", "-c", "logging_collector=off"},
                  log, dir_, drop_privileges_, uid_, gid_, /*pdeathsig=*/true));
  const std::string ping = conninfo("postgres") + " connect_timeout=2";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Status::Unavailable("postgres exited while starting: " + Tail(log));
    }
    if (PQping(ping.c_str()) == PQPING_OK) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Stop();
  return Status::Unavailable("postgres did not accept connections within 60 s: " + Tail(log));
}

Status PostgresServer::Exec(const std::string& database, const std::string& sql) {
  PGconn* c = PQconnectdb(conninfo(database).c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(c);
    PQfinish(c);
    return Status::Unavailable("cannot connect to the test server: " + msg);
  }
  PGresult* r = PQexec(c, sql.c_str());
  ExecStatusType t = PQresultStatus(r);
  Status s;
  if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
    s = Status::Fault(std::string("test server: ") + PQresultErrorMessage(r));
  }
  PQclear(r);
  PQfinish(c);
  return s;
}

Result<std::string> PostgresServer::CreateDatabase(const std::string& name) {
  for (char ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_') {
      return Status::Incorrect("database names here are [A-Za-z0-9_]: " + name);
    }
  }
  Status s = Exec("postgres", "CREATE DATABASE \"" + name + "\"");
  if (!s.ok() && s.message().find("already exists") == std::string::npos) return s;
  return conninfo(name);
}

Status PostgresServer::WaitForStandby() {
  // The target is the primary's WAL *insert* position: with the harness's
  // synchronous_commit=off an acknowledged commit may still sit in WAL
  // buffers, past pg_current_wal_lsn() (what has been written), and a wait
  // for that position could return before the standby has the commit. The
  // walwriter flushes the buffers within wal_writer_delay, so the standby
  // reaches the insert position soon. One DO block: the target is fixed
  // when it starts, and pg_stat_replication is read live on every loop.
  const std::string wait =
      "DO $$ DECLARE target pg_lsn := pg_current_wal_insert_lsn(); BEGIN "
      "FOR i IN 1..3000 LOOP "
      "IF EXISTS (SELECT 1 FROM pg_stat_replication WHERE replay_lsn >= target) THEN RETURN; "
      "END IF; PERFORM pg_sleep(0.02); END LOOP; "
      "RAISE EXCEPTION 'no standby replayed up to %', target; END $$";
  Status s = Exec("postgres", wait);
  if (!s.ok()) return Status::Unavailable("no standby caught up within 60 s: " + s.message());
  return s;
}

Status PostgresServer::Promote() {
  RETURN_IF_ERROR(Exec("postgres", "SELECT pg_promote(true, 60)"));
  return Status::Ok();
}

void PostgresServer::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGINT);  // fast shutdown: disconnect clients, checkpoint, exit
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  pid_ = -1;
}

Status PostgresServer::Restart() {
  Stop();
  return Launch();
}

PostgresServer::~PostgresServer() {
  Stop();
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

}  // namespace lhcr::testing
