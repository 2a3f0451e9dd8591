// One chain entry's text: an Event as an AuditEvent resource, sealed with
// its sequence number, its predecessor's hash and its own hash (audit.h says
// how). Inside the audit room only.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "audit/audit.h"
#include "store/index_row.h"

namespace lhcr::audit {

inline constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// The systems an entry's codes and identifiers are in (PrepareEntry writes
// them, DirectRows indexes them).
inline constexpr const char* kUserSystem = "https://lhcr.example/fhir/Id/user";
inline constexpr const char* kOdsSystem = "https://fhir.nhs.uk/Id/ods-organization-code";
inline constexpr const char* kRoleSystem =
    "https://fhir.nhs.uk/CodeSystem/NHSDigital-SDS-JobRoleCode";
inline constexpr const char* kTypeSystem = "http://terminology.hl7.org/CodeSystem/audit-event-type";
inline constexpr const char* kSubtypeSystem = "http://hl7.org/fhir/restful-interaction";
inline constexpr const char* kEntityTypeSystem =
    "http://terminology.hl7.org/CodeSystem/audit-entity-type";
inline constexpr const char* kResourceTypeSystem = "http://hl7.org/fhir/resource-types";
inline constexpr const char* kObjectRoleSystem =
    "http://terminology.hl7.org/CodeSystem/object-role";

// An Event serialised ahead of the transaction (the CPU work done on the
// caller's thread): the AuditEvent's members between its id and its chain
// extension, and its search index rows.
struct PreparedEntry {
  Millis recorded = 0;
  std::string members;  // `"meta":{...},...` without braces
  std::vector<store::IndexRow> rows;
};

// With `direct_rows` (only where DirectRowsFit(params)), the rows of a
// PlainEvent are DirectRows(e); otherwise, and for any other event, they are
// fhir::ExtractIndexRows over the entry's JSON (FHIRPath).
PreparedEntry PrepareEntry(const Event& e, const fhir::SearchParamRegistry& params,
                           bool direct_rows = false);

// An entry's index rows built straight from the Event (entry_rows.cc): what
// ExtractIndexRows finds in its JSON under the R4 AuditEvent search
// parameters, sorted and without duplicates, at a fraction of the cost.
// Exact only for a PlainEvent (ids that are FHIR ids, types that are type
// names, printable ASCII names and codes) under a registry that DirectRowsFit.
std::vector<store::IndexRow> DirectRows(const Event& e);
bool PlainEvent(const Event& e);
// Whether DirectRows equals the FHIRPath extraction under `params` for a set
// of probe events taking every branch of PrepareEntry (checked once, when an
// AuditLog opens: a registry with other AuditEvent parameters gets FHIRPath).
bool DirectRowsFit(const fhir::SearchParamRegistry& params);

// The stored text of entry `seq` after an entry whose hash is `prev`; sets
// *hash to the new entry's hash.
std::string SealEntry(const PreparedEntry& p, int64_t seq, std::string_view prev,
                      std::string* hash);

// Hex SHA-256 of `text`.
std::string Sha256Hex(std::string_view text);
// Standard (padded) base64 of `bytes`.
std::string Base64(std::string_view bytes);

// What an entry's stored text says of its place in the chain.
struct ParsedEntry {
  int64_t seq = 0;
  std::string prev;
  std::string hash;        // as stored
  std::string recomputed;  // of the stored text
};

// kIncorrect when the text is not a sealed entry (no chain extension, id
// and sequence differ, a malformed hash).
Result<ParsedEntry> ParseEntry(std::string_view text);

}  // namespace lhcr::audit
