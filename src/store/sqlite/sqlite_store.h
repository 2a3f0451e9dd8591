// SqliteStore: the embedded Store on one SQLite file in WAL mode.
//
// Readers each get their own connection (a pool), so reads run concurrently
// with each other and with the one writer. All writes go through a single
// writer thread that groups the Write() calls queued while it was busy into
// one SQLite transaction (group commit): each call runs inside its own
// SAVEPOINT, so a failing call rolls back alone, and one fsync covers them all.
//
// Crash safety: with synchronous=FULL (the default) a Write that returned OK
// survives a process kill or power loss; a transaction that had not committed
// leaves nothing behind (SQLite's WAL recovery).
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "store/store.h"

namespace lhcr::store {

struct SqliteOptions {
  std::string path;               // the database file (created if missing)
  bool synchronous_full = true;   // fsync at every commit (else NORMAL)
  int max_batch = 512;            // most Write() calls grouped in one commit
  int64_t cache_mb = 64;          // page cache per connection
};

// Opens (creating and migrating the schema if needed) the store at
// options.path. Refuses a file whose schema is newer than this build knows.
Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options);

}  // namespace lhcr::store
