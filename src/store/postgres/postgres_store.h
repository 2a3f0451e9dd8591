// PostgresStore: the Store on a PostgreSQL server (libpq), for a region that
// outgrows one machine or needs a hot standby. Same contract and the same
// logical schema as SqliteStore (docs/STORE.md).
//
// Reads: each StoreView is a REPEATABLE READ, READ ONLY transaction on a
// pooled connection, so it sees every commit before it was opened and none
// after; Seq() is the newest history seq in that snapshot. At most
// `pool_size` reader connections are open; a View() waits up to
// `pool_wait_ms` for one, then fails with kBusy.
//
// Writes: one writer thread and connection groups the queued Write() calls
// into one transaction (group commit): BEGIN, a transaction advisory lock that
// serialises every lhcr writer on the database (so seq stays gap-free and
// ordered by commit even with several lhcr processes), then a SAVEPOINT per
// Write call (ROLLBACK TO on failure, so a failing call rolls back alone),
// one COMMIT. Statements are prepared once per connection and run with
// binary parameters.
//
// Failures: a serialization failure or deadlock (SQLSTATE 40001/40P01) or a
// lost connection before COMMIT rolls the whole group back and runs it again
// on a fresh connection, up to `retries` times; so a Write function may run
// more than once and must act only through its WriteTxn. A connection lost
// during COMMIT is resolved by looking for the group's last version after
// reconnecting (committed: OK; not: run again). When the retries run out the
// calls fail with kBusy (contention) or kUnavailable (server unreachable);
// a group is never partly written.
//
// Read-only: on a hot standby (pg_is_in_recovery()), or when
// PostgresOptions::read_only is set, the store never writes: it runs no
// migration (the schema must already be there, at a version this build
// knows), starts no writer, and Write fails with kUnavailable. Views and
// ReadCurrent/ReadVersion work as on a primary, and see what the standby
// has replayed so far (docs/STORE.md, "High availability").
//
// Thread safety: as Store (store.h).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "store/store.h"

namespace lhcr::store {

struct PostgresOptions {
  std::string conninfo;    // libpq "key=value ..." or a postgres:// URI
  int pool_size = 32;      // most reader connections open at once
  int pool_wait_ms = 10000;
  int max_batch = 512;     // most Write() calls grouped in one commit
  int retries = 3;         // re-runs of a group after 40001/40P01 or a lost connection
  bool read_only = false;  // never write (a --read-store); implied on a hot standby
};

// Connects, creates or migrates the schema (under an advisory lock, so
// several lhcr processes may start at once) and starts the writer. Refuses a
// database whose schema is newer than this build knows (kUnsupported), and
// fails with kUnavailable when the server cannot be reached. Read-only (see
// above) it only checks the schema version: kUnavailable when there is no
// lhcr schema yet, kUnsupported when it is newer than this build.
Result<std::unique_ptr<Store>> OpenPostgresStore(const PostgresOptions& options);

// Whether a --store value names a PostgreSQL database (postgres:// or
// postgresql://).
bool IsPostgresUrl(std::string_view store);

// A postgres:// URL fit to print: "user:password@" becomes "user@" and a
// "password=..." query parameter is dropped; the rest is kept as given.
std::string RedactPostgresUrl(std::string_view url);

}  // namespace lhcr::store
