// Thin RAII wrappers over libpq, private to the PostgreSQL store.
//
// Statements run with binary parameters and binary results: strings are
// bytea (any bytes, compared as memcmp, the same as SQLite's BINARY
// collation), numbers are int8/float8 sent bit for bit. Each Conn prepares a
// statement once (PQprepare, named by a counter) the first time its SQL text
// is run and reuses it after. A Conn is not thread-safe.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"

namespace lhcr::store::postgres {

// The parameters of one statement, all in binary format. Each Add returns the
// placeholder ("$1", "$2", ...) to put in the SQL text. Strings passed by
// string_view must outlive the statement's execution.
class Params {
 public:
  std::string Int4(int32_t v);
  std::string Int8(int64_t v);
  std::string Float8(double v);
  std::string Bool(bool v);
  std::string Bytes(std::string_view v);  // bytea
  std::string Text(std::string_view v);   // text (valid UTF-8 expected)
  std::string Int4Array(std::span<const int32_t> v);
  std::string Int8Array(std::span<const int64_t> v);
  std::string Float8Array(std::span<const double> v);
  std::string ByteaArray(std::span<const std::string_view> v);

  int size() const { return static_cast<int>(values_.size()); }
  const Oid* types() const { return types_.data(); }
  const char* const* values() const { return values_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  std::string Add(Oid type, const char* data, size_t size);
  std::string AddOwned(Oid type, std::string bytes);

  std::vector<Oid> types_;
  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
  std::deque<std::string> owned_;  // stable addresses for encoded values
};

// A query result (binary format when from Conn::Run).
class PgResult {
 public:
  explicit PgResult(PGresult* r) : r_(r, &PQclear) {}
  int rows() const { return PQntuples(r_.get()); }
  bool IsNull(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  // int2/int4/int8/bool columns (binary), or text digits (simple queries).
  int64_t Int(int row, int col) const;
  double Double(int row, int col) const;  // float8 (binary)
  const PGresult* raw() const { return r_.get(); }
  std::string_view Bytes(int row, int col) const {
    return std::string_view(PQgetvalue(r_.get(), row, col),
                            static_cast<size_t>(PQgetlength(r_.get(), row, col)));
  }

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> r_;
};

// One connection with its prepared statements.
class Conn {
 public:
  // Connects (conninfo is a libpq key=value string or a postgres:// URI).
  static Result<std::unique_ptr<Conn>> Open(const std::string& conninfo);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Runs SQL text (one or more statements) by the simple query protocol and
  // returns the last statement's result (text format).
  Result<PgResult> Simple(std::string_view sql);
  Status Exec(std::string_view sql) {
    auto r = Simple(sql);
    return r.ok() ? Status::Ok() : r.status();
  }
  // Prepares `sql` once per connection and runs it with `params`.
  Result<PgResult> Run(const std::string& sql, const Params& params);

  // Sends SQL without waiting for its answer; the next call on this Conn
  // (or Drain) collects it first. For a view's COMMIT on its way back to
  // the pool: no round trip on the reader's path.
  void SendAndForget(const char* sql);
  // Collects the answer of a SendAndForget. Not OK when it failed.
  Status Drain();

  // The connection is gone (server restart, network): throw it away.
  bool Broken() const { return PQstatus(conn_) == CONNECTION_BAD; }
  // SQLSTATE of the last failed call ("" when none, or no server answer).
  const std::string& last_sqlstate() const { return last_sqlstate_; }
  // "database D on HOST:PORT", for messages.
  std::string Describe() const;

 private:
  explicit Conn(PGconn* c) : conn_(c) {}
  Status Error(const PGresult* r, std::string_view what);

  PGconn* conn_;
  std::unordered_map<std::string, std::string> prepared_;  // sql -> name
  bool pending_ = false;
  std::string last_sqlstate_;
};

// Serialization failure (40001) or deadlock (40P01): rerunning the whole
// transaction may succeed.
bool IsRetryableSqlState(std::string_view sqlstate);

}  // namespace lhcr::store::postgres
