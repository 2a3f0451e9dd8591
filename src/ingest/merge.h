// CarryOutMerge: an HL7 v2 merge (ADT A40, also A30/A34/A47) carried out on
// one source's records. The ingest pipeline's step after Write for a message
// whose MappedMessage has a `merge`: the source says its local patient record
// `retired` (MRG-1) is the same person as `survivor` (PID-3), and the
// transaction Bundle of the message has already upserted the survivor.
//
// What a merge does (FHIR R4 Patient.link, http://hl7.org/fhir/R4/patient.html#links;
// the IHE PIX/PAM "merge" convention: the retired record is kept, marked and
// pointed at the survivor, and the source's data follows the survivor),
// all in ONE transaction Bundle (Interactions::Bundle, all or nothing):
//   - the retired Patient: `active: false`, a link {other: Patient/<survivor>,
//     type: replaced-by} (replacing any earlier replaced-by link, and dropping a
//     `replaces` link to the survivor, which a reversed earlier merge left);
//     everything else it has is kept, its identifiers too: it is the record of
//     what the source sent;
//   - the survivor Patient: a link {other: Patient/<retired>, type: replaces}
//     unless it has one (and no replaced-by link to the retired record);
//   - every other resource of the same source (meta.source starts with
//     "<source_id>#") that references Patient/<retired> (found by _revinclude
//     on every reference search parameter that may target a Patient, so every
//     resource type, not only those the HL7 mapper writes) gets every such
//     reference (also "Patient/<retired>/_history/n") replaced by
//     Patient/<survivor>. Patient, Provenance and AuditEvent resources are not
//     re-pointed: Patient links are the merge's own bookkeeping (an earlier
//     merge C -> A stays C replaced-by A, and readers follow the chain
//     C -> A -> B), and Provenance / AuditEvent record what happened then;
//   - each resource changed is a new version (a PUT with If-Match on the
//     version read, so a concurrent change fails the whole Bundle with
//     kPrecondition instead of being overwritten: the caller may retry), with
//     meta.source "<source_id>#<control id>" of the merge message and the
//     hl7v2::kMessageTimeExtension set to the later of its own and the merge
//     message's time (so a resend of an older message about the retired
//     record is dropped as stale by hl7v2::DropStaleEntries rather than
//     pointing the data back);
//   - a Provenance (POST) targets every version written (version-specific
//     references), activity v3-DataOperation UPDATE + ISO 21089 lifecycle
//     "merge", text "merge", agent the source organisation, entity the message.
// Resources of other sources that reference the retired Patient are left
// alone: a source speaks only for its own records (they are counted in
// MergeOutcome::left_alone).
//
// Idempotent: when everything is already as above, nothing is written (no
// new versions, no Provenance) and the outcome is kAlreadyMerged. When the
// retired record does not exist (never sent, or sent to another source)
// nothing is written and the outcome is kRetiredNotFound.
//
// After the merge, a message from the source about the retired identifier:
// if it is older than the merge it changes nothing (stale); if newer, the
// mapper's conditional PUT replaces the retired Patient as sent (active
// again, without the replaced-by link) and its new data references it. The
// merge is not re-applied by itself; the same A40 sent again (or carried out
// again) moves that data to the survivor. Likewise a later message about the
// survivor replaces the survivor Patient wholesale and drops its `replaces`
// links; the retired record's replaced-by link is the durable record.
//
// Not done: unmerge (A37) is out of scope; references by identifier only
// (Reference.identifier without a literal reference) and references that no
// search parameter indexes are not found; absolute-URL references are not
// rewritten; Persons of the MPI are the identity service's business.
//
// Thread-safety: CarryOutMerge may be called from several threads; it reads
// then writes, and the If-Match on every PUT makes a lost race fail rather
// than overwrite. The ingestor serialises it with its own writes anyway.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "hl7v2/to_fhir.h"
#include "interaction/interaction.h"

namespace lhcr::ingest {

// Who asks for the merge, and in which message.
struct MergeContext {
  std::string source_id;     // "acute-r9a": only resources whose meta.source is
                             // "<source_id>#..." are changed
  std::string ods_code;      // the sending organisation (Provenance.agent); may be empty
  std::string control_id;    // MSH-10 of the merge message
  std::string event;         // "ADT^A40", for the Provenance's text
  std::string message_time;  // FHIR dateTime of EVN-2 / MSH-7; may be empty
  Millis recorded = 0;       // when the merge is carried out (Provenance.recorded)

  // "<source_id>#<control_id>": the meta.source of every version written.
  std::string MetaSource() const { return source_id + "#" + control_id; }

  // The context for a message that MapToFhir mapped for `source`, carried
  // out at `now` (the caller's Clock).
  static MergeContext For(const hl7v2::SourceInfo& source, const hl7v2::MappedMessage& mapped,
                          Millis now);

  bool operator==(const MergeContext&) const = default;
};

struct MergeOutcome {
  enum class Kind {
    kMerged,           // the Bundle was written
    kAlreadyMerged,    // everything was already merged: nothing written
    kRetiredNotFound,  // the source has no retired record: nothing written
  };
  Kind kind = Kind::kAlreadyMerged;
  std::string survivor;  // "Patient/<id>"
  std::string retired;   // "Patient/<id>"; empty for kRetiredNotFound
  // "Type/id/_history/n" of every version written, in the Bundle's order
  // (retired Patient, survivor Patient — each only if it changed —,
  // re-pointed resources by type and id, then the Provenance); empty unless
  // kMerged.
  std::vector<std::string> written;
  // Resources of other sources that reference the retired Patient (unchanged).
  int left_alone = 0;

  bool operator==(const MergeOutcome&) const = default;
};

// Carries out `merge` for `context.source_id` through `interactions` (in
// process, as the ingestor writes). Errors:
//   kIncorrect     context.source_id or an identifier is empty, or survivor
//                  and retired name the same identifier;
//   kPrecondition  the survivor does not exist for this source (the message's
//                  Bundle should have written it), or an identifier matches
//                  more than one of the source's Patients, or a resource
//                  changed between the read and the write (retry; a store
//                  may also say kConflict then);
//   kUnsupported   an identifier matches more Patients than one search page
//                  (Options::max_page_size) holds;
//   others         those of the searches and the transaction.
// On any error nothing is written.
Result<MergeOutcome> CarryOutMerge(interaction::Interactions& interactions,
                                   const hl7v2::MergeInstruction& merge,
                                   const MergeContext& context);

}  // namespace lhcr::ingest
