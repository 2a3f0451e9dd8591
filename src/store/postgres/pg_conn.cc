#include "store/postgres/pg_conn.h"

#include <cstdlib>
#include <cstring>

namespace lhcr::store::postgres {
namespace {

// Type oids (src/include/catalog/pg_type.dat); stable across versions.
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kTextOid = 25;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kByteaArrayOid = 1001;
constexpr Oid kInt4ArrayOid = 1007;
constexpr Oid kInt8ArrayOid = 1016;
constexpr Oid kFloat8ArrayOid = 1022;

void PutBe32(std::string* out, uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
               static_cast<char>(v)};
  out->append(b, 4);
}
void PutBe64(std::string* out, uint64_t v) {
  PutBe32(out, static_cast<uint32_t>(v >> 32));
  PutBe32(out, static_cast<uint32_t>(v));
}
uint64_t GetBe(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// The binary array format (array_send): ndim, has-null flag, element type,
// then per dimension its size and lower bound, then each element as a
// length and its bytes.
template <typename T, typename F>
std::string EncodeArray(Oid elem, std::span<const T> v, F encode_one) {
  std::string out;
  PutBe32(&out, v.empty() ? 0 : 1);
  PutBe32(&out, 0);
  PutBe32(&out, elem);
  if (!v.empty()) {
    PutBe32(&out, static_cast<uint32_t>(v.size()));
    PutBe32(&out, 1);
  }
  for (const T& x : v) encode_one(&out, x);
  return out;
}

}  // namespace

bool IsRetryableSqlState(std::string_view s) { return s == "40001" || s == "40P01"; }

std::string Params::Add(Oid type, const char* data, size_t size) {
  types_.push_back(type);
  // A null pointer means SQL NULL to libpq; an empty value is "".
  values_.push_back(data != nullptr ? data : "");
  lengths_.push_back(static_cast<int>(size));
  formats_.push_back(1);
  return "$" + std::to_string(values_.size());
}
std::string Params::AddOwned(Oid type, std::string bytes) {
  owned_.push_back(std::move(bytes));
  return Add(type, owned_.back().data(), owned_.back().size());
}

std::string Params::Int4(int32_t v) {
  std::string b;
  PutBe32(&b, static_cast<uint32_t>(v));
  return AddOwned(kInt4Oid, std::move(b));
}
std::string Params::Int8(int64_t v) {
  std::string b;
  PutBe64(&b, static_cast<uint64_t>(v));
  return AddOwned(kInt8Oid, std::move(b));
}
std::string Params::Float8(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  std::string b;
  PutBe64(&b, bits);
  return AddOwned(kFloat8Oid, std::move(b));
}
std::string Params::Bool(bool v) { return AddOwned(kBoolOid, std::string(1, v ? '\1' : '\0')); }
std::string Params::Bytes(std::string_view v) { return Add(kByteaOid, v.data(), v.size()); }
std::string Params::Text(std::string_view v) { return Add(kTextOid, v.data(), v.size()); }

std::string Params::Int4Array(std::span<const int32_t> v) {
  return AddOwned(kInt4ArrayOid, EncodeArray(kInt4Oid, v, [](std::string* out, int32_t x) {
                    PutBe32(out, 4);
                    PutBe32(out, static_cast<uint32_t>(x));
                  }));
}
std::string Params::Int8Array(std::span<const int64_t> v) {
  return AddOwned(kInt8ArrayOid, EncodeArray(kInt8Oid, v, [](std::string* out, int64_t x) {
                    PutBe32(out, 8);
                    PutBe64(out, static_cast<uint64_t>(x));
                  }));
}
std::string Params::Float8Array(std::span<const double> v) {
  return AddOwned(kFloat8ArrayOid, EncodeArray(kFloat8Oid, v, [](std::string* out, double x) {
                    uint64_t bits;
                    std::memcpy(&bits, &x, sizeof bits);
                    PutBe32(out, 8);
                    PutBe64(out, bits);
                  }));
}
std::string Params::ByteaArray(std::span<const std::string_view> v) {
  return AddOwned(kByteaArrayOid,
                  EncodeArray(kByteaOid, v, [](std::string* out, std::string_view x) {
                    PutBe32(out, static_cast<uint32_t>(x.size()));
                    out->append(x);
                  }));
}

int64_t PgResult::Int(int row, int col) const {
  const char* p = PQgetvalue(r_.get(), row, col);
  if (PQfformat(r_.get(), col) == 0) return std::strtoll(p, nullptr, 10);
  switch (PQftype(r_.get(), col)) {
    case kBoolOid: return p[0] != 0 ? 1 : 0;
    case kInt2Oid: return static_cast<int16_t>(GetBe(p, 2));
    case kInt4Oid: return static_cast<int32_t>(GetBe(p, 4));
    default: return static_cast<int64_t>(GetBe(p, 8));
  }
}

double PgResult::Double(int row, int col) const {
  const char* p = PQgetvalue(r_.get(), row, col);
  if (PQfformat(r_.get(), col) == 0) return std::strtod(p, nullptr);
  uint64_t bits = GetBe(p, 8);
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

Result<std::unique_ptr<Conn>> Conn::Open(const std::string& conninfo) {
  // Our defaults first: the caller's conninfo (expanded from "dbname")
  // overrides them.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {"10", "lhcr", conninfo.c_str(), nullptr};
  PGconn* c = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (c == nullptr) return Status::Unavailable("postgres: out of memory connecting");
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(c);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    PQfinish(c);
    return Status::Unavailable("postgres: cannot connect: " + msg);
  }
  // Notices (e.g. "there is no transaction in progress") are not errors.
  PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<Conn>(new Conn(c));
}

Conn::~Conn() { PQfinish(conn_); }

std::string Conn::Describe() const {
  const char* host = PQhost(conn_);
  const char* port = PQport(conn_);
  const char* db = PQdb(conn_);
  return std::string("postgres database ") + (db != nullptr ? db : "?") + " on " +
         (host != nullptr ? host : "?") + ":" + (port != nullptr ? port : "?");
}

Status Conn::Error(const PGresult* r, std::string_view what) {
  const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  last_sqlstate_ = state != nullptr ? state : "";
  std::string msg = r != nullptr ? PQresultErrorMessage(r) : "";
  if (msg.empty()) msg = PQerrorMessage(conn_);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  std::string text = "postgres: " + std::string(what) + ": " + msg;
  if (!last_sqlstate_.empty()) text += " (SQLSTATE " + last_sqlstate_ + ")";
  const std::string& s = last_sqlstate_;
  if (Broken() || s.starts_with("08") || s == "57P01" || s == "57P02" || s == "57P03" ||
      s.starts_with("53")) {
    return Status::Unavailable(text);
  }
  if (IsRetryableSqlState(s) || s == "55P03") return Status::Busy(text);
  if (s.starts_with("23")) return Status::Conflict(text);
  if (s.starts_with("22")) return Status::Incorrect(text);
  return Status::Fault(text);
}

Status Conn::Drain() {
  if (!pending_) return Status::Ok();
  pending_ = false;
  Status st;
  while (PGresult* r = PQgetResult(conn_)) {
    ExecStatusType t = PQresultStatus(r);
    if (st.ok() && t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) st = Error(r, "deferred");
    PQclear(r);
  }
  return st;
}

void Conn::SendAndForget(const char* sql) {
  if (!Drain().ok()) return;
  pending_ = PQsendQuery(conn_, sql) == 1;
}

Result<PgResult> Conn::Simple(std::string_view sql) {
  RETURN_IF_ERROR(Drain());
  last_sqlstate_.clear();
  std::string s(sql);
  // PQexec returns the last statement's result; an error stops the string.
  PgResult res(PQexec(conn_, s.c_str()));
  ExecStatusType t = PQresultStatus(res.raw());
  if (res.raw() == nullptr || (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK)) {
    return Error(res.raw(), s.substr(0, 60));
  }
  return res;
}

Result<PgResult> Conn::Run(const std::string& sql, const Params& params) {
  RETURN_IF_ERROR(Drain());
  last_sqlstate_.clear();
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = "s" + std::to_string(prepared_.size() + 1);
    PgResult prep(PQprepare(conn_, name.c_str(), sql.c_str(), params.size(), params.types()));
    if (prep.raw() == nullptr || PQresultStatus(prep.raw()) != PGRES_COMMAND_OK) {
      return Error(prep.raw(), "prepare " + sql.substr(0, 80));
    }
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  PgResult res(PQexecPrepared(conn_, it->second.c_str(), params.size(), params.values(),
                              params.lengths(), params.formats(), /*resultFormat=*/1));
  ExecStatusType t = PQresultStatus(res.raw());
  if (res.raw() == nullptr || (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK)) {
    return Error(res.raw(), sql.substr(0, 80));
  }
  return res;
}

}  // namespace lhcr::store::postgres
