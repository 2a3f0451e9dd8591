#include "ingest/journal.h"

#include <sqlite3.h>

#include <utility>

namespace lhcr::ingest {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS source_counts(
  source TEXT PRIMARY KEY,
  received INTEGER NOT NULL DEFAULT 0,
  accepted INTEGER NOT NULL DEFAULT 0,
  rejected INTEGER NOT NULL DEFAULT 0,
  written INTEGER NOT NULL DEFAULT 0,
  unchanged INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS finding(
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  record TEXT NOT NULL,
  code TEXT NOT NULL,
  location TEXT NOT NULL,
  message TEXT NOT NULL,
  received TEXT NOT NULL,
  UNIQUE(source, record, code, location));
CREATE INDEX IF NOT EXISTS finding_by_code ON finding(source, code, id);
CREATE TABLE IF NOT EXISTS quarantine(
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  format TEXT NOT NULL,
  received TEXT NOT NULL,
  reason TEXT NOT NULL,
  body BLOB NOT NULL,
  status TEXT NOT NULL DEFAULT 'held',
  resolved TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS quarantine_by_source ON quarantine(source, status, id);
)sql";

// One prepared statement, finalised on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { status_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool ok() const { return status_ == SQLITE_OK; }
  Stmt& Bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& BindBlob(int i, std::string_view v) {
    sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  int Step() { return sqlite3_step(s_); }
  void Reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  std::string Text(int col) const {
    const void* p = sqlite3_column_blob(s_, col);
    int n = sqlite3_column_bytes(s_, col);
    return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), n);
  }
  int64_t Int(int col) const { return sqlite3_column_int64(s_, col); }

 private:
  sqlite3_stmt* s_ = nullptr;
  int status_ = SQLITE_ERROR;
};

Status Failed(sqlite3* db, const std::string& what) {
  return Status::Unavailable("ingest journal: " + what + ": " + sqlite3_errmsg(db));
}

QuarantineItem ReadItem(const Stmt& s) {
  QuarantineItem q;
  q.id = s.Int(0);
  q.source_id = s.Text(1);
  q.format = s.Text(2);
  q.received = s.Text(3);
  q.reason = s.Text(4);
  q.body = s.Text(5);
  q.status = s.Text(6);
  q.resolved = s.Text(7);
  return q;
}

constexpr const char* kItemColumns =
    "SELECT id, source, format, received, reason, body, status, resolved FROM quarantine ";

}  // namespace

Result<std::unique_ptr<IngestJournal>> IngestJournal::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::Unavailable("cannot open ingest journal " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db, 10000);
  std::unique_ptr<IngestJournal> j(new IngestJournal(db));
  // NORMAL: a crash may lose the last few counts, never corrupt the file;
  // the record itself is in the store.
  RETURN_IF_ERROR(j->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"));
  RETURN_IF_ERROR(j->Exec(kSchema));
  return j;
}

IngestJournal::~IngestJournal() { sqlite3_close(db_); }

Status IngestJournal::Exec(const char* sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Status::Unavailable("ingest journal: " + msg);
  }
  return Status::Ok();
}

Status IngestJournal::Count(const std::string& source_id, const SourceCounts& d) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_,
         "INSERT INTO source_counts(source, received, accepted, rejected, written, unchanged) "
         "VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(source) DO UPDATE SET "
         "received = received + ?2, accepted = accepted + ?3, rejected = rejected + ?4, "
         "written = written + ?5, unchanged = unchanged + ?6");
  if (!s.ok()) return Failed(db_, "count");
  s.Bind(1, source_id).Bind(2, d.received).Bind(3, d.accepted).Bind(4, d.rejected);
  s.Bind(5, d.written).Bind(6, d.unchanged);
  if (s.Step() != SQLITE_DONE) return Failed(db_, "count");
  return Status::Ok();
}

Status IngestJournal::AddFindings(const std::string& source_id, const std::string& record,
                                  const std::vector<Finding>& findings, const std::string& now) {
  if (findings.empty()) return Status::Ok();
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(Exec("BEGIN"));
  Stmt s(db_,
         "INSERT OR IGNORE INTO finding(source, record, code, location, message, received) "
         "VALUES(?, ?, ?, ?, ?, ?)");
  if (!s.ok()) {
    (void)Exec("ROLLBACK");
    return Failed(db_, "findings");
  }
  for (const Finding& f : findings) {
    s.Reset();
    s.Bind(1, source_id).Bind(2, record).Bind(3, f.code).Bind(4, f.location);
    s.Bind(5, f.message).Bind(6, now);
    if (s.Step() != SQLITE_DONE) {
      Status st = Failed(db_, "findings");
      (void)Exec("ROLLBACK");
      return st;
    }
  }
  return Exec("COMMIT");
}

Result<int64_t> IngestJournal::Quarantine(const std::string& source_id, const std::string& format,
                                          const std::string& reason, std::string_view body,
                                          const std::string& now) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_,
         "INSERT INTO quarantine(source, format, received, reason, body) VALUES(?, ?, ?, ?, ?)");
  s.Bind(1, source_id).Bind(2, format).Bind(3, now).Bind(4, reason).BindBlob(5, body);
  if (s.Step() != SQLITE_DONE) return Failed(db_, "quarantine");
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
}

Result<std::vector<QuarantineItem>> IngestJournal::ListQuarantine(const std::string& source_id,
                                                                  bool held_only,
                                                                  int limit) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string sql = std::string(kItemColumns) +
                    "WHERE (?1 = '' OR source = ?1) AND (?2 = 0 OR status = 'held') "
                    "ORDER BY id LIMIT ?3";
  Stmt s(db_, sql.c_str());
  if (!s.ok()) return Failed(db_, "quarantine list");
  s.Bind(1, source_id).Bind(2, int64_t{held_only ? 1 : 0}).Bind(3, int64_t{limit});
  std::vector<QuarantineItem> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(ReadItem(s));
  if (rc != SQLITE_DONE) return Failed(db_, "quarantine list");
  return out;
}

Result<QuarantineItem> IngestJournal::GetQuarantine(int64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string sql = std::string(kItemColumns) + "WHERE id = ?";
  Stmt s(db_, sql.c_str());
  s.Bind(1, id);
  int rc = s.Step();
  if (rc == SQLITE_ROW) return ReadItem(s);
  if (rc == SQLITE_DONE) {
    return Status::NotFound("no quarantined item " + std::to_string(id));
  }
  return Failed(db_, "quarantine read");
}

Status IngestJournal::Resolve(int64_t id, const std::string& status, const std::string& now) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_, "UPDATE quarantine SET status = ?, resolved = ? WHERE id = ?");
  s.Bind(1, status).Bind(2, now).Bind(3, id);
  if (s.Step() != SQLITE_DONE) return Failed(db_, "quarantine resolve");
  if (sqlite3_changes(db_) == 0) {
    return Status::NotFound("no quarantined item " + std::to_string(id));
  }
  return Status::Ok();
}

Result<SourceCounts> IngestJournal::Counts(const std::string& source_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_,
         "SELECT received, accepted, rejected, written, unchanged FROM source_counts "
         "WHERE source = ?");
  s.Bind(1, source_id);
  SourceCounts c;
  int rc = s.Step();
  if (rc == SQLITE_ROW) {
    c = {s.Int(0), s.Int(1), s.Int(2), s.Int(3), s.Int(4)};
  } else if (rc != SQLITE_DONE) {
    return Failed(db_, "counts");
  }
  return c;
}

Result<QualitySummary> IngestJournal::Quality(const std::string& source_id, int examples) const {
  QualitySummary q;
  q.source_id = source_id;
  ASSIGN_OR_RETURN(q.counts, Counts(source_id));
  std::lock_guard<std::mutex> lock(mu_);
  {
    Stmt s(db_,
           "SELECT code, count(*) FROM finding WHERE source = ? GROUP BY code "
           "ORDER BY count(*) DESC, code");
    s.Bind(1, source_id);
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      q.codes.push_back({s.Text(0), s.Int(1), {}});
      q.findings += s.Int(1);
    }
    if (rc != SQLITE_DONE) return Failed(db_, "quality");
  }
  for (QualitySummary::Code& c : q.codes) {
    Stmt s(db_,
           "SELECT record, location, message, received FROM finding "
           "WHERE source = ? AND code = ? ORDER BY id DESC LIMIT ?");
    s.Bind(1, source_id).Bind(2, c.code).Bind(3, int64_t{examples});
    while (s.Step() == SQLITE_ROW) {
      c.examples.push_back({source_id, s.Text(0), {s.Text(1), c.code, s.Text(2)}, s.Text(3)});
    }
  }
  Stmt held(db_, "SELECT count(*) FROM quarantine WHERE source = ? AND status = 'held'");
  held.Bind(1, source_id);
  if (held.Step() == SQLITE_ROW) q.quarantined = held.Int(0);
  return q;
}

Result<std::vector<FindingRow>> IngestJournal::Findings(const std::string& source_id,
                                                        int64_t limit) const {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_,
         "SELECT record, code, location, message, received FROM finding WHERE source = ? "
         "ORDER BY id LIMIT ?");
  s.Bind(1, source_id).Bind(2, limit);
  std::vector<FindingRow> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    out.push_back({source_id, s.Text(0), {s.Text(2), s.Text(1), s.Text(3)}, s.Text(4)});
  }
  if (rc != SQLITE_DONE) return Failed(db_, "findings");
  return out;
}

}  // namespace lhcr::ingest
