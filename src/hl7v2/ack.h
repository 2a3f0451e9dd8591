// HL7 v2 acknowledgements (original mode, HL7 v2.5.1 2.9.2): the ACK an MLLP
// listener or an ingest endpoint sends back for every message it receives.
//
// This header is the one place that maps a Status to an ACK: AckCodeFor()
// picks AA/AE/AR and the ERR segment takes its HL7 table 0357 code from the
// Status (see AckCodeFor and MakeAck). All functions are pure and thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "base/time.h"
#include "hl7v2/message.h"

namespace lhcr::hl7v2 {

enum class AckCode {
  kAA,  // accepted
  kAE,  // error: the content is wrong (the sender should fix and resend)
  kAR,  // rejected: type, version or processing id not supported, or the
        // receiver cannot take it now (not a content problem)
};
std::string_view AckCodeText(AckCode code);  // "AA", "AE", "AR"

// The ACK code for the outcome of handling a message:
//   ok -> AA; kUnsupported, kForbidden, kBusy, kUnavailable -> AR;
//   everything else (incorrect content, conflicts, faults) -> AE.
AckCode AckCodeFor(const Status& status);

// The HL7 table 0357 error code for a failed Status: the first detail's code
// when it is a 0357 code ("100", "101", "102", "103", ...), else by category:
//   kUnsupported 200, kIncorrect / kUnprocessable 102, kNotFound 204,
//   kConflict / kPrecondition 205, anything else 207 (application internal
//   error). Parsers and mappers in this room set details {code, location}
//   ("101", "PID-3") so that ERR names the segment and field.
std::string Hl7ErrorCodeFor(const Status& status);

struct AckOptions {
  std::string control_id;  // MSH-10 of the ACK itself (unique per ACK)
  Millis now = 0;          // MSH-7 of the ACK
  // Used as MSH-3 / MSH-4 only when the incoming message names no receiving
  // application / facility (and for unreadable input).
  std::string application = "LHCR";
  std::string facility;
};

// The ACK for `in`: MSH with the sending and receiving application and
// facility swapped, a new control id, MSH-9 ACK^<trigger>^ACK (ACK^<trigger>
// before v2.4), the same processing id and version, in the message's own
// encoding characters; MSA-1 `code`, MSA-2 the original MSH-10. For AE and AR
// an ERR segment: ERR-2 the location from the Status detail (PID^1^3),
// ERR-3 the 0357 code (Hl7ErrorCodeFor), ERR-4 severity E, ERR-8 the Status
// message; before v2.5 also ERR-1 and MSA-3, which those versions read.
// Segments end with "\r"; no MLLP framing.
std::string MakeAck(const Message& in, AckCode code, const Status& error,
                    const AckOptions& options);

// The ACK for input that did not parse (`raw` as received, `error` why): AR
// (or AE when `error` is kIncorrect and the MSH could be read) answering
// whatever of the MSH can still be read (control id, applications, version),
// else a minimal MSH (version 2.5.1, processing id P) and an empty MSA-2.
std::string MakeAckForUnparsable(std::string_view raw, const Status& error,
                                 const AckOptions& options);

// HL7 DTM for a time: "20240102030405+0000" (UTC).
std::string FormatTs(Millis t);

}  // namespace lhcr::hl7v2
