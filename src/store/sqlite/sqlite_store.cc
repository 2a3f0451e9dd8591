#include "store/sqlite/sqlite_store.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <future>
#include <iterator>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "store/index_keys.h"
#include "store/write_queue.h"
#include "store/sqlite/sqlite_db.h"

namespace lhcr::store {
namespace {

using sqlite::Db;
using sqlite::Stmt;

// The schema is built by numbered migrations, each applied once, in order,
// in one transaction with the version it reaches. Add a step to change it.
constexpr int64_t kSchemaVersion = 2;

constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE IF NOT EXISTS lhcr_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS search_param(id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS resource(
  rid INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  vid INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  updated INTEGER NOT NULL,
  UNIQUE(type, id));
CREATE TABLE IF NOT EXISTS history(
  seq INTEGER PRIMARY KEY,
  rid INTEGER NOT NULL,
  vid INTEGER NOT NULL,
  updated INTEGER NOT NULL,
  method INTEGER NOT NULL,
  json BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS history_rid ON history(rid, vid);
CREATE INDEX IF NOT EXISTS resource_updated ON resource(type, updated);
CREATE TABLE IF NOT EXISTS idx_token(p INTEGER, code TEXT, system TEXT, rid INTEGER,
  PRIMARY KEY(p, code, system, rid)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idx_string(p INTEGER, value TEXT, rid INTEGER,
  PRIMARY KEY(p, value, rid)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idx_date(p INTEGER, lo INTEGER, hi INTEGER, rid INTEGER,
  PRIMARY KEY(p, lo, hi, rid)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idx_ref(p INTEGER, tid TEXT, ttype TEXT, rid INTEGER,
  PRIMARY KEY(p, tid, ttype, rid)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idx_quantity(p INTEGER, code TEXT, value REAL, system TEXT, rid INTEGER,
  PRIMARY KEY(p, code, value, system, rid)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idx_number(p INTEGER, value REAL, rid INTEGER,
  PRIMARY KEY(p, value, rid)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idx_uri(p INTEGER, value TEXT, rid INTEGER,
  PRIMARY KEY(p, value, rid)) WITHOUT ROWID;
)sql";

// Version 2: indexes by rid, for checking a few candidates (a patient's
// resources) against a range or prefix condition without scanning the
// parameter's whole range.
constexpr const char* kSchemaV2 = R"sql(
CREATE INDEX IF NOT EXISTS idx_date_rid ON idx_date(rid);
CREATE INDEX IF NOT EXISTS idx_string_rid ON idx_string(rid);
CREATE INDEX IF NOT EXISTS idx_quantity_rid ON idx_quantity(rid);
CREATE INDEX IF NOT EXISTS idx_number_rid ON idx_number(rid);
)sql";

// kMigrations[i] takes the schema from version i to version i + 1.
constexpr const char* kMigrations[] = {kSchemaV1, kSchemaV2};
static_assert(std::size(kMigrations) == kSchemaVersion);


// Runs one statement through the connection's statement cache: sqlite3_exec
// would parse BEGIN and COMMIT again on every read (5% of a read's CPU).
Status RunCached(Db& db, std::string_view sql) {
  ASSIGN_OR_RETURN(Stmt st, db.Prepare(sql));
  return st.Run();
}





// A read (or, for the writer, read-write) view over one connection.
class SqliteView : public WriteTxn {
 public:
  SqliteView(Db* db, int64_t seq) : db_(db), seq_(seq) {}

  int64_t Seq() const override { return next_seq_ != nullptr ? *next_seq_ - 1 : seq_; }

  Result<std::optional<ResourceVersion>> Read(std::string_view type,
                                              std::string_view id) override {
    ASSIGN_OR_RETURN(Stmt st, db_->Prepare(
        "SELECT r.vid, r.seq, r.updated, r.deleted, h.method, h.json FROM resource r "
        "JOIN history h ON h.seq = r.seq WHERE r.type = ?1 AND r.id = ?2"));
    st.Bind(1, type).Bind(2, id);
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<ResourceVersion>();
    ResourceVersion v;
    v.type = type;
    v.id = id;
    v.version = st.Int(0);
    v.seq = st.Int(1);
    v.last_updated = st.Int(2);
    v.deleted = st.Int(3) != 0;
    v.method = static_cast<Method>(st.Int(4));
    v.json = st.Text(5);
    return std::optional<ResourceVersion>(std::move(v));
  }

  Result<std::optional<ResourceVersion>> VRead(std::string_view type, std::string_view id,
                                               int64_t version) override {
    ASSIGN_OR_RETURN(Stmt st, db_->Prepare(
        "SELECT h.seq, h.updated, h.method, h.json FROM resource r "
        "JOIN history h ON h.rid = r.rid AND h.vid = ?3 WHERE r.type = ?1 AND r.id = ?2"));
    st.Bind(1, type).Bind(2, id).Bind(3, version);
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<ResourceVersion>();
    ResourceVersion v;
    v.type = type;
    v.id = id;
    v.version = version;
    v.seq = st.Int(0);
    v.last_updated = st.Int(1);
    v.method = static_cast<Method>(st.Int(2));
    v.deleted = v.method == Method::kDelete;
    v.json = st.Text(3);
    return std::optional<ResourceVersion>(std::move(v));
  }

  // Builds the WHERE clause shared by History and HistoryCount.
  static std::string HistoryWhere(const HistoryQuery& q) {
    std::string w = " WHERE 1";
    if (!q.type.empty()) w += " AND r.type = ?1";
    if (!q.id.empty()) w += " AND r.id = ?2";
    if (q.since) w += " AND h.updated >= ?3";
    if (q.before_seq) w += " AND h.seq < ?4";
    if (q.at_or_before_seq) w += " AND h.seq <= ?5";
    return w;
  }
  static void BindHistory(Stmt& st, const HistoryQuery& q) {
    if (!q.type.empty()) st.Bind(1, q.type);
    if (!q.id.empty()) st.Bind(2, q.id);
    if (q.since) st.Bind(3, *q.since);
    if (q.before_seq) st.Bind(4, *q.before_seq);
    if (q.at_or_before_seq) st.Bind(5, *q.at_or_before_seq);
  }

  Result<std::vector<ResourceVersion>> History(const HistoryQuery& q) override {
    std::string sql =
        "SELECT r.type, r.id, h.vid, h.seq, h.updated, h.method, h.json FROM history h "
        "JOIN resource r ON r.rid = h.rid" + HistoryWhere(q) +
        (q.id.empty() ? " ORDER BY h.seq DESC" : " ORDER BY h.vid DESC") + " LIMIT ?6";
    ASSIGN_OR_RETURN(Stmt st, db_->Prepare(sql));
    BindHistory(st, q);
    st.Bind(6, static_cast<int64_t>(q.limit));
    std::vector<ResourceVersion> out;
    for (;;) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      ResourceVersion v;
      v.type = st.Text(0);
      v.id = st.Text(1);
      v.version = st.Int(2);
      v.seq = st.Int(3);
      v.last_updated = st.Int(4);
      v.method = static_cast<Method>(st.Int(5));
      v.deleted = v.method == Method::kDelete;
      v.json = st.Text(6);
      out.push_back(std::move(v));
    }
    return out;
  }

  Result<int64_t> HistoryCount(const HistoryQuery& query) override {
    // The count is of the whole listing: the limit and the page cursor
    // (before_seq) do not apply; the snapshot pin does.
    HistoryQuery q = query;
    q.before_seq.reset();
    ASSIGN_OR_RETURN(Stmt st, db_->Prepare(
        "SELECT count(*) FROM history h JOIN resource r ON r.rid = h.rid" + HistoryWhere(q)));
    BindHistory(st, q);
    ASSIGN_OR_RETURN(bool row, st.Step());
    return row ? st.Int(0) : 0;
  }

  Result<RidSet> Collect(Stmt& st) {
    RidSet out;
    for (;;) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.push_back(st.Int(0));
    }
    SortUnique(&out);
    return out;
  }

  Result<RidSet> AllOfType(std::string_view type) override {
    ASSIGN_OR_RETURN(Stmt st, db_->Prepare(
        "SELECT rid FROM resource WHERE type = ?1 AND deleted = 0"));
    st.Bind(1, type);
    return Collect(st);
  }

  Result<RidSet> ByIds(std::string_view type, std::span<const std::string> ids) override {
    RidSet out;
    for (const std::string& id : ids) {
      ASSIGN_OR_RETURN(Stmt st, db_->Prepare(
          "SELECT rid FROM resource WHERE type = ?1 AND id = ?2 AND deleted = 0"));
      st.Bind(1, type).Bind(2, id);
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (row) out.push_back(st.Int(0));
    }
    SortUnique(&out);
    return out;
  }

  Result<RidSet> ByLastUpdated(std::string_view type, int64_t lo, int64_t hi) override {
    ASSIGN_OR_RETURN(Stmt st, db_->Prepare(
        "SELECT rid FROM resource WHERE type = ?1 AND updated >= ?2 AND updated <= ?3 "
        "AND deleted = 0"));
    st.Bind(1, type).Bind(2, lo).Bind(3, hi);
    return Collect(st);
  }

  // Whether q can be answered for one rid by a point lookup on its key.
  static bool PointCheckable(const IndexQuery& q) {
    if (q.op != IndexQuery::Op::kEq) return false;
    switch (q.type) {
      case IndexType::kToken: return q.s2.has_value();
      case IndexType::kReference: return q.s2.has_value();
      case IndexType::kString:
      case IndexType::kUri: return q.s1.has_value();
      default: return false;
    }
  }

  Result<RidSet> Match(const IndexQuery& q, const RidSet* within) override {
    const int64_t p = ParamId(q.param);
    const char* table = IndexTableOf(q.type);
    std::string where;  // after "p = ?1"
    using Op = IndexQuery::Op;
    // Binding plan: ?1 p, ?2 s1/str, ?3 s2, ?4 lo, ?5 hi, ?6 rid
    bool bind_s1 = false, bind_s2 = false, bind_range = false, bind_upper = false;
    std::string upper;
    switch (q.op) {
      case Op::kMissing:
      case Op::kPresent: break;
      case Op::kEq:
        switch (q.type) {
          case IndexType::kToken:
            if (q.s2) { where += " AND code = ?3"; bind_s2 = true; }
            if (q.s1) { where += " AND system = ?2"; bind_s1 = true; }
            break;
          case IndexType::kReference:
            if (q.s2) { where += " AND tid = ?3"; bind_s2 = true; }
            if (q.s1) { where += " AND ttype = ?2"; bind_s1 = true; }
            break;
          case IndexType::kString:
          case IndexType::kUri:
            where += " AND value = ?2";
            bind_s1 = true;
            break;
          default: return Status::Incorrect("equality is not defined for this index");
        }
        break;
      case Op::kPrefix:
        where += " AND value >= ?2 AND value < ?3";
        bind_s1 = true;
        bind_upper = true;
        upper = PrefixUpperBound(q.s1.value_or(""));
        break;
      case Op::kContains:
        where += " AND instr(value, ?2) > 0";
        bind_s1 = true;
        break;
      case Op::kAbove:
        where += " AND substr(?2, 1, length(value)) = value";
        bind_s1 = true;
        break;
      default: {
        // Range relations. Dates store [lo, hi]; numbers and quantities a
        // single value v (lo = hi = v).
        bind_range = true;
        std::string lo = q.type == IndexType::kDate ? "lo" : "value";
        std::string hi = q.type == IndexType::kDate ? "hi" : "value";
        if (q.type == IndexType::kQuantity) {
          if (q.s2) { where += " AND code = ?3"; bind_s2 = true; }
          if (q.s1) { where += " AND system = ?2"; bind_s1 = true; }
        }
        switch (q.op) {
          case Op::kRangeEq: where += " AND " + lo + " >= ?4 AND " + hi + " <= ?5"; break;
          case Op::kRangeNe: where += " AND NOT (" + lo + " >= ?4 AND " + hi + " <= ?5)"; break;
          case Op::kGt: where += " AND " + hi + " > ?5"; break;
          case Op::kLt: where += " AND " + lo + " < ?4"; break;
          case Op::kGe: where += " AND " + hi + " >= ?4"; break;
          case Op::kLe: where += " AND " + lo + " <= ?5"; break;
          case Op::kSa: where += " AND " + lo + " > ?5"; break;
          case Op::kEb: where += " AND " + hi + " < ?4"; break;
          case Op::kAp: where += " AND " + lo + " <= ?5 AND " + hi + " >= ?4"; break;
          default: return Status::Incorrect("unsupported index operation");
        }
      }
    }
    auto bind = [&](Stmt& st) {
      st.Bind(1, p);
      if (bind_s1) st.Bind(2, *q.s1);
      if (bind_s2) st.Bind(3, *q.s2);
      if (bind_upper) st.Bind(3, std::string_view(upper));
      if (bind_range) {
        if (q.type == IndexType::kDate) {
          st.Bind(4, q.dlo).Bind(5, q.dhi);
        } else {
          st.Bind(4, q.qlo).Bind(5, q.qhi);
        }
      }
    };

    RidSet matched;
    // A few candidates are checked one by one: by key where the condition
    // pins it, else through the table's rid index.
    const bool by_rid_index = q.op != Op::kMissing && q.op != Op::kPresent &&
                              (q.type == IndexType::kDate || q.type == IndexType::kString ||
                               q.type == IndexType::kQuantity || q.type == IndexType::kNumber);
    if (within != nullptr && within->size() <= 256 && (PointCheckable(q) || by_rid_index)) {
      std::string sql = std::string("SELECT rid FROM ") + table +
                        (PointCheckable(q) ? std::string()
                                           : std::string(" INDEXED BY ") + table + "_rid") +
                        " WHERE p = ?1" + where + " AND rid = ?6 LIMIT 1";
      for (Rid rid : *within) {
        ASSIGN_OR_RETURN(Stmt st, db_->Prepare(sql));
        bind(st);
        st.Bind(6, rid);
        ASSIGN_OR_RETURN(bool row, st.Step());
        if (row) matched.push_back(rid);
      }
      return matched;
    }
    std::string sql = std::string("SELECT rid FROM ") + table + " WHERE p = ?1" + where;
    ASSIGN_OR_RETURN(Stmt st, db_->Prepare(sql));
    bind(st);
    ASSIGN_OR_RETURN(matched, Collect(st));
    if (q.op == Op::kMissing) {
      // The resources of the param's type that have no row at all.
      std::string type = q.param.substr(0, q.param.find('.'));
      ASSIGN_OR_RETURN(RidSet all, within != nullptr ? RidSet(*within) : AllOfType(type));
      RidSet out;
      std::set_difference(all.begin(), all.end(), matched.begin(), matched.end(),
                          std::back_inserter(out));
      return out;
    }
    if (within != nullptr) return Intersect(matched, *within);
    return matched;
  }

  Result<std::vector<ResourceVersion>> Fetch(std::span<const Rid> rids,
                                             std::optional<int64_t> as_of_seq) override {
    std::vector<ResourceVersion> out;
    out.reserve(rids.size());
    const std::string sql =
        as_of_seq ? "SELECT r.type, r.id, h.vid, h.seq, h.updated, h.method, h.json "
                    "FROM resource r JOIN history h ON h.rid = r.rid "
                    "WHERE r.rid = ?1 AND h.seq <= ?2 ORDER BY h.vid DESC LIMIT 1"
                  : "SELECT r.type, r.id, h.vid, h.seq, h.updated, h.method, h.json "
                    "FROM resource r JOIN history h ON h.seq = r.seq WHERE r.rid = ?1";
    for (Rid rid : rids) {
      ASSIGN_OR_RETURN(Stmt st, db_->Prepare(sql));
      st.Bind(1, rid);
      if (as_of_seq) st.Bind(2, *as_of_seq);
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) continue;
      ResourceVersion v;
      v.method = static_cast<Method>(st.Int(5));
      if (v.method == Method::kDelete) continue;
      v.type = st.Text(0);
      v.id = st.Text(1);
      v.version = st.Int(2);
      v.seq = st.Int(3);
      v.last_updated = st.Int(4);
      v.json = st.Text(6);
      v.rid = rid;
      out.push_back(std::move(v));
    }
    return out;
  }

  Result<std::optional<Rid>> RidOf(std::string_view type, std::string_view id) override {
    ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT rid FROM resource WHERE type = ?1 AND id = ?2"));
    st.Bind(1, type).Bind(2, id);
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<Rid>();
    return std::optional<Rid>(st.Int(0));
  }

  // --- writes (only on the writer's connection) ---

  Status Put(ResourceVersion& v, std::span<const IndexRow> add,
             std::span<const IndexRow> remove) override {
    if (next_seq_ == nullptr) return Status::Fault("write on a read-only view");
    ASSIGN_OR_RETURN(Stmt cur, db_->Prepare("SELECT rid, vid FROM resource WHERE type = ?1 AND id = ?2"));
    cur.Bind(1, v.type).Bind(2, v.id);
    ASSIGN_OR_RETURN(bool exists, cur.Step());
    const int64_t current_vid = exists ? cur.Int(1) : 0;
    Rid rid = exists ? cur.Int(0) : 0;
    if (v.version != current_vid + 1) {
      return Status::Conflict(v.type + "/" + v.id + " is at version " +
                              std::to_string(current_vid) + ", not " +
                              std::to_string(v.version - 1));
    }
    v.seq = (*next_seq_)++;
    v.deleted = v.method == Method::kDelete;
    if (exists) {
      ASSIGN_OR_RETURN(Stmt up, db_->Prepare(
          "UPDATE resource SET vid = ?2, seq = ?3, deleted = ?4, updated = ?5 WHERE rid = ?1"));
      up.Bind(1, rid).Bind(2, v.version).Bind(3, v.seq).Bind(4, int64_t{v.deleted})
          .Bind(5, v.last_updated);
      RETURN_IF_ERROR(up.Run());
    } else {
      ASSIGN_OR_RETURN(Stmt ins, db_->Prepare(
          "INSERT INTO resource(type, id, vid, seq, deleted, updated) VALUES(?1,?2,?3,?4,?5,?6)"));
      ins.Bind(1, v.type).Bind(2, v.id).Bind(3, v.version).Bind(4, v.seq)
          .Bind(5, int64_t{v.deleted}).Bind(6, v.last_updated);
      RETURN_IF_ERROR(ins.Run());
      rid = db_->LastInsertRowid();
    }
    ASSIGN_OR_RETURN(Stmt h, db_->Prepare(
        "INSERT INTO history(seq, rid, vid, updated, method, json) VALUES(?1,?2,?3,?4,?5,?6)"));
    h.Bind(1, v.seq).Bind(2, rid).Bind(3, v.version).Bind(4, v.last_updated)
        .Bind(5, static_cast<int64_t>(v.method)).BindBlob(6, v.json);
    RETURN_IF_ERROR(h.Run());

    // Only the difference between the old and the new rows touches the index.
    std::vector<const IndexRow*> old_rows, new_rows;
    for (const IndexRow& r : remove) old_rows.push_back(&r);
    for (const IndexRow& r : add) new_rows.push_back(&r);
    auto less = [](const IndexRow* a, const IndexRow* b) { return *a < *b; };
    std::sort(old_rows.begin(), old_rows.end(), less);
    std::sort(new_rows.begin(), new_rows.end(), less);
    std::vector<const IndexRow*> to_remove, to_add;
    std::set_difference(old_rows.begin(), old_rows.end(), new_rows.begin(), new_rows.end(),
                        std::back_inserter(to_remove), less);
    std::set_difference(new_rows.begin(), new_rows.end(), old_rows.begin(), old_rows.end(),
                        std::back_inserter(to_add), less);
    for (const IndexRow* r : to_remove) RETURN_IF_ERROR(WriteRow(*r, rid, /*insert=*/false));
    for (const IndexRow* r : to_add) RETURN_IF_ERROR(WriteRow(*r, rid, /*insert=*/true));
    return Status::Ok();
  }

  void EnableWrites(int64_t* next_seq, std::unordered_map<std::string, int64_t>* params) {
    next_seq_ = next_seq;
    params_ = params;
  }

  // The parameter keys first recorded since the mark, for a rollback to
  // forget: search_param loses their rows, so params_ must lose them too.
  size_t NewParamsMark() const { return new_params_.size(); }
  void ForgetNewParams(size_t mark) {
    for (size_t i = mark; i < new_params_.size(); ++i) params_->erase(new_params_[i]);
    new_params_.resize(mark);
  }
  void KeepNewParams() { new_params_.clear(); }

 private:
  Status EnsureParam(const std::string& key, int64_t id) {
    if (params_->contains(key)) return Status::Ok();
    ASSIGN_OR_RETURN(Stmt ins, db_->Prepare("INSERT OR IGNORE INTO search_param(id, key) VALUES(?1, ?2)"));
    ins.Bind(1, id).Bind(2, key);
    RETURN_IF_ERROR(ins.Run());
    ASSIGN_OR_RETURN(Stmt get, db_->Prepare("SELECT key FROM search_param WHERE id = ?1"));
    get.Bind(1, id);
    ASSIGN_OR_RETURN(bool row, get.Step());
    if (!row || get.Text(0) != key) {
      return Status::Fault("search parameter id collision: " + key);
    }
    params_->emplace(key, id);
    new_params_.push_back(key);
    return Status::Ok();
  }

  Status WriteRow(const IndexRow& r, Rid rid, bool insert) {
    const int64_t p = ParamId(r.param);
    if (insert) RETURN_IF_ERROR(EnsureParam(r.param, p));
    std::string_view sql;  // a literal: no allocation per row
    switch (r.type) {
      case IndexType::kToken:
        sql = insert ? "INSERT OR IGNORE INTO idx_token(p, system, code, rid) VALUES(?1,?2,?3,?4)"
                     : "DELETE FROM idx_token WHERE p=?1 AND system=?2 AND code=?3 AND rid=?4";
        break;
      case IndexType::kReference:
        sql = insert ? "INSERT OR IGNORE INTO idx_ref(p, ttype, tid, rid) VALUES(?1,?2,?3,?4)"
                     : "DELETE FROM idx_ref WHERE p=?1 AND ttype=?2 AND tid=?3 AND rid=?4";
        break;
      case IndexType::kString:
        sql = insert ? "INSERT OR IGNORE INTO idx_string(p, value, rid) VALUES(?1,?2,?4)"
                     : "DELETE FROM idx_string WHERE p=?1 AND value=?2 AND rid=?4";
        break;
      case IndexType::kUri:
        sql = insert ? "INSERT OR IGNORE INTO idx_uri(p, value, rid) VALUES(?1,?2,?4)"
                     : "DELETE FROM idx_uri WHERE p=?1 AND value=?2 AND rid=?4";
        break;
      case IndexType::kDate:
        sql = insert ? "INSERT OR IGNORE INTO idx_date(p, lo, hi, rid) VALUES(?1,?5,?6,?4)"
                     : "DELETE FROM idx_date WHERE p=?1 AND lo=?5 AND hi=?6 AND rid=?4";
        break;
      case IndexType::kQuantity:
        sql = insert ? "INSERT OR IGNORE INTO idx_quantity(p, system, code, value, rid) "
                       "VALUES(?1,?2,?3,?7,?4)"
                     : "DELETE FROM idx_quantity WHERE p=?1 AND system=?2 AND code=?3 AND "
                       "value=?7 AND rid=?4";
        break;
      case IndexType::kNumber:
        sql = insert ? "INSERT OR IGNORE INTO idx_number(p, value, rid) VALUES(?1,?7,?4)"
                     : "DELETE FROM idx_number WHERE p=?1 AND value=?7 AND rid=?4";
        break;
    }
    ASSIGN_OR_RETURN(Stmt st, db_->Prepare(sql));
    st.Bind(1, p).Bind(4, rid);
    switch (r.type) {
      case IndexType::kToken:
      case IndexType::kReference:
      case IndexType::kQuantity:
        st.Bind(2, r.s1).Bind(3, r.s2);
        break;
      case IndexType::kString:
      case IndexType::kUri:
        st.Bind(2, r.s1);
        break;
      default: break;
    }
    if (r.type == IndexType::kDate) st.Bind(5, r.lo).Bind(6, r.hi);
    if (r.type == IndexType::kQuantity || r.type == IndexType::kNumber) st.Bind(7, r.num);
    return st.Run();
  }

  Db* db_;
  int64_t seq_;
  int64_t* next_seq_ = nullptr;                              // writer only
  std::unordered_map<std::string, int64_t>* params_ = nullptr;  // writer only
  std::vector<std::string> new_params_;  // writer only: keys added this transaction
};

class SqliteStore;

// A read view that returns its connection to the pool when destroyed.
class PooledView : public SqliteView {
 public:
  PooledView(SqliteStore* store, std::unique_ptr<Db> db, int64_t seq)
      : SqliteView(db.get(), seq), store_(store), owned_db_(std::move(db)) {}
  ~PooledView() override;

 private:
  SqliteStore* store_;
  std::unique_ptr<Db> owned_db_;
};

class SqliteStore : public Store {
 public:
  explicit SqliteStore(SqliteOptions options) : options_(std::move(options)) {}
  ~SqliteStore() override { Close(); }

  Status Init() {
    ASSIGN_OR_RETURN(writer_db_, Db::Open(options_.path, /*read_only=*/false));
    RETURN_IF_ERROR(Configure(*writer_db_));
    RETURN_IF_ERROR(writer_db_->Exec("PRAGMA journal_mode=WAL"));
    RETURN_IF_ERROR(Migrate());
    {
      ASSIGN_OR_RETURN(Stmt st, writer_db_->Prepare("SELECT coalesce(max(seq), 0) FROM history"));
      ASSIGN_OR_RETURN(bool row, st.Step());
      next_seq_ = (row ? st.Int(0) : 0) + 1;
    }
    {
      ASSIGN_OR_RETURN(Stmt st, writer_db_->Prepare("SELECT id, key FROM search_param"));
      for (;;) {
        ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        params_.emplace(std::string(st.Text(1)), st.Int(0));
      }
    }
    writer_ = std::thread([this] { WriterLoop(); });
    return Status::Ok();
  }

  // A reader connection from the pool, or a new one.
  Result<std::unique_ptr<Db>> TakeReader() {
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      if (!pool_.empty()) {
        std::unique_ptr<Db> db = std::move(pool_.back());
        pool_.pop_back();
        return db;
      }
    }
    ASSIGN_OR_RETURN(std::unique_ptr<Db> db, Db::Open(options_.path, /*read_only=*/true));
    RETURN_IF_ERROR(Configure(*db));
    return db;
  }

  void PutBackReader(std::unique_ptr<Db> db) {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (pool_.size() < 64) pool_.push_back(std::move(db));
  }

  // One statement in autocommit mode is atomic in SQLite: no BEGIN, no
  // snapshot position, no COMMIT (those were a fifth of a read's cost).
  Result<std::optional<ResourceVersion>> ReadCurrent(std::string_view type,
                                                     std::string_view id) override {
    ASSIGN_OR_RETURN(std::unique_ptr<Db> db, TakeReader());
    auto v = SqliteView(db.get(), 0).Read(type, id);
    PutBackReader(std::move(db));
    return v;
  }

  Result<std::optional<ResourceVersion>> ReadVersion(std::string_view type, std::string_view id,
                                                     int64_t version) override {
    ASSIGN_OR_RETURN(std::unique_ptr<Db> db, TakeReader());
    auto v = SqliteView(db.get(), 0).VRead(type, id, version);
    PutBackReader(std::move(db));
    return v;
  }

  Result<std::unique_ptr<StoreView>> View() override {
    ASSIGN_OR_RETURN(std::unique_ptr<Db> db, TakeReader());
    RETURN_IF_ERROR(RunCached(*db, "BEGIN"));
    // The first read fixes the snapshot.
    int64_t seq = 0;
    {
      ASSIGN_OR_RETURN(Stmt st, db->Prepare("SELECT coalesce(max(seq), 0) FROM history"));
      ASSIGN_OR_RETURN(bool row, st.Step());
      seq = row ? st.Int(0) : 0;
    }
    return std::unique_ptr<StoreView>(new PooledView(this, std::move(db), seq));
  }

  Status Write(const std::function<Status(WriteTxn&)>& fn) override {
    return queue_.Submit(fn);
  }

  StoreStats Stats() override {
    StoreStats s;
    s.commits = commits_.load();
    s.write_batches = batches_.load();
    s.versions = next_seq_.load() - 1;
    return s;
  }

  void Close() override {
    if (!queue_.Close()) return;
    if (writer_.joinable()) writer_.join();
    std::lock_guard<std::mutex> lock(pool_mu_);
    pool_.clear();
    if (writer_db_ != nullptr) {
      (void)writer_db_->Exec("PRAGMA wal_checkpoint(TRUNCATE)");
      writer_db_.reset();
    }
  }

  void ReturnToPool(std::unique_ptr<Db> db) {
    if (!RunCached(*db, "COMMIT").ok()) return;  // a broken connection is dropped
    PutBackReader(std::move(db));
  }

 private:
  using Job = WriteQueue::Job;

  Status Configure(Db& db) {
    RETURN_IF_ERROR(db.Exec("PRAGMA cache_size=-" + std::to_string(options_.cache_mb * 1024)));
    RETURN_IF_ERROR(db.Exec(options_.synchronous_full ? "PRAGMA synchronous=FULL"
                                                      : "PRAGMA synchronous=NORMAL"));
    RETURN_IF_ERROR(db.Exec("PRAGMA temp_store=MEMORY"));
    // Checkpoint every 8192 WAL pages (32 MB) rather than SQLite's 1000: an
    // index page dirtied by many commits is copied back to the database
    // file once per checkpoint, and each checkpoint costs an fsync
    // (docs/BENCHMARKS.md, ingest).
    RETURN_IF_ERROR(db.Exec("PRAGMA wal_autocheckpoint=8192"));
    return db.Exec("PRAGMA mmap_size=268435456");
  }

  Status Migrate() {
    RETURN_IF_ERROR(writer_db_->Exec(
        "CREATE TABLE IF NOT EXISTS lhcr_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)"));
    ASSIGN_OR_RETURN(Stmt st, writer_db_->Prepare(
        "SELECT value FROM lhcr_meta WHERE key = 'schema_version'"));
    ASSIGN_OR_RETURN(bool row, st.Step());
    int64_t version = 0;
    if (row) {
      // The file is outside input: a garbled version is an error, not a crash.
      std::string_view text = st.Text(0);
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), version);
      if (ec != std::errc() || end != text.data() + text.size()) {
        return Status::Unsupported("the store at " + options_.path +
                                   " has an unreadable schema version '" + std::string(text) + "'");
      }
    }
    if (version > kSchemaVersion) {
      return Status::Unsupported("the store at " + options_.path + " has schema version " +
                                 std::to_string(version) + "; this lhcr knows up to " +
                                 std::to_string(kSchemaVersion));
    }
    if (version == kSchemaVersion) return Status::Ok();
    RETURN_IF_ERROR(writer_db_->Exec("BEGIN IMMEDIATE"));
    Status s;
    for (int64_t v = version; v < kSchemaVersion && s.ok(); ++v) s = writer_db_->Exec(kMigrations[v]);
    if (s.ok()) {
      s = writer_db_->Exec("INSERT OR REPLACE INTO lhcr_meta(key, value) VALUES('schema_version', '" +
                           std::to_string(kSchemaVersion) + "')");
    }
    if (!s.ok()) {
      (void)writer_db_->Exec("ROLLBACK");
      return s;
    }
    return writer_db_->Exec("COMMIT");
  }

  void WriterLoop() {
    SqliteView txn(writer_db_.get(), 0);
    int64_t next_seq = next_seq_.load();
    txn.EnableWrites(&next_seq, &params_);
    for (;;) {
      std::vector<Job*> batch = queue_.TakeBatch(options_.max_batch);
      if (batch.empty()) return;  // closed, nothing left
      const int64_t seq_before = next_seq;
      std::vector<Status> results(batch.size());
      Status begin = RunCached(*writer_db_, "BEGIN IMMEDIATE");
      if (!begin.ok()) {
        for (Job* j : batch) j->promise.set_value(begin);
        continue;
      }
      for (size_t i = 0; i < batch.size(); ++i) {
        // A call that fails gives back what it took: its rows (the
        // savepoint), its sequence numbers (no gaps in the log) and the
        // parameter keys it recorded.
        const int64_t job_seq = next_seq;
        const size_t job_params = txn.NewParamsMark();
        Status s = RunCached(*writer_db_, "SAVEPOINT job");
        if (s.ok()) {
          try {
            s = (*batch[i]->fn)(txn);
          } catch (const std::exception& e) {
            s = Status::Fault(std::string("write failed: ") + e.what());
          }
          if (s.ok()) {
            s = RunCached(*writer_db_, "RELEASE job");
          } else {
            (void)writer_db_->Exec("ROLLBACK TO job");
            (void)writer_db_->Exec("RELEASE job");
          }
        }
        if (!s.ok()) {
          next_seq = job_seq;
          txn.ForgetNewParams(job_params);
        }
        results[i] = s;
      }
      Status commit = RunCached(*writer_db_, "COMMIT");
      if (!commit.ok()) {
        (void)writer_db_->Exec("ROLLBACK");
        txn.ForgetNewParams(0);
        next_seq = seq_before;
        for (auto& r : results) {
          if (r.ok()) r = commit;
        }
      } else {
        txn.KeepNewParams();
        next_seq_.store(next_seq);
        commits_.fetch_add(1);
        for (const auto& r : results) {
          if (r.ok()) batches_.fetch_add(1);
        }
      }
      for (size_t i = 0; i < batch.size(); ++i) batch[i]->promise.set_value(results[i]);
    }
  }

  SqliteOptions options_;
  std::unique_ptr<Db> writer_db_;  // used only by the writer thread after Init
  std::unordered_map<std::string, int64_t> params_;  // writer thread only
  std::atomic<int64_t> next_seq_{1};
  std::atomic<int64_t> commits_{0};
  std::atomic<int64_t> batches_{0};
  std::thread writer_;

  WriteQueue queue_;

  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Db>> pool_;  // guarded by pool_mu_
};

PooledView::~PooledView() { store_->ReturnToPool(std::move(owned_db_)); }

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options) {
  auto store = std::make_unique<SqliteStore>(options);
  RETURN_IF_ERROR(store->Init());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace lhcr::store
