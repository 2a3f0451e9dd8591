#include "identity/comparators.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace lhcr::identity {

std::string_view FieldName(Field f) {
  static constexpr std::string_view kNames[kFieldCount] = {
      "given",   "family", "dob",      "sex",        "postcode", "house_number",
      "address", "town",   "other_id", "nhs_number", "email",    "region"};
  return kNames[static_cast<size_t>(f)];
}

const std::vector<std::string>& LevelNames(Field f) {
  static const auto* kLevels = new std::vector<std::vector<std::string>>{
      {"missing", "exact", "nickname", "jw>=0.95", "jw>=0.88", "jw>=0.70", "swapped", "different"},
      {"missing", "exact", "jw>=0.95", "jw>=0.88", "jw>=0.70", "swapped", "different"},
      {"missing", "exact", "day/month transposed", "one digit or year+-1", "same year",
       "different"},
      {"missing", "equal", "different"},
      {"missing", "exact", "sector or one edit", "district", "area", "different"},
      {"missing", "exact", "one edit", "different"},
      {"missing", "exact", "jw>=0.95", "jw>=0.88", "jw>=0.70", "different"},
      {"missing", "exact", "jw>=0.95", "jw>=0.88", "different"},
      {"missing", "exact", "one edit", "two edits", "different"},
      {"missing", "equal (both valid)", "different (both valid)"},
      {"missing", "exact", "same local part or jw>=0.88", "different"},
      {"missing", "equal", "different"}};
  return (*kLevels)[static_cast<size_t>(f)];
}

const SimilarityOrder& LevelOrder(Field f) {
  static const auto* kOrders = new std::vector<SimilarityOrder>{
      {{1, 3, 4, 5, 7}, {2, 6}},  // given: exact, jw .95, .88, .70; nickname, swapped aside
      {{1, 2, 3, 4, 6}, {5}},     // family: exact, jw .95, .88, .70; swapped aside
      {{1, 3, 4, 5}, {2}},        // dob: exact, one digit, same year; transposition aside
      {{1, 2}, {}},               // sex
      {{1, 2, 3, 4, 5}, {}},      // postcode: exact, sector, district, area
      {{1, 2, 3}, {}},            // house number
      {{1, 2, 3, 4, 5}, {}},      // address
      {{1, 2, 3, 4}, {}},         // town
      {{1, 2, 3, 4}, {}},         // other identifier
      {{1, 2}, {}},               // NHS number
      {{1, 2, 3}, {}},            // email
      {{1, 2}, {}}};              // region
  return (*kOrders)[static_cast<size_t>(f)];
}

double JaroWinkler(std::string_view a, std::string_view b) {
  if (a.empty() || b.empty()) return 0.0;
  if (a == b) return 1.0;
  const int la = static_cast<int>(a.size()), lb = static_cast<int>(b.size());
  if (la > 128 || lb > 128) return 0.0;  // not a name or an address line
  const int window = std::max(0, std::max(la, lb) / 2 - 1);
  // Which characters matched, as bit sets (two words cover 128): names and
  // addresses are short, and this runs for most candidate pairs.
  uint64_t ma[2] = {0, 0}, mb[2] = {0, 0};
  auto test = [](const uint64_t* m, int i) { return (m[i >> 6] >> (i & 63)) & 1; };
  auto set = [](uint64_t* m, int i) { m[i >> 6] |= uint64_t{1} << (i & 63); };
  int matches = 0;
  if (lb <= 64) {
    // Bit-parallel: where each character occurs in b (by c & 31; a shared
    // bucket is checked against the text), so each a[i] finds its first
    // unmatched equal character in the window with a few word operations
    // instead of a scan — the same choice the scan makes.
    uint64_t where[32] = {};
    for (int j = 0; j < lb; ++j) where[static_cast<unsigned char>(b[j]) & 31] |= uint64_t{1} << j;
    for (int i = 0; i < la; ++i) {
      const int lo = std::max(0, i - window), hi = std::min(lb - 1, i + window);
      if (lo > hi) continue;
      const int width = hi - lo + 1;
      const uint64_t in_window = (width == 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1) << lo;
      uint64_t candidates = where[static_cast<unsigned char>(a[i]) & 31] & in_window & ~mb[0];
      while (candidates != 0) {
        const int j = __builtin_ctzll(candidates);
        if (b[j] == a[i]) {
          set(ma, i);
          set(mb, j);
          ++matches;
          break;
        }
        candidates &= candidates - 1;
      }
    }
  } else {
    for (int i = 0; i < la; ++i) {
      int lo = std::max(0, i - window), hi = std::min(lb - 1, i + window);
      for (int j = lo; j <= hi; ++j) {
        if (a[i] == b[j] && !test(mb, j)) {
          set(ma, i);
          set(mb, j);
          ++matches;
          break;
        }
      }
    }
  }
  if (matches == 0) return 0.0;
  int t = 0;
  for (int i = 0, j = 0; i < la; ++i) {
    if (!test(ma, i)) continue;
    while (!test(mb, j)) ++j;
    if (a[i] != b[j]) ++t;
    ++j;
  }
  double m = matches;
  double jaro = (m / la + m / lb + (m - t / 2.0) / m) / 3.0;
  int prefix = 0;
  while (prefix < 4 && prefix < la && prefix < lb && a[prefix] == b[prefix]) ++prefix;
  return jaro + prefix * 0.1 * (1.0 - jaro);
}

double JaroWinklerAtLeast(std::string_view a, std::string_view b, double floor) {
  if (a.empty() || b.empty()) return 0.0;
  if (a == b) return 1.0;
  // Matches m <= the characters the two share as multisets; counting by
  // (c & 31) merges some characters, which can only raise that bound. Then
  // jaro <= (m/la + m/lb + 1) / 3 (no transpositions), and Winkler's bonus
  // grows with jaro, so the bound holds for the final score.
  uint8_t ca[32] = {}, cb[32] = {};
  for (char c : a) ++ca[static_cast<unsigned char>(c) & 31];
  for (char c : b) ++cb[static_cast<unsigned char>(c) & 31];
  int m = 0;
  for (int i = 0; i < 32; ++i) m += std::min(ca[i], cb[i]);
  if (m == 0) return 0.0;
  const double la = static_cast<double>(a.size()), lb = static_cast<double>(b.size());
  const double jaro = (m / la + m / lb + 1.0) / 3.0;
  int prefix = 0;
  while (prefix < 4 && prefix < static_cast<int>(a.size()) &&
         prefix < static_cast<int>(b.size()) && a[prefix] == b[prefix]) {
    ++prefix;
  }
  if (jaro + prefix * 0.1 * (1.0 - jaro) < floor) return 0.0;
  return JaroWinkler(a, b);
}

int Levenshtein(std::string_view a, std::string_view b) {
  std::vector<int> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      int sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

int OsaDistance(std::string_view a, std::string_view b) {
  const size_t n = a.size(), m = b.size();
  // Codes, numbers and dates are short: no allocation for them.
  int small[17 * 17];
  std::vector<int> large;
  int* d = small;
  if ((n + 1) * (m + 1) > std::size(small)) {
    large.resize((n + 1) * (m + 1));
    d = large.data();
  }
  auto at = [&](size_t i, size_t j) -> int& { return d[i * (m + 1) + j]; };
  for (size_t i = 0; i <= n; ++i) at(i, 0) = static_cast<int>(i);
  for (size_t j = 0; j <= m; ++j) at(0, j) = static_cast<int>(j);
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
      }
    }
  }
  return at(n, m);
}

// Every edit
// changes the character counts by at most 2 (a substitution: one down, one
// up; a transposition: none), so half their total difference is a lower
// bound that settles most unequal codes without the dynamic programme.
int OsaDistanceAtMost(std::string_view a, std::string_view b, int k) {
  const int gap = static_cast<int>(a.size() > b.size() ? a.size() - b.size() : b.size() - a.size());
  if (gap > k) return k + 1;
  int counts[64] = {};
  for (char c : a) ++counts[static_cast<unsigned char>(c) & 63];
  for (char c : b) --counts[static_cast<unsigned char>(c) & 63];
  int diff = 0;
  for (int c : counts) diff += c < 0 ? -c : c;
  if ((diff + 1) / 2 > k) return k + 1;
  return OsaDistance(a, b);
}

namespace {

std::string DobDigits(const PartialDate& d) {
  if (!d.known()) return "";
  // YYYYMMDD without printf (this runs for every pair whose dates differ).
  std::string out(8, '0');
  auto put = [&](int v, int pos, int width) {
    v = v < 0 ? -v : v;
    for (int i = pos + width - 1; i >= pos; --i, v /= 10) out[i] = static_cast<char>('0' + v % 10);
  };
  put(d.year % 10000, 0, 4);
  put(d.month % 100, 4, 2);
  put(d.day % 100, 6, 2);
  return out;
}

bool Similar(const std::string& a, const std::string& b) {
  return !a.empty() && !b.empty() && (a == b || JaroWinklerAtLeast(a, b, 0.95) >= 0.95);
}

bool Swapped(const PreparedRecord& a, const PreparedRecord& b) {
  return Similar(a.given, b.family) && Similar(a.family, b.given) && a.given != a.family;
}

}  // namespace

PreparedRecord Prepare(const PersonRecord& r, uint32_t side) {
  PreparedRecord p;
  p.side = side;
  p.given = NormaliseName(r.given);
  p.given_canonical = CanonicalGivenName(p.given);
  p.family = NormaliseName(r.family);
  for (const auto& n : r.other_names) {
    std::string v = NormaliseName(n);
    if (!v.empty()) p.other_names.push_back(v);
  }
  p.dob = r.dob;
  p.dob_digits = DobDigits(r.dob);
  p.sex = r.sex;
  p.postcode = NormalisePostcode(r.postcode);
  p.postcode_parts = SplitPostcode(p.postcode);
  p.house_number = NormaliseAddress(r.house_number);
  p.house_number.erase(std::remove(p.house_number.begin(), p.house_number.end(), ' '),
                       p.house_number.end());
  for (const auto& line : r.address_lines) {
    std::string v = NormaliseAddress(line);
    if (v.empty()) continue;
    if (p.address_line1.empty()) p.address_line1 = v;
    if (!p.address.empty()) p.address += ' ';
    p.address += v;
  }
  p.town = NormaliseAddress(r.town);
  auto extra = [&](const char* key) {
    auto it = r.extra.find(key);
    return it == r.extra.end() ? std::string() : it->second;
  };
  p.other_id = NormalisePostcode(extra(kExtraOtherId));  // upper case, no spaces
  std::string nhs = DigitsOnly(r.nhs_number);
  if (IsValidNhsNumber(nhs)) p.nhs_number = nhs;
  p.email = NormaliseEmail(extra(kExtraEmail));
  p.email_local = p.email.substr(0, p.email.find('@'));
  p.region = NormaliseAddress(extra(kExtraRegion));
  p.given_soundex = Soundex(p.given);
  p.family_soundex = Soundex(p.family);
  return p;
}

uint8_t CompareGiven(const PreparedRecord& a, const PreparedRecord& b) {
  using namespace level;
  if (a.given.empty() || b.given.empty()) return kMissing;
  if (a.given == b.given) return kExact;
  if (a.given_canonical == b.given_canonical) return kGivenNickname;
  auto in = [](const std::string& n, const std::vector<std::string>& v) {
    return std::find(v.begin(), v.end(), n) != v.end();
  };
  if (in(a.given, b.other_names) || in(b.given, a.other_names)) return kGivenNickname;
  if (Swapped(a, b)) return kGivenSwapped;
  double jw = JaroWinklerAtLeast(a.given, b.given, 0.70);
  if (jw >= 0.95) return kGivenJw95;
  if (jw >= 0.88) return kGivenJw88;
  bool initial = (a.given.size() == 1 || b.given.size() == 1) && a.given[0] == b.given[0];
  if (jw >= 0.70 || initial) return kGivenJw70;
  return kGivenOther;
}

uint8_t CompareFamily(const PreparedRecord& a, const PreparedRecord& b) {
  using namespace level;
  if (a.family.empty() || b.family.empty()) return kMissing;
  if (a.family == b.family) return kExact;
  if (Swapped(a, b)) return kFamilySwapped;
  double jw = JaroWinklerAtLeast(a.family, b.family, 0.70);
  if (jw >= 0.95) return kFamilyJw95;
  if (jw >= 0.88) return kFamilyJw88;
  if (jw >= 0.70) return kFamilyJw70;
  return kFamilyOther;
}

uint8_t CompareDob(const PartialDate& a, const PartialDate& b) {
  using namespace level;
  if (!a.known() || !b.known()) return kMissing;
  if (a.precision == DatePrecision::kDay && b.precision == DatePrecision::kDay) {
    if (a == b) return kExact;
    if (a.year == b.year && a.month == b.day && a.day == b.month) return kDobTransposed;
    if (a.month == b.month && a.day == b.day && std::abs(a.year - b.year) == 1) return kDobOneEdit;
    if (OsaDistanceAtMost(DobDigits(a), DobDigits(b), 1) <= 1) return kDobOneEdit;
    if (a.year == b.year) return kDobSameYear;
    return kDobOther;
  }
  // Compare at the coarser precision: equal there is weak evidence.
  if (a.year != b.year) return kDobOther;
  DatePrecision p = std::min(a.precision, b.precision);
  if (p >= DatePrecision::kMonth && a.month != b.month) return kDobOther;
  return kDobSameYear;
}

uint8_t CompareSex(Sex a, Sex b) {
  if (a == Sex::kUnknown || b == Sex::kUnknown) return level::kMissing;
  return a == b ? level::kExact : level::kDifferent2;
}

uint8_t ComparePostcode(const PreparedRecord& a, const PreparedRecord& b) {
  using namespace level;
  if (a.postcode.empty() || b.postcode.empty()) return kMissing;
  if (a.postcode == b.postcode) return kExact;
  const PostcodeParts &pa = a.postcode_parts, &pb = b.postcode_parts;
  if (pa.uk && pb.uk) {
    if (pa.sector == pb.sector) return kPostcodeSector;
    if (pa.district == pb.district) return kPostcodeDistrict;
    if (pa.area == pb.area) return kPostcodeArea;
    return kPostcodeOther;
  }
  return OsaDistanceAtMost(a.postcode, b.postcode, 1) <= 1 ? kPostcodeSector : kPostcodeOther;
}

uint8_t CompareNumber(const std::string& a, const std::string& b) {
  using namespace level;
  if (a.empty() || b.empty()) return kMissing;
  if (a == b) return kExact;
  return OsaDistanceAtMost(a, b, 1) <= 1 ? kNumberOneEdit : kNumberOther;
}

uint8_t CompareAddress(const PreparedRecord& a, const PreparedRecord& b) {
  using namespace level;
  if (a.address.empty() || b.address.empty()) return kMissing;
  if (a.address == b.address) return kExact;
  double jw = JaroWinklerAtLeast(a.address, b.address, 0.70);
  if (jw < 0.95 && (a.address_line1 != a.address || b.address_line1 != b.address)) {
    jw = std::max(jw, JaroWinklerAtLeast(a.address_line1, b.address_line1, 0.70));
  }
  if (jw >= 0.95) return kAddressJw95;
  if (jw >= 0.88) return kAddressJw88;
  if (jw >= 0.70) return kAddressJw70;
  return kAddressOther;
}

uint8_t CompareTown(const std::string& a, const std::string& b) {
  using namespace level;
  if (a.empty() || b.empty()) return kMissing;
  if (a == b) return kExact;
  double jw = JaroWinklerAtLeast(a, b, 0.88);
  if (jw >= 0.95) return kTownJw95;
  if (jw >= 0.88) return kTownJw88;
  return kTownOther;
}

uint8_t CompareOtherId(const std::string& a, const std::string& b) {
  using namespace level;
  if (a.empty() || b.empty()) return kMissing;
  if (a == b) return kExact;
  int d = OsaDistanceAtMost(a, b, 2);
  if (d <= 1) return kIdOneEdit;
  if (d == 2) return kIdTwoEdits;
  return kIdOther;
}

uint8_t CompareNhsNumber(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) return level::kMissing;
  return a == b ? level::kExact : level::kDifferent2;
}

uint8_t CompareEmail(const PreparedRecord& a, const PreparedRecord& b) {
  using namespace level;
  if (a.email.empty() || b.email.empty()) return kMissing;
  if (a.email == b.email) return kExact;
  if ((!a.email_local.empty() && a.email_local == b.email_local) ||
      JaroWinklerAtLeast(a.email, b.email, 0.88) >= 0.88) {
    return kEmailClose;
  }
  return kEmailOther;
}

uint8_t CompareExact(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) return level::kMissing;
  return a == b ? level::kExact : level::kDifferent2;
}

ComparisonVector Compare(const PreparedRecord& a, const PreparedRecord& b) {
  ComparisonVector v{};
  v[static_cast<size_t>(Field::kGiven)] = CompareGiven(a, b);
  v[static_cast<size_t>(Field::kFamily)] = CompareFamily(a, b);
  v[static_cast<size_t>(Field::kDob)] = CompareDob(a.dob, b.dob);
  v[static_cast<size_t>(Field::kSex)] = CompareSex(a.sex, b.sex);
  v[static_cast<size_t>(Field::kPostcode)] = ComparePostcode(a, b);
  v[static_cast<size_t>(Field::kHouseNumber)] = CompareNumber(a.house_number, b.house_number);
  v[static_cast<size_t>(Field::kAddress)] = CompareAddress(a, b);
  v[static_cast<size_t>(Field::kTown)] = CompareTown(a.town, b.town);
  v[static_cast<size_t>(Field::kOtherId)] = CompareOtherId(a.other_id, b.other_id);
  v[static_cast<size_t>(Field::kNhsNumber)] = CompareNhsNumber(a.nhs_number, b.nhs_number);
  v[static_cast<size_t>(Field::kEmail)] = CompareEmail(a, b);
  v[static_cast<size_t>(Field::kRegion)] = CompareExact(a.region, b.region);
  return v;
}

}  // namespace lhcr::identity
