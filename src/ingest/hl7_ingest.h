// Hl7Ingestor: one HL7 v2 message in, its ACK out. The ingest pipeline for a
// v2 feed (docs/HL7V2.md): Parse -> identify the source -> Map (to a FHIR
// transaction Bundle) -> drop stale entries (resends, out-of-order older
// messages) -> Write (Interactions::Bundle, in process) -> ACK.
//
// ACKs (the mapping from outcome to code is hl7v2::AckCodeFor / MakeAck):
//   does not parse                     -> MakeAckForUnparsable (AR, or AE)
//   unknown sender (registry given)    -> AR, ERR code 204, naming MSH-3/4
//   type/event not mapped              -> AR, ERR code 200
//   mapping / store / lookup error     -> AE (or AR per AckCodeFor), ERR
//                                         text the Status message
//   written, or nothing new to write   -> AA
// Handle() never throws.
//
// Thread-safe: Handle() may be called from many threads at once (the MLLP
// server's workers). The stale check and the write are one critical
// section, so two messages about the same patient cannot both pass the
// check against the same stored state.
#pragma once

#include <mutex>
#include <string>
#include <string_view>

#include "base/ids.h"
#include "base/time.h"
#include "hl7v2/ack.h"
#include "hl7v2/to_fhir.h"
#include "ingest/source_registry.h"
#include "interaction/interaction.h"

namespace lhcr::ingest {

class Hl7Ingestor {
 public:
  // Borrows `interactions`, `registry` (may be null: every sender is taken,
  // named after MSH-4, else MSH-3), `clock` and `ids` (for the ACK's MSH-7
  // and MSH-10); all must outlive this object.
  Hl7Ingestor(interaction::Interactions& interactions, const SourceRegistry* registry,
              Clock& clock = SystemClock(), IdGenerator& ids = UuidGenerator());

  // The ACK (unframed, segments ending "\r") for one ER7 message.
  std::string Handle(std::string_view er7);

 private:
  Result<hl7v2::SourceInfo> Identify(const hl7v2::Message& message) const;
  Status Apply(const hl7v2::MappedMessage& mapped);
  hl7v2::AckOptions AckOptionsNow();

  interaction::Interactions& interactions_;
  const SourceRegistry* const registry_;
  Clock& clock_;
  IdGenerator& ids_;
  std::mutex write_mu_;  // serialises stale check + write
};

}  // namespace lhcr::ingest
