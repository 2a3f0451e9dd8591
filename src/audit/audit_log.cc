#include <algorithm>
#include <chrono>
#include <cstring>
#include <utility>

#include "audit/audit.h"
#include "audit/checkpoints.h"
#include "audit/entry.h"

namespace lhcr::audit {
namespace {

// The head that entry `v` (AuditEvent/`seq`) makes.
Result<ChainHead> HeadOf(const store::ResourceVersion& v) {
  Result<ParsedEntry> e = ParseEntry(v.json);
  if (!e.ok()) {
    return Status::Fault("the audit chain's newest entry AuditEvent/" + v.id + " is unreadable (" +
                         e.status().message() +
                         "); run lhcr audit verify; nothing of this request was stored");
  }
  return ChainHead{e->seq, std::move(e->hash)};
}

// The chain's newest entry as `txn` sees it, by the store's history: the
// first append of a process (SQLite answers it by walking every AuditEvent).
Result<ChainHead> HistoryHead(store::StoreView& txn) {
  store::HistoryQuery q;
  q.type = "AuditEvent";
  q.limit = 1;
  ASSIGN_OR_RETURN(std::vector<store::ResourceVersion> newest, txn.History(q));
  if (newest.empty()) return ChainHead{0, std::string(kGenesisHash)};
  return HeadOf(newest[0]);
}

// Appends `p` after *head (and moves *head on).
Status AppendPrepared(store::WriteTxn& txn, const PreparedEntry& p, ChainHead* head) {
  store::ResourceVersion v;
  v.type = "AuditEvent";
  v.id = std::to_string(head->seq + 1);
  v.version = 1;
  v.last_updated = p.recorded;
  v.method = store::Method::kCreate;
  std::string hash;
  v.json = SealEntry(p, head->seq + 1, head->hash, &hash);
  RETURN_IF_ERROR(txn.Put(v, p.rows, {}));
  head->seq += 1;
  head->hash = std::move(hash);
  return Status::Ok();
}

thread_local RequestScope* g_scope = nullptr;

// Finds `"key":{` and in the next object the first "reference":"Patient/ID".
std::string PatientIn(std::string_view json, std::string_view key) {
  size_t at = json.find(key);
  while (at != std::string_view::npos) {
    size_t obj = at + key.size();
    if (obj < json.size() && json[obj] == '{') {
      size_t end = json.find('}', obj);
      std::string_view inner =
          json.substr(obj, end == std::string_view::npos ? std::string_view::npos : end - obj);
      constexpr std::string_view kRef = "\"reference\":\"";
      size_t r = inner.find(kRef);
      if (r != std::string_view::npos) {
        std::string_view ref = inner.substr(r + kRef.size());
        // "Patient/ID", possibly with a base URL before it.
        size_t q = ref.find('"');
        if (q != std::string_view::npos) ref = ref.substr(0, q);
        size_t p = ref.rfind("Patient/");
        if (p != std::string_view::npos && (p == 0 || ref[p - 1] == '/')) {
          std::string_view id = ref.substr(p + 8);
          id = id.substr(0, id.find('/'));  // drop /_history/n
          if (!id.empty()) return std::string(id);
        }
      }
    }
    at = json.find(key, at + key.size());
  }
  return {};
}

}  // namespace

std::string PatientOf(std::string_view type, std::string_view id, std::string_view json) {
  if (type == "Patient") return std::string(id);
  for (std::string_view key : {"\"subject\":", "\"patient\":", "\"beneficiary\":"}) {
    std::string p = PatientIn(json, key);
    if (!p.empty()) return p;
  }
  return {};
}

// ---- AuditLog ---------------------------------------------------------------

struct AuditLog::Batch {
  std::vector<PreparedEntry> entries;
  Status result;
  bool done = false;
};

AuditLog::AuditLog(store::Store& store, std::shared_ptr<const fhir::SearchParamRegistry> params,
                   std::unique_ptr<Checkpoints> checkpoints, const AuditOptions& options,
                   Clock& clock)
    : store_(store),
      params_(std::move(params)),
      direct_rows_(DirectRowsFit(*params_)),
      checkpoints_(std::move(checkpoints)),
      options_(options),
      clock_(clock),
      pending_(std::make_shared<Batch>()) {
  checkpointed_at_ = clock_.Now();
  flusher_ = std::thread([this] { FlushLoop(); });
}

AuditLog::~AuditLog() { Close(); }

Result<std::unique_ptr<AuditLog>> AuditLog::Open(
    store::Store& store, std::shared_ptr<const fhir::SearchParamRegistry> params,
    const AuditOptions& options, Clock& clock) {
  ASSIGN_OR_RETURN(std::unique_ptr<Checkpoints> cp, Checkpoints::Open(options.dir));
  std::string problem;
  ASSIGN_OR_RETURN(std::vector<SignedCheckpoint> done, ReadCheckpoints(options.dir, &problem));
  auto log = std::unique_ptr<AuditLog>(
      new AuditLog(store, std::move(params), std::move(cp), options, clock));
  if (!done.empty()) {
    const ChainHead last{done.back().seq, done.back().hash};
    {
      std::lock_guard<std::mutex> lock(log->cp_mu_);
      log->checkpointed_ = last.seq;
      log->newest_ = last;
    }
    std::lock_guard<std::mutex> lock(log->hint_mu_);
    log->hint_ = last;  // walked on from here
  }
  return log;
}

Status AuditLog::Record(const Event& e) {
  PreparedEntry p = PrepareEntry(e, *params_, direct_rows_);
  std::unique_lock<std::mutex> lock(mu_);
  space_cv_.wait(lock, [&] {
    return closed_ || !failed_.ok() || pending_->entries.size() < options_.max_pending;
  });
  if (!failed_.ok()) return failed_;
  if (closed_) return Status::Unavailable("the audit log is closed, so the request was not served");
  std::shared_ptr<Batch> mine = pending_;
  mine->entries.push_back(std::move(p));
  // The flusher waits only for the first entry or for a full batch.
  if (mine->entries.size() == 1 || mine->entries.size() == options_.batch_size ||
      options_.wait_for_commit) {
    work_cv_.notify_one();
  }
  if (!options_.wait_for_commit) return Status::Ok();
  done_cv_.wait(lock, [&] { return mine->done; });
  return mine->result;
}

Status AuditLog::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  std::shared_ptr<Batch> last = !pending_->entries.empty() ? pending_ : retry_;
  if (!last) {
    // Nothing queued; wait for a batch being written, if any: it is the one
    // the flusher holds, which FlushLoop marks done.
    done_cv_.wait(lock, [&] { return !writing_; });
    return failed_;
  }
  work_cv_.notify_one();
  done_cv_.wait(lock, [&] { return last->done; });
  return last->result;
}

void AuditLog::FlushLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return retry_ || !pending_->entries.empty() || closed_; });
    if (!retry_ && !closed_ && !options_.wait_for_commit) {
      work_cv_.wait_for(lock, std::chrono::milliseconds(options_.linger_ms),
                        [&] { return closed_ || pending_->entries.size() >= options_.batch_size; });
    }
    std::shared_ptr<Batch> batch;
    if (retry_) {
      batch = std::move(retry_);
    } else if (!pending_->entries.empty()) {
      batch = std::exchange(pending_, std::make_shared<Batch>());
      space_cv_.notify_all();
    } else {
      return;  // closed and drained
    }
    writing_ = true;
    lock.unlock();
    ChainHead head;
    Status s = store_.Write([&](store::WriteTxn& txn) -> Status {
      ASSIGN_OR_RETURN(head, HeadIn(txn));
      for (const PreparedEntry& entry : batch->entries) {
        RETURN_IF_ERROR(AppendPrepared(txn, entry, &head));
      }
      std::lock_guard<std::mutex> hint_lock(hint_mu_);
      hint_ = head;
      return Status::Ok();
    });
    if (s.ok()) Committed(head);
    lock.lock();
    writing_ = false;
    if (s.ok()) {
      failed_ = Status::Ok();
      batch->done = true;
      batch->result = s;
      done_cv_.notify_all();
      space_cv_.notify_all();
      continue;
    }
    failed_ =
        Status(s.code(), "the request could not be audited (audit entries cannot be stored: " +
                             std::string(s.message()) + "), so it was not served");
    space_cv_.notify_all();
    if (closed_) {  // give up: nobody will come back for these
      batch->done = true;
      batch->result = failed_;
      done_cv_.notify_all();
      continue;
    }
    done_cv_.notify_all();
    // Keep the batch, in order, and try again shortly.
    retry_ = std::move(batch);
    work_cv_.wait_for(lock, std::chrono::milliseconds(200), [&] { return closed_; });
  }
}

Result<ChainHead> AuditLog::HeadIn(store::StoreView& txn) {
  ChainHead hint;
  {
    std::lock_guard<std::mutex> lock(hint_mu_);
    hint = hint_;
  }
  // Where the last append left the chain, checked by point reads: back over
  // entries a rolled-back transaction took with it, on over entries another
  // writer (a second lhcr on the same PostgreSQL) appended. No hint yet: the
  // store's history, once.
  int64_t seq = hint.seq;
  if (seq <= 0) return HistoryHead(txn);
  ASSIGN_OR_RETURN(std::optional<store::ResourceVersion> v,
                   txn.Read("AuditEvent", std::to_string(seq)));
  for (int back = 0; !v && seq > 1; ++back) {
    if (back == 100000) return HistoryHead(txn);
    --seq;
    ASSIGN_OR_RETURN(v, txn.Read("AuditEvent", std::to_string(seq)));
  }
  if (!v) return HistoryHead(txn);
  for (;;) {
    ASSIGN_OR_RETURN(std::optional<store::ResourceVersion> next,
                     txn.Read("AuditEvent", std::to_string(seq + 1)));
    if (!next) break;
    v = std::move(next);
    ++seq;
  }
  return HeadOf(*v);
}

Status AuditLog::AppendInTxn(store::WriteTxn& txn, const Event& e, ChainHead* head) {
  PreparedEntry p = PrepareEntry(e, *params_, direct_rows_);
  ASSIGN_OR_RETURN(*head, HeadIn(txn));
  RETURN_IF_ERROR(AppendPrepared(txn, p, head));
  std::lock_guard<std::mutex> lock(hint_mu_);
  hint_ = *head;
  return Status::Ok();
}

void AuditLog::Committed(const ChainHead& head) {
  std::lock_guard<std::mutex> lock(cp_mu_);
  if (head.seq > newest_.seq) newest_ = head;
  const Millis now = clock_.Now();
  if (newest_.seq - checkpointed_ >= options_.checkpoint_every ||
      (newest_.seq > checkpointed_ &&
       now - checkpointed_at_ >= options_.checkpoint_seconds * 1000)) {
    // A failed checkpoint is tried again at the next commit; the entries
    // themselves are stored.
    if (checkpoints_->Append(newest_, now).ok()) {
      checkpointed_ = newest_.seq;
      checkpointed_at_ = now;
    }
  }
}

Status AuditLog::Checkpoint() {
  std::lock_guard<std::mutex> lock(cp_mu_);
  if (newest_.seq <= checkpointed_) return Status::Ok();
  const Millis now = clock_.Now();
  RETURN_IF_ERROR(checkpoints_->Append(newest_, now));
  checkpointed_ = newest_.seq;
  checkpointed_at_ = now;
  return Status::Ok();
}

void AuditLog::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    work_cv_.notify_all();
    space_cv_.notify_all();
  }
  flusher_.join();  // writes what is queued first
  (void)Checkpoint();
}

// ---- RequestScope -------------------------------------------------------------

RequestScope::RequestScope(Event base) : event_(std::move(base)), outer_(g_scope) {
  g_scope = this;
}
RequestScope::~RequestScope() { g_scope = outer_; }
RequestScope* RequestScope::Current() { return g_scope; }

// ---- AuditedStore -------------------------------------------------------------

namespace {

constexpr size_t kMaxEntities = 100;

// A write transaction that notes what is written and refuses AuditEvents.
class NotingTxn : public store::WriteTxn {
 public:
  explicit NotingTxn(store::WriteTxn& inner) : inner_(inner) {}

  struct Written {
    std::string type, id, patient;
    store::Method method;
    bool deleted;
  };
  std::vector<Written> written;

  int64_t Seq() const override { return inner_.Seq(); }
  Result<std::optional<store::ResourceVersion>> Read(std::string_view type,
                                                     std::string_view id) override {
    return inner_.Read(type, id);
  }
  Result<std::optional<store::ResourceVersion>> VRead(std::string_view type, std::string_view id,
                                                      int64_t version) override {
    return inner_.VRead(type, id, version);
  }
  Result<std::vector<store::ResourceVersion>> History(const store::HistoryQuery& q) override {
    return inner_.History(q);
  }
  Result<int64_t> HistoryCount(const store::HistoryQuery& q) override {
    return inner_.HistoryCount(q);
  }
  Result<store::RidSet> AllOfType(std::string_view type) override { return inner_.AllOfType(type); }
  Result<store::RidSet> Match(const store::IndexQuery& q, const store::RidSet* within) override {
    return inner_.Match(q, within);
  }
  Result<store::RidSet> ByIds(std::string_view type, std::span<const std::string> ids) override {
    return inner_.ByIds(type, ids);
  }
  Result<store::RidSet> ByLastUpdated(std::string_view type, int64_t lo, int64_t hi) override {
    return inner_.ByLastUpdated(type, lo, hi);
  }
  Result<std::vector<store::ResourceVersion>> Fetch(std::span<const store::Rid> rids,
                                                    std::optional<int64_t> as_of_seq) override {
    return inner_.Fetch(rids, as_of_seq);
  }
  Result<std::optional<store::Rid>> RidOf(std::string_view type, std::string_view id) override {
    return inner_.RidOf(type, id);
  }
  Status Put(store::ResourceVersion& v, std::span<const store::IndexRow> add,
             std::span<const store::IndexRow> remove) override {
    if (v.type == "AuditEvent") {
      return Status::Forbidden(
          "AuditEvent resources are written by lhcr's audit trail only: it is append-only");
    }
    RETURN_IF_ERROR(inner_.Put(v, add, remove));
    Written w{v.type, v.id, {}, v.method, v.deleted};
    if (!v.deleted) w.patient = PatientOf(v.type, v.id, v.json);
    written.push_back(std::move(w));
    return Status::Ok();
  }

 private:
  store::WriteTxn& inner_;
};

Event WriteEvent(const RequestScope* scope, const std::vector<NotingTxn::Written>& written,
                 Clock& clock) {
  Event e;
  if (scope != nullptr) {
    e = scope->event();
  } else {
    e.actor.kind = ActorKind::kSystem;
    e.actor.user = "lhcr";
    e.subtype = "transaction";
    e.recorded = clock.Now();
  }
  e.outcome = Outcome::kSuccess;
  e.outcome_desc.clear();
  e.entities.clear();
  e.patients.clear();
  char action = 0;
  for (const NotingTxn::Written& w : written) {
    char a = w.deleted ? 'D' : w.method == store::Method::kCreate ? 'C' : 'U';
    action = action == 0 || action == a ? a : 'E';
    if (e.entities.size() < kMaxEntities) e.entities.push_back({w.type, w.id});
    if (!w.patient.empty() && e.patients.size() < kMaxEntities &&
        std::find(e.patients.begin(), e.patients.end(), w.patient) == e.patients.end()) {
      e.patients.push_back(w.patient);
    }
  }
  e.action = action == 0 ? 'E' : action;
  if (written.size() > kMaxEntities) {
    e.outcome_desc = std::to_string(written.size()) + " resources written; the first " +
                     std::to_string(kMaxEntities) + " are named";
  }
  return e;
}

}  // namespace

AuditedStore::AuditedStore(store::Store& inner, AuditLog& log) : inner_(inner), log_(log) {}

Status AuditedStore::Write(const std::function<Status(store::WriteTxn&)>& fn) {
  RequestScope* scope = RequestScope::Current();
  ChainHead head;
  bool appended = false;
  Status s = inner_.Write([&](store::WriteTxn& txn) -> Status {
    appended = false;  // a store may run this again (PostgreSQL retries)
    NotingTxn noting(txn);
    RETURN_IF_ERROR(fn(noting));
    if (noting.written.empty()) return Status::Ok();
    RETURN_IF_ERROR(log_.AppendInTxn(txn, WriteEvent(scope, noting.written, log_.clock()), &head));
    appended = true;
    return Status::Ok();
  });
  if (s.ok() && appended) {
    log_.Committed(head);
    if (scope != nullptr) scope->CountAuditedWrite();
  }
  return s;
}

void AuditedStore::Close() {
  log_.Close();
  inner_.Close();
}

}  // namespace lhcr::audit
