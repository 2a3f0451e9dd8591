#include "identity/blocking.h"

#include <algorithm>
#include <unordered_map>

namespace lhcr::identity {

std::vector<std::string> BlockingKeys(const PreparedRecord& r) {
  std::vector<std::string> keys;
  auto add = [&](const char* rule, const std::string& value) {
    if (!value.empty()) keys.push_back(std::string(rule) + ":" + value);
  };
  auto both = [](const std::string& x, const std::string& y) {
    return x.empty() || y.empty() ? std::string() : x + "|" + y;
  };
  std::string year = r.dob.known() ? std::to_string(r.dob.year) : "";
  std::string full_dob = r.dob.precision == DatePrecision::kDay ? r.dob_digits : "";
  add("nhs", r.nhs_number);
  add("fsx_yob", both(r.family_soundex, year));
  add("gi_dob", both(r.given.substr(0, 1), full_dob));
  add("pc_yob", both(r.postcode, year));
  std::string district = r.postcode_parts.uk ? r.postcode_parts.district : r.postcode;
  add("f3_dist", both(r.family.substr(0, 3), district));
  add("dob_town", both(full_dob, r.town.substr(0, 3)));
  add("dob", full_dob);
  add("gsx_yob", both(r.given_soundex, year));
  add("gsx_pc", both(r.given_soundex, r.postcode));
  add("num_addr", both(r.house_number, r.address_line1.substr(0, 4)));
  add("oid", r.other_id);
  // Either half of the identifier: one mistyped digit cannot hide it.
  if (r.other_id.size() >= 6) {
    add("oid_head", r.other_id.substr(0, r.other_id.size() / 2));
    add("oid_tail", r.other_id.substr(r.other_id.size() / 2));
  }
  add("email_local", r.email_local);
  add("email", r.email);
  if (!r.given_soundex.empty() && !r.family_soundex.empty()) {
    std::string x = r.given_soundex, y = r.family_soundex;
    if (y < x) std::swap(x, y);
    add("names", x + "|" + y);
  }
  return keys;
}

std::vector<CandidatePair> GenerateCandidates(const std::vector<PreparedRecord>& records,
                                              const BlockingOptions& options,
                                              BlockingStats* stats) {
  std::unordered_map<std::string, std::vector<uint32_t>> blocks;
  for (uint32_t i = 0; i < records.size(); ++i) {
    for (auto& k : BlockingKeys(records[i])) blocks[std::move(k)].push_back(i);
  }
  BlockingStats s;
  s.keys = blocks.size();
  std::vector<uint64_t> packed;
  for (const auto& [key, ids] : blocks) {
    if (ids.size() < 2) continue;
    if (ids.size() > options.max_block_size) {
      ++s.skipped_blocks;
      continue;
    }
    for (size_t i = 0; i < ids.size(); ++i) {
      for (size_t j = i + 1; j < ids.size(); ++j) {
        uint32_t a = ids[i], b = ids[j];
        if (options.cross_side_only && records[a].side == records[b].side) continue;
        if (a > b) std::swap(a, b);
        packed.push_back((static_cast<uint64_t>(a) << 32) | b);
      }
    }
  }
  s.raw_pairs = packed.size();
  std::sort(packed.begin(), packed.end());
  packed.erase(std::unique(packed.begin(), packed.end()), packed.end());
  std::vector<CandidatePair> out;
  out.reserve(packed.size());
  for (uint64_t p : packed) {
    out.push_back({static_cast<uint32_t>(p >> 32), static_cast<uint32_t>(p & 0xffffffffu)});
  }
  s.pairs = out.size();
  if (stats != nullptr) *stats = s;
  return out;
}

}  // namespace lhcr::identity
