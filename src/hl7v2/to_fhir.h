// HL7 v2 to FHIR R4: one parsed message becomes one transaction Bundle that
// the FHIR interactions (interaction::Interactions::Bundle, POST /fhir) can
// apply as it is.
//
// Supported (the acute hospital's v2.4 feeds, tested on v2.3 to v2.8):
//   ADT (every trigger event) -> Patient (+ Encounter when PV1 has a visit
//     number and the event is about a visit). A28/A31/A29 are person-level;
//     A40/A30/A34/A47 also yield a MergeInstruction. A29 (delete person) sets
//     Patient.active = false rather than deleting: the record of what the
//     source sent is kept (ARCHITECTURE "source records are never
//     overwritten").
//   ORU^R01 -> Patient (+ Encounter) + one DiagnosticReport per OBR + one
//     Observation per OBX.
// Anything else is kUnsupported (the caller answers AR, HL7 error 200).
//
// Every entry is a conditional PUT on a business identifier (Patient by the
// local patient id, Encounter by the visit number, DiagnosticReport by the
// filler order number, Observation by order number + OBX-3 + OBX-4), so the
// same message applied twice leaves one resource each; references inside the
// Bundle use urn:uuid (deterministic for a message). Every resource has
// meta.source "<source_id>#<MSH-10>" and the extension kMessageTimeExtension
// (EVN-2, else MSH-7); the Bundle ends with a Provenance (PUT by an id
// derived from source and control id) whose targets are every resource.
//
// Ordering: a conditional PUT replaces whatever is stored, so a resent or an
// out-of-order older message would overwrite newer facts (and add versions).
// DropStaleEntries removes such entries before the Bundle is applied, given a
// way to read what is stored now. The FHIR server has no "only if newer"
// condition; this check is the ingest side's job.
//
// All functions are pure (no I/O, no clock) and safe to call from several
// threads at once.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "hl7v2/message.h"

namespace lhcr::hl7v2 {

inline constexpr std::string_view kNhsNumberSystem = "https://fhir.nhs.uk/Id/nhs-number";
inline constexpr std::string_view kOdsSystem = "https://fhir.nhs.uk/Id/ods-organization-code";
// valueDateTime: when the source says the fact was recorded (EVN-2 or MSH-7).
inline constexpr std::string_view kMessageTimeExtension =
    "https://lhcr.example/fhir/StructureDefinition/source-message-time";

// Who sent the message, and the URIs of its local identifier and code
// systems. Empty systems get defaults from the source id:
// "https://fhir.<source_id>.example/Id/patient" and so on (see Defaults()).
struct SourceInfo {
  std::string source_id;               // "acute-hospital": meta.source, default system URIs
  std::string ods_code;                // the sending organisation, "RXX"
  std::string patient_id_system;       // PID-3 local (MR/PI) identifiers
  std::string visit_id_system;         // PV1-19 visit number
  std::string order_id_system;         // OBR-3 / OBR-2 order numbers
  std::string observation_id_system;   // Observation.identifier
  std::string practitioner_id_system;  // local staff codes (PV1-7, ...)
  std::string lab_code_system;         // OBR-4 / OBX-3 local codes
  // Offset for times sent without one ("+01:00"); FHIR requires one.
  std::string default_offset = "Z";
  // This SourceInfo with every empty system filled in.
  SourceInfo WithDefaults() const;
};

// A data-quality problem found while mapping; mapping goes on without the
// offending item (or with it, as said in `message`).
struct Finding {
  std::string location;  // "PID-3[2]", "OBX[3]-5"
  std::string code;      // "invalid-nhs-number", "missing-item", "invalid-date",
                         // "unmapped-code", "unmapped-value", "test-nhs-number"
  std::string message;
  bool operator==(const Finding&) const = default;
};

struct Identifier {
  std::string system;
  std::string value;
  bool operator==(const Identifier&) const = default;
};

// A40 (and A30/A34/A47): the patient record `retired` (MRG-1) is merged into
// `survivor` (PID-3). The Bundle upserts the survivor; moving the retired
// record's data and links is the identity service's job.
struct MergeInstruction {
  Identifier survivor;
  Identifier retired;
  bool operator==(const MergeInstruction&) const = default;
};

struct MappedMessage {
  std::string bundle_json;   // FHIR R4 transaction Bundle
  std::string event;         // "ADT^A01"
  std::string control_id;    // MSH-10
  std::string message_time;  // FHIR dateTime of EVN-2 / MSH-7 ("" if neither)
  std::vector<Finding> findings;
  std::optional<MergeInstruction> merge;
};

// Maps one message. Errors (each with a detail {HL7 0357 code, location} for
// the ACK): kUnsupported for a message type / event not mapped (200);
// kIncorrect when a required item is missing or unusable (101: MSH-10, PID,
// PID-3 without a usable identifier, MRG-1 for a merge).
Result<MappedMessage> MapToFhir(const Message& message, const SourceInfo& source);

// The modulus 11 check of an NHS number (DOMAIN.md; NHS Data Dictionary):
// ten digits, weights 10..2 on the first nine, 11 - (sum mod 11) is the check
// digit (11 -> 0, 10 -> invalid). Placeholders (all one digit, 0123456789)
// fail.
bool IsValidNhsNumber(std::string_view digits);

// Reads the currently stored resource for a conditional query
// ("Patient", "identifier=sys|val" or "_id=x"): its JSON, nullopt when none.
using CurrentResourceLookup = std::function<Result<std::optional<std::string>>(
    const std::string& type, const std::string& query)>;

struct StaleCheck {
  std::string bundle_json;  // the Bundle without stale entries
  int kept = 0;
  int dropped = 0;
};
// Removes every entry whose stored counterpart (found by the entry's
// conditional url, or by id for a PUT Type/id) is newer by
// kMessageTimeExtension (equal times: the larger meta.source is the newer, so
// the result does not depend on arrival order), comes from the same message (equal meta.source and
// message time), or already says the same thing: equal JSON apart from id,
// meta and the message time, once the Bundle's references are pointed where
// the server will point them. Resends, out-of-order older messages and
// unchanged facts (a practice's Organization in every Bundle, a repeated
// extract) then change nothing. References to a dropped entry are pointed at
// the stored resource; the Provenance keeps only kept targets and is dropped
// with the last of them. Works on any transaction Bundle; creates (POST) are
// always kept. A kept Patient keeps the stored Patient.link (merges set it)
// and, when it was replaced by another record, stays inactive.
// Errors: the lookup's errors; kIncorrect when an entry lacks a resource or
// a request.
Result<StaleCheck> DropStaleEntries(std::string_view bundle_json,
                                    const CurrentResourceLookup& lookup);

}  // namespace lhcr::hl7v2
