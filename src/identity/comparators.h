// Field comparators: each turns a pair of prepared records into a comparison
// level for one field (a small integer), the input to Fellegi-Sunter.
//
// Level 0 is always "missing" (one side or both lack the value): it carries
// no evidence either way. The other levels run from the strongest agreement
// to "different". Pure functions, safe from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "identity/normalise.h"
#include "identity/person_record.h"

namespace lhcr::identity {

// The fields compared, in the order of a ComparisonVector.
enum class Field : uint8_t {
  kGiven = 0,
  kFamily,
  kDob,
  kSex,
  kPostcode,
  kHouseNumber,
  kAddress,
  kTown,
  kOtherId,
  kNhsNumber,
  kEmail,
  kRegion,
};
inline constexpr size_t kFieldCount = 12;

std::string_view FieldName(Field f);
// Level names of a field, index = level ("missing", "exact", ...).
const std::vector<std::string>& LevelNames(Field f);
inline size_t LevelCount(Field f) { return LevelNames(f).size(); }

// How a field's levels are ordered by similarity, for the constraint that a
// more similar level is at least as strong evidence of a match (its m/u is
// not lower). `chain`: levels from most to least similar (first exact, last
// different). `side`: levels of another kind (a nickname, swapped names, a
// day/month transposition), only bounded by the chain's ends.
struct SimilarityOrder {
  std::vector<uint8_t> chain, side;
};
const SimilarityOrder& LevelOrder(Field f);

// Levels shared by several comparators.
namespace level {
inline constexpr uint8_t kMissing = 0;
inline constexpr uint8_t kExact = 1;
// Given name: 1 exact, 2 nickname/alias, 3 JW>=0.95, 4 JW>=0.88,
// 5 JW>=0.70 or initial, 6 swapped with family name, 7 different.
inline constexpr uint8_t kGivenNickname = 2, kGivenJw95 = 3, kGivenJw88 = 4, kGivenJw70 = 5,
                         kGivenSwapped = 6, kGivenOther = 7;
// Family: 1 exact, 2 JW>=0.95, 3 JW>=0.88, 4 JW>=0.70, 5 swapped, 6 different.
inline constexpr uint8_t kFamilyJw95 = 2, kFamilyJw88 = 3, kFamilyJw70 = 4, kFamilySwapped = 5,
                         kFamilyOther = 6;
// Date of birth: 1 exact, 2 day and month transposed, 3 one digit keyed wrong
// or year off by one, 4 same year only (or equal at a coarser precision),
// 5 different.
inline constexpr uint8_t kDobTransposed = 2, kDobOneEdit = 3, kDobSameYear = 4, kDobOther = 5;
// Sex, NHS number, region: 1 equal, 2 different.
inline constexpr uint8_t kDifferent2 = 2;
// Postcode: 1 exact, 2 same sector (UK) or one edit (elsewhere), 3 same
// district, 4 same area, 5 different.
inline constexpr uint8_t kPostcodeSector = 2, kPostcodeDistrict = 3, kPostcodeArea = 4,
                         kPostcodeOther = 5;
// House number: 1 exact, 2 one edit, 3 different.
inline constexpr uint8_t kNumberOneEdit = 2, kNumberOther = 3;
// Address: 1 exact, 2 JW>=0.95, 3 JW>=0.88, 4 JW>=0.70, 5 different.
inline constexpr uint8_t kAddressJw95 = 2, kAddressJw88 = 3, kAddressJw70 = 4, kAddressOther = 5;
// Town: 1 exact, 2 JW>=0.95, 3 JW>=0.88, 4 different.
inline constexpr uint8_t kTownJw95 = 2, kTownJw88 = 3, kTownOther = 4;
// Other identifier: 1 exact, 2 one edit (incl. a transposition), 3 two
// edits, 4 different.
inline constexpr uint8_t kIdOneEdit = 2, kIdTwoEdits = 3, kIdOther = 4;
// Email: 1 exact, 2 same local part or JW>=0.88, 3 different.
inline constexpr uint8_t kEmailClose = 2, kEmailOther = 3;
}  // namespace level

// A record normalised once for comparison and blocking.
struct PreparedRecord {
  std::string given, given_canonical, family;
  std::vector<std::string> other_names;
  PartialDate dob;
  std::string dob_digits;  // YYYYMMDD (zeros where unknown)
  Sex sex = Sex::kUnknown;
  std::string postcode;
  PostcodeParts postcode_parts;
  std::string house_number;
  std::string address_line1, address;  // first line; all lines joined
  std::string town;
  std::string other_id;
  std::string nhs_number;  // digits, only when valid
  std::string email, email_local;
  std::string region;
  std::string given_soundex, family_soundex;
  uint32_t side = 0;  // which input of a linkage (0 or 1); 0 when deduplicating
};

PreparedRecord Prepare(const PersonRecord& r, uint32_t side = 0);

using ComparisonVector = std::array<uint8_t, kFieldCount>;

// Compares every field of a pair.
ComparisonVector Compare(const PreparedRecord& a, const PreparedRecord& b);

// The per-field comparators (exposed for tests and for explaining a match).
uint8_t CompareGiven(const PreparedRecord& a, const PreparedRecord& b);
uint8_t CompareFamily(const PreparedRecord& a, const PreparedRecord& b);
uint8_t CompareDob(const PartialDate& a, const PartialDate& b);
uint8_t CompareSex(Sex a, Sex b);
uint8_t ComparePostcode(const PreparedRecord& a, const PreparedRecord& b);
uint8_t CompareNumber(const std::string& a, const std::string& b);  // house numbers
uint8_t CompareAddress(const PreparedRecord& a, const PreparedRecord& b);
uint8_t CompareTown(const std::string& a, const std::string& b);
uint8_t CompareOtherId(const std::string& a, const std::string& b);
uint8_t CompareNhsNumber(const std::string& a, const std::string& b);  // valid digits or ""
uint8_t CompareEmail(const PreparedRecord& a, const PreparedRecord& b);
uint8_t CompareExact(const std::string& a, const std::string& b);  // missing/equal/different

// Jaro-Winkler similarity in [0, 1] (prefix scale 0.1, prefix up to 4); 0 when
// either string is longer than 128 characters (not a name or an address).
double JaroWinkler(std::string_view a, std::string_view b);
// The same where it is at least `floor` (> 0); otherwise 0 or a value below it
// (often without the O(n*m) matching: an upper bound from the lengths, the
// characters the strings share and their common prefix rules it out first).
// For comparators, which only ask which band a pair falls in.
double JaroWinklerAtLeast(std::string_view a, std::string_view b, double floor);
// Levenshtein edit distance.
int Levenshtein(std::string_view a, std::string_view b);
// Optimal string alignment distance: Levenshtein plus adjacent transposition.
int OsaDistance(std::string_view a, std::string_view b);
// The same where it is at most `k`; otherwise some value above `k`.
int OsaDistanceAtMost(std::string_view a, std::string_view b, int k);

}  // namespace lhcr::identity
