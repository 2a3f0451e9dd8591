#include "identity/blocking.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <unordered_map>

namespace lhcr::identity {

const std::vector<BlockingRule>& BlockingRules() {
  using F = Field;
  static const auto* kRules = new std::vector<BlockingRule>{
      {"nhs", {F::kNhsNumber}},
      {"fsx_yob", {F::kFamily, F::kDob}},
      {"gi_dob", {F::kGiven, F::kDob}},
      {"pc_yob", {F::kPostcode, F::kDob}},
      {"f3_dist", {F::kFamily, F::kPostcode}},
      {"dob_town", {F::kDob, F::kTown}},
      {"dob", {F::kDob}},
      {"gsx_yob", {F::kGiven, F::kDob}},
      {"gsx_pc", {F::kGiven, F::kPostcode}},
      {"num_addr", {F::kHouseNumber, F::kAddress}},
      {"oid", {F::kOtherId}},
      {"oid_head", {F::kOtherId}},
      {"oid_tail", {F::kOtherId}},
      {"email_local", {F::kEmail}},
      {"email", {F::kEmail}},
      {"names", {F::kGiven, F::kFamily}},
  };
  return *kRules;
}

namespace {

// The value of each rule's key for one record ("" when it has none), in the
// order of BlockingRules().
std::array<std::string, kBlockingRuleCount> RuleValues(const PreparedRecord& r) {
  auto both = [](const std::string& x, const std::string& y) {
    return x.empty() || y.empty() ? std::string() : x + "|" + y;
  };
  std::string year = r.dob.known() ? std::to_string(r.dob.year) : "";
  std::string full_dob = r.dob.precision == DatePrecision::kDay ? r.dob_digits : "";
  std::string district = r.postcode_parts.uk ? r.postcode_parts.district : r.postcode;
  std::array<std::string, kBlockingRuleCount> v;
  v[0] = r.nhs_number;
  v[1] = both(r.family_soundex, year);
  v[2] = both(r.given.substr(0, 1), full_dob);
  v[3] = both(r.postcode, year);
  v[4] = both(r.family.substr(0, 3), district);
  v[5] = both(full_dob, r.town.substr(0, 3));
  v[6] = full_dob;
  v[7] = both(r.given_soundex, year);
  v[8] = both(r.given_soundex, r.postcode);
  v[9] = both(r.house_number, r.address_line1.substr(0, 4));
  v[10] = r.other_id;
  // Either half of the identifier: one mistyped digit cannot hide it.
  if (r.other_id.size() >= 6) {
    v[11] = r.other_id.substr(0, r.other_id.size() / 2);
    v[12] = r.other_id.substr(r.other_id.size() / 2);
  }
  v[13] = r.email_local;
  v[14] = r.email;
  if (!r.given_soundex.empty() && !r.family_soundex.empty()) {
    std::string x = r.given_soundex, y = r.family_soundex;
    if (y < x) std::swap(x, y);
    v[15] = x + "|" + y;
  }
  return v;
}

}  // namespace

std::vector<std::string> BlockingKeys(const PreparedRecord& r) {
  std::vector<std::string> keys;
  const auto values = RuleValues(r);
  for (size_t i = 0; i < kBlockingRuleCount; ++i) {
    if (!values[i].empty()) keys.push_back(std::string(BlockingRules()[i].name) + ":" + values[i]);
  }
  return keys;
}

namespace {

constexpr uint32_t kNoBlock = UINT32_MAX;

// Every record's block under every rule: blocks[id] lists a block's records
// (ids dense over all rules), block_of[i][r] is record i's block under rule
// r, kNoBlock when it has no key.
struct BlockIndex {
  std::vector<std::vector<uint32_t>> blocks;
  std::vector<std::array<uint32_t, kBlockingRuleCount>> block_of;
};

BlockIndex IndexBlocks(const std::vector<PreparedRecord>& records) {
  BlockIndex index;
  std::array<std::unordered_map<std::string, uint32_t>, kBlockingRuleCount> block_id;
  index.block_of.resize(records.size());
  for (uint32_t i = 0; i < records.size(); ++i) {
    auto values = RuleValues(records[i]);
    for (size_t r = 0; r < kBlockingRuleCount; ++r) {
      index.block_of[i][r] = kNoBlock;
      if (values[r].empty()) continue;
      auto [it, inserted] =
          block_id[r].emplace(std::move(values[r]), static_cast<uint32_t>(index.blocks.size()));
      if (inserted) index.blocks.emplace_back();
      index.blocks[it->second].push_back(i);
      index.block_of[i][r] = it->second;
    }
  }
  return index;
}

}  // namespace

std::vector<CandidatePair> GenerateCandidates(const std::vector<PreparedRecord>& records,
                                              const BlockingOptions& options,
                                              BlockingStats* stats) {
  const BlockIndex index = IndexBlocks(records);
  BlockingStats s;
  s.keys = index.blocks.size();
  std::vector<uint64_t> packed;
  for (const auto& ids : index.blocks) {
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

std::vector<uint32_t> CandidateRules(const std::vector<PreparedRecord>& records,
                                     const std::vector<CandidatePair>& pairs,
                                     const BlockingOptions& options) {
  const BlockIndex index = IndexBlocks(records);
  std::vector<uint32_t> rules(pairs.size(), 0);
  for (size_t k = 0; k < pairs.size(); ++k) {
    const auto &x = index.block_of[pairs[k].a], &y = index.block_of[pairs[k].b];
    for (size_t r = 0; r < kBlockingRuleCount; ++r) {
      if (x[r] != kNoBlock && x[r] == y[r] && index.blocks[x[r]].size() <= options.max_block_size) {
        rules[k] |= 1u << r;
      }
    }
  }
  return rules;
}

}  // namespace lhcr::identity
