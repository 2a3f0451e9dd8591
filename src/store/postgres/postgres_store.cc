#include "store/postgres/postgres_store.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <iterator>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "store/index_keys.h"
#include "store/write_queue.h"
#include "store/postgres/pg_conn.h"

namespace lhcr::store {
namespace {

using postgres::Conn;
using postgres::Params;
using postgres::PgResult;

// Bump when the schema changes and add the step to kMigrations. The
// numbers follow SqliteStore's: version N is the same logical schema.
constexpr int64_t kSchemaVersion = 2;

// Advisory lock keys (pg_advisory_xact_lock): one for schema migration, one
// held by the writer's transaction ("lhcr" in ASCII, then 1 and 2).
constexpr int64_t kMigrateLock = 0x6c686372'00000001;
constexpr int64_t kWriterLock = 0x6c686372'00000002;

// The schema, by version. The logical schema is SQLite's (sqlite_store.cc):
// strings are bytea (the store's strings are bytes; bytea compares them as
// memcmp, as SQLite does), and every table of per-person data carries
// `owner`, the distribution column for a Citus-style partitioning by person
// (docs/STORE.md). Until the MPI assigns persons, owner = rid.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE search_param(id integer PRIMARY KEY, key text NOT NULL UNIQUE);
CREATE TABLE resource(
  rid bigint PRIMARY KEY,
  owner bigint NOT NULL,
  type bytea NOT NULL,
  id bytea NOT NULL,
  vid bigint NOT NULL,
  seq bigint NOT NULL,
  deleted boolean NOT NULL,
  updated bigint NOT NULL,
  UNIQUE(type, id));
CREATE INDEX resource_updated ON resource(type, updated);
CREATE TABLE history(
  seq bigint PRIMARY KEY,
  owner bigint NOT NULL,
  rid bigint NOT NULL,
  vid bigint NOT NULL,
  updated bigint NOT NULL,
  method smallint NOT NULL,
  json bytea NOT NULL);
CREATE INDEX history_rid ON history(rid, vid);
CREATE TABLE idx_token(p integer NOT NULL, code bytea NOT NULL, system bytea NOT NULL,
  rid bigint NOT NULL, owner bigint NOT NULL, PRIMARY KEY(p, code, system, rid));
CREATE TABLE idx_string(p integer NOT NULL, value bytea NOT NULL,
  rid bigint NOT NULL, owner bigint NOT NULL, PRIMARY KEY(p, value, rid));
CREATE TABLE idx_date(p integer NOT NULL, lo bigint NOT NULL, hi bigint NOT NULL,
  rid bigint NOT NULL, owner bigint NOT NULL, PRIMARY KEY(p, lo, hi, rid));
CREATE TABLE idx_ref(p integer NOT NULL, tid bytea NOT NULL, ttype bytea NOT NULL,
  rid bigint NOT NULL, owner bigint NOT NULL, PRIMARY KEY(p, tid, ttype, rid));
CREATE TABLE idx_quantity(p integer NOT NULL, code bytea NOT NULL,
  value double precision NOT NULL, system bytea NOT NULL,
  rid bigint NOT NULL, owner bigint NOT NULL, PRIMARY KEY(p, code, value, system, rid));
CREATE TABLE idx_number(p integer NOT NULL, value double precision NOT NULL,
  rid bigint NOT NULL, owner bigint NOT NULL, PRIMARY KEY(p, value, rid));
CREATE TABLE idx_uri(p integer NOT NULL, value bytea NOT NULL,
  rid bigint NOT NULL, owner bigint NOT NULL, PRIMARY KEY(p, value, rid));
)sql";

// Version 2: indexes by rid, for checking a few candidates (a patient's
// resources) against a range or prefix condition (as SQLite's version 2).
constexpr const char* kSchemaV2 = R"sql(
CREATE INDEX IF NOT EXISTS idx_date_rid ON idx_date(rid);
CREATE INDEX IF NOT EXISTS idx_string_rid ON idx_string(rid);
CREATE INDEX IF NOT EXISTS idx_quantity_rid ON idx_quantity(rid);
CREATE INDEX IF NOT EXISTS idx_number_rid ON idx_number(rid);
)sql";

struct Migration {
  int64_t to_version;
  const char* sql;
};
constexpr Migration kMigrations[] = {{1, kSchemaV1}, {2, kSchemaV2}};
static_assert(std::size(kMigrations) == kSchemaVersion);






// Above this many `within` rids, Match scans the parameter's rows and
// intersects in memory instead of sending the rids as an array.
constexpr size_t kMaxWithinArray = 20000;

// What the writer records about one transaction's writes.
struct WriteState {
  int64_t next_seq = 1;
  int64_t next_rid = 1;
  std::unordered_map<std::string, int32_t>* params = nullptr;
  std::vector<std::string> new_params;  // keys recorded in this transaction
  // The last version written (to find out whether a COMMIT whose answer was
  // lost took effect).
  int64_t last_seq = 0, last_rid = 0, last_vid = 0;
  // The first error that means "run the whole group again" (a lost
  // connection, 40001/40P01); the transaction is unusable after it.
  Status infra;
};

// A view over one connection: a reader's snapshot, or the writer's
// transaction (with `w` set).
class PgView : public WriteTxn {
 public:
  PgView(Conn* conn, int64_t seq, WriteState* w = nullptr) : conn_(conn), seq_(seq), w_(w) {}

  int64_t Seq() const override { return w_ != nullptr ? w_->next_seq - 1 : seq_; }

  Result<std::optional<ResourceVersion>> Read(std::string_view type,
                                              std::string_view id) override {
    Params ps;
    std::string sql =
        "SELECT r.vid, r.seq, r.updated, r.deleted, h.method, h.json FROM resource r "
        "JOIN history h ON h.seq = r.seq WHERE r.type = " + ps.Bytes(type) +
        " AND r.id = " + ps.Bytes(id);
    ASSIGN_OR_RETURN(PgResult res, Run(sql, ps));
    if (res.rows() == 0) return std::optional<ResourceVersion>();
    ResourceVersion v;
    v.type = type;
    v.id = id;
    v.version = res.Int(0, 0);
    v.seq = res.Int(0, 1);
    v.last_updated = res.Int(0, 2);
    v.deleted = res.Int(0, 3) != 0;
    v.method = static_cast<Method>(res.Int(0, 4));
    v.json = res.Bytes(0, 5);
    return std::optional<ResourceVersion>(std::move(v));
  }

  Result<std::optional<ResourceVersion>> VRead(std::string_view type, std::string_view id,
                                               int64_t version) override {
    Params ps;
    std::string sql = "SELECT h.seq, h.updated, h.method, h.json FROM resource r "
                      "JOIN history h ON h.rid = r.rid AND h.vid = " + ps.Int8(version) +
                      " WHERE r.type = " + ps.Bytes(type) + " AND r.id = " + ps.Bytes(id);
    ASSIGN_OR_RETURN(PgResult res, Run(sql, ps));
    if (res.rows() == 0) return std::optional<ResourceVersion>();
    ResourceVersion v;
    v.type = type;
    v.id = id;
    v.version = version;
    v.seq = res.Int(0, 0);
    v.last_updated = res.Int(0, 1);
    v.method = static_cast<Method>(res.Int(0, 2));
    v.deleted = v.method == Method::kDelete;
    v.json = res.Bytes(0, 3);
    return std::optional<ResourceVersion>(std::move(v));
  }

  // The WHERE clause shared by History and HistoryCount.
  static std::string HistoryWhere(const HistoryQuery& q, Params& ps) {
    std::string w = " WHERE true";
    if (!q.type.empty()) w += " AND r.type = " + ps.Bytes(q.type);
    if (!q.id.empty()) w += " AND r.id = " + ps.Bytes(q.id);
    if (q.since) w += " AND h.updated >= " + ps.Int8(*q.since);
    if (q.before_seq) w += " AND h.seq < " + ps.Int8(*q.before_seq);
    if (q.at_or_before_seq) w += " AND h.seq <= " + ps.Int8(*q.at_or_before_seq);
    return w;
  }

  Result<std::vector<ResourceVersion>> History(const HistoryQuery& q) override {
    Params ps;
    std::string sql =
        "SELECT r.type, r.id, h.vid, h.seq, h.updated, h.method, h.json FROM history h "
        "JOIN resource r ON r.rid = h.rid" + HistoryWhere(q, ps) +
        (q.id.empty() ? " ORDER BY h.seq DESC" : " ORDER BY h.vid DESC") +
        " LIMIT " + ps.Int8(std::max(q.limit, 0));
    ASSIGN_OR_RETURN(PgResult res, Run(sql, ps));
    std::vector<ResourceVersion> out;
    out.reserve(static_cast<size_t>(res.rows()));
    for (int i = 0; i < res.rows(); ++i) {
      ResourceVersion v;
      v.type = res.Bytes(i, 0);
      v.id = res.Bytes(i, 1);
      v.version = res.Int(i, 2);
      v.seq = res.Int(i, 3);
      v.last_updated = res.Int(i, 4);
      v.method = static_cast<Method>(res.Int(i, 5));
      v.deleted = v.method == Method::kDelete;
      v.json = res.Bytes(i, 6);
      out.push_back(std::move(v));
    }
    return out;
  }

  Result<int64_t> HistoryCount(const HistoryQuery& query) override {
    // The whole listing: no limit, no page cursor; the snapshot pin applies.
    HistoryQuery q = query;
    q.before_seq.reset();
    Params ps;
    std::string sql =
        "SELECT count(*) FROM history h JOIN resource r ON r.rid = h.rid" + HistoryWhere(q, ps);
    ASSIGN_OR_RETURN(PgResult res, Run(sql, ps));
    return res.rows() > 0 ? res.Int(0, 0) : 0;
  }

  static RidSet Collect(const PgResult& res) {
    RidSet out;
    out.reserve(static_cast<size_t>(res.rows()));
    for (int i = 0; i < res.rows(); ++i) out.push_back(res.Int(i, 0));
    SortUnique(&out);
    return out;
  }

  Result<RidSet> AllOfType(std::string_view type) override {
    Params ps;
    std::string sql = "SELECT rid FROM resource WHERE type = " + ps.Bytes(type) +
                      " AND NOT deleted";
    ASSIGN_OR_RETURN(PgResult res, Run(sql, ps));
    return Collect(res);
  }

  Result<RidSet> ByIds(std::string_view type, std::span<const std::string> ids) override {
    if (ids.empty()) return RidSet{};
    std::vector<std::string_view> views(ids.begin(), ids.end());
    Params ps;
    std::string sql = "SELECT rid FROM resource WHERE type = " + ps.Bytes(type) +
                      " AND id = ANY(" + ps.ByteaArray(views) + ") AND NOT deleted";
    ASSIGN_OR_RETURN(PgResult res, Run(sql, ps));
    return Collect(res);
  }

  Result<RidSet> ByLastUpdated(std::string_view type, int64_t lo, int64_t hi) override {
    Params ps;
    std::string sql = "SELECT rid FROM resource WHERE type = " + ps.Bytes(type) +
                      " AND updated >= " + ps.Int8(lo) + " AND updated <= " + ps.Int8(hi) +
                      " AND NOT deleted";
    ASSIGN_OR_RETURN(PgResult res, Run(sql, ps));
    return Collect(res);
  }

  Result<RidSet> Match(const IndexQuery& q, const RidSet* within) override {
    using Op = IndexQuery::Op;
    Params ps;
    const std::string table = IndexTableOf(q.type);
    std::string where = " WHERE p = " + ps.Int4(ParamId(q.param));
    std::string upper;  // must outlive the statement, as must s1
    const std::string s1 = q.s1.value_or("");
    const bool stringish = q.type == IndexType::kString || q.type == IndexType::kUri;
    switch (q.op) {
      case Op::kMissing:
      case Op::kPresent: break;
      case Op::kEq:
        switch (q.type) {
          case IndexType::kToken:
            if (q.s2) where += " AND code = " + ps.Bytes(*q.s2);
            if (q.s1) where += " AND system = " + ps.Bytes(*q.s1);
            break;
          case IndexType::kReference:
            if (q.s2) where += " AND tid = " + ps.Bytes(*q.s2);
            if (q.s1) where += " AND ttype = " + ps.Bytes(*q.s1);
            break;
          case IndexType::kString:
          case IndexType::kUri:
            where += " AND value = " + ps.Bytes(s1);
            break;
          default: return Status::Incorrect("equality is not defined for this index");
        }
        break;
      case Op::kPrefix:
        if (!stringish) return Status::Incorrect("prefix is defined for string and uri only");
        upper = PrefixUpperBound(s1);
        where += " AND value >= " + ps.Bytes(s1) + " AND value < " +
                 ps.Bytes(upper);
        break;
      case Op::kContains:
        if (!stringish) return Status::Incorrect("contains is defined for string and uri only");
        where += " AND position(" + ps.Bytes(s1) + " in value) > 0";
        break;
      case Op::kAbove:
        if (!stringish) return Status::Incorrect("above is defined for string and uri only");
        where += " AND substring(" + ps.Bytes(s1) +
                 " from 1 for length(value)) = value";
        break;
      default: {
        // Range relations. Dates store [lo, hi]; numbers and quantities a
        // single value v (lo = hi = v).
        const bool date = q.type == IndexType::kDate;
        if (!date && q.type != IndexType::kQuantity && q.type != IndexType::kNumber) {
          return Status::Incorrect("range relations are defined for date, number and quantity");
        }
        const std::string lo = date ? "lo" : "value";
        const std::string hi = date ? "hi" : "value";
        if (q.type == IndexType::kQuantity) {
          if (q.s2) where += " AND code = " + ps.Bytes(*q.s2);
          if (q.s1) where += " AND system = " + ps.Bytes(*q.s1);
        }
        auto qlo = [&] { return date ? ps.Int8(q.dlo) : ps.Float8(q.qlo); };
        auto qhi = [&] { return date ? ps.Int8(q.dhi) : ps.Float8(q.qhi); };
        switch (q.op) {
          case Op::kRangeEq: where += " AND " + lo + " >= " + qlo() + " AND " + hi + " <= " + qhi(); break;
          case Op::kRangeNe: where += " AND NOT (" + lo + " >= " + qlo() + " AND " + hi + " <= " + qhi() + ")"; break;
          case Op::kGt: where += " AND " + hi + " > " + qhi(); break;
          case Op::kLt: where += " AND " + lo + " < " + qlo(); break;
          case Op::kGe: where += " AND " + hi + " >= " + qlo(); break;
          case Op::kLe: where += " AND " + lo + " <= " + qhi(); break;
          case Op::kSa: where += " AND " + lo + " > " + qhi(); break;
          case Op::kEb: where += " AND " + hi + " < " + qlo(); break;
          case Op::kAp: where += " AND " + lo + " <= " + qhi() + " AND " + hi + " >= " + qlo(); break;
          default: return Status::Incorrect("unsupported index operation");
        }
      }
    }

    // Candidates go to the server as one array (the planner picks the rid or
    // key index); a very large set is intersected here after a scan.
    const bool by_array = within != nullptr && within->size() <= kMaxWithinArray;
    if (by_array) where += " AND rid = ANY(" + ps.Int8Array(*within) + ")";
    ASSIGN_OR_RETURN(PgResult res, Run("SELECT rid FROM " + table + where, ps));
    RidSet matched = Collect(res);
    if (q.op == Op::kMissing) {
      // The resources of the param's type that have no row at all.
      std::string type = q.param.substr(0, q.param.find('.'));
      ASSIGN_OR_RETURN(RidSet all, within != nullptr ? RidSet(*within) : AllOfType(type));
      RidSet out;
      std::set_difference(all.begin(), all.end(), matched.begin(), matched.end(),
                          std::back_inserter(out));
      return out;
    }
    if (within != nullptr && !by_array) return Intersect(matched, *within);
    return matched;
  }

  Result<std::vector<ResourceVersion>> Fetch(std::span<const Rid> rids,
                                             std::optional<int64_t> as_of_seq) override {
    std::vector<ResourceVersion> out;
    if (rids.empty()) return out;
    RidSet unique(rids.begin(), rids.end());
    SortUnique(&unique);
    Params ps;
    std::string sql =
        as_of_seq
            ? "SELECT DISTINCT ON (h.rid) h.rid, r.type, r.id, h.vid, h.seq, h.updated, "
              "h.method, h.json FROM history h JOIN resource r ON r.rid = h.rid "
              "WHERE h.rid = ANY(" + ps.Int8Array(unique) + ") AND h.seq <= " +
                  ps.Int8(*as_of_seq) + " ORDER BY h.rid, h.vid DESC"
            : "SELECT r.rid, r.type, r.id, h.vid, h.seq, h.updated, h.method, h.json "
              "FROM resource r JOIN history h ON h.seq = r.seq WHERE r.rid = ANY(" +
                  ps.Int8Array(unique) + ")";
    ASSIGN_OR_RETURN(PgResult res, Run(sql, ps));
    std::unordered_map<Rid, int> row_of;
    for (int i = 0; i < res.rows(); ++i) row_of.emplace(res.Int(i, 0), i);
    out.reserve(rids.size());
    for (Rid rid : rids) {
      auto it = row_of.find(rid);
      if (it == row_of.end()) continue;
      const int i = it->second;
      ResourceVersion v;
      v.method = static_cast<Method>(res.Int(i, 6));
      if (v.method == Method::kDelete) continue;
      v.type = res.Bytes(i, 1);
      v.id = res.Bytes(i, 2);
      v.version = res.Int(i, 3);
      v.seq = res.Int(i, 4);
      v.last_updated = res.Int(i, 5);
      v.json = res.Bytes(i, 7);
      v.rid = rid;
      out.push_back(std::move(v));
    }
    return out;
  }

  Result<std::optional<Rid>> RidOf(std::string_view type, std::string_view id) override {
    Params ps;
    std::string sql = "SELECT rid FROM resource WHERE type = " + ps.Bytes(type) +
                      " AND id = " + ps.Bytes(id);
    ASSIGN_OR_RETURN(PgResult res, Run(sql, ps));
    if (res.rows() == 0) return std::optional<Rid>();
    return std::optional<Rid>(res.Int(0, 0));
  }

  // --- writes (only on the writer's connection) ---

  Status Put(ResourceVersion& v, std::span<const IndexRow> add,
             std::span<const IndexRow> remove) override {
    if (w_ == nullptr) return Status::Fault("write on a read-only view");
    int64_t current_vid = 0;
    Rid rid = 0;
    {
      Params ps;
      std::string sql = "SELECT rid, vid FROM resource WHERE type = " + ps.Bytes(v.type) +
                        " AND id = " + ps.Bytes(v.id);
      ASSIGN_OR_RETURN(PgResult cur, Run(sql, ps));
      if (cur.rows() > 0) {
        rid = cur.Int(0, 0);
        current_vid = cur.Int(0, 1);
      }
    }
    if (v.version != current_vid + 1) {
      return Status::Conflict(v.type + "/" + v.id + " is at version " +
                              std::to_string(current_vid) + ", not " +
                              std::to_string(v.version - 1));
    }
    const bool exists = rid != 0;
    if (!exists) rid = w_->next_rid++;
    v.seq = w_->next_seq++;
    v.deleted = v.method == Method::kDelete;
    {
      // The resource row (upserted by rid) and the history row in one
      // statement: one round trip.
      Params ps;
      const std::string p_rid = ps.Int8(rid);
      const std::string p_seq = ps.Int8(v.seq);
      const std::string p_vid = ps.Int8(v.version);
      const std::string p_upd = ps.Int8(v.last_updated);
      std::string sql =
          "WITH r AS (INSERT INTO resource(rid, owner, type, id, vid, seq, deleted, updated) "
          "VALUES(" + p_rid + ", " + p_rid + ", " + ps.Bytes(v.type) + ", " + ps.Bytes(v.id) +
          ", " + p_vid + ", " + p_seq + ", " + ps.Bool(v.deleted) + ", " + p_upd +
          ") ON CONFLICT (rid) DO UPDATE SET vid = excluded.vid, seq = excluded.seq, "
          "deleted = excluded.deleted, updated = excluded.updated) "
          "INSERT INTO history(seq, owner, rid, vid, updated, method, json) VALUES(" + p_seq +
          ", " + p_rid + ", " + p_rid + ", " + p_vid + ", " + p_upd + ", " +
          ps.Int4(static_cast<int32_t>(v.method)) + "::smallint, " + ps.Bytes(v.json) + ")";
      ASSIGN_OR_RETURN(PgResult done, Run(sql, ps));
    }
    w_->last_seq = v.seq;
    w_->last_rid = rid;
    w_->last_vid = v.version;

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
    for (const IndexRow* r : to_add) RETURN_IF_ERROR(EnsureParam(r->param));
    RETURN_IF_ERROR(WriteRows(to_remove, rid, /*insert=*/false));
    return WriteRows(to_add, rid, /*insert=*/true);
  }

 private:
  // Runs a statement; on the writer, remembers an error that spoils the
  // whole transaction (lost connection, serialization failure, deadlock).
  Result<PgResult> Run(const std::string& sql, const Params& ps) {
    auto r = conn_->Run(sql, ps);
    if (!r.ok() && w_ != nullptr && w_->infra.ok() &&
        (conn_->Broken() || postgres::IsRetryableSqlState(conn_->last_sqlstate()))) {
      w_->infra = r.status();
    }
    return r;
  }

  Status EnsureParam(const std::string& key) {
    if (w_->params->contains(key)) return Status::Ok();
    const int32_t id = ParamId(key);
    Params ps;
    const std::string p_id = ps.Int4(id);
    // Inserted: the CTE returns the key; already there: the SELECT does.
    std::string sql = "WITH ins AS (INSERT INTO search_param(id, key) VALUES(" + p_id + ", " +
                      ps.Text(key) + ") ON CONFLICT DO NOTHING RETURNING key) "
                      "SELECT key FROM ins UNION ALL SELECT key FROM search_param WHERE id = " +
                      p_id;
    ASSIGN_OR_RETURN(PgResult res, Run(sql, ps));
    if (res.rows() == 0 || res.Bytes(0, 0) != key) {
      return Status::Fault("search parameter id collision: " + key);
    }
    w_->params->emplace(key, id);
    w_->new_params.push_back(key);
    return Status::Ok();
  }

  // Writes (inserts or deletes) rows of every index type, one statement per
  // table, the rows passed as arrays and expanded by unnest.
  Status WriteRows(const std::vector<const IndexRow*>& rows, Rid rid, bool insert) {
    if (rows.empty()) return Status::Ok();
    std::map<IndexType, std::vector<const IndexRow*>> by_type;
    for (const IndexRow* r : rows) by_type[r->type].push_back(r);
    for (const auto& [type, list] : by_type) {
      std::vector<int32_t> p;
      std::vector<std::string_view> s1, s2;
      std::vector<int64_t> lo, hi;
      std::vector<double> num;
      for (const IndexRow* r : list) {
        p.push_back(ParamId(r->param));
        s1.push_back(r->s1);
        s2.push_back(r->s2);
        lo.push_back(r->lo);
        hi.push_back(r->hi);
        num.push_back(r->num);
      }
      Params ps;
      const std::string table = IndexTableOf(type);
      std::vector<std::pair<std::string, std::string>> cols;  // column, unnest argument
      cols.emplace_back("p", ps.Int4Array(p));
      switch (type) {
        case IndexType::kToken:
          cols.emplace_back("system", ps.ByteaArray(s1));
          cols.emplace_back("code", ps.ByteaArray(s2));
          break;
        case IndexType::kReference:
          cols.emplace_back("ttype", ps.ByteaArray(s1));
          cols.emplace_back("tid", ps.ByteaArray(s2));
          break;
        case IndexType::kQuantity:
          cols.emplace_back("system", ps.ByteaArray(s1));
          cols.emplace_back("code", ps.ByteaArray(s2));
          cols.emplace_back("value", ps.Float8Array(num));
          break;
        case IndexType::kString:
        case IndexType::kUri:
          cols.emplace_back("value", ps.ByteaArray(s1));
          break;
        case IndexType::kDate:
          cols.emplace_back("lo", ps.Int8Array(lo));
          cols.emplace_back("hi", ps.Int8Array(hi));
          break;
        case IndexType::kNumber:
          cols.emplace_back("value", ps.Float8Array(num));
          break;
      }
      const std::string p_rid = ps.Int8(rid);
      std::string names, args, match;
      for (size_t i = 0; i < cols.size(); ++i) {
        names += (i ? ", " : "") + cols[i].first;
        args += (i ? ", " : "") + cols[i].second;
        match += " AND t." + cols[i].first + " = u." + cols[i].first;
      }
      std::string sql =
          insert ? "INSERT INTO " + table + "(" + names + ", rid, owner) SELECT " + names + ", " +
                       p_rid + ", " + p_rid + " FROM unnest(" + args + ") AS u(" + names +
                       ") ON CONFLICT DO NOTHING"
                 : "DELETE FROM " + table + " t USING unnest(" + args + ") AS u(" + names +
                       ") WHERE t.rid = " + p_rid + match;
      ASSIGN_OR_RETURN(PgResult done, Run(sql, ps));
    }
    return Status::Ok();
  }

  Conn* conn_;
  int64_t seq_;
  WriteState* w_;  // writer only
};

class PostgresStore;

// A reader's view; gives its connection back to the pool when destroyed.
class PooledView : public PgView {
 public:
  PooledView(PostgresStore* store, std::unique_ptr<Conn> conn, int64_t seq)
      : PgView(conn.get(), seq), store_(store), conn_(std::move(conn)) {}
  ~PooledView() override;

 private:
  PostgresStore* store_;
  std::unique_ptr<Conn> conn_;
};

Result<int64_t> ParseVersion(std::string_view text, const std::string& where) {
  int64_t version = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), version);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Status::Unsupported("the store at " + where + " has an unreadable schema version '" +
                               std::string(text) + "'");
  }
  return version;
}

class PostgresStore : public Store {
 public:
  explicit PostgresStore(PostgresOptions options) : options_(std::move(options)) {}
  ~PostgresStore() override { Close(); }

  Status Init() {
    ASSIGN_OR_RETURN(writer_, Conn::Open(options_.conninfo));
    where_ = writer_->Describe();
    {
      // A hot standby refuses every write: open it read-only.
      ASSIGN_OR_RETURN(PgResult r, writer_->Simple("SELECT pg_is_in_recovery()::int"));
      read_only_ = options_.read_only || r.Int(0, 0) != 0;
    }
    RETURN_IF_ERROR(read_only_ ? CheckSchema() : Migrate());
    {
      ASSIGN_OR_RETURN(PgResult r, writer_->Simple("SELECT coalesce(max(seq), 0) FROM history"));
      next_seq_ = r.Int(0, 0) + 1;
    }
    if (read_only_) {
      writer_.reset();  // no writer thread: Write refuses
      return Status::Ok();
    }
    {
      ASSIGN_OR_RETURN(PgResult r, writer_->Simple("SELECT id, key FROM search_param"));
      for (int i = 0; i < r.rows(); ++i) {
        params_.emplace(std::string(r.Bytes(i, 1)), static_cast<int32_t>(r.Int(i, 0)));
      }
    }
    writer_thread_ = std::thread([this] { WriterLoop(); });
    return Status::Ok();
  }

  Result<std::unique_ptr<StoreView>> View() override {
    // A pooled connection may have died (server restart): one fresh try.
    for (int attempt = 0;; ++attempt) {
      ASSIGN_OR_RETURN(std::unique_ptr<Conn> conn, Acquire());
      auto r = conn->Simple(
          "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; "
          "SELECT coalesce(max(seq), 0) FROM history");
      if (r.ok()) {
        const int64_t seq = r->Int(0, 0);
        return std::unique_ptr<StoreView>(new PooledView(this, std::move(conn), seq));
      }
      const bool broken = conn->Broken();
      if (!broken) (void)conn->Exec("ROLLBACK");
      Release(std::move(conn));
      if (!broken || attempt > 0) return r.status();
    }
  }

  // One statement in autocommit on a pooled connection: no snapshot to
  // open and close (the statement is atomic on its own).
  Result<std::optional<ResourceVersion>> ReadCurrent(std::string_view type,
                                                     std::string_view id) override {
    return Autocommit([&](PgView& v) { return v.Read(type, id); });
  }
  Result<std::optional<ResourceVersion>> ReadVersion(std::string_view type, std::string_view id,
                                                     int64_t version) override {
    return Autocommit([&](PgView& v) { return v.VRead(type, id, version); });
  }

  Status Write(const std::function<Status(WriteTxn&)>& fn) override {
    if (read_only_) {
      return Status::Unavailable("the store at " + where_ +
                                 " is read-only (a hot standby, or opened as a read store); "
                                 "nothing of this write was stored");
    }
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
    if (writer_thread_.joinable()) writer_thread_.join();
    writer_.reset();
    std::lock_guard<std::mutex> lock(pool_mu_);
    closing_pool_ = true;
    open_ -= static_cast<int>(idle_.size());
    idle_.clear();
  }

  // A view is done: end its read transaction without waiting for the
  // answer (collected when the connection is next used).
  void Return(std::unique_ptr<Conn> conn) {
    conn->SendAndForget("COMMIT");
    Release(std::move(conn));
  }

 private:
  using Job = WriteQueue::Job;

  template <typename F>
  Result<std::optional<ResourceVersion>> Autocommit(F read) {
    // A pooled connection may have died (server restart): one fresh try.
    for (int attempt = 0;; ++attempt) {
      ASSIGN_OR_RETURN(std::unique_ptr<Conn> conn, Acquire());
      PgView view(conn.get(), 0);
      auto r = read(view);
      const bool broken = conn->Broken();
      Release(std::move(conn));
      if (r.ok() || !broken || attempt > 0) return r;
    }
  }

  Result<std::unique_ptr<Conn>> Acquire() {
    {
      std::unique_lock<std::mutex> lock(pool_mu_);
      const bool got = pool_cv_.wait_for(
          lock, std::chrono::milliseconds(options_.pool_wait_ms),
          [&] { return !idle_.empty() || open_ < std::max(1, options_.pool_size); });
      if (!got) {
        return Status::Busy("all " + std::to_string(options_.pool_size) +
                            " PostgreSQL reader connections are in use");
      }
      if (!idle_.empty()) {
        std::unique_ptr<Conn> c = std::move(idle_.back());
        idle_.pop_back();
        lock.unlock();
        if (c->Drain().ok() && !c->Broken()) return c;
        lock.lock();
        --open_;  // dropped; open a fresh one below
      }
      ++open_;
    }
    auto c = Conn::Open(options_.conninfo);
    if (!c.ok()) {
      std::lock_guard<std::mutex> lock(pool_mu_);
      --open_;
      pool_cv_.notify_one();
    }
    return c;
  }

  void Release(std::unique_ptr<Conn> conn) {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (conn->Broken() || closing_pool_) {
      --open_;
    } else {
      idle_.push_back(std::move(conn));
    }
    pool_cv_.notify_one();
  }

  // Read-only opening: the schema must be there at a version this build
  // knows (older ones are fine to read: the primary's lhcr migrates them and
  // the standby follows). Nothing is created or changed.
  Status CheckSchema() {
    ASSIGN_OR_RETURN(PgResult t,
                     writer_->Simple("SELECT (to_regclass('lhcr_meta') IS NOT NULL)::int"));
    int64_t version = 0;
    if (t.Int(0, 0) != 0) {
      ASSIGN_OR_RETURN(PgResult r, writer_->Simple(
          "SELECT value FROM lhcr_meta WHERE key = 'schema_version'"));
      if (r.rows() > 0) {
        ASSIGN_OR_RETURN(version, ParseVersion(r.Bytes(0, 0), where_));
      }
    }
    if (version <= 0) {
      return Status::Unavailable("the store at " + where_ +
                                 " has no lhcr schema and is read-only; open it once on the "
                                 "primary (lhcr serve --store) first");
    }
    if (version > kSchemaVersion) {
      return Status::Unsupported("the store at " + where_ + " has schema version " +
                                 std::to_string(version) + "; this lhcr knows up to " +
                                 std::to_string(kSchemaVersion));
    }
    return Status::Ok();
  }

  Status Migrate() {
    const std::string where = writer_->Describe();
    RETURN_IF_ERROR(writer_->Exec(
        "BEGIN; SELECT pg_advisory_xact_lock(" + std::to_string(kMigrateLock) + "); "
        "CREATE TABLE IF NOT EXISTS lhcr_meta(key text PRIMARY KEY, value text NOT NULL)"));
    auto migrate = [&]() -> Status {
      ASSIGN_OR_RETURN(PgResult r, writer_->Simple(
          "SELECT value FROM lhcr_meta WHERE key = 'schema_version'"));
      int64_t version = 0;
      if (r.rows() > 0) {
        ASSIGN_OR_RETURN(version, ParseVersion(r.Bytes(0, 0), where));
      }
      const int64_t found = version;
      if (version > kSchemaVersion) {
        return Status::Unsupported("the store at " + where + " has schema version " +
                                   std::to_string(version) + "; this lhcr knows up to " +
                                   std::to_string(kSchemaVersion));
      }
      for (const Migration& m : kMigrations) {
        if (m.to_version <= version) continue;
        RETURN_IF_ERROR(writer_->Exec(m.sql));
        version = m.to_version;
      }
      if (version == found) return Status::Ok();
      return writer_->Exec(
          "INSERT INTO lhcr_meta(key, value) VALUES('schema_version', '" +
          std::to_string(version) + "') ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    };
    Status s = migrate();
    if (!s.ok()) {
      (void)writer_->Exec("ROLLBACK");
      return s;
    }
    return writer_->Exec("COMMIT");
  }

  // Opens the writer's transaction: BEGIN, the writers' lock, then (in a
  // later statement, so its snapshot follows the lock) the next seq and rid.
  Status BeginGroup(WriteState* w) {
    if (writer_ == nullptr || writer_->Broken()) {
      writer_.reset();
      ASSIGN_OR_RETURN(writer_, Conn::Open(options_.conninfo));
    }
    ASSIGN_OR_RETURN(PgResult r, writer_->Simple(
        "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock(" +
        std::to_string(kWriterLock) + "); "
        "SELECT (SELECT coalesce(max(seq), 0) FROM history), "
        "(SELECT coalesce(max(rid), 0) FROM resource)"));
    w->next_seq = r.Int(0, 0) + 1;
    w->next_rid = r.Int(0, 1) + 1;
    return Status::Ok();
  }

  // Whether a failed statement leaves the group worth running again.
  bool Retryable(const Status& s) const {
    return writer_ == nullptr || writer_->Broken() || s.code() == StatusCode::kUnavailable ||
           postgres::IsRetryableSqlState(writer_->last_sqlstate());
  }

  // Runs one group once. Returns the per-call results, or the error that
  // makes the whole group fail (nothing of it committed) in *group_error;
  // *retry says whether running it again may help.
  std::vector<Status> RunGroup(const std::vector<Job*>& batch, WriteState* w,
                               Status* group_error, bool* retry) {
    std::vector<Status> results(batch.size());
    *retry = false;
    w->new_params.clear();
    w->infra = Status::Ok();
    w->last_seq = w->last_rid = w->last_vid = 0;
    Status begin = BeginGroup(w);
    if (!begin.ok()) {
      *retry = Retryable(begin);
      *group_error = begin;
      if (writer_ != nullptr && !writer_->Broken()) (void)writer_->Exec("ROLLBACK");
      return results;
    }
    PgView txn(writer_.get(), 0, w);
    for (size_t i = 0; i < batch.size(); ++i) {
      // A call that fails gives back what it took: its rows (the
      // savepoint), its seqs and rids (no gaps) and the parameter keys it
      // recorded.
      const int64_t job_seq = w->next_seq, job_rid = w->next_rid;
      const size_t job_params = w->new_params.size();
      const int64_t last_seq = w->last_seq, last_rid = w->last_rid, last_vid = w->last_vid;
      Status s = writer_->Exec("SAVEPOINT job");
      if (s.ok()) {
        try {
          s = (*batch[i]->fn)(txn);
        } catch (const std::exception& e) {
          s = Status::Fault(std::string("write failed: ") + e.what());
        }
        if (w->infra.ok() && s.ok()) {
          s = writer_->Exec("RELEASE job");
        } else if (w->infra.ok()) {
          Status rb = writer_->Exec("ROLLBACK TO job; RELEASE job");
          if (!rb.ok()) s = rb;
        }
      }
      if (w->infra.ok() && writer_->Broken()) w->infra = s.ok() ? Status::Unavailable(
          "postgres: the connection was lost") : s;
      if (!w->infra.ok()) {
        // The transaction is lost or doomed: the whole group goes again.
        *group_error = w->infra;
        *retry = true;
        if (!writer_->Broken()) (void)writer_->Exec("ROLLBACK");
        return results;
      }
      if (!s.ok()) {
        w->next_seq = job_seq;
        w->next_rid = job_rid;
        for (size_t k = job_params; k < w->new_params.size(); ++k) {
          w->params->erase(w->new_params[k]);
        }
        w->new_params.resize(job_params);
        w->last_seq = last_seq;
        w->last_rid = last_rid;
        w->last_vid = last_vid;
      }
      results[i] = s;
    }
    Status commit = writer_->Exec("COMMIT");
    if (commit.ok()) return results;
    if (writer_->Broken() && w->last_seq != 0) {
      // The answer to COMMIT was lost: find out whether it took effect.
      auto fresh = Conn::Open(options_.conninfo);
      if (fresh.ok()) {
        Params ps;
        std::string sql = "SELECT 1 FROM history WHERE seq = " + ps.Int8(w->last_seq) +
                          " AND rid = " + ps.Int8(w->last_rid) + " AND vid = " +
                          ps.Int8(w->last_vid);
        auto found = (*fresh)->Run(sql, ps);
        writer_ = std::move(*fresh);
        if (found.ok() && found->rows() > 0) return results;  // it committed
        if (found.ok()) {
          *retry = true;
          *group_error = commit;
          return results;
        }
      }
      *group_error = Status::Unavailable(
          "postgres: the connection was lost while committing and the server cannot be "
          "reached to tell whether the commit took effect: " + commit.message());
      return results;
    }
    *retry = Retryable(commit);
    *group_error = commit;
    if (!writer_->Broken()) (void)writer_->Exec("ROLLBACK");
    return results;
  }

  void WriterLoop() {
    WriteState w;
    w.params = &params_;
    for (;;) {
      std::vector<Job*> batch = queue_.TakeBatch(options_.max_batch);
      if (batch.empty()) return;  // closed, nothing left
      std::vector<Status> results;
      Status group_error;
      for (int attempt = 0;; ++attempt) {
        group_error = Status::Ok();
        bool retry = false;
        results = RunGroup(batch, &w, &group_error, &retry);
        if (group_error.ok()) break;
        // Nothing of the group is kept: forget the keys it recorded.
        for (const std::string& k : w.new_params) params_.erase(k);
        w.new_params.clear();
        if (!retry || attempt >= options_.retries) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10 << attempt));
      }
      if (!group_error.ok()) {
        Status e = group_error;
        if (e.code() != StatusCode::kBusy && e.code() != StatusCode::kUnavailable) {
          e = Status::Unavailable(e.message());
        }
        e = Status(e.code(), e.message() + "; nothing of this write was stored");
        for (Job* j : batch) j->promise.set_value(e);
        continue;
      }
      w.new_params.clear();
      next_seq_.store(w.next_seq);
      commits_.fetch_add(1);
      for (const auto& r : results) {
        if (r.ok()) batches_.fetch_add(1);
      }
      for (size_t i = 0; i < batch.size(); ++i) batch[i]->promise.set_value(results[i]);
    }
  }

  PostgresOptions options_;
  std::string where_;       // "postgres database D on HOST:PORT", set by Init
  bool read_only_ = false;  // set by Init: no writer, Write refuses
  std::unique_ptr<Conn> writer_;  // the writer thread's only, after Init
  std::unordered_map<std::string, int32_t> params_;  // writer thread only
  std::atomic<int64_t> next_seq_{1};
  std::atomic<int64_t> commits_{0};
  std::atomic<int64_t> batches_{0};
  std::thread writer_thread_;

  WriteQueue queue_;

  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<Conn>> idle_;  // guarded by pool_mu_
  int open_ = 0;                             // guarded by pool_mu_: idle + lent out
  bool closing_pool_ = false;                // guarded by pool_mu_
};

PooledView::~PooledView() { store_->Return(std::move(conn_)); }

}  // namespace

bool IsPostgresUrl(std::string_view store) {
  return store.starts_with("postgres://") || store.starts_with("postgresql://");
}

std::string RedactPostgresUrl(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  const size_t start = scheme + 3;
  size_t end = url.find_first_of("/?", start);
  if (end == std::string_view::npos) end = url.size();
  std::string out(url.substr(0, start));
  std::string_view authority = url.substr(start, end - start);
  const size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view user = authority.substr(0, at);
    out += user.substr(0, user.find(':'));
    out += '@';
    authority.remove_prefix(at + 1);
  }
  out += authority;
  std::string_view rest = url.substr(end);
  const size_t q = rest.find('?');
  out += rest.substr(0, q);
  if (q == std::string_view::npos) return out;
  std::string kept;
  std::string_view query = rest.substr(q + 1);
  for (;;) {
    const size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    if (!param.empty() && !param.starts_with("password=")) {
      kept += kept.empty() ? "?" : "&";
      kept += param;
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out + kept;
}

Result<std::unique_ptr<Store>> OpenPostgresStore(const PostgresOptions& options) {
  auto store = std::make_unique<PostgresStore>(options);
  RETURN_IF_ERROR(store->Init());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace lhcr::store
