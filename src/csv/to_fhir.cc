#include "csv/to_fhir.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>

#include "base/text.h"
#include "base/ids.h"
#include "fhir/json.h"
#include "fhir/resource_builder.h"

namespace lhcr::csv {
namespace {

using text::CleanText;
using text::Code;
using text::Lower;
using text::PercentEncode;
using text::Slug;
using text::Upper;

using fhir::Json;
using fhir::JsonDoc;
using Alloc = rapidjson::MemoryPoolAllocator<>;

constexpr std::string_view kActCode = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
constexpr std::string_view kUcum = "http://unitsofmeasure.org";
constexpr std::string_view kUkCore = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-";

// ------------------------------------------------------------ the targets

enum class Target {
  kIgnore,
  kLocalId,
  kNhsNumber,
  kGiven,
  kFamily,
  kBirthDate,
  kGender,
  kAddressLine,
  kCity,
  kPostalCode,
  kEventId,
  kEventCategory,
  kEventCode,
  kEventCodeDisplay,
  kEventStart,
  kEventEnd,
  kEventQuantity,
};

struct TargetInfo {
  std::string_view name;
  Target target;
  bool repeatable;
};

constexpr TargetInfo kTargets[] = {
    {"ignore", Target::kIgnore, true},
    {"patient.identifier.local", Target::kLocalId, false},
    {"patient.identifier.nhs-number", Target::kNhsNumber, false},
    {"patient.name.given", Target::kGiven, true},
    {"patient.name.family", Target::kFamily, false},
    {"patient.birthDate", Target::kBirthDate, false},
    {"patient.gender", Target::kGender, false},
    {"patient.address.line", Target::kAddressLine, true},
    {"patient.address.city", Target::kCity, false},
    {"patient.address.postalCode", Target::kPostalCode, false},
    {"event.identifier", Target::kEventId, false},
    {"event.category", Target::kEventCategory, false},
    {"event.code", Target::kEventCode, false},
    {"event.code.display", Target::kEventCodeDisplay, false},
    {"event.period.start", Target::kEventStart, false},
    {"event.period.end", Target::kEventEnd, false},
    {"event.quantity", Target::kEventQuantity, false},
};

const TargetInfo* FindTarget(std::string_view name) {
  for (const TargetInfo& t : kTargets) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

bool IsPatientTarget(Target t) {
  return t == Target::kNhsNumber || t == Target::kGiven || t == Target::kFamily ||
         t == Target::kBirthDate || t == Target::kGender || t == Target::kAddressLine ||
         t == Target::kCity || t == Target::kPostalCode;
}

bool IsEventTarget(Target t) { return t >= Target::kEventId; }

// ------------------------------------------------------------ text helpers







// A non-negative FHIR decimal ("21", "7.5", "007.50" -> "7.50"); nullopt
// if not one.
std::optional<std::string> Decimal(std::string_view s) {
  std::string t = CleanText(s);
  std::string_view v = t;
  if (!v.empty() && v[0] == '+') v.remove_prefix(1);
  size_t dot = v.find('.');
  std::string_view ip = v.substr(0, dot);
  std::string_view fp = dot == std::string_view::npos ? std::string_view() : v.substr(dot + 1);
  if (ip.empty() && fp.empty()) return std::nullopt;
  if (ip.size() + fp.size() > 18) return std::nullopt;
  for (char c : ip) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  for (char c : fp) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  while (ip.size() > 1 && ip[0] == '0') ip.remove_prefix(1);
  std::string out = ip.empty() ? "0" : std::string(ip);
  if (!fp.empty()) out += "." + std::string(fp);
  return out;
}

// A UK postcode in its canonical form ("m12 5af" -> "M12 5AF"); other text
// as it is.
std::string Postcode(std::string_view raw) {
  std::string pc = Upper(CleanText(raw));
  std::string compact;
  for (char c : pc) {
    if (c != ' ') compact.push_back(c);
  }
  bool uk = compact.size() >= 5 && compact.size() <= 7 &&
            std::isalpha(static_cast<unsigned char>(compact[0])) &&
            std::isdigit(static_cast<unsigned char>(compact[compact.size() - 3])) &&
            std::isalpha(static_cast<unsigned char>(compact[compact.size() - 2])) &&
            std::isalpha(static_cast<unsigned char>(compact[compact.size() - 1])) &&
            std::all_of(compact.begin(), compact.end(),
                        [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
  return uk ? compact.substr(0, compact.size() - 3) + " " + compact.substr(compact.size() - 3)
            : CleanText(raw);
}

std::string NhsDigits(std::string_view raw) {
  std::string digits;
  for (char ch : CleanText(raw)) {
    if (ch != ' ' && ch != '-') digits.push_back(ch);
  }
  return digits;
}

// ------------------------------------------------------------ dates

// A compiled date_format: DD, MM, YYYY and literal separators.
struct DatePattern {
  enum class Kind { kDay, kMonth, kYear, kLiteral };
  struct Part {
    Kind kind;
    char literal;
  };
  std::vector<Part> parts;
  bool separated = false;
};

Result<DatePattern> CompileDateFormat(std::string_view f) {
  DatePattern p;
  int day = 0, month = 0, year = 0;
  size_t i = 0;
  while (i < f.size()) {
    if (f.substr(i, 4) == "YYYY") {
      p.parts.push_back({DatePattern::Kind::kYear, 0});
      ++year;
      i += 4;
    } else if (f.substr(i, 2) == "DD") {
      p.parts.push_back({DatePattern::Kind::kDay, 0});
      ++day;
      i += 2;
    } else if (f.substr(i, 2) == "MM") {
      p.parts.push_back({DatePattern::Kind::kMonth, 0});
      ++month;
      i += 2;
    } else if (f[i] == '/' || f[i] == '-' || f[i] == '.' || f[i] == ' ') {
      p.parts.push_back({DatePattern::Kind::kLiteral, f[i]});
      p.separated = true;
      ++i;
    } else {
      break;
    }
  }
  if (i != f.size() || day != 1 || month != 1 || year != 1) {
    return Status::Incorrect("date_format '" + std::string(f) +
                             "' is not DD, MM and YYYY once each, with '/', '-', '.' or ' ' "
                             "between them or nothing");
  }
  return p;
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// "22/01/1941" -> "1941-01-22"; the error says what is wrong.
Result<std::string> ParseDate(std::string_view raw, const DatePattern& p,
                              const std::string& format) {
  std::string_view s = raw;
  int d = 0, m = 0, y = 0;
  size_t i = 0;
  auto digits = [&](size_t min, size_t max, int* out) {
    size_t n = 0;
    int v = 0;
    while (n < max && i < s.size() && s[i] >= '0' && s[i] <= '9') {
      v = v * 10 + (s[i] - '0');
      ++i;
      ++n;
    }
    *out = v;
    return n >= min;
  };
  bool ok = true;
  for (const DatePattern::Part& part : p.parts) {
    switch (part.kind) {
      case DatePattern::Kind::kDay:
        ok = digits(p.separated ? 1 : 2, 2, &d);
        break;
      case DatePattern::Kind::kMonth:
        ok = digits(p.separated ? 1 : 2, 2, &m);
        break;
      case DatePattern::Kind::kYear:
        ok = digits(4, 4, &y);
        break;
      case DatePattern::Kind::kLiteral:
        ok = i < s.size() && s[i] == part.literal;
        ++i;
        break;
    }
    if (!ok) break;
  }
  if (!ok || i != s.size()) {
    return Status::Incorrect("'" + std::string(raw) + "' is not a date in the form " + format);
  }
  if (m < 1 || m > 12 || d < 1 || d > DaysInMonth(y, m)) {
    return Status::Incorrect("'" + std::string(raw) + "' is not a calendar date");
  }
  if (y < 1880) {
    return Status::Incorrect("'" + std::string(raw) + "' is before 1880");
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, d);
  return std::string(buf);
}

// ------------------------------------------------------------ JSON building

// A reference to an organisation by its ODS code (empty when there is
// neither code nor display).
class Builder : public fhir::ResourceBuilder {
 public:
  using fhir::ResourceBuilder::ResourceBuilder;
  Json OrgRef(std::string_view ods, std::string_view display = {}) {
    Json org = Obj();
    if (ods.empty() && display.empty()) return org;
    Put(org, "type", "Organization");
    if (!ods.empty()) Put(org, "identifier", IdentifierJson(hl7v2::kOdsSystem, ods));
    Put(org, "display", display);
    return org;
  }
};

// ------------------------------------------------------------ the mapper

// Where each target sits in the table (column indexes), resolved once per
// extract.
struct Layout {
  size_t record_id = 0;
  std::vector<std::pair<size_t, Target>> patient;  // in mapping order
  std::vector<std::pair<size_t, Target>> event;
  std::vector<std::string> names;  // table column -> name for locations
  std::string category_system;     // code systems of the coded event columns
  std::string code_system;
  bool has_event_id = false;
  bool has_category = false;
  bool has_code = false;
  bool has_start = false;
};

using Entry = fhir::PutEntry;

class RecordMapper {
 public:
  RecordMapper(const CsvMapping& m, const CsvSourceInfo& s, const Layout& layout,
               const DatePattern& dates,
               std::map<std::pair<std::string, std::string>, std::pair<std::string, int>>* events)
      : m_(m), s_(s), l_(layout), dates_(dates), events_(events), b_(doc_.GetAllocator()) {}

  CsvRecord Run(const std::string& record_id, const std::vector<const Row*>& rows);

 private:
  void Find(const Row& row, size_t column, std::string code, std::string message) {
    out_.findings.push_back({Location(row, column), std::move(code), std::move(message)});
  }
  std::string Location(const Row& row, size_t column) const {
    return "row " + std::to_string(row.record) + ", column " + l_.names[column];
  }
  std::optional<std::string> Date(const Row& row, size_t column) {
    std::string raw = CleanText(row.fields[column]);
    if (raw.empty()) return std::nullopt;
    auto d = ParseDate(raw, dates_, m_.date_format);
    if (!d.ok()) {
      Find(row, column, "invalid-date", d.status().message() + "; not stored");
      return std::nullopt;
    }
    return *d;
  }
  void Stamp(Json& resource, std::string_view type, bool profile);
  std::string Add(std::string_view type, std::string url, std::string seed, Json resource,
                  std::vector<std::pair<std::string, std::string>> numbers = {});
  void Conflicts(const std::vector<const Row*>& rows);
  void MapPatient(const Row& row);
  void MapEvent(const Row& row);
  void Finish();

  const CsvMapping& m_;
  const CsvSourceInfo& s_;
  const Layout& l_;
  const DatePattern& dates_;
  // (id system, event id) -> (record id, row): who holds an event id.
  std::map<std::pair<std::string, std::string>, std::pair<std::string, int>>* events_;
  JsonDoc doc_;
  Builder b_;
  CsvRecord out_;
  std::vector<Entry> entries_;
  std::map<std::string, size_t> event_index_;  // request url -> entries_ index
  std::map<std::string, int> event_row_;       // request url -> row that set it
  std::string patient_url_;
  std::string meta_source_;
};

void RecordMapper::Stamp(Json& r, std::string_view type, bool profile) {
  Json meta = b_.Obj();
  b_.Put(meta, "source", meta_source_);
  if (profile) {
    Json profiles = b_.Arr();
    b_.Push(profiles, b_.Str(std::string(kUkCore) + std::string(type)));
    b_.Put(meta, "profile", std::move(profiles));
  }
  // meta after resourceType and id, as FHIR's examples write it.
  Json ordered = b_.Obj();
  bool placed = false;
  // Indexed: clang rejects RapidJSON 1.1's member-iterator comparison in
  // C++20 (ambiguous reversed operator).
  for (rapidjson::SizeType k = 0; k < r.MemberCount(); ++k) {
    auto& m = *(r.MemberBegin() + k);
    std::string_view name = fhir::AsView(m.name);
    if (!placed && name != "resourceType" && name != "id") {
      ordered.AddMember("meta", meta, b_.a());
      placed = true;
    }
    ordered.AddMember(m.name, m.value, b_.a());
  }
  if (!placed) ordered.AddMember("meta", meta, b_.a());
  r = std::move(ordered);
}

std::string RecordMapper::Add(std::string_view type, std::string url, std::string seed,
                              Json resource,
                              std::vector<std::pair<std::string, std::string>> numbers) {
  std::string full = "urn:uuid:" + StableUuid(s_.source_id + "|" + seed);
  Stamp(resource, type, type != "Provenance");
  entries_.push_back({full, std::move(url), std::move(resource), std::move(numbers)});
  return full;
}

void RecordMapper::Conflicts(const std::vector<const Row*>& rows) {
  for (const auto& [col, target] : l_.patient) {
    auto norm = [&, col = col, target = target](const Row& r) {
      return target == Target::kNhsNumber ? NhsDigits(r.fields[col]) : CleanText(r.fields[col]);
    };
    const Row* prev = rows.front();
    std::string prev_value = norm(*prev);
    for (size_t i = 1; i < rows.size(); ++i) {
      std::string v = norm(*rows[i]);
      if (v == prev_value) continue;
      Find(*rows[i], col, "conflicting-demographics",
           "'" + v + "' here, '" + prev_value + "' in row " + std::to_string(prev->record) +
               " of the same record: the last row's value is kept");
      prev = rows[i];
      prev_value = std::move(v);
    }
  }
}

void RecordMapper::MapPatient(const Row& row) {
  Json ids = b_.Arr();
  Json local = b_.Obj();
  b_.Put(local, "use", "usual");
  b_.Put(local, "system", s_.patient_id_system);
  b_.Put(local, "value", out_.record_id);
  b_.Push(ids, std::move(local));
  std::string family, birth_date, gender, city, postal_code;
  Json given = b_.Arr();
  Json lines = b_.Arr();
  for (const auto& [col, target] : l_.patient) {
    const std::string v = CleanText(row.fields[col]);
    switch (target) {
      case Target::kNhsNumber: {
        if (v.empty()) break;
        std::string digits = NhsDigits(v);
        if (!hl7v2::IsValidNhsNumber(digits)) {
          Find(row, col, "invalid-nhs-number",
               "'" + v + "' is not a valid NHS number (modulus 11); not stored as one");
          break;
        }
        if (digits.rfind("999", 0) == 0) {
          Find(row, col, "test-nhs-number", "NHS number " + digits + " is in the test range 999");
        }
        b_.Push(ids, b_.IdentifierJson(hl7v2::kNhsNumberSystem, digits));
        break;
      }
      case Target::kGiven:
        b_.Push(given, b_.Str(v));
        break;
      case Target::kFamily:
        if (v.empty()) Find(row, col, "missing-item", "no family name");
        family = v;
        break;
      case Target::kBirthDate:
        if (v.empty()) {
          Find(row, col, "missing-item", "no date of birth");
        } else if (auto d = Date(row, col)) {
          birth_date = *d;
        }
        break;
      case Target::kGender: {
        if (v.empty()) break;
        // NHS Data Dictionary "person stated gender" spellings and FHIR's own.
        static const std::map<std::string, std::string> kGender = {
            {"male", "male"},           {"m", "male"},
            {"female", "female"},       {"f", "female"},
            {"other", "other"},         {"o", "other"},
            {"indeterminate", "other"}, {"i", "other"},
            {"unknown", "unknown"},     {"u", "unknown"},
            {"not known", "unknown"},   {"not specified", "unknown"},
            {"not stated", "unknown"}};
        auto it = kGender.find(Lower(v));
        if (it == kGender.end()) {
          Find(row, col, "unmapped-code", "gender '" + v + "' not mapped; not stored");
        } else {
          gender = it->second;
        }
        break;
      }
      case Target::kAddressLine:
        b_.Push(lines, b_.Str(v));
        break;
      case Target::kCity:
        city = v;
        break;
      case Target::kPostalCode:
        postal_code = Postcode(v);
        break;
      default:
        break;
    }
  }
  Json p = b_.Obj();
  b_.Put(p, "resourceType", "Patient");
  b_.Put(p, "identifier", std::move(ids));
  b_.Put(p, "active", Json(true));
  if (!family.empty() || !given.Empty()) {
    Json name = b_.Obj();
    b_.Put(name, "use", "official");
    b_.Put(name, "family", family);
    b_.Put(name, "given", std::move(given));
    Json names = b_.Arr();
    b_.Push(names, std::move(name));
    b_.Put(p, "name", std::move(names));
  }
  b_.Put(p, "gender", gender);
  b_.Put(p, "birthDate", birth_date);
  if (!lines.Empty() || !city.empty() || !postal_code.empty()) {
    Json addr = b_.Obj();
    b_.Put(addr, "use", "home");
    b_.Put(addr, "line", std::move(lines));
    b_.Put(addr, "city", city);
    b_.Put(addr, "postalCode", postal_code);
    Json addresses = b_.Arr();
    b_.Push(addresses, std::move(addr));
    b_.Put(p, "address", std::move(addresses));
  }
  b_.Put(p, "managingOrganization", b_.OrgRef(s_.ods_code));
  const std::string query =
      "identifier=" + PercentEncode(s_.patient_id_system) + "|" + PercentEncode(out_.record_id);
  patient_url_ = Add("Patient", "Patient?" + query,
                     "Patient|" + s_.patient_id_system + "|" + out_.record_id, std::move(p));
}

void RecordMapper::MapEvent(const Row& row) {
  std::string id, category, code, display, start_raw, end_raw, quantity_raw;
  // Without an event identifier column, findings about the event's key name
  // the record id column.
  size_t id_col = l_.record_id;
  size_t category_col = 0, code_col = 0, start_col = 0, end_col = 0, quantity_col = 0;
  bool any = false;
  for (const auto& [col, target] : l_.event) {
    std::string v = CleanText(row.fields[col]);
    if (!v.empty()) any = true;
    switch (target) {
      case Target::kEventId:
        id = v;
        id_col = col;
        break;
      case Target::kEventCategory:
        category = Code(v);
        category_col = col;
        break;
      case Target::kEventCode:
        code = Code(v);
        code_col = col;
        break;
      case Target::kEventCodeDisplay:
        display = v;
        break;
      case Target::kEventStart:
        start_raw = v;
        start_col = col;
        break;
      case Target::kEventEnd:
        end_raw = v;
        end_col = col;
        break;
      case Target::kEventQuantity:
        quantity_raw = v;
        quantity_col = col;
        break;
      default:
        break;
    }
  }
  if (!any) return;  // a person-only row

  // The resource type, by category.
  std::string type = "Encounter";
  if (auto it = m_.event_types.find(category); it != m_.event_types.end()) {
    type = it->second;
  } else if (!m_.event_types.empty() && l_.has_category) {
    if (category.empty()) {
      Find(row, category_col, "missing-item", "no event category: stored as an Encounter");
    } else {
      Find(row, category_col, "unmapped-code",
           "event category '" + category + "' is not in event_types: stored as an Encounter");
    }
  }
  const bool episode = type == "EpisodeOfCare";
  const std::string& id_system = episode ? s_.episode_of_care_id_system : s_.encounter_id_system;
  if (id.empty()) {
    // Keyed by what the row says, so that the same row in the next extract
    // finds the same resource.
    id = out_.record_id + "-" + category + "-" + code + "-" + start_raw;
    if (l_.has_event_id) {
      Find(row, id_col, "missing-item",
           "no event identifier: the event is keyed by record, category, code and start date (" +
               id + ")");
    }
  }
  const std::string query = "identifier=" + PercentEncode(id_system) + "|" + PercentEncode(id);
  const std::string url = type + "?" + query;
  // An event id belongs to one record.
  auto key = std::make_pair(id_system, id);
  if (auto it = events_->find(key); it != events_->end() && it->second.first != out_.record_id) {
    Find(row, id_col, "rejected-row",
         "event identifier '" + id + "' already belongs to record '" + it->second.first +
             "' (row " + std::to_string(it->second.second) + "): row skipped");
    return;
  }
  (*events_)[key] = {out_.record_id, row.record};

  Json e = b_.Obj();
  b_.Put(e, "resourceType", type);
  Json ext = b_.Arr();
  std::vector<std::pair<std::string, std::string>> numbers;
  if (!category.empty()) {
    Json c = b_.Obj();
    b_.Put(c, "url", kEventCategoryExtension);
    b_.Put(c, "valueCoding", b_.Coding(l_.category_system, category));
    b_.Push(ext, std::move(c));
  }
  if (!quantity_raw.empty()) {
    if (auto dec = Decimal(quantity_raw)) {
      Json q = b_.Obj();
      b_.Put(q, "value", Json(std::strtod(dec->c_str(), nullptr)));
      b_.Put(q, "unit", "h/wk");
      b_.Put(q, "system", kUcum);
      b_.Put(q, "code", "h/wk");
      Json x = b_.Obj();
      b_.Put(x, "url", kHoursPerWeekExtension);
      b_.Put(x, "valueQuantity", std::move(q));
      numbers.push_back(
          {"/extension/" + std::to_string(ext.Size()) + "/valueQuantity/value", *dec});
      b_.Push(ext, std::move(x));
    } else {
      Find(row, quantity_col, "unmapped-value",
           "'" + quantity_raw + "' is not a number of hours; not stored");
    }
  }
  b_.Put(e, "extension", std::move(ext));
  Json ids = b_.Arr();
  b_.Push(ids, b_.IdentifierJson(id_system, id));
  b_.Put(e, "identifier", std::move(ids));
  b_.Put(e, "status", end_raw.empty() ? (episode ? "active" : "in-progress") : "finished");
  if (!episode) {
    b_.Put(e, "class", b_.Coding(kActCode, "HH", "home health"));
  }
  // The coded event.
  Json concept_json = b_.Obj();
  if (!code.empty()) {
    std::string known;
    if (auto it = m_.local_codes.find(code); it != m_.local_codes.end()) {
      known = it->second;
    } else {
      Find(row, code_col, "unmapped-code",
           "code '" + code + "' is not in local_codes: kept without a display");
    }
    concept_json = b_.Concept(b_.Coding(l_.code_system, code, known), display);
  } else if (!display.empty()) {
    concept_json = b_.Concept(b_.Obj(), display);
  } else if (l_.has_code) {
    Find(row, code_col, "missing-item", "no event code");
  }
  if (!Builder::Empty(concept_json)) {
    Json types = b_.Arr();
    b_.Push(types, std::move(concept_json));
    b_.Put(e, "type", std::move(types));
  }
  if (!episode && !category.empty()) {
    b_.Put(e, "serviceType", b_.Concept(b_.Coding(l_.category_system, category)));
  }
  b_.Put(e, episode ? "patient" : "subject", b_.Ref(patient_url_));
  Json period = b_.Obj();
  std::optional<std::string> start, end;
  if (!start_raw.empty()) {
    start = Date(row, start_col);
  } else if (l_.has_start) {
    Find(row, start_col, "missing-item", "no start date");
  }
  if (!end_raw.empty()) end = Date(row, end_col);
  if (start && end && *end < *start) {
    Find(row, end_col, "invalid-date",
         "end " + *end + " is before start " + *start + "; end not stored");
    end.reset();
  }
  if (start) b_.Put(period, "start", *start);
  if (end) b_.Put(period, "end", *end);
  b_.Put(e, "period", std::move(period));
  b_.Put(e, episode ? "managingOrganization" : "serviceProvider", b_.OrgRef(s_.ods_code));

  const std::string seed = type + "|" + id_system + "|" + id;
  if (auto it = event_index_.find(url); it != event_index_.end()) {
    Find(row, id_col, "duplicate-row",
         "event identifier '" + id + "' is also in row " + std::to_string(event_row_[url]) +
             " of this record: the last row wins");
    Entry& old = entries_[it->second];
    Stamp(e, type, true);
    old.resource = std::move(e);
    old.numbers = std::move(numbers);
    event_row_[url] = row.record;
    return;
  }
  event_index_[url] = entries_.size();
  event_row_[url] = row.record;
  Add(type, url, seed, std::move(e), std::move(numbers));
}

void RecordMapper::Finish() {
  Json prov = b_.Obj();
  b_.Put(prov, "resourceType", "Provenance");
  const std::string seed = s_.source_id + "#" + out_.record_id;
  const std::string prov_id = "csv-" + Hex(Fnv1a(seed), 16) + Hex(Fnv1a(seed, 0x51ED27), 16);
  b_.Put(prov, "id", prov_id);
  Json targets = b_.Arr();
  for (const Entry& e : entries_) b_.Push(targets, b_.Ref(e.full_url));
  b_.Put(prov, "target", std::move(targets));
  b_.Put(prov, "recorded", s_.extract_time.empty() ? "1970-01-01T00:00:00Z" : s_.extract_time);
  b_.Put(prov, "activity",
         b_.Concept(b_.Coding("http://terminology.hl7.org/CodeSystem/v3-DataOperation", "UPDATE"),
                    "CSV extract"));
  Json agent = b_.Obj();
  b_.Put(agent, "type",
         b_.Concept(b_.Coding("http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                              "author")));
  b_.Put(agent, "who", b_.OrgRef(s_.ods_code, s_.source_id));
  Json agents = b_.Arr();
  b_.Push(agents, std::move(agent));
  b_.Put(prov, "agent", std::move(agents));
  Json entity = b_.Obj();
  b_.Put(entity, "role", "source");
  Json what = b_.Obj();
  b_.Put(what, "identifier",
         b_.IdentifierJson("urn:lhcr:csv:" + Slug(s_.source_id), out_.record_id));
  b_.Put(what, "display", "CSV extract record " + out_.record_id);
  b_.Put(entity, "what", std::move(what));
  Json entities = b_.Arr();
  b_.Push(entities, std::move(entity));
  b_.Put(prov, "entity", std::move(entities));
  Add("Provenance", "Provenance/" + prov_id, "Provenance|" + prov_id, std::move(prov));

  out_.bundle_json = b_.PutTransaction(entries_);
}

CsvRecord RecordMapper::Run(const std::string& record_id, const std::vector<const Row*>& rows) {
  out_.record_id = record_id;
  out_.first_row = rows.front()->record;
  // meta.source is a uri: no blanks (percent-encoded like the request urls).
  meta_source_ = PercentEncode(s_.source_id) + "#" + PercentEncode(record_id);
  Conflicts(rows);
  MapPatient(*rows.back());
  for (const Row* row : rows) MapEvent(*row);
  Finish();
  return std::move(out_);
}

// ------------------------------------------------------------ mapping JSON

Result<char> OneChar(const Json& o, const char* name, char fallback) {
  const Json* v = fhir::Member(o, name);
  if (v == nullptr) return fallback;
  if (!v->IsString() || v->GetStringLength() != 1) {
    return Status::Incorrect(std::string("csv mapping: \"") + name +
                             "\" is not a one-character string");
  }
  return v->GetString()[0];
}

Result<std::string> OptionalString(const Json& o, const char* name, const std::string& where) {
  const Json* v = fhir::Member(o, name);
  if (v == nullptr) return std::string();
  if (!v->IsString()) return Status::Incorrect(where + "\"" + name + "\" is not a string");
  return std::string(fhir::AsView(*v));
}

Result<std::map<std::string, std::string>> StringMap(const Json& o, const char* name) {
  std::map<std::string, std::string> out;
  const Json* v = fhir::Member(o, name);
  if (v == nullptr) return out;
  if (!v->IsObject()) {
    return Status::Incorrect(std::string("csv mapping: \"") + name + "\" is not an object");
  }
  for (rapidjson::SizeType k = 0; k < v->MemberCount(); ++k) {
    const auto& m = *(v->MemberBegin() + k);
    if (!m.value.IsString()) {
      return Status::Incorrect(std::string("csv mapping: ") + name + "[\"" +
                               std::string(fhir::AsView(m.name)) + "\"] is not a string");
    }
    out[std::string(fhir::AsView(m.name))] = std::string(fhir::AsView(m.value));
  }
  return out;
}

}  // namespace

Result<CsvMapping> ParseCsvMapping(std::string_view json) {
  auto doc = fhir::ParseJson(json);
  if (!doc.ok()) return Status::Incorrect("csv mapping: " + doc.status().message());
  const Json& o = *doc;
  if (!o.IsObject()) return Status::Incorrect("csv mapping: not a JSON object");
  CsvMapping m;
  ASSIGN_OR_RETURN(m.delimiter, OneChar(o, "delimiter", ','));
  ASSIGN_OR_RETURN(m.quote, OneChar(o, "quote", '"'));
  if (m.delimiter == m.quote || m.delimiter == '\r' || m.delimiter == '\n' || m.quote == '\r' ||
      m.quote == '\n' || m.delimiter == '\0' || m.quote == '\0') {
    return Status::Incorrect(
        "csv mapping: \"delimiter\" and \"quote\" must differ and be neither CR, LF nor NUL");
  }
  if (const Json* h = fhir::Member(o, "header"); h != nullptr) {
    if (!h->IsBool()) return Status::Incorrect("csv mapping: \"header\" is not a boolean");
    m.header = h->GetBool();
  }
  const std::string where = "csv mapping: ";
  ASSIGN_OR_RETURN(std::string date_format, OptionalString(o, "date_format", where));
  if (!date_format.empty()) m.date_format = date_format;
  if (auto p = CompileDateFormat(m.date_format); !p.ok()) {
    return Status::Incorrect("csv mapping: " + p.status().message());
  }
  ASSIGN_OR_RETURN(std::string encoding, OptionalString(o, "encoding", where));
  if (!encoding.empty() && Upper(encoding) != "UTF-8" && Upper(encoding) != "UTF8") {
    return Status::Incorrect("csv mapping: \"encoding\" '" + encoding +
                             "' is not supported (UTF-8 only)");
  }
  ASSIGN_OR_RETURN(m.record_id_column, OptionalString(o, "record_id_column", where));
  if (m.record_id_column.empty()) {
    return Status::Incorrect("csv mapping: no \"record_id_column\"");
  }
  const Json* cols = fhir::Member(o, "columns");
  if (cols == nullptr || !cols->IsArray() || cols->Empty()) {
    return Status::Incorrect("csv mapping: no \"columns\" array with at least one column");
  }
  std::set<std::string> names;
  std::set<Target> single;
  for (rapidjson::SizeType i = 0; i < cols->Size(); ++i) {
    const Json& c = (*cols)[i];
    const std::string at = "csv mapping: columns[" + std::to_string(i) + "]";
    if (!c.IsObject()) return Status::Incorrect(at + " is not an object");
    CsvColumn col;
    ASSIGN_OR_RETURN(col.name, OptionalString(c, "name", at + ": "));
    ASSIGN_OR_RETURN(col.field, OptionalString(c, "field", at + ": "));
    ASSIGN_OR_RETURN(col.system, OptionalString(c, "system", at + ": "));
    ASSIGN_OR_RETURN(col.note, OptionalString(c, "note", at + ": "));
    if (col.name.empty()) return Status::Incorrect(at + " has no \"name\"");
    if (col.field.empty()) return Status::Incorrect(at + " (" + col.name + ") has no \"field\"");
    if (!names.insert(col.name).second) {
      return Status::Incorrect(at + ": column name '" + col.name + "' is used twice");
    }
    const TargetInfo* t = FindTarget(col.field);
    if (t == nullptr) {
      return Status::Incorrect(at + " (" + col.name + "): unknown field '" + col.field +
                               "' (docs/CSV.md lists the targets)");
    }
    if (!t->repeatable && !single.insert(t->target).second) {
      return Status::Incorrect(at + " (" + col.name + "): field '" + col.field +
                               "' is mapped twice");
    }
    if (t->target == Target::kLocalId && col.name != m.record_id_column) {
      return Status::Incorrect(at + " (" + col.name +
                               "): patient.identifier.local must be the record_id_column ('" +
                               m.record_id_column + "')");
    }
    m.columns.push_back(std::move(col));
  }
  auto rid = std::find_if(m.columns.begin(), m.columns.end(),
                          [&](const CsvColumn& c) { return c.name == m.record_id_column; });
  if (rid == m.columns.end()) {
    return Status::Incorrect("csv mapping: record_id_column '" + m.record_id_column +
                             "' is not among the columns");
  }
  if (rid->field != "patient.identifier.local") {
    return Status::Incorrect("csv mapping: record_id_column '" + m.record_id_column +
                             "' is mapped to '" + rid->field + "', not patient.identifier.local");
  }
  ASSIGN_OR_RETURN(m.local_codes, StringMap(o, "local_codes"));
  ASSIGN_OR_RETURN(m.event_types, StringMap(o, "event_types"));
  for (const auto& [category, type] : m.event_types) {
    if (type != "Encounter" && type != "EpisodeOfCare") {
      return Status::Incorrect("csv mapping: event_types[\"" + category + "\"] '" + type +
                               "' is not a supported resource type (Encounter, EpisodeOfCare)");
    }
  }
  return m;
}

CsvSourceInfo CsvSourceInfo::WithDefaults() const {
  CsvSourceInfo s = *this;
  std::string base =
      !ods_code.empty()
          ? "https://fhir.example.nhs.uk/" + ods_code
          : "https://fhir." + Slug(source_id.empty() ? "source" : source_id) + ".example";
  auto fill = [](std::string& v, std::string d) {
    if (v.empty()) v = std::move(d);
  };
  fill(s.patient_id_system, base + "/Id/patient");
  fill(s.encounter_id_system, base + "/Id/encounter");
  fill(s.episode_of_care_id_system, base + "/Id/episodeofcare");
  fill(s.code_system_prefix, base + "/CodeSystem/");
  return s;
}

Result<CsvMapped> MapCsvToFhir(std::string_view text, const CsvMapping& mapping,
                               const CsvSourceInfo& source) {
  ASSIGN_OR_RETURN(DatePattern dates, CompileDateFormat(mapping.date_format));
  ASSIGN_OR_RETURN(Table table, ParseCsv(text, mapping.dialect()));
  const CsvSourceInfo s = source.WithDefaults();

  // Where each mapped column is.
  Layout layout;
  layout.names.resize(table.columns);
  for (size_t i = 0; i < table.columns; ++i) {
    layout.names[i] = i < table.header.size() ? CleanText(table.header[i]) : std::to_string(i + 1);
  }
  if (!mapping.header && !table.rows.empty() && table.columns != mapping.columns.size()) {
    return Status::Incorrect("CSV rows have " + std::to_string(table.columns) +
                             " fields, the mapping names " +
                             std::to_string(mapping.columns.size()) + " columns");
  }
  bool found_record_id = false;
  for (size_t i = 0; i < mapping.columns.size(); ++i) {
    const CsvColumn& c = mapping.columns[i];
    const TargetInfo* t = FindTarget(c.field);
    if (t == nullptr) return Status::Incorrect("csv mapping: unknown field '" + c.field + "'");
    size_t index = i;
    if (mapping.header) {
      auto it = std::find_if(table.header.begin(), table.header.end(),
                             [&](const std::string& h) { return CleanText(h) == c.name; });
      if (it == table.header.end()) {
        return Status::Incorrect("CSV header has no column '" + c.name + "' (mapped to " + c.field +
                                 ")");
      }
      index = static_cast<size_t>(it - table.header.begin());
    } else {
      if (index >= layout.names.size()) layout.names.resize(index + 1);
      layout.names[index] = c.name;
    }
    if (c.name == mapping.record_id_column) {
      layout.record_id = index;
      found_record_id = true;
    }
    if (IsPatientTarget(t->target)) layout.patient.push_back({index, t->target});
    if (IsEventTarget(t->target)) {
      layout.event.push_back({index, t->target});
      const std::string system = !c.system.empty() ? c.system : s.code_system_prefix + Slug(c.name);
      switch (t->target) {
        case Target::kEventId:
          layout.has_event_id = true;
          break;
        case Target::kEventCategory:
          layout.has_category = true;
          layout.category_system = system;
          break;
        case Target::kEventCode:
          layout.has_code = true;
          layout.code_system = system;
          break;
        case Target::kEventStart:
          layout.has_start = true;
          break;
        default:
          break;
      }
    }
  }
  if (!found_record_id) {
    return Status::Incorrect("csv mapping: record_id_column '" + mapping.record_id_column +
                             "' is not among the columns");
  }

  // Rows by record, in order of first appearance.
  CsvMapped out;
  out.rows = static_cast<int>(table.rows.size());
  std::vector<std::pair<std::string, std::vector<const Row*>>> records;
  std::unordered_map<std::string, size_t> index;
  for (const Row& row : table.rows) {
    std::string id = CleanText(row.fields[layout.record_id]);
    if (id.empty()) {
      out.findings_without_record.push_back(
          {"row " + std::to_string(row.record) + ", column " + layout.names[layout.record_id],
           "rejected-row", "no record id (" + mapping.record_id_column + "): row skipped"});
      continue;
    }
    auto [it, inserted] = index.emplace(id, records.size());
    if (inserted) records.push_back({id, {}});
    records[it->second].second.push_back(&row);
  }
  std::map<std::pair<std::string, std::string>, std::pair<std::string, int>> events;
  out.records.reserve(records.size());
  for (const auto& [id, rows] : records) {
    RecordMapper mapper(mapping, s, layout, dates, &events);
    out.records.push_back(mapper.Run(id, rows));
  }
  return out;
}

}  // namespace lhcr::csv
