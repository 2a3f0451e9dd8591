#include "fhir/search_index.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

namespace lhcr::fhir {
namespace {

using store::IndexRow;
using store::IndexType;

// ---------------------------------------------------------------------------
// Dates

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// days_from_civil; exact for negative results too).
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

constexpr int64_t kMsPerDay = 86400000;

// ---------------------------------------------------------------------------
// Strings

// Latin-1 Supplement and Latin Extended-A folded to ASCII; an empty fold
// marks a separator (×, ÷, Latin-1 punctuation and symbols).
struct Fold {
  char32_t first, last;
  const char* ascii;
};
constexpr Fold kFolds[] = {
    {0x00A0, 0x00BF, ""},
    {0x00C0, 0x00C5, "a"},
    {0x00C6, 0x00C6, "ae"},
    {0x00C7, 0x00C7, "c"},
    {0x00C8, 0x00CB, "e"},
    {0x00CC, 0x00CF, "i"},
    {0x00D0, 0x00D0, "d"},
    {0x00D1, 0x00D1, "n"},
    {0x00D2, 0x00D6, "o"},
    {0x00D7, 0x00D7, ""},
    {0x00D8, 0x00D8, "o"},
    {0x00D9, 0x00DC, "u"},
    {0x00DD, 0x00DD, "y"},
    {0x00DE, 0x00DE, "th"},
    {0x00DF, 0x00DF, "ss"},
    {0x00E0, 0x00E5, "a"},
    {0x00E6, 0x00E6, "ae"},
    {0x00E7, 0x00E7, "c"},
    {0x00E8, 0x00EB, "e"},
    {0x00EC, 0x00EF, "i"},
    {0x00F0, 0x00F0, "d"},
    {0x00F1, 0x00F1, "n"},
    {0x00F2, 0x00F6, "o"},
    {0x00F7, 0x00F7, ""},
    {0x00F8, 0x00F8, "o"},
    {0x00F9, 0x00FC, "u"},
    {0x00FD, 0x00FD, "y"},
    {0x00FE, 0x00FE, "th"},
    {0x00FF, 0x00FF, "y"},
    {0x0100, 0x0105, "a"},
    {0x0106, 0x010D, "c"},
    {0x010E, 0x0111, "d"},
    {0x0112, 0x011B, "e"},
    {0x011C, 0x0123, "g"},
    {0x0124, 0x0127, "h"},
    {0x0128, 0x0131, "i"},
    {0x0132, 0x0133, "ij"},
    {0x0134, 0x0135, "j"},
    {0x0136, 0x0138, "k"},
    {0x0139, 0x0142, "l"},
    {0x0143, 0x014B, "n"},
    {0x014C, 0x0151, "o"},
    {0x0152, 0x0153, "oe"},
    {0x0154, 0x0159, "r"},
    {0x015A, 0x0161, "s"},
    {0x0162, 0x0167, "t"},
    {0x0168, 0x0173, "u"},
    {0x0174, 0x0175, "w"},
    {0x0176, 0x0178, "y"},
    {0x0179, 0x017E, "z"},
    {0x017F, 0x017F, "s"},
    // General punctuation (spaces, dashes, quotes, bullets, ...).
    {0x2000, 0x206F, ""},
    {0x3000, 0x3000, ""},
};

const Fold* FindFold(char32_t cp) {
  for (const Fold& f : kFolds) {
    if (cp >= f.first && cp <= f.last) return &f;
  }
  return nullptr;
}

// Decodes one UTF-8 sequence at s[i]; returns its length (1 for an invalid
// byte, decoded as itself).
size_t DecodeUtf8(std::string_view s, size_t i, char32_t* cp) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || i + len > s.size()) {
    *cp = c;
    return 1;
  }
  if (len == 1) {
    *cp = c;
    return 1;
  }
  char32_t v = c & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) {
    unsigned char d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xC0) != 0x80) {
      *cp = c;
      return 1;
    }
    v = (v << 6) | (d & 0x3F);
  }
  *cp = v;
  return len;
}

// ---------------------------------------------------------------------------
// Row building

std::string_view Str(const Json& obj, const char* name) {
  if (!obj.IsObject()) return {};
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || !it->value.IsString()) return {};
  return AsView(it->value);
}

const Json* Mem(const Json& obj, const char* name) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(name);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

IndexRow Row(IndexType type, std::string_view key) {
  IndexRow r;
  r.type = type;
  r.param = std::string(key);
  return r;
}

void AddToken(std::string_view key, std::string_view system, std::string_view code,
              std::vector<IndexRow>* out) {
  if (code.empty()) return;
  IndexRow r = Row(IndexType::kToken, key);
  r.s1 = std::string(system);
  r.s2 = std::string(code);
  out->push_back(std::move(r));
}

void AddString(std::string_view key, std::string_view text, std::vector<IndexRow>* out) {
  std::string norm = NormaliseString(text);
  if (norm.empty()) return;
  IndexRow r = Row(IndexType::kString, key);
  r.s1 = std::move(norm);
  out->push_back(std::move(r));
}

void AddDate(std::string_view key, int64_t lo, int64_t hi, std::vector<IndexRow>* out) {
  IndexRow r = Row(IndexType::kDate, key);
  r.lo = lo;
  r.hi = hi;
  out->push_back(std::move(r));
}

// ContactPoint.system codes (http://hl7.org/fhir/R4/valueset-contact-point-system.html):
// they tell a ContactPoint from an Identifier, whose system is a URI.
bool IsContactPointSystem(std::string_view s) {
  return s == "phone" || s == "fax" || s == "email" || s == "pager" || s == "url" || s == "sms" ||
         s == "other";
}

bool IsValidTypeName(std::string_view t) {
  if (t.empty() || t[0] < 'A' || t[0] > 'Z') return false;
  for (char c : t) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return false;
  }
  return true;
}

bool IsAbsoluteUrl(std::string_view s) {
  // A scheme: letters, then ':' ("http:", "urn:", "oid:").
  size_t colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  for (size_t i = 0; i < colon; ++i) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
          c == '-' || c == '.')) {
      return false;
    }
  }
  return true;
}

void AddReferenceString(std::string_view key, std::string_view ref, bool canonical,
                        std::vector<IndexRow>* out) {
  if (ref.empty() || ref[0] == '#') return;  // contained
  if (canonical) {
    size_t bar = ref.find('|');
    if (bar != std::string_view::npos) ref = ref.substr(0, bar);
  }
  // A version-specific reference indexes as the resource it names.
  size_t h = ref.find("/_history/");
  if (h != std::string_view::npos) ref = ref.substr(0, h);
  IndexRow r = Row(IndexType::kReference, key);
  if (IsAbsoluteUrl(ref)) {
    r.s2 = std::string(ref);
    out->push_back(std::move(r));
    return;
  }
  size_t slash = ref.find('/');
  if (slash == std::string_view::npos) return;
  std::string_view type = ref.substr(0, slash);
  std::string_view id = ref.substr(slash + 1);
  if (!IsValidTypeName(type) || id.empty() || id.find('/') != std::string_view::npos) return;
  r.s1 = std::string(type);
  r.s2 = std::string(id);
  out->push_back(std::move(r));
}

// The value an Extension (or a primitive's extension holder) stands for: its
// value[x] member, typed by the suffix. Returns false when `v` is not an
// Extension with a value.
bool UnwrapExtension(const PathValue& v, PathValue* value) {
  const Json& n = *v.node;
  if (!n.IsObject() || (v.type != "Extension" && Mem(n, "url") == nullptr)) return false;
  for (auto m = n.MemberBegin(); m != n.MemberEnd(); ++m) {
    std::string_view k(m->name.GetString(), m->name.GetStringLength());
    if (k.size() > 5 && k.compare(0, 5, "value") == 0 && k[5] >= 'A' && k[5] <= 'Z') {
      // Type name: the suffix with a lower-case first letter for primitives is
      // not needed here; the shape decides below, except for Money.
      value->node = &m->value;
      value->type = k.substr(5);
      return true;
    }
  }
  return false;
}

void TokenRows(std::string_view key, const PathValue& v, std::vector<IndexRow>* out) {
  const Json& n = *v.node;
  if (n.IsBool()) {
    AddToken(key, "", n.GetBool() ? "true" : "false", out);
    return;
  }
  if (n.IsString()) {
    AddToken(key, "", AsView(n), out);
    return;
  }
  if (n.IsInt64()) {
    AddToken(key, "", std::to_string(n.GetInt64()), out);
    return;
  }
  if (!n.IsObject()) return;
  if (const Json* coding = Mem(n, "coding"); coding != nullptr && coding->IsArray()) {
    for (const Json& c : coding->GetArray()) AddToken(key, Str(c, "system"), Str(c, "code"), out);
    return;
  }
  if (v.type == "Quantity" || v.type == "Age" || v.type == "Duration" || v.type == "Money") return;
  const Json* value = Mem(n, "value");
  if (value != nullptr && value->IsNumber()) return;  // a Quantity is not a token
  std::string_view code = Str(n, "code");
  if (!code.empty() && v.type != "Identifier" && v.type != "ContactPoint") {
    AddToken(key, Str(n, "system"), code, out);  // Coding
    return;
  }
  if (value != nullptr && value->IsString()) {
    std::string_view system = Str(n, "system");
    if (v.type == "ContactPoint" || IsContactPointSystem(system)) {
      AddToken(key, "", AsView(*value), out);
    } else {
      AddToken(key, system, AsView(*value), out);  // Identifier
    }
  }
}

void StringRows(std::string_view key, const PathValue& v, std::vector<IndexRow>* out) {
  const Json& n = *v.node;
  if (n.IsString()) {
    AddString(key, AsView(n), out);
    return;
  }
  if (!n.IsObject()) return;
  // HumanName and Address parts (and a text element of anything else).
  static constexpr const char* kParts[] = {"family", "given",      "prefix", "suffix",
                                           "text",   "line",       "city",   "district",
                                           "state",  "postalCode", "country"};
  for (const char* part : kParts) {
    const Json* m = Mem(n, part);
    if (m == nullptr) continue;
    if (m->IsString()) {
      AddString(key, AsView(*m), out);
    } else if (m->IsArray()) {
      for (const Json& e : m->GetArray()) {
        if (e.IsString()) AddString(key, AsView(e), out);
      }
    }
  }
}

void DateRows(std::string_view key, const PathValue& v, std::vector<IndexRow>* out) {
  const Json& n = *v.node;
  if (n.IsString()) {
    auto r = ParseFhirDateRange(AsView(n));
    if (r.ok()) AddDate(key, r->lo, r->hi, out);
    return;
  }
  if (!n.IsObject()) return;
  const Json* start = Mem(n, "start");
  const Json* end = Mem(n, "end");
  if (start != nullptr || end != nullptr) {  // Period
    int64_t lo = std::numeric_limits<int64_t>::min();
    int64_t hi = std::numeric_limits<int64_t>::max();
    if (start != nullptr) {
      if (!start->IsString()) return;
      auto r = ParseFhirDateRange(AsView(*start));
      if (!r.ok()) return;
      lo = r->lo;
    }
    if (end != nullptr) {
      if (!end->IsString()) return;
      auto r = ParseFhirDateRange(AsView(*end));
      if (!r.ok()) return;
      hi = r->hi;
    }
    AddDate(key, lo, hi, out);
    return;
  }
  if (const Json* event = Mem(n, "event"); event != nullptr && event->IsArray()) {  // Timing
    for (const Json& e : event->GetArray()) {
      if (!e.IsString()) continue;
      auto r = ParseFhirDateRange(AsView(e));
      if (r.ok()) AddDate(key, r->lo, r->hi, out);
    }
  }
}

void ReferenceRows(std::string_view key, const PathValue& v, std::vector<IndexRow>* out) {
  const Json& n = *v.node;
  if (n.IsString()) {  // canonical / uri
    AddReferenceString(key, AsView(n), /*canonical=*/true, out);
    return;
  }
  if (!n.IsObject()) return;
  std::string_view resource_type = Str(n, "resourceType");
  if (!resource_type.empty()) {  // a resource itself, e.g. Bundle.entry[0].resource
    std::string_view id = Str(n, "id");
    if (!id.empty()) {
      IndexRow r = Row(IndexType::kReference, key);
      r.s1 = std::string(resource_type);
      r.s2 = std::string(id);
      out->push_back(std::move(r));
    }
    return;
  }
  AddReferenceString(key, Str(n, "reference"), /*canonical=*/false, out);
  if (const Json* ident = Mem(n, "identifier"); ident != nullptr && ident->IsObject()) {
    std::string id_key(key);
    id_key += ":identifier";
    AddToken(id_key, Str(*ident, "system"), Str(*ident, "value"), out);
  }
}

void QuantityRows(std::string_view key, const PathValue& v, std::vector<IndexRow>* out) {
  const Json& n = *v.node;
  if (!n.IsObject()) return;
  const Json* value = Mem(n, "value");
  if (value == nullptr || !value->IsNumber()) return;
  IndexRow r = Row(IndexType::kQuantity, key);
  r.num = value->GetDouble();
  std::string_view currency = Str(n, "currency");
  if (!currency.empty()) {  // Money (ISO 4217)
    r.s1 = "urn:iso:std:iso:4217";
    r.s2 = std::string(currency);
  } else {
    r.s1 = std::string(Str(n, "system"));
    std::string_view code = Str(n, "code");
    r.s2 = std::string(code.empty() ? Str(n, "unit") : code);
  }
  out->push_back(std::move(r));
}

void NumberRows(std::string_view key, const PathValue& v, std::vector<IndexRow>* out) {
  if (!v.node->IsNumber()) return;
  IndexRow r = Row(IndexType::kNumber, key);
  r.num = v.node->GetDouble();
  out->push_back(std::move(r));
}

void UriRows(std::string_view key, const PathValue& v, std::vector<IndexRow>* out) {
  if (!v.node->IsString() || v.node->GetStringLength() == 0) return;
  IndexRow r = Row(IndexType::kUri, key);
  r.s1 = std::string(AsView(*v.node));
  out->push_back(std::move(r));
}

void AppendRows(SearchParamType type, std::string_view key, PathValue v,
                std::vector<IndexRow>* out) {
  PathValue inner;
  if (UnwrapExtension(v, &inner)) v = inner;
  switch (type) {
    case SearchParamType::kToken:
      TokenRows(key, v, out);
      return;
    case SearchParamType::kString:
      StringRows(key, v, out);
      return;
    case SearchParamType::kDate:
      DateRows(key, v, out);
      return;
    case SearchParamType::kReference:
      ReferenceRows(key, v, out);
      return;
    case SearchParamType::kQuantity:
      QuantityRows(key, v, out);
      return;
    case SearchParamType::kNumber:
      NumberRows(key, v, out);
      return;
    case SearchParamType::kUri:
      UriRows(key, v, out);
      return;
    case SearchParamType::kComposite:
    case SearchParamType::kSpecial:
      return;
  }
}

void SortUnique(std::vector<IndexRow>* rows) {
  std::sort(rows->begin(), rows->end());
  rows->erase(std::unique(rows->begin(), rows->end()), rows->end());
}

std::string Key(std::string_view type, std::string_view code) {
  std::string key;
  key.reserve(type.size() + 1 + code.size());
  key.append(type);
  key += '.';
  key.append(code);
  return key;
}

void ExtractInto(const Json& resource, std::string_view type, const SearchParam& p,
                 const std::vector<FhirPath>& paths, std::string_view key,
                 std::vector<PathValue>* scratch, std::vector<IndexRow>* out) {
  if (paths.empty()) return;
  scratch->clear();
  // The focus carries its type so leading type names need no lookup.
  const PathValue root{&resource, type};
  for (const FhirPath& path : paths) path.EvaluateOn(resource, root, scratch);
  for (const PathValue& v : *scratch) AppendRows(p.type, key, v, out);
}

}  // namespace

Result<DateRange> ParseFhirDateRange(std::string_view s) {
  auto bad = [&]() -> Status {
    return Status::Incorrect("not a FHIR date/dateTime/instant: '" + std::string(s) + "'");
  };
  int year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0, millis = 0;
  if (!Digits(s, 0, 4, &year)) return bad();
  size_t pos = 4;
  int64_t lo_days, hi_days_excl;
  if (pos == s.size()) {
    lo_days = DaysFromCivil(year, 1, 1);
    hi_days_excl = DaysFromCivil(year + 1, 1, 1);
    return DateRange{lo_days * kMsPerDay, hi_days_excl * kMsPerDay - 1};
  }
  if (s[pos] != '-' || !Digits(s, pos + 1, 2, &month) || month < 1 || month > 12) return bad();
  pos += 3;
  if (pos == s.size()) {
    lo_days = DaysFromCivil(year, month, 1);
    hi_days_excl = month == 12 ? DaysFromCivil(year + 1, 1, 1) : DaysFromCivil(year, month + 1, 1);
    return DateRange{lo_days * kMsPerDay, hi_days_excl * kMsPerDay - 1};
  }
  if (s[pos] != '-' || !Digits(s, pos + 1, 2, &day) || day < 1 || day > DaysInMonth(year, month)) {
    return bad();
  }
  pos += 3;
  lo_days = DaysFromCivil(year, month, day);
  if (pos == s.size()) return DateRange{lo_days * kMsPerDay, (lo_days + 1) * kMsPerDay - 1};
  if (s[pos] != 'T' || !Digits(s, pos + 1, 2, &hour) || s.size() < pos + 6 || s[pos + 3] != ':' ||
      !Digits(s, pos + 4, 2, &minute) || hour > 23 || minute > 59) {
    return bad();
  }
  pos += 6;
  int64_t width = 60000;  // the precision: a minute
  if (pos < s.size() && s[pos] == ':') {
    if (!Digits(s, pos + 1, 2, &second) || second > 59) return bad();
    pos += 3;
    width = 1000;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      size_t digits = 0;
      int scale = 100;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        if (digits < 3) millis += (s[pos] - '0') * scale;
        scale /= 10;
        ++digits;
        ++pos;
      }
      if (digits == 0) return bad();
      width = digits == 1 ? 100 : digits == 2 ? 10 : 1;
    }
  }
  int64_t offset_ms = 0;
  if (pos < s.size()) {
    if (s[pos] == 'Z') {
      ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
      int oh = 0, om = 0;
      if (!Digits(s, pos + 1, 2, &oh) || s.size() < pos + 6 || s[pos + 3] != ':' ||
          !Digits(s, pos + 4, 2, &om) || oh > 14 || om > 59) {
        return bad();
      }
      offset_ms = (oh * 60 + om) * 60000LL * (s[pos] == '-' ? -1 : 1);
      pos += 6;
    } else {
      return bad();
    }
  }
  if (pos != s.size()) return bad();
  int64_t lo = lo_days * kMsPerDay + hour * 3600000LL + minute * 60000LL + second * 1000LL +
               millis - offset_ms;
  return DateRange{lo, lo + width - 1};
}

std::string NormaliseString(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  auto emit = [&](std::string_view piece) {
    if (pending_space && !out.empty()) out += ' ';
    pending_space = false;
    out.append(piece);
  };
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      if (c >= 'A' && c <= 'Z') {
        char l = static_cast<char>(c - 'A' + 'a');
        emit(std::string_view(&l, 1));
      } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
        char l = static_cast<char>(c);
        emit(std::string_view(&l, 1));
      } else {
        pending_space = true;
      }
      continue;
    }
    char32_t cp;
    size_t len = DecodeUtf8(text, i, &cp);
    const Fold* f = FindFold(cp);
    if (f == nullptr) {
      emit(text.substr(i, len));
    } else if (f->ascii[0] == '\0') {
      pending_space = true;
    } else {
      emit(f->ascii);
    }
    i += len;
  }
  return out;
}

std::vector<IndexRow> ExtractIndexRows(const Json& resource, const SearchParamRegistry& registry) {
  std::vector<IndexRow> rows;
  std::string_view type = Str(resource, "resourceType");
  if (type.empty()) return rows;
  std::vector<PathValue> scratch;
  const std::vector<BoundSearchParam>& bound = registry.BoundForType(type);
  std::vector<IndexRow> narrowed;  // rows of parameters narrowed by another
  for (const BoundSearchParam& b : bound) {
    const SearchParam& p = *b.param;
    if (p.type == SearchParamType::kComposite || p.type == SearchParamType::kSpecial) continue;
    if (p.code == "_id" || p.code == "_lastUpdated" || !b.stored) continue;
    ExtractInto(resource, type, p, *b.paths, b.key, &scratch,
                b.narrowed_by >= 0 ? &narrowed : &rows);
  }
  // A narrowed parameter's reference row to its type is left out when the
  // parameter it is narrowed by has the same row: a search reads it there.
  for (IndexRow& r : narrowed) {
    bool held = false;
    if (r.type == IndexType::kReference) {
      const BoundSearchParam* b = registry.Bound(type, std::string_view(r.param).substr(type.size() + 1));
      if (b != nullptr && b->narrowed_by >= 0 && r.s1 == b->narrowed_type) {
        const std::string& by = bound[b->narrowed_by].key;
        for (const IndexRow& o : rows) {
          if (o.type == IndexType::kReference && o.param == by && o.s1 == r.s1 && o.s2 == r.s2) {
            held = true;
            break;
          }
        }
      }
    }
    if (!held) rows.push_back(std::move(r));
  }
  SortUnique(&rows);
  return rows;
}

std::vector<IndexRow> ExtractIndexRowsAnyLayout(const Json& resource,
                                                const SearchParamRegistry& registry) {
  std::vector<IndexRow> rows;
  std::string_view type = Str(resource, "resourceType");
  if (type.empty()) return rows;
  std::vector<PathValue> scratch;
  for (const BoundSearchParam& b : registry.BoundForType(type)) {
    const SearchParam& p = *b.param;
    if (p.type == SearchParamType::kComposite || p.type == SearchParamType::kSpecial) continue;
    if (p.code == "_id" || p.code == "_lastUpdated") continue;
    ExtractInto(resource, type, p, *b.paths, b.key, &scratch, &rows);
  }
  SortUnique(&rows);
  return rows;
}

std::vector<IndexRow> ExtractParam(const Json& resource, const SearchParam& param) {
  std::vector<IndexRow> rows;
  std::string_view type = Str(resource, "resourceType");
  if (type.empty()) return rows;
  std::vector<PathValue> scratch;
  ExtractInto(resource, type, param, param.PathsFor(type), Key(type, param.code), &scratch, &rows);
  SortUnique(&rows);
  return rows;
}

std::vector<std::vector<std::vector<IndexRow>>> ExtractCompositeTuples(
    const Json& resource, const SearchParam& composite, const SearchParamRegistry& registry) {
  std::vector<std::vector<std::vector<IndexRow>>> tuples;
  std::string_view type = Str(resource, "resourceType");
  if (type.empty() || composite.type != SearchParamType::kComposite) return tuples;
  std::vector<PathValue> elements;
  for (const FhirPath& path : composite.PathsFor(type)) path.Evaluate(resource, &elements);
  std::vector<PathValue> values;
  for (const PathValue& element : elements) {
    std::vector<std::vector<IndexRow>> tuple;
    tuple.reserve(composite.components.size());
    for (const SearchParamComponent& c : composite.components) {
      std::vector<IndexRow> rows;
      const SearchParam* def = c.param != nullptr ? c.param : registry.FindByUrl(c.definition);
      if (def != nullptr && c.path.has_value()) {
        values.clear();
        c.path->EvaluateOn(resource, element, &values);
        std::string key = Key(type, def->code);
        for (const PathValue& v : values) AppendRows(def->type, key, v, &rows);
        SortUnique(&rows);
      }
      tuple.push_back(std::move(rows));
    }
    tuples.push_back(std::move(tuple));
  }
  return tuples;
}

}  // namespace lhcr::fhir
