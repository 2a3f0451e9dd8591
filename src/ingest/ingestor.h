// Ingestor: every feed's way into the record. One item at a time — an HL7 v2
// message, a FHIR transaction Bundle, the rows of one person in a CSV
// extract — is mapped to a FHIR transaction Bundle of conditional PUTs,
// stamped with its source (meta.source "<source>#<message>", a Provenance),
// stripped of what is already stored (hl7v2::DropStaleEntries: resends,
// out-of-order older messages, unchanged facts) and written all-or-nothing
// through the FHIR interactions, in process. Then:
//   - data-quality findings (from mapping, and cross-source checks of the
//     Patient: conflicting demographics, duplicate records) go to the
//     journal for the source's quality report;
//   - input that cannot be taken (does not parse, unknown sender, mapping or
//     store error) is quarantined in the journal with its reason, for replay;
//   - A40 merges are carried out (ingest/merge.h).
// Nothing is ever partly written: an item is one transaction.
//
// Transports call it: MLLP (HandleHl7: message in, ACK out), HTTP
// (POST /ingest/{source}: IngestText), the CLI (`lhcr ingest`: IngestText
// with several threads).
//
// Thread-safe. Items about different patients are written concurrently
// (bigger group commits); items about the same patient (by the source's
// local patient id) are serialised, so the stale check and the write are
// atomic with respect to each other.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/ids.h"
#include "base/status.h"
#include "base/time.h"
#include "csv/to_fhir.h"
#include "hl7v2/ack.h"
#include "hl7v2/to_fhir.h"
#include "ingest/journal.h"
#include "ingest/linker.h"
#include "ingest/source_registry.h"
#include "interaction/interaction.h"
#include "terminology/terminology.h"
#include "terminology/ucum.h"

namespace lhcr::ingest {

// What one item came to.
struct ItemOutcome {
  std::string record;  // HL7 MSH-10, CSV record id, FHIR Bundle key
  Status status;       // Ok, or why it was rejected
  int written = 0;     // resources written (new versions)
  int unchanged = 0;   // entries already stored as sent
  std::vector<Finding> findings;
  int64_t quarantine_id = 0;  // when rejected and quarantined
  std::string ack;            // HL7: the ACK
};

// What a body / file of many items came to.
struct BatchReport {
  std::string source_id;
  std::string format;
  int64_t items = 0;
  int64_t accepted = 0;
  int64_t rejected = 0;
  int64_t written = 0;
  int64_t unchanged = 0;
  int64_t findings = 0;
  std::vector<ItemOutcome> rejected_items;  // the first kMaxRejectedKept
  std::vector<std::string> acks;            // HL7 v2: one ACK per message, in order
  void Add(const ItemOutcome& o);
  void Merge(const BatchReport& other);
  static constexpr size_t kMaxRejectedKept = 100;
};

struct IngestOptions {
  int threads = 1;  // items written concurrently
  // Called now and then with the bytes of the body done so far.
  std::function<void(size_t done, size_t total)> progress;
  bool keep_acks = false;  // fill BatchReport::acks (HTTP answers with them)
  // Replay: a rejected item is not quarantined again (it still is), and a
  // success moves one item from rejected to accepted in the counts.
  bool replay = false;
};

class Ingestor {
 public:
  // Borrows everything; all must outlive this object. `registry` may be
  // null (HL7 only: any sender is taken, named after MSH-4, else MSH-3);
  // `journal` may be null (nothing counted, nothing quarantined).
  Ingestor(interaction::Interactions& interactions, const SourceRegistry* registry,
           IngestJournal* journal, Clock& clock = SystemClock(),
           IdGenerator& ids = UuidGenerator());

  // One HL7 v2 message (MLLP): its ACK (unframed, segments ending "\r").
  // Never throws. With `expected`, a message from another sender is AR.
  std::string HandleHl7(std::string_view er7, const Source* expected = nullptr);

  // A body in the source's native format (source.format): HL7 v2 messages
  // (concatenated, as in a file), a CSV extract, or FHIR (one transaction
  // Bundle, or NDJSON with one per line). Items are taken in order
  // (options.threads > 1: several at once, same-patient items in order).
  // kIncorrect only when the body as a whole cannot be split into items
  // (CSV that does not parse; it is quarantined whole); item errors are
  // in the report.
  Result<BatchReport> IngestText(const Source& source, std::string_view text,
                                 const IngestOptions& options = {});

  // Runs a quarantined item again (as its source now stands). On success
  // the item is marked replayed. kNotFound for an unknown id, kConflict
  // when it is no longer held.
  Result<BatchReport> Replay(int64_t quarantine_id);

  // Links each new Patient to a Person inside its ingest transaction (the
  // MPI, mpi/match_service.h). Borrowed; set before ingest starts. Null:
  // no linking at ingest (`lhcr mpi relink` links afterwards).
  void SetLinker(PatientLinker* linker) { linker_ = linker; }

  // Translates each item before it is written (terminology/translate.h):
  // the standard codings of the source's concept maps (ConceptMapsOf) are
  // added beside its local codes, quantities get UCUM canonical units, and
  // an unmapped local code is an "unmapped-code" finding for the source.
  // Borrowed; set before ingest starts. Null: items are written as mapped.
  void SetTerminology(const terminology::Terminology* terminology,
                      const terminology::Ucum* ucum) {
    terminology_ = terminology;
    ucum_ = ucum;
  }

  const SourceRegistry* registry() const { return registry_; }
  IngestJournal* journal() const { return journal_; }

 private:
  struct Item;  // one unit of work split off a body
  ItemOutcome IngestHl7(std::string_view er7, const Source* expected, bool replay);
  ItemOutcome IngestFhir(const Source& source, std::string_view bundle_json, int line,
                         bool replay);
  ItemOutcome IngestCsvRecord(const Source& source, const std::string& record_id,
                              std::string_view bundle_json,
                              const std::vector<csv::Finding>& findings, bool replay);
  // Stale check + write under the patient's lock, then quality checks.
  Status WriteBundle(const std::string& source_id, const std::string& lock_key,
                     const std::string& bundle_json, ItemOutcome& out);
  // Carries out an A40 (ingest/merge.h) under both patients' locks.
  Status Merge(const hl7v2::SourceInfo& source, const hl7v2::MappedMessage& mapped,
               ItemOutcome& out);
  void CheckPatients(const std::string& source_id, const std::string& written_bundle,
                     ItemOutcome& out);
  Result<std::optional<std::string>> CurrentResource(const std::string& type,
                                                     const std::string& query);
  // Journal bookkeeping for a finished item.
  void Record(const std::string& source_id, const std::string& format, std::string_view body,
              bool replay, ItemOutcome& out);
  Result<hl7v2::SourceInfo> Identify(const hl7v2::Message& message, const Source* expected,
                                     std::string* source_id) const;
  hl7v2::AckOptions AckOptionsNow();
  std::mutex& StripeFor(const std::string& key);

  interaction::Interactions& interactions_;
  const SourceRegistry* const registry_;
  IngestJournal* const journal_;
  Clock& clock_;
  IdGenerator& ids_;
  PatientLinker* linker_ = nullptr;
  const terminology::Terminology* terminology_ = nullptr;
  const terminology::Ucum* ucum_ = nullptr;
  std::array<std::mutex, 64> stripes_;  // per-patient serialisation
};

}  // namespace lhcr::ingest
