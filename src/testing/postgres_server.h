// PostgresServer: a throwaway PostgreSQL server for tests and benchmarks.
//
// Start() finds Debian's PostgreSQL binaries (/usr/lib/postgresql/*/bin,
// the newest version), makes a temporary directory, runs initdb there (trust
// authentication, UTF8, C locale, no fsync) and starts `postgres` on a free
// port on 127.0.0.1 (its Unix socket in the same directory), waits until it
// accepts connections and creates the database "lhcr". PostgreSQL refuses to
// run as root: when this process is root, initdb and the server run as the
// unprivileged `postgres` system user (the directory is given to it).
//
// The destructor stops the server (fast shutdown, then SIGKILL after 20 s)
// and removes the directory. If this process dies first, the server gets
// SIGQUIT from the kernel (PR_SET_PDEATHSIG, tied to the thread that called
// Start), so no postgres outlives a crashed test.
//
// When PostgreSQL is not installed, Start fails with kUnavailable and a
// message that says so; tests then GTEST_SKIP.
//
// StartStandby(primary) makes a streaming-replication hot standby of a
// running primary (pg_basebackup -R), for tests of failover; Promote() turns
// it into a primary. Not thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"

namespace lhcr::testing {

class PostgresServer {
 public:
  static Result<std::unique_ptr<PostgresServer>> Start();
  static Result<std::unique_ptr<PostgresServer>> StartStandby(const PostgresServer& primary);
  // One server for the whole process, started on first call (from then on
  // the same one, or the same error) and stopped at exit.
  static Result<PostgresServer*> Shared();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // libpq conninfo of the "lhcr" database (or of `database`).
  std::string conninfo() const { return conninfo("lhcr"); }
  std::string conninfo(const std::string& database) const;
  uint16_t port() const { return port_; }
  const std::string& dir() const { return dir_; }

  // A database name for a directory path: "t" and its last component with
  // every character outside [A-Za-z0-9] made '_'.
  static std::string DatabaseFor(const std::string& dir);
  // Creates `name` if it does not exist; returns its conninfo.
  Result<std::string> CreateDatabase(const std::string& name);
  // Runs SQL (simple query protocol) in `database` as the superuser.
  Status Exec(const std::string& database, const std::string& sql);
  // Primary only: waits (up to 60 s) until a standby has replayed all the
  // WAL written so far, so that a failover loses nothing.
  Status WaitForStandby();
  // Standby only: promotes it to a primary and waits until it is one.
  Status Promote();
  // Stops the server (fast shutdown; SIGKILL if it lingers). Idempotent.
  void Stop();
  // Starts it again on the same port and data (after Stop, or to restart).
  Status Restart();

 private:
  PostgresServer() = default;
  static Result<std::unique_ptr<PostgresServer>> Make(const PostgresServer* primary);
  Status Launch();

  std::string bin_;   // .../bin
  std::string dir_;   // the temporary directory (data/ and the socket inside)
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  uid_t uid_ = 0;     // the user the server runs as
  gid_t gid_ = 0;
  bool drop_privileges_ = false;
};

}  // namespace lhcr::testing
