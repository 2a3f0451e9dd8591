// Helpers every Store implementation shares: how a search parameter key
// becomes the compact id stored in index rows, which table holds each index
// type, and the sorted rid-set operations. Inside the store room only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "store/index_row.h"
#include "store/store.h"

namespace lhcr::store {

// The compact id of a search parameter key ("Observation.code"): a 31-bit
// FNV-1a hash, so every connection and every store computes the same id
// alone; each store records key -> id and catches a collision at write time.
int32_t ParamId(std::string_view key);

// The index table of an index type ("idx_token", ...).
const char* IndexTableOf(IndexType type);

// The smallest string greater than every string that starts with `prefix`
// (byte order), for prefix matches as a range scan.
std::string PrefixUpperBound(std::string prefix);

// Sorts and removes duplicates.
void SortUnique(RidSet* rids);
// The rids in both (sorted) sets.
RidSet Intersect(const RidSet& a, const RidSet& b);

}  // namespace lhcr::store
