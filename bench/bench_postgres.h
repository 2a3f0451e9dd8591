// A throwaway PostgreSQL server for the benchmarks that compare the
// PostgreSQL store with SQLite (ingest_bench / search_bench --store).
//
// Built on testing::PostgresServer (temp dir, initdb, free loopback port,
// run as the postgres user when root, everything removed afterwards). That
// server runs with the test settings fsync=off, synchronous_commit=off,
// full_page_writes=off, given on its command line, where nothing can
// override them. With `durable` (the default here) the server it made is
// stopped and `postgres` is started again on the same data directory and
// port with PostgreSQL's own defaults for durability -- fsync=on,
// synchronous_commit=on, full_page_writes=on, wal_sync_method=fdatasync --
// so that a commit is on disk when it returns, as with SQLite's
// synchronous=FULL. Everything else is PostgreSQL 15's default
// (shared_buffers=128MB, max_wal_size=1GB, checkpoint_timeout=5min) except
// max_connections=200. That server too gets SIGQUIT if this process dies
// (PR_SET_PDEATHSIG) and is stopped by the destructor.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"
#include "testing/postgres_server.h"

namespace lhcr::bench {

class BenchPostgres {
 public:
  static Result<std::unique_ptr<BenchPostgres>> Start(bool durable);
  ~BenchPostgres();

  std::string conninfo(const std::string& database) const { return server_->conninfo(database); }
  // postgres://postgres@127.0.0.1:PORT/DATABASE, for `lhcr serve --store`.
  std::string url(const std::string& database) const;
  Result<std::string> CreateDatabase(const std::string& name) { return server_->CreateDatabase(name); }
  Status Exec(const std::string& database, const std::string& sql) { return server_->Exec(database, sql); }
  // The first column of the first row of `sql`, as text ("" on error).
  std::string Query(const std::string& database, const std::string& sql) const;

  // CPU seconds used by the server so far: the postmaster, its live
  // children (backends, walwriter, checkpointer, ...) and the children it
  // has reaped.
  double CpuSeconds() const;
  // Bytes the server wrote to storage so far: WAL (LSN position) plus the
  // 8 KB data pages written by checkpoints, the background writer and
  // backends (pg_stat_bgwriter).
  int64_t BytesWritten() const;
  // "fsync=on synchronous_commit=on ..." as the server reports them.
  std::string Settings() const;

 private:
  BenchPostgres() = default;
  Status Relaunch();
  void StopOwn();

  std::unique_ptr<testing::PostgresServer> server_;
  pid_t own_pid_ = -1;  // the durable postgres we started (-1: server_'s own)
};

}  // namespace lhcr::bench
