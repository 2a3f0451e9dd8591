// HL7 v2: splitting, parsing, every accessor, the ACK and the FHIR mapping
// must never crash on any input; an ACK always parses again as HL7 v2, and a
// mapped Bundle is always JSON.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fhir/json.h"
#include "hl7v2/ack.h"
#include "hl7v2/message.h"
#include "hl7v2/to_fhir.h"

namespace {

void Check(bool ok, const char* what, std::string_view detail = {}) {
  if (ok) return;
  std::fprintf(stderr, "hl7v2_fuzz: %s: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lhcr::hl7v2;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  AckOptions options;
  options.control_id = "FUZZ";
  for (std::string_view piece : SplitMessages(input)) {
    auto m = ParseMessage(piece);
    if (!m.ok()) {
      std::string nak = MakeAckForUnparsable(piece, m.status(), options);
      Check(ParseMessage(nak).ok(), "NAK for unparsable input does not parse", nak);
      continue;
    }
    for (size_t i = 0; i < m->segment_count() && i < 50; ++i) {
      auto seg = m->segment(i);
      for (int f = 0; f <= seg.field_count() + 1 && f < 40; ++f) {
        (void)seg.Get(f, 1, 1, 1);
        (void)seg.Get(f, 2, 2, 2);
        (void)seg.IsNull(f);
        (void)seg.RepetitionCount(f);
      }
    }
    (void)m->Get("PID-3[2].4.2");
    (void)ParseTs(m->Get("MSH-7"));
    (void)m->ToEr7();
    lhcr::hl7v2::SourceInfo source;
    source.source_id = "fuzz";
    source.ods_code = "RXX";
    auto mapped = MapToFhir(*m, source);
    lhcr::Status outcome = mapped.ok() ? lhcr::Status::Ok() : mapped.status();
    if (mapped.ok()) {
      Check(lhcr::fhir::ParseJson(mapped->bundle_json).ok(), "mapped Bundle is not JSON",
            mapped->bundle_json);
    }
    std::string ack = MakeAck(*m, AckCodeFor(outcome), outcome, options);
    auto again = ParseMessage(ack);
    Check(again.ok(), "ACK does not parse", ack);
    Check(again->Find("MSA").has_value(), "ACK has no MSA", ack);
  }
  return 0;
}
