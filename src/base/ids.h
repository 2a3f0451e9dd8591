// Resource id generation, injectable for tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

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

// Deterministic ids for things derived from what a source sent (the same
// message mapped twice gives the same fullUrls and Provenance ids).
// 64-bit FNV-1a of `s`, continuing from `h`.
uint64_t Fnv1a(std::string_view s, uint64_t h = 14695981039346656037ULL);
// `v` as `digits` lower-case hex digits (the low ones).
std::string Hex(uint64_t v, int digits);
// A version-4-shaped UUID (8-4-4-4-12) derived from `seed`.
std::string StableUuid(std::string_view seed);

}  // namespace lhcr
