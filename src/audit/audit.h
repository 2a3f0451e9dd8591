// Audit: every request to lhcr, allowed or denied, leaves an AuditEvent
// (FHIR R4, http://hl7.org/fhir/R4/auditevent.html) in the store, and the
// AuditEvents form an append-only, tamper-evident chain.
//
// The chain. Entry n is the AuditEvent with id "n" (1, 2, ...). Its stored
// text ends with an extension (kChainExtensionUrl) holding its sequence
// number, the hash of entry n-1 (64 zeros for entry 1) and its own hash:
// hex SHA-256 of its stored text with its own hash replaced by 64 zeros. An
// edited entry no longer matches its hash; a deleted, inserted or reordered
// one breaks the sequence or the link to the entry before. Every
// `checkpoint_every` entries (and at the first append `checkpoint_seconds`
// after the last checkpoint, and at Close) the newest entry's sequence and
// hash are signed with an Ed25519 key kept in the data directory and
// appended to a checkpoint file there, so a chain cut short, or rewritten
// from some entry on, is caught against the last signed checkpoint.
//
// Writing. A write's AuditEvent is appended in the SAME store transaction as
// the write (AuditedStore wraps the Store the interactions write through:
// after the write's function it appends one entry naming what was written).
// Every other request's entry goes through AuditLog::Record, which
// group-commits the entries of concurrent requests in one store write; the
// request waits for that commit. If an entry cannot be written the request
// fails: audit never fails open.
//
// Who. An Actor is what audit knows of the caller; the API maps its caller
// (today the X-Lhcr-* headers, later auth::Principal) to one in one place.
//
// Thread-safe: AuditLog, AuditedStore and Verify may be used from many
// threads. A RequestScope belongs to the thread that made it.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "fhir/search_param.h"
#include "store/store.h"

namespace lhcr::audit {

inline constexpr const char* kChainExtensionUrl =
    "https://lhcr.example/fhir/StructureDefinition/audit-chain";
inline constexpr const char* kBreakGlassExtensionUrl =
    "https://lhcr.example/fhir/StructureDefinition/break-glass-reason";

enum class ActorKind { kAnonymous, kProfessional, kPatient, kSystem };
std::string_view ActorKindName(ActorKind k);

// Who asked, for which organisation, in which role and why.
struct Actor {
  ActorKind kind = ActorKind::kAnonymous;
  std::string user;                // user id ("anonymous" when unknown)
  std::string org;                 // ODS code of the organisation acted for
  std::string role;                // role code (e.g. an NHS RBAC role)
  std::string purpose_of_use;      // v3-ActReason code: TREAT, ETREAT, ...
  std::string break_glass_reason;  // non-empty: access under break-glass
  std::string patient_id;          // kPatient: the Patient they are
  bool operator==(const Actor&) const = default;
};

// AuditEvent.outcome (http://hl7.org/fhir/audit-event-outcome).
enum class Outcome : int { kSuccess = 0, kMinorFailure = 4, kSeriousFailure = 8 };

struct EntityRef {
  std::string type;
  std::string id;  // empty: the type as a whole (a search)
  bool operator==(const EntityRef&) const = default;
};

// One audited request.
struct Event {
  Actor actor;
  // http://hl7.org/fhir/restful-interaction code: read, vread, search-type,
  // create, update, patch, delete, history-instance, transaction, operation...
  std::string subtype;
  char action = 'R';  // C R U D E (http://hl7.org/fhir/audit-event-action)
  Outcome outcome = Outcome::kSuccess;
  std::string outcome_desc;  // the error message of a failed request
  Millis recorded = 0;
  std::vector<EntityRef> entities;    // what was read or written
  std::vector<std::string> patients;  // ids of the Patients it concerns
  std::string query;                  // the request's query string, if any
  std::string address;                // the client's network address
  std::string method_path;            // "GET /fhir/Patient/1" (entity description)
  bool operator==(const Event&) const = default;
};

// Where the chain stands: the newest entry's sequence number and hash.
struct ChainHead {
  int64_t seq = 0;
  std::string hash;  // 64 hex digits; 64 zeros before the first entry
  bool operator==(const ChainHead&) const = default;
};

class Checkpoints;

struct AuditOptions {
  std::string dir;                  // the data directory: signing key and checkpoint file
  int64_t checkpoint_every = 1000;  // entries
  int64_t checkpoint_seconds = 10;  // at the first append this long after the last
  // Record returns once its entry is committed (else once it is queued:
  // see AuditLog::Record).
  bool wait_for_commit = false;
  size_t max_pending = 10000;  // Record waits while this many are queued
  // The flusher lets a batch grow for up to this long (or to batch_size
  // entries) before writing it: fewer, larger commits. Reads do not wait
  // for the commit, so this costs them no latency; it is part of what a
  // crash can lose.
  int linger_ms = 5;
  size_t batch_size = 512;
};

// The audit trail over a store. Record and AppendInTxn may be called from
// many threads.
class AuditLog {
 public:
  // Opens (creating on first use) the signing key and checkpoint file in
  // options.dir. `store` is the store the chain lives in (not an
  // AuditedStore over it); it outlives the log.
  static Result<std::unique_ptr<AuditLog>> Open(
      store::Store& store, std::shared_ptr<const fhir::SearchParamRegistry> params,
      const AuditOptions& options, Clock& clock);
  ~AuditLog();

  // Queues `e` for the chain; the flusher commits the queue in one store
  // write (group commit), so a read pays no commit of its own. Returns once
  // the entry is queued, or with wait_for_commit once it is committed. While
  // the store refuses the flusher's writes (the batch is kept and tried
  // again), Record fails: requests are refused rather than served
  // unaudited. What a crash can lose is the queue of the last moments'
  // reads; a write's entry is in its own transaction (AuditedStore).
  Status Record(const Event& e);

  // Returns once every entry recorded before the call is committed (or
  // with the error that keeps them from being written).
  Status Flush();

  // Appends `e` inside `txn` (the caller's write transaction) after the
  // chain's current head, which it reads through `txn`. *head is the new
  // entry's; tell Committed once the transaction has committed.
  Status AppendInTxn(store::WriteTxn& txn, const Event& e, ChainHead* head);
  // A transaction with an appended entry committed (for checkpoints).
  void Committed(const ChainHead& head);

  // Signs a checkpoint of the newest committed entry if it has none yet.
  Status Checkpoint();
  // Checkpoints and stops; Record fails after. Idempotent.
  void Close();

  Clock& clock() { return clock_; }

  struct Batch;

 private:
  AuditLog(store::Store& store, std::shared_ptr<const fhir::SearchParamRegistry> params,
           std::unique_ptr<Checkpoints> checkpoints, const AuditOptions& options, Clock& clock);

  store::Store& store_;
  std::shared_ptr<const fhir::SearchParamRegistry> params_;
  // Entries' index rows are built from the Event, not by FHIRPath over their
  // JSON (exact under params_: checked at Open; entry.h DirectRowsFit).
  bool direct_rows_ = false;
  std::unique_ptr<Checkpoints> checkpoints_;
  AuditOptions options_;
  Clock& clock_;

  void FlushLoop();

  // Record's queue: a flusher thread writes every pending entry in one
  // store write (group commit), in the order they were recorded.
  std::mutex mu_;
  std::condition_variable work_cv_;   // the flusher waits for entries
  std::condition_variable done_cv_;   // Record waits for its batch (wait_for_commit)
  std::condition_variable space_cv_;  // Record waits for room in the queue
  std::shared_ptr<Batch> pending_;    // guarded by mu_: entries not yet written
  std::shared_ptr<Batch> retry_;      // guarded by mu_: a batch whose write failed
  Status failed_;                     // guarded by mu_: why the last write failed
  bool closed_ = false;               // guarded by mu_
  bool writing_ = false;              // guarded by mu_: the flusher is in a store write
  std::thread flusher_;

  // The chain's head in the store, as this process last saw it (read and
  // checked inside each append's transaction; see HeadIn).
  Result<ChainHead> HeadIn(store::StoreView& txn);
  std::mutex hint_mu_;
  ChainHead hint_;  // guarded by hint_mu_

  std::mutex cp_mu_;
  ChainHead newest_;            // guarded by cp_mu_: newest committed entry
  int64_t checkpointed_ = 0;    // guarded by cp_mu_: seq of the last checkpoint
  Millis checkpointed_at_ = 0;  // guarded by cp_mu_
};

// The request being served on this thread, as audit knows it: set by the
// API around each request, read by AuditedStore to name who wrote what.
class RequestScope {
 public:
  explicit RequestScope(Event base);
  ~RequestScope();
  RequestScope(const RequestScope&) = delete;
  RequestScope& operator=(const RequestScope&) = delete;

  // The innermost scope on this thread, or nullptr.
  static RequestScope* Current();

  Event& event() { return event_; }
  const Event& event() const { return event_; }
  // How many of the request's writes committed with their AuditEvent.
  int audited_writes() const { return audited_writes_; }
  void CountAuditedWrite() { ++audited_writes_; }

 private:
  Event event_;
  int audited_writes_ = 0;
  RequestScope* outer_;
};

// A Store whose writes carry their audit: each Write that stores anything
// appends, in the same transaction, one AuditEvent naming the resources it
// wrote and the Patients they concern, with the current RequestScope's
// actor and interaction (a write outside any scope is recorded as the
// system's). Stores of AuditEvent by anyone but the audit log are refused
// (kForbidden): the trail is append-only. Reads pass straight through.
class AuditedStore : public store::Store {
 public:
  AuditedStore(store::Store& inner, AuditLog& log);

  Result<std::unique_ptr<store::StoreView>> View() override { return inner_.View(); }
  Result<std::optional<store::ResourceVersion>> ReadCurrent(std::string_view type,
                                                            std::string_view id) override {
    return inner_.ReadCurrent(type, id);
  }
  Result<std::optional<store::ResourceVersion>> ReadVersion(std::string_view type,
                                                            std::string_view id,
                                                            int64_t version) override {
    return inner_.ReadVersion(type, id, version);
  }
  Status Write(const std::function<Status(store::WriteTxn&)>& fn) override;
  store::StoreStats Stats() override { return inner_.Stats(); }
  void Close() override;

 private:
  store::Store& inner_;
  AuditLog& log_;
};

// The id of the Patient a resource concerns: its own id for a Patient, else
// the first Patient reference in its subject, patient or beneficiary (a
// bounded scan of the stored text, not a parse). Empty when none.
std::string PatientOf(std::string_view type, std::string_view id, std::string_view json);

// What `lhcr audit verify` found.
struct VerifyReport {
  bool ok = false;
  int64_t entries = 0;      // entries checked
  int64_t checkpoints = 0;  // signed checkpoints checked
  // When not ok: the first bad entry's sequence number (or, for a chain
  // that ends early, the first one missing) and what is wrong with it.
  int64_t first_bad = 0;
  std::string problem;
};

// Walks the chain in `store` in storage order and the signed checkpoints in
// `dir`: every entry must be the next in sequence, match its hash and name
// its predecessor's; every checkpoint must carry a valid signature by the
// key in `dir` and match the entry it names, and the chain must reach the
// newest. An error Status only when the store or files cannot be read.
Result<VerifyReport> Verify(store::Store& store, const std::string& dir);

}  // namespace lhcr::audit
