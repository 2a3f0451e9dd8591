// PersonRecord: one source's view of a person, as the matcher sees it.
//
// A plain value type: copyable, comparable, printable, safe to share between
// threads. Fields hold the values as received (any case, accents and
// punctuation); normalisation happens in normalise.h. An empty string or an
// unknown date means "missing", which the comparators treat as neutral
// evidence (neither for nor against a match).
#pragma once

#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace lhcr::identity {

// How much of a date is known: a source may record only a birth year.
enum class DatePrecision { kUnknown = 0, kYear, kMonth, kDay };

struct PartialDate {
  int year = 0;
  int month = 0;  // 1..12 when precision >= kMonth
  int day = 0;    // 1..31 when precision == kDay
  DatePrecision precision = DatePrecision::kUnknown;
  bool known() const { return precision != DatePrecision::kUnknown; }
  bool operator==(const PartialDate&) const = default;
};

// Parses YYYYMMDD, YYYY-MM-DD, YYYY-MM or YYYY. Out-of-calendar months or days
// (a keying error such as 19971305) are kept as digits: a typo is evidence,
// not a reason to drop the field. Anything else gives an unknown date.
PartialDate ParsePartialDate(const std::string& text);

enum class Sex { kUnknown = 0, kFemale, kMale, kOther };

// Well-known names for PersonRecord::extra, so that datasets with fields
// beyond the core demographics map onto generic comparators.
inline constexpr const char* kExtraOtherId = "other_id";  // e.g. FEBRL soc_sec_id
inline constexpr const char* kExtraEmail = "email";
inline constexpr const char* kExtraRegion = "region";  // e.g. FEBRL state, a county

struct PersonRecord {
  std::string record_id;  // unique within its source
  std::string source_id;  // the source system (a GP practice, a trust, a file)
  std::string given;
  std::string family;
  std::vector<std::string> other_names;  // middle names, aliases
  PartialDate dob;
  Sex sex = Sex::kUnknown;
  std::string postcode;
  std::vector<std::string> address_lines;  // house number first when known
  std::string house_number;
  std::string town;
  std::string nhs_number;
  std::map<std::string, std::string> extra;  // kExtra* names, and any others

  bool operator==(const PersonRecord&) const = default;
};

std::ostream& operator<<(std::ostream& os, const PersonRecord& r);

}  // namespace lhcr::identity
