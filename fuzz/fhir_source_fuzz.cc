// A FHIR source's Bundle as posted to /ingest/{source} or read from its
// NDJSON feed: StampSourceBundle must never crash; what it accepts is JSON
// again, keeps every entry, adds one Provenance, and gives every resource
// the source's meta.source; DropStaleEntries with nothing stored keeps
// every entry of it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "fhir/json.h"
#include "hl7v2/to_fhir.h"
#include "ingest/fhir_source.h"

namespace {

void Check(bool ok, const char* what, std::string_view detail = {}) {
  if (ok) return;
  std::fprintf(stderr, "fhir_source_fuzz: %s: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto stamped = lhcr::ingest::StampSourceBundle(input, "gp-y1", "Y1", "2025-01-01T00:00:00Z");
  if (!stamped.ok()) return 0;
  auto in = lhcr::fhir::ParseJson(input);
  Check(in.ok(), "accepted input that is not JSON");
  auto out = lhcr::fhir::ParseJson(stamped->bundle_json);
  Check(out.ok(), "stamped Bundle is not JSON", stamped->bundle_json);
  const auto& entries = (*out)["entry"];
  Check(entries.IsArray() && entries.Size() == (*in)["entry"].Size() + 1,
        "entries lost or more than one Provenance added", stamped->bundle_json);
  const std::string source = "gp-y1#" + stamped->key;
  for (const auto& e : entries.GetArray()) {
    const auto* meta = lhcr::fhir::Member(e["resource"], "meta");
    Check(meta != nullptr && lhcr::fhir::StringMember(*meta, "source") == source,
          "a resource without the source's meta.source", stamped->bundle_json);
  }
  lhcr::hl7v2::CurrentResourceLookup none =
      [](const std::string&, const std::string&) -> lhcr::Result<std::optional<std::string>> {
    return std::optional<std::string>();
  };
  auto kept = lhcr::hl7v2::DropStaleEntries(stamped->bundle_json, none);
  Check(kept.ok(), "DropStaleEntries failed", kept.status().ToString());
  Check(kept->dropped == 0, "DropStaleEntries dropped an entry with nothing stored");
  return 0;
}
