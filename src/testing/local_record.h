// A record in process for tests of the rooms above the interactions
// (ingest, mpi, csv): a fresh SQLite store (no fsync) in a temp dir and the
// R4 interactions over it, closed and removed on destruction.
#pragma once

#include <memory>
#include <string>

#include "base/ids.h"
#include "base/time.h"
#include "interaction/interaction.h"
#include "store/store.h"
#include "testing/test_server.h"

namespace lhcr::testing {

// A clock stopped at `now` (default 2025-01-01T00:00:00Z).
class FixedClock : public Clock {
 public:
  explicit FixedClock(Millis now = 1'735'689'600'000) : now_(now) {}
  Millis Now() override { return now_; }

 private:
  Millis now_;
};

class LocalRecord {
 public:
  // Borrows `clock` and `ids`; they must outlive this object. Aborts the
  // test (a fatal gtest failure in the constructor's caller is impossible,
  // so it throws std::runtime_error) when the store cannot be opened.
  explicit LocalRecord(Clock& clock = SystemClock(), IdGenerator& ids = UuidGenerator());
  ~LocalRecord();
  LocalRecord(const LocalRecord&) = delete;
  LocalRecord& operator=(const LocalRecord&) = delete;

  interaction::Interactions& interactions() { return *interactions_; }
  store::Store& store() { return *store_; }
  // The temp dir the store lives in (free for the test's other files).
  const std::string& dir() const { return dir_.path(); }

 private:
  TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<interaction::Interactions> interactions_;
};

}  // namespace lhcr::testing
