// An entry's search index rows built straight from its Event: the rows
// fhir::ExtractIndexRows would find by evaluating every AuditEvent search
// parameter's FHIRPath over the entry's JSON, without building or walking
// that JSON. Used only where it is exact (DirectRowsFit, PlainEvent); the
// test entry_rows_test.cc compares the two for varied events.
#include <algorithm>

#include "audit/entry.h"
#include "base/time.h"
#include "fhir/search_index.h"

namespace lhcr::audit {
namespace {

using store::IndexRow;

// A FHIR id: 1-64 of [A-Za-z0-9.-].
bool PlainId(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '.')) {
      return false;
    }
  }
  return true;
}

// A resource type name: letters only, starting upper case.
bool PlainType(std::string_view s) {
  if (s.empty() || s[0] < 'A' || s[0] > 'Z') return false;
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return false;
  }
  return true;
}

// Non-empty and all printable ASCII (no escapes, nothing NormaliseString or
// a token could treat differently in JSON).
bool PlainText(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') return false;
  }
  return true;
}

// The events the FHIRPath extraction is compared with once per registry:
// between them they take every branch of PrepareEntry.
std::vector<Event> ProbeEvents() {
  std::vector<Event> out;
  Event a;
  a.actor = {ActorKind::kProfessional, "dr-who", "RX1", "R8000", "TREAT", "", ""};
  a.subtype = "read";
  a.recorded = 1767225600123;
  a.entities = {{"Observation", "o1"}};
  a.patients = {"p1"};
  a.address = "127.0.0.1";
  a.method_path = "GET /fhir/Observation/o1";
  out.push_back(a);
  Event b = a;
  b.actor = {ActorKind::kPatient, "9000000009", "", "", "", "", "p2"};
  b.subtype = "search-type";
  b.entities = {{"Observation", ""}};
  b.patients = {"p2", "p3"};
  b.query = "patient=Patient/p2&code=1234";
  b.outcome = Outcome::kMinorFailure;
  b.outcome_desc = "404 not found";
  out.push_back(b);
  Event c = a;
  c.actor = {ActorKind::kProfessional, "Dr Jones", "", "R8001", "", "urgent care", ""};
  c.subtype = "create";
  c.action = 'C';
  c.entities = {{"Patient", "p4"}, {"Encounter", "e1"}};
  c.patients = {"p4"};
  c.outcome = Outcome::kSeriousFailure;
  out.push_back(c);
  Event d;
  d.subtype = "capabilities";
  d.recorded = 1767225600000;
  d.method_path = "GET /fhir/metadata";
  out.push_back(d);
  Event e;
  e.actor = {ActorKind::kSystem, "mllp", "ODS9", "", "", "", ""};
  e.action = 'E';
  e.recorded = 1;
  e.entities = {{"Observation", "o2"}, {"Patient", "p5"}};
  out.push_back(e);
  return out;
}

}  // namespace

bool PlainEvent(const Event& e) {
  const Actor& who = e.actor;
  if (!who.user.empty() && !PlainText(who.user)) return false;
  if (!who.org.empty() && !PlainText(who.org)) return false;
  if (!who.role.empty() && !PlainText(who.role)) return false;
  if (who.kind == ActorKind::kPatient && !who.patient_id.empty() && !PlainId(who.patient_id)) {
    return false;
  }
  if (!e.address.empty() && !PlainText(e.address)) return false;
  if (!e.subtype.empty() && !PlainText(e.subtype)) return false;
  if (!PlainText(std::string_view(&e.action, 1))) return false;
  for (const std::string& p : e.patients) {
    if (!PlainId(p)) return false;
  }
  for (const EntityRef& r : e.entities) {
    if (!PlainType(r.type) || (!r.id.empty() && !PlainId(r.id))) return false;
  }
  // The user's name and the address as string rows must not fold to nothing.
  if (!who.user.empty() && fhir::NormaliseString(who.user).empty()) return false;
  if (!e.address.empty() && fhir::NormaliseString(e.address).empty()) return false;
  return true;
}

std::vector<store::IndexRow> DirectRows(const Event& e) {
  std::vector<IndexRow> rows;
  rows.reserve(16);
  rows.push_back(IndexRow::Token("AuditEvent.type", kTypeSystem, "rest"));
  if (!e.subtype.empty()) {
    rows.push_back(IndexRow::Token("AuditEvent.subtype", kSubtypeSystem, e.subtype));
  }
  rows.push_back(IndexRow::Token("AuditEvent.action", "", std::string(1, e.action)));
  rows.push_back(
      IndexRow::Token("AuditEvent.outcome", "", std::to_string(static_cast<int>(e.outcome))));
  Result<fhir::DateRange> when = fhir::ParseFhirDateRange(FormatInstant(e.recorded));
  if (when.ok()) rows.push_back(IndexRow::Date("AuditEvent.date", when->lo, when->hi));

  const Actor& who = e.actor;
  const std::string user = who.user.empty() ? "anonymous" : who.user;
  if (!who.role.empty()) {
    rows.push_back(IndexRow::Token("AuditEvent.agent-role", kRoleSystem, who.role));
  }
  // agent.who: a Reference with an identifier (and for a patient user a
  // reference); the patient parameter's `where(resolve() is Patient)` keeps
  // identifier-only references too, so their identifiers are its rows also.
  rows.push_back(IndexRow::Token("AuditEvent.agent:identifier", kUserSystem, user));
  rows.push_back(IndexRow::Token("AuditEvent.patient:identifier", kUserSystem, user));
  if (who.kind == ActorKind::kPatient && !who.patient_id.empty()) {
    rows.push_back(IndexRow::Reference("AuditEvent.agent", "Patient", who.patient_id));
    rows.push_back(IndexRow::Reference("AuditEvent.patient", "Patient", who.patient_id));
  }
  rows.push_back(IndexRow::String("AuditEvent.agent-name", fhir::NormaliseString(user)));
  if (!e.address.empty()) {
    rows.push_back(IndexRow::String("AuditEvent.address", fhir::NormaliseString(e.address)));
  }
  if (!who.org.empty()) {
    rows.push_back(IndexRow::Token("AuditEvent.agent:identifier", kOdsSystem, who.org));
    rows.push_back(IndexRow::Token("AuditEvent.patient:identifier", kOdsSystem, who.org));
  }

  for (const std::string& p : e.patients) {
    rows.push_back(IndexRow::Reference("AuditEvent.entity", "Patient", p));
    rows.push_back(IndexRow::Reference("AuditEvent.patient", "Patient", p));
    rows.push_back(IndexRow::Token("AuditEvent.entity-type", kEntityTypeSystem, "1"));
    rows.push_back(IndexRow::Token("AuditEvent.entity-role", kObjectRoleSystem, "1"));
  }
  for (const EntityRef& r : e.entities) {
    if (r.type == "Patient" && !r.id.empty() &&
        std::find(e.patients.begin(), e.patients.end(), r.id) != e.patients.end()) {
      continue;  // already there as the Patient (as PrepareEntry does)
    }
    if (!r.id.empty()) {
      rows.push_back(IndexRow::Reference("AuditEvent.entity", r.type, r.id));
      if (r.type == "Patient") {
        rows.push_back(IndexRow::Reference("AuditEvent.patient", "Patient", r.id));
      }
    }
    rows.push_back(IndexRow::Token("AuditEvent.entity-type", kResourceTypeSystem, r.type));
    rows.push_back(
        IndexRow::Token("AuditEvent.entity-role", kObjectRoleSystem, r.id.empty() ? "24" : "4"));
  }
  std::sort(rows.begin(), rows.end());
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  return rows;
}

bool DirectRowsFit(const fhir::SearchParamRegistry& params) {
  for (const Event& e : ProbeEvents()) {
    if (!PlainEvent(e) || DirectRows(e) != PrepareEntry(e, params, false).rows) return false;
  }
  return true;
}

}  // namespace lhcr::audit
