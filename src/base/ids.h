// Resource id generation, injectable for tests.
#pragma once

#include <string>

namespace lhcr {

class IdGenerator {
 public:
  virtual ~IdGenerator() = default;
  // A new id, valid as a FHIR id ([A-Za-z0-9\-\.]{1,64}) and unique.
  virtual std::string Next() = 0;
};

// Time-ordered version-7 UUIDs (RFC 9562): milliseconds since the epoch,
// then random bits from a per-thread generator seeded from the OS.
// Thread-safe.
IdGenerator& UuidGenerator();

}  // namespace lhcr
