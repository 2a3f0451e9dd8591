// Blocking: which pairs of records are worth comparing.
//
// Several independent keys, so that a typo in one field cannot hide a true
// pair: a pair is a candidate when ANY key agrees. Each key groups records by
// a value derived from a few fields; blocks larger than max_block_size are
// skipped (a common value carries little evidence and would make the pair
// count quadratic), and counted in BlockingStats. Pure, single-threaded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "identity/comparators.h"

namespace lhcr::identity {

// Record indices into the prepared vector, first < second.
struct CandidatePair {
  uint32_t a = 0, b = 0;
  bool operator==(const CandidatePair&) const = default;
  bool operator<(const CandidatePair& o) const { return a != o.a ? a < o.a : b < o.b; }
};

struct BlockingOptions {
  size_t max_block_size = 200;
  // Linking two inputs: only pairs across sides (PreparedRecord::side).
  bool cross_side_only = false;
};

struct BlockingStats {
  size_t keys = 0;            // distinct (rule, value) blocks
  size_t skipped_blocks = 0;  // over max_block_size
  size_t raw_pairs = 0;       // before deduplication
  size_t pairs = 0;
};

// A blocking rule: its name (the prefix of its keys) and the compared
// fields its key is derived from. Every pair a rule makes agrees, by
// construction, on (part of) those fields, so they say little about the
// pair being one person; m estimation holds them out (fellegi_sunter.h).
struct BlockingRule {
  std::string_view name;
  std::vector<Field> fields;
};
// The rules, in a fixed order: bit i of a rule mask is BlockingRules()[i].
// NHS number; family soundex + birth year; given initial + full dob;
// postcode + birth year; family prefix (3) + postcode district (or outward
// part); full dob + town prefix; full dob; given soundex + birth year; given
// soundex + postcode; house number + street prefix; other identifier, and
// each half of it; email and its local part; given soundex + family soundex
// (either order, so swapped names still meet).
const std::vector<BlockingRule>& BlockingRules();
inline constexpr size_t kBlockingRuleCount = 16;

// The blocking keys of one record: "rule:value" strings, empty ones dropped,
// at most one per rule.
std::vector<std::string> BlockingKeys(const PreparedRecord& r);

// Deduplicated candidate pairs, sorted.
std::vector<CandidatePair> GenerateCandidates(const std::vector<PreparedRecord>& records,
                                              const BlockingOptions& options,
                                              BlockingStats* stats = nullptr);

// Which rules made each pair (parallel to `pairs`): bit i is set when the
// two records share rule i's key in a block of at most max_block_size
// records, i.e. when rule i alone would have made the pair.
std::vector<uint32_t> CandidateRules(const std::vector<PreparedRecord>& records,
                                     const std::vector<CandidatePair>& pairs,
                                     const BlockingOptions& options);

}  // namespace lhcr::identity
