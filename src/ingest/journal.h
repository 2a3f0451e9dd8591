// IngestJournal: what ingest remembers besides the record itself — per
// source counts of what arrived and what became of it, the data-quality
// findings fed back to each source, and the quarantine of input that could
// not be taken (held with its reason, for replay once the cause is fixed).
//
// A small SQLite database of its own (`<data>/ingest.db`, WAL), beside the
// store: it holds no clinical facts, only feedback about feeds and the raw
// bytes of rejected input. Findings are keyed by (source, record, code,
// location), so a resent message adds no second copy of its findings.
//
// Thread-safe: every call may come from any thread (one connection behind a
// mutex; calls are short).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

struct sqlite3;

namespace lhcr::ingest {

// One data-quality problem in one record a source sent.
struct Finding {
  std::string location;  // "PID-3[2]", "row 12, column NHSNo", "Bundle.entry[3]"
  std::string code;      // invalid-nhs-number, missing-item, invalid-date, unmapped-code,
                         // conflicting-demographics, duplicate-record, rejected, ...
  std::string message;
  bool operator==(const Finding&) const = default;
};

struct FindingRow {
  std::string source_id;
  std::string record;  // the message control id / record id / Bundle it came in
  Finding finding;
  std::string received;  // FHIR instant when first seen
};

// What became of the items (messages, Bundles, CSV records) a source sent.
struct SourceCounts {
  int64_t received = 0;   // items seen
  int64_t accepted = 0;   // items written or found unchanged
  int64_t rejected = 0;   // items quarantined
  int64_t written = 0;    // resources written (new versions)
  int64_t unchanged = 0;  // resources already stored as sent
  bool operator==(const SourceCounts&) const = default;
};

struct QualitySummary {
  struct Code {
    std::string code;
    int64_t count = 0;
    std::vector<FindingRow> examples;  // the most recent first
  };
  std::string source_id;
  SourceCounts counts;
  int64_t findings = 0;     // all findings
  int64_t quarantined = 0;  // items still held
  std::vector<Code> codes;  // most frequent first
};

struct QuarantineItem {
  int64_t id = 0;
  std::string source_id;  // "" when the sender was not recognised
  std::string format;     // hl7v2 | csv | fhir
  std::string received;   // FHIR instant
  std::string reason;
  std::string body;       // the bytes as received
  std::string status;     // "held" | "replayed" | "discarded"
  std::string resolved;   // FHIR instant of the replay, "" while held
};

class IngestJournal {
 public:
  // Opens (creating if missing) the journal at `path`; ":memory:" for a
  // private in-memory one. kUnavailable when the file cannot be opened.
  static Result<std::unique_ptr<IngestJournal>> Open(const std::string& path);
  ~IngestJournal();
  IngestJournal(const IngestJournal&) = delete;
  IngestJournal& operator=(const IngestJournal&) = delete;

  // Adds one item's outcome to the source's counts.
  Status Count(const std::string& source_id, const SourceCounts& delta);
  // Records findings for one record; ones already recorded are ignored.
  Status AddFindings(const std::string& source_id, const std::string& record,
                     const std::vector<Finding>& findings, const std::string& now);
  // Holds rejected input; returns its id.
  Result<int64_t> Quarantine(const std::string& source_id, const std::string& format,
                             const std::string& reason, std::string_view body,
                             const std::string& now);
  // Held (or all) items, oldest first, optionally of one source ("" = all).
  Result<std::vector<QuarantineItem>> ListQuarantine(const std::string& source_id, bool held_only,
                                                     int limit) const;
  // kNotFound when there is no such item.
  Result<QuarantineItem> GetQuarantine(int64_t id) const;
  // Marks an item replayed or discarded (status), with the time.
  Status Resolve(int64_t id, const std::string& status, const std::string& now);

  Result<SourceCounts> Counts(const std::string& source_id) const;
  // Counts, findings by code with up to `examples` examples each.
  Result<QualitySummary> Quality(const std::string& source_id, int examples) const;
  // Every finding of a source, oldest first, at most `limit`.
  Result<std::vector<FindingRow>> Findings(const std::string& source_id, int64_t limit) const;

 private:
  explicit IngestJournal(sqlite3* db) : db_(db) {}
  Status Exec(const char* sql) const;

  mutable std::mutex mu_;
  sqlite3* db_;
};

}  // namespace lhcr::ingest
