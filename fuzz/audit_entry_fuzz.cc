// Fuzzes what `lhcr audit verify` reads from places an attacker may have
// written: a chain entry's stored text (ParseEntry) and the lines of the
// checkpoint file (ParseCheckpointLine). Never crash; errors are values.
// And a property: an entry sealed from an Event whose strings are the
// input (user, organisation, query, address...) always parses back to its
// sequence, previous hash and a matching hash — no request content can
// break the chain's format.
// And the entry's index rows built from the Event (audit::DirectRows)
// equal the FHIRPath extraction whenever the log would use them.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "audit/checkpoints.h"
#include "audit/entry.h"
#include "fhir/search_param.h"

using namespace lhcr;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto registry = fhir::SearchParamRegistry::R4();
  std::string_view in(reinterpret_cast<const char*>(data), size);

  auto parsed = audit::ParseEntry(in);
  if (parsed.ok() && (parsed->seq <= 0 || parsed->hash.size() != 64)) std::abort();
  size_t pos = 0;
  while (pos <= in.size()) {
    size_t nl = in.find('\n', pos);
    std::string_view line = in.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
    std::string sig;
    auto c = audit::ParseCheckpointLine(line, &sig);
    if (c.ok() && (c->hash.size() != 64 || sig.size() != 64)) std::abort();
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }

  // Split the input into the Event's strings at NUL bytes.
  std::string parts[6];
  size_t k = 0;
  for (char ch : in) {
    if (ch == '\0' && k < 5) {
      ++k;
    } else {
      parts[k] += ch;
    }
  }
  audit::Event e;
  e.actor.kind = static_cast<audit::ActorKind>(size % 4);
  e.actor.user = parts[0];
  e.actor.org = parts[1];
  e.actor.role = parts[2];
  e.actor.break_glass_reason = parts[3];
  e.query = parts[4];
  e.address = parts[5];
  e.subtype = "search-type";
  e.recorded = static_cast<int64_t>(size) * 1000;
  e.entities = {{"Observation", ""}, {"Patient", parts[1]}};
  e.patients = {parts[0]};
  e.outcome_desc = parts[3];
  std::string hash;
  const int64_t seq = 1 + static_cast<int64_t>(size);
  std::string text =
      audit::SealEntry(audit::PrepareEntry(e, *registry), seq, audit::kGenesisHash, &hash);
  auto back = audit::ParseEntry(text);
  if (!back.ok() || back->seq != seq || back->prev != audit::kGenesisHash || back->hash != hash ||
      back->recomputed != hash) {
    std::abort();
  }
  // Where the audit log builds an entry's index rows from the Event, they
  // are exactly what FHIRPath finds in its JSON.
  if (audit::PlainEvent(e) && audit::DirectRows(e) != audit::PrepareEntry(e, *registry).rows) {
    std::abort();
  }
  return 0;
}
