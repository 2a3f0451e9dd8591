#include "store/index_keys.h"

#include <algorithm>
#include <iterator>

namespace lhcr::store {

int32_t ParamId(std::string_view key) {
  uint32_t h = 2166136261u;
  for (unsigned char c : key) {
    h ^= c;
    h *= 16777619u;
  }
  return static_cast<int32_t>(h & 0x7fffffffu);
}

const char* IndexTableOf(IndexType type) {
  switch (type) {
    case IndexType::kToken:
      return "idx_token";
    case IndexType::kString:
      return "idx_string";
    case IndexType::kDate:
      return "idx_date";
    case IndexType::kReference:
      return "idx_ref";
    case IndexType::kQuantity:
      return "idx_quantity";
    case IndexType::kNumber:
      return "idx_number";
    case IndexType::kUri:
      return "idx_uri";
  }
  return "idx_token";
}

std::string PrefixUpperBound(std::string prefix) {
  while (!prefix.empty()) {
    auto c = static_cast<unsigned char>(prefix.back());
    if (c < 0xff) {
      prefix.back() = static_cast<char>(c + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\xff');
}

void SortUnique(RidSet* rids) {
  std::sort(rids->begin(), rids->end());
  rids->erase(std::unique(rids->begin(), rids->end()), rids->end());
}

RidSet Intersect(const RidSet& a, const RidSet& b) {
  RidSet out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

}  // namespace lhcr::store
