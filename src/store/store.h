// Store: versioned FHIR resources, their history and their search index.
//
// A Store keeps every version of every resource (an update is a new version,
// a delete a versioned tombstone), one global change sequence (`seq`, the
// position in the store's log, used for system/type history and for pinning
// search pages to a snapshot), and the index rows that answer searches.
//
// Reads go through a StoreView: a consistent snapshot that sees every write
// committed before it was opened and none after. Writes go through
// Store::Write: the function runs inside one write transaction on the
// store's writer; what it writes commits all-or-nothing, and many concurrent
// Write calls share one commit (group commit). Implementations: SqliteStore
// (store/sqlite/), and later PostgreSQL. A Store is safe to use from many
// threads; a StoreView and a WriteTxn belong to the thread that got them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/index_row.h"

namespace lhcr::store {

enum class Method : uint8_t { kCreate = 1, kUpdate = 2, kDelete = 3, kPatch = 4 };

// One stored version of a resource.
struct ResourceVersion {
  std::string type;
  std::string id;
  int64_t version = 0;       // 1, 2, ... per resource
  int64_t seq = 0;           // global change sequence (assigned by the store)
  int64_t last_updated = 0;  // milliseconds since the epoch, UTC
  Method method = Method::kCreate;
  bool deleted = false;      // a tombstone (json is empty)
  std::string json;          // the stored bytes, meta.versionId/lastUpdated set
  int64_t rid = 0;           // the store's row id (set by Fetch)

  bool operator==(const ResourceVersion&) const = default;
};

// A row id: the store's compact key of one (type, id) resource.
using Rid = int64_t;
// Sorted ascending, no duplicates.
using RidSet = std::vector<Rid>;

// One condition over the index rows of one search parameter.
struct IndexQuery {
  enum class Op : uint8_t {
    kEq,        // exact match on the fields given (token/reference/uri/string exact)
    kPrefix,    // string: normalised value starts with s1; uri: below (s1 is a prefix)
    kContains,  // string: normalised value contains s1
    kAbove,     // uri: the stored value is a prefix of s1
    // Ranges (date, number, quantity). For dates the FHIR prefixes are
    // relations between the stored range [lo, hi] and the query range
    // [qlo, qhi]; numbers and quantities store lo = hi = value.
    kRangeEq,   // stored range within the query range
    kRangeNe,   // not kRangeEq
    kGt,        // stored hi > qhi
    kLt,        // stored lo < qlo
    kGe,        // stored hi >= qlo   (overlaps or above)
    kLe,        // stored lo <= qhi   (overlaps or below)
    kSa,        // stored lo > qhi
    kEb,        // stored hi < qlo
    kAp,        // ranges overlap
    kMissing,   // no row at all for the param (resources of the param's type)
    kPresent,   // at least one row for the param
  };
  IndexType type = IndexType::kToken;
  std::string param;   // "<ResourceType>.<code>"
  Op op = Op::kEq;
  // Token: s1 = system (nullopt = any), s2 = code (nullopt = any, for "system|").
  std::optional<std::string> s1;
  std::optional<std::string> s2;
  double qlo = 0, qhi = 0;     // number/quantity ranges
  int64_t dlo = 0, dhi = 0;    // date ranges (ms)
};

// What a history listing asks for. Newest first.
struct HistoryQuery {
  std::string type;   // empty = whole system
  std::string id;     // empty = whole type
  std::optional<int64_t> since;  // last_updated >= since (ms)
  std::optional<int64_t> before_seq;  // only seq < before_seq (paging)
  std::optional<int64_t> at_or_before_seq;  // snapshot pin: seq <= this
  int limit = 100;
};

// A consistent read snapshot.
class StoreView {
 public:
  virtual ~StoreView() = default;

  // The newest change this view sees (0 for an empty store).
  virtual int64_t Seq() const = 0;

  // The current version of type/id (a tombstone if deleted), or nullopt.
  virtual Result<std::optional<ResourceVersion>> Read(std::string_view type,
                                                      std::string_view id) = 0;
  // One version, or nullopt.
  virtual Result<std::optional<ResourceVersion>> VRead(std::string_view type,
                                                       std::string_view id,
                                                       int64_t version) = 0;
  virtual Result<std::vector<ResourceVersion>> History(const HistoryQuery& q) = 0;
  // Number of versions matching q, ignoring its limit and paging.
  virtual Result<int64_t> HistoryCount(const HistoryQuery& q) = 0;

  // Search primitives. Rids of live (not deleted) resources of `type`:
  virtual Result<RidSet> AllOfType(std::string_view type) = 0;
  // ... whose rows match q. With `within`, only those rids are checked (the
  // store picks point lookups or a scan).
  virtual Result<RidSet> Match(const IndexQuery& q, const RidSet* within) = 0;
  // ... with these ids (the _id parameter).
  virtual Result<RidSet> ByIds(std::string_view type, std::span<const std::string> ids) = 0;
  // ... last updated in [lo, hi] (the _lastUpdated parameter).
  virtual Result<RidSet> ByLastUpdated(std::string_view type, int64_t lo, int64_t hi) = 0;
  // The current versions of these rids, in the given order; rids that are
  // deleted or unknown are skipped. With `as_of_seq`, the version current at
  // that sequence number instead.
  virtual Result<std::vector<ResourceVersion>> Fetch(std::span<const Rid> rids,
                                                     std::optional<int64_t> as_of_seq) = 0;
  // The rid of type/id, or nullopt.
  virtual Result<std::optional<Rid>> RidOf(std::string_view type, std::string_view id) = 0;
};

// A write transaction: a view that can also write. Only inside Store::Write.
class WriteTxn : public StoreView {
 public:
  // Stores `v` as the new current version of v.type/v.id. v.version must be
  // one more than the current version (1 for a new resource), else kConflict.
  // `add` are the index rows of the new version; `remove` those of the
  // version it replaces (exactly as they were extracted). Fills v.seq.
  virtual Status Put(ResourceVersion& v, std::span<const IndexRow> add,
                     std::span<const IndexRow> remove) = 0;
};

struct StoreStats {
  int64_t resources = 0;
  int64_t versions = 0;
  int64_t commits = 0;        // write transactions committed
  int64_t write_batches = 0;  // Write() calls that committed
};

class Store {
 public:
  virtual ~Store() = default;

  // Opens a read snapshot.
  virtual Result<std::unique_ptr<StoreView>> View() = 0;

  // The current version of type/id (a tombstone if deleted), or nullopt; or
  // one version of it. Each is one atomic read, cheaper than opening a View
  // (no snapshot to pin): the fast path of read and vread.
  virtual Result<std::optional<ResourceVersion>> ReadCurrent(std::string_view type,
                                                             std::string_view id) {
    ASSIGN_OR_RETURN(auto view, View());
    return view->Read(type, id);
  }
  virtual Result<std::optional<ResourceVersion>> ReadVersion(std::string_view type,
                                                             std::string_view id,
                                                             int64_t version) {
    ASSIGN_OR_RETURN(auto view, View());
    return view->VRead(type, id, version);
  }

  // Runs `fn` in a write transaction. If fn returns an error, nothing it
  // wrote is kept and that error is returned; otherwise its writes are
  // durable when Write returns OK. Blocks the caller until then.
  virtual Status Write(const std::function<Status(WriteTxn&)>& fn) = 0;

  virtual StoreStats Stats() = 0;

  // Stops accepting writes, finishes those queued, and closes. Idempotent.
  virtual void Close() = 0;
};

}  // namespace lhcr::store
