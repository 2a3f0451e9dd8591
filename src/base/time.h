// Time: an injectable clock and the timestamp formats lhcr speaks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lhcr {

// Milliseconds since the Unix epoch, UTC.
using Millis = int64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Millis Now() = 0;
};

// The system clock. Thread-safe.
Clock& SystemClock();

// FHIR instant with milliseconds: "2024-01-02T03:04:05.678Z".
std::string FormatInstant(Millis t);
// RFC 7231 HTTP-date: "Tue, 02 Jan 2024 03:04:05 GMT".
std::string FormatHttpDate(Millis t);
// Parses an RFC 7231 HTTP-date (IMF-fixdate); nullopt if malformed.
std::optional<Millis> ParseHttpDate(std::string_view s);

}  // namespace lhcr
