#include "fhir/validator.h"

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <optional>
#include <unordered_map>

extern "C" const char lhcr_r4_structure_defs[];
extern "C" const char lhcr_r4_structure_defs_end[];

namespace lhcr::fhir {

std::string ToString(const ValidationIssue& issue) {
  std::string out = issue.severity == ValidationIssue::Severity::kError ? "error " : "warning ";
  out += issue.code;
  out += " at ";
  out += issue.location;
  out += ": ";
  out += issue.message;
  return out;
}

std::ostream& operator<<(std::ostream& os, const ValidationIssue& issue) {
  return os << ToString(issue);
}

namespace {

// ---------------------------------------------------------------------------
// Primitive types and their lexical forms.
//
// Hand-written equivalents of the regexes in the R4 definitions (the .value
// element's http://hl7.org/fhir/StructureDefinition/regex extension), kept in
// the generated JSON for reference; validator_test checks the two agree.
// `\s` in those regexes is ASCII whitespace [ \t\n\x0B\f\r].

enum class Prim : uint8_t {
  kBoolean,
  kInteger,
  kPositiveInt,
  kUnsignedInt,
  kDecimal,
  kString,
  kMarkdown,
  kXhtml,
  kCode,
  kId,
  kUri,
  kUrl,
  kCanonical,
  kOid,
  kUuid,
  kBase64Binary,
  kDate,
  kDateTime,
  kInstant,
  kTime,
};

std::optional<Prim> PrimFromName(std::string_view name) {
  static const std::unordered_map<std::string_view, Prim> kByName = {
      {"boolean", Prim::kBoolean},
      {"integer", Prim::kInteger},
      {"positiveInt", Prim::kPositiveInt},
      {"unsignedInt", Prim::kUnsignedInt},
      {"decimal", Prim::kDecimal},
      {"string", Prim::kString},
      {"markdown", Prim::kMarkdown},
      {"xhtml", Prim::kXhtml},
      {"code", Prim::kCode},
      {"id", Prim::kId},
      {"uri", Prim::kUri},
      {"url", Prim::kUrl},
      {"canonical", Prim::kCanonical},
      {"oid", Prim::kOid},
      {"uuid", Prim::kUuid},
      {"base64Binary", Prim::kBase64Binary},
      {"date", Prim::kDate},
      {"dateTime", Prim::kDateTime},
      {"instant", Prim::kInstant},
      {"time", Prim::kTime},
  };
  auto it = kByName.find(name);
  if (it == kByName.end()) return std::nullopt;
  return it->second;
}

bool IsRegexSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Two digits at s[i] whose value lies in [lo, hi]; advances i.
bool TwoDigits(std::string_view s, size_t& i, int lo, int hi) {
  if (i + 2 > s.size() || !IsDigit(s[i]) || !IsDigit(s[i + 1])) return false;
  int v = (s[i] - '0') * 10 + (s[i + 1] - '0');
  if (v < lo || v > hi) return false;
  i += 2;
  return true;
}

bool Consume(std::string_view s, size_t& i, char c) {
  if (i < s.size() && s[i] == c) {
    ++i;
    return true;
  }
  return false;
}

// ([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000): four digits, not 0000.
bool Year(std::string_view s, size_t& i) {
  if (i + 4 > s.size()) return false;
  for (size_t k = 0; k < 4; ++k) {
    if (!IsDigit(s[i + k])) return false;
  }
  if (s.compare(i, 4, "0000") == 0) return false;
  i += 4;
  return true;
}

// ([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?
bool Clock(std::string_view s, size_t& i) {
  if (!TwoDigits(s, i, 0, 23) || !Consume(s, i, ':') || !TwoDigits(s, i, 0, 59) ||
      !Consume(s, i, ':') || !TwoDigits(s, i, 0, 60)) {
    return false;
  }
  if (Consume(s, i, '.')) {
    size_t start = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == start) return false;
  }
  return true;
}

// Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)
bool Zone(std::string_view s, size_t& i) {
  if (Consume(s, i, 'Z')) return true;
  if (!Consume(s, i, '+') && !Consume(s, i, '-')) return false;
  if (s.compare(i, 5, "14:00") == 0) {
    i += 5;
    return true;
  }
  return TwoDigits(s, i, 0, 13) && Consume(s, i, ':') && TwoDigits(s, i, 0, 59);
}

// YYYY(-MM(-DD(Thh:mm:ss(.f)?TZ)?)?)? with the parts allowed by the flags.
bool DateLike(std::string_view s, bool allow_partial, bool allow_time, bool require_time) {
  size_t i = 0;
  if (!Year(s, i)) return false;
  if (i == s.size()) return allow_partial;
  if (!Consume(s, i, '-') || !TwoDigits(s, i, 1, 12)) return false;
  if (i == s.size()) return allow_partial;
  if (!Consume(s, i, '-') || !TwoDigits(s, i, 1, 31)) return false;
  if (i == s.size()) return !require_time;
  if (!allow_time) return false;
  if (!Consume(s, i, 'T') || !Clock(s, i) || !Zone(s, i)) return false;
  return i == s.size();
}

// -?([0]|([1-9][0-9]*)) and the 32-bit range of FHIR integer.
bool IntegerText(std::string_view s, bool allow_minus, int64_t min) {
  size_t i = 0;
  bool negative = allow_minus && Consume(s, i, '-');
  if (i == s.size() || !IsDigit(s[i])) return false;
  if (s[i] == '0' && i + 1 != s.size()) return false;
  int64_t v = 0;
  for (; i < s.size(); ++i) {
    if (!IsDigit(s[i])) return false;
    v = v * 10 + (s[i] - '0');
    if (v > int64_t{2147483648}) return false;
  }
  if (negative) v = -v;
  return v >= min && v <= int64_t{2147483647};
}

// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool DecimalText(std::string_view s) {
  size_t i = 0;
  Consume(s, i, '-');
  if (i == s.size() || !IsDigit(s[i])) return false;
  if (s[i] == '0') {
    ++i;
  } else {
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  auto digits = [&] {
    size_t start = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    return i > start;
  };
  if (Consume(s, i, '.') && !digits()) return false;
  if (Consume(s, i, 'e') || Consume(s, i, 'E')) {
    if (!Consume(s, i, '+')) Consume(s, i, '-');
    if (!digits()) return false;
  }
  return i == s.size();
}

// Whether any of the 8 bytes at p is below `n` (n <= 128): the classic
// "haszero"-style test, so long texts are scanned a word at a time.
bool AnyByteBelow(const char* p, uint64_t n) {
  uint64_t x;
  std::memcpy(&x, p, sizeof x);
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  return ((x - kOnes * n) & ~x & (kOnes * 0x80)) != 0;
}

// True when no byte of s is rejected by `bad`; bytes >= `below` are never bad.
template <typename Bad>
bool NoBadByte(std::string_view s, uint64_t below, Bad bad) {
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    if (!AnyByteBelow(s.data() + i, below)) continue;
    for (size_t k = i; k < i + 8; ++k) {
      if (bad(s[k])) return false;
    }
  }
  for (; i < s.size(); ++i) {
    if (bad(s[i])) return false;
  }
  return true;
}

// FHIR string (http://hl7.org/fhir/R4/datatypes.html#string): not empty, no
// characters below U+0020 except tab, CR and LF. (The regex [ \r\n\t\S]+ only
// excludes \f and \v; the prose rule is the stricter one.)
bool StringText(std::string_view s) {
  if (s.empty()) return false;
  return NoBadByte(s, 0x20, [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 && c != '\t' && c != '\n' && c != '\r';
  });
}

// [^\s]+(\s[^\s]+)*
bool CodeText(std::string_view s) {
  if (s.empty() || IsRegexSpace(s.front()) || IsRegexSpace(s.back())) return false;
  if (NoBadByte(s, 0x21, [](char c) { return IsRegexSpace(c); })) return true;
  for (size_t i = 1; i < s.size(); ++i) {
    if (IsRegexSpace(s[i]) && IsRegexSpace(s[i - 1])) return false;
  }
  return true;
}

// [A-Za-z0-9\-\.]{1,64}
bool IdText(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || IsDigit(c) || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// \S* (and not empty: FHIR has no empty strings).
bool UriText(std::string_view s) {
  if (s.empty()) return false;
  return NoBadByte(s, 0x21, [](char c) { return IsRegexSpace(c); });
}

// urn:oid:[0-2](\.(0|[1-9][0-9]*))+
bool OidText(std::string_view s) {
  constexpr std::string_view kPrefix = "urn:oid:";
  if (s.substr(0, kPrefix.size()) != kPrefix) return false;
  size_t i = kPrefix.size();
  if (i == s.size() || s[i] < '0' || s[i] > '2') return false;
  ++i;
  int arcs = 0;
  while (i < s.size()) {
    if (!Consume(s, i, '.')) return false;
    if (i == s.size() || !IsDigit(s[i])) return false;
    if (s[i] == '0') {
      ++i;
    } else {
      while (i < s.size() && IsDigit(s[i])) ++i;
    }
    ++arcs;
  }
  return arcs > 0;
}

// urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}
bool UuidText(std::string_view s) {
  constexpr std::string_view kPrefix = "urn:uuid:";
  if (s.size() != kPrefix.size() + 36 || s.substr(0, kPrefix.size()) != kPrefix) return false;
  for (size_t k = 0; k < 36; ++k) {
    char c = s[kPrefix.size() + k];
    if (k == 8 || k == 13 || k == 18 || k == 23) {
      if (c != '-') return false;
    } else if (!IsDigit(c) && !(c >= 'a' && c <= 'f')) {
      return false;
    }
  }
  return true;
}

// (\s*([0-9a-zA-Z\+/=]){4}\s*)+ : groups of four, whitespace between groups.
bool Base64Text(std::string_view s) {
  size_t count = 0;
  for (char c : s) {
    if (IsRegexSpace(c)) {
      if (count % 4 != 0) return false;
      continue;
    }
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || IsDigit(c) || c == '+' ||
              c == '/' || c == '=';
    if (!ok) return false;
    ++count;
  }
  return count > 0 && count % 4 == 0;
}

// The lexical check for string-valued primitives (JSON strings).
bool StringPrimitiveText(Prim p, std::string_view s) {
  switch (p) {
    case Prim::kString:
    case Prim::kMarkdown:
      return StringText(s);
    case Prim::kXhtml:
      return !s.empty();
    case Prim::kCode:
      return CodeText(s);
    case Prim::kId:
      return IdText(s);
    case Prim::kUri:
    case Prim::kUrl:
    case Prim::kCanonical:
      return UriText(s);
    case Prim::kOid:
      return OidText(s);
    case Prim::kUuid:
      return UuidText(s);
    case Prim::kBase64Binary:
      return Base64Text(s);
    case Prim::kDate:
      return DateLike(s, /*allow_partial=*/true, /*allow_time=*/false, /*require_time=*/false);
    case Prim::kDateTime:
      return DateLike(s, /*allow_partial=*/true, /*allow_time=*/true, /*require_time=*/false);
    case Prim::kInstant:
      return DateLike(s, /*allow_partial=*/false, /*allow_time=*/true, /*require_time=*/true);
    case Prim::kTime: {
      size_t i = 0;
      return Clock(s, i) && i == s.size();
    }
    case Prim::kBoolean:
    case Prim::kInteger:
    case Prim::kPositiveInt:
    case Prim::kUnsignedInt:
    case Prim::kDecimal:
      return false;  // JSON booleans and numbers, not strings
  }
  return false;
}

// ---------------------------------------------------------------------------
// Element tables.

enum class Shape : uint8_t { kPrimitive, kComplex, kResource };

struct Table;

// One JSON property name an object of a table may carry.
struct Child {
  std::string json_name;         // "valueQuantity", "_birthDate"
  std::string value_name;        // the property without "_": "birthDate"
  std::string type_name;         // "date", "HumanName", "Patient.contact", "Resource"
  const Table* table = nullptr;  // complex: its elements; primitive: the
                                 // primitive type's table (for "_name")
  uint32_t hash = 0;
  Shape shape = Shape::kComplex;
  Prim prim = Prim::kString;
  uint8_t slot = 0;           // the element's index in its table
  bool is_array = false;      // max != "1"
  bool is_extension = false;  // this is the "_name" sibling
  int32_t max = -1;           // -1 for "*"
};

// A cheap hash of a short property name: its length and its first and last
// (up to) eight bytes. Lookups compare the full name, so collisions only cost
// a probe.
uint32_t Hash(std::string_view s) {
  const char* p = s.data();
  size_t n = s.size();
  uint64_t a = 0, b = 0;
  if (n >= 8) {
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + n - 8, 8);
  } else if (n >= 4) {
    uint32_t x, y;
    std::memcpy(&x, p, 4);
    std::memcpy(&y, p + n - 4, 4);
    a = x;
    b = y;
  } else {
    for (size_t i = 0; i < n; ++i) a = (a << 8) | static_cast<unsigned char>(p[i]);
  }
  uint64_t h =
      (a * 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full) ^ (n * 0x165667B19E3779F9ull);
  return static_cast<uint32_t>(h ^ (h >> 29) ^ (h >> 47));
}

// The elements of one type or backbone element, with an open-addressing hash
// from JSON property name to Child.
struct Table {
  std::string name;  // "Patient", "Patient.contact", "HumanName", "string"
  std::vector<Child> children;
  std::vector<std::string> element_names;  // by slot: "name", "value[x]"
  uint64_t required = 0;                   // slots with min >= 1
  std::vector<uint16_t> buckets;           // child index + 1; 0 = empty
  uint32_t bucket_mask = 0;

  void BuildIndex() {
    size_t cap = 8;
    while (cap < children.size() * 2) cap *= 2;
    buckets.assign(cap, 0);
    bucket_mask = static_cast<uint32_t>(cap - 1);
    for (size_t k = 0; k < children.size(); ++k) {
      children[k].hash = Hash(children[k].json_name);
      uint32_t b = children[k].hash & bucket_mask;
      while (buckets[b] != 0) b = (b + 1) & bucket_mask;
      buckets[b] = static_cast<uint16_t>(k + 1);
    }
  }

  const Child* Find(std::string_view name) const {
    uint32_t h = Hash(name);
    for (uint32_t b = h & bucket_mask;; b = (b + 1) & bucket_mask) {
      uint16_t k = buckets[b];
      if (k == 0) return nullptr;
      const Child& c = children[k - 1];
      if (c.hash == h && c.json_name == name) return &c;
    }
  }
};

struct TransparentHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};

std::string_view View(const Json& v) {
  return std::string_view(v.GetString(), v.GetStringLength());
}

const char* KindName(const Json& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return "boolean";
    case rapidjson::kObjectType:
      return "object";
    case rapidjson::kArrayType:
      return "array";
    case rapidjson::kStringType:
      return "string";
    case rapidjson::kNumberType:
      return "number";
  }
  return "?";
}

}  // namespace

struct ValidatorTables {
  std::deque<Table> tables;  // stable addresses
  // Every type by name ("Patient", "HumanName", "string") and every backbone
  // element by path ("Patient.contact").
  std::unordered_map<std::string, Table*, TransparentHash, std::equal_to<>> by_path;
  // Concrete resource types.
  std::unordered_map<std::string, const Table*, TransparentHash, std::equal_to<>> resources;
  // Abstract resource types ("Resource", "DomainResource"), for messages.
  std::unordered_map<std::string, bool, TransparentHash, std::equal_to<>> abstract_resources;
  // Top-level summary elements per type ("value[x]" for a choice).
  std::unordered_map<std::string, std::vector<std::string>, TransparentHash, std::equal_to<>>
      summary;
};

namespace {

// One validation pass over one document. Keeps the location as a stack of
// segments and renders it only when an issue is reported.
class Run {
 public:
  Run(const ValidatorTables& tables, std::vector<ValidationIssue>& out)
      : tables_(tables), out_(out) {}

  void Resource(const Json& v, bool root) {
    if (!v.IsObject()) {
      Report(root ? "invalid" : "structure",
             std::string("expected a resource (JSON object), found ") + KindName(v));
      return;
    }
    auto rt = v.FindMember("resourceType");
    if (rt == v.MemberEnd()) {
      ReportAt("resourceType", "invalid", "missing resourceType");
      return;
    }
    if (!rt->value.IsString()) {
      ReportAt("resourceType", "invalid",
               std::string("resourceType must be a string, found ") + KindName(rt->value));
      return;
    }
    std::string_view type = View(rt->value);
    auto it = tables_.resources.find(type);
    if (it == tables_.resources.end()) {
      if (tables_.abstract_resources.find(type) != tables_.abstract_resources.end()) {
        ReportAt("resourceType", "invalid",
                 "resource type '" + std::string(type) + "' is abstract");
      } else {
        ReportAt("resourceType", "invalid", "unknown resource type '" + Clip(type) + "'");
      }
      return;
    }
    if (root) path_.push_back({type, -1});
    Object(v, *it->second, /*is_resource=*/true);
    if (root) path_.pop_back();
  }

 private:
  struct Segment {
    std::string_view name;
    int32_t index;  // -1: not an array item
  };
  static constexpr int kMaxDepth = 128;

  void Object(const Json& v, const Table& table, bool is_resource) {
    if (v.MemberCount() == 0) {
      Report("structure", "empty object (FHIR JSON has no empty objects)");
      return;
    }
    if (++depth_ > kMaxDepth) {
      Report("structure", "nesting deeper than " + std::to_string(kMaxDepth) + " levels");
      --depth_;
      return;
    }
    uint64_t present = 0;
    // Primitive extension siblings ("_name") are matched to their values.
    size_t ext_base = exts_.size();
    for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
      if (m->name.GetStringLength() > 0 && m->name.GetString()[0] == '_') exts_.push_back(&*m);
    }
    bool has_exts = exts_.size() > ext_base;
    for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
      std::string_view name = View(m->name);
      if (!name.empty() && name[0] == '_') continue;
      if (name == "fhir_comments" || (is_resource && name == "resourceType")) continue;
      const Child* child = table.Find(name);
      if (child == nullptr) {
        ReportAt(name, "structure", "unknown element '" + Clip(name) + "' in " + table.name);
        continue;
      }
      uint64_t bit = uint64_t{1} << child->slot;
      if (present & bit) {
        ReportAt(name, "structure", Repeated(v, table, *child, name));
        continue;
      }
      present |= bit;
      const Json* ext = nullptr;
      if (has_exts && child->shape == Shape::kPrimitive) {
        for (size_t k = ext_base; k < exts_.size(); ++k) {
          const auto* e = exts_[k];
          if (e != nullptr && View(e->name).substr(1) == name) {
            ext = &e->value;
            exts_[k] = nullptr;
            break;
          }
        }
      }
      path_.push_back({child->json_name, -1});
      Property(*child, &m->value, ext);
      path_.pop_back();
    }
    for (size_t k = ext_base; k < exts_.size(); ++k) {
      const auto* e = exts_[k];
      if (e == nullptr) continue;
      std::string_view name = View(e->name);
      const Child* child = table.Find(name);
      if (child == nullptr) {
        ReportAt(name, "structure", "unknown element '" + Clip(name) + "' in " + table.name);
        continue;
      }
      uint64_t bit = uint64_t{1} << child->slot;
      if (present & bit) {
        ReportAt(child->value_name, "structure", Repeated(v, table, *child, name));
        continue;
      }
      present |= bit;
      path_.push_back({child->value_name, -1});
      Property(*child, nullptr, &e->value);
      path_.pop_back();
    }
    exts_.resize(ext_base);
    if (uint64_t missing = table.required & ~present) {
      for (size_t slot = 0; slot < table.element_names.size(); ++slot) {
        if (missing & (uint64_t{1} << slot)) {
          ReportAt(table.element_names[slot], "required",
                   "missing required element '" + table.element_names[slot] + "' (min 1) in " +
                       table.name);
        }
      }
    }
    --depth_;
  }

  // A second property for an element already present: a duplicate key or a
  // second choice of a choice element.
  static std::string Repeated(const Json& object, const Table& table, const Child& child,
                              std::string_view name) {
    std::string first;
    for (auto m = object.MemberBegin(); m != object.MemberEnd(); ++m) {
      const Child* c = table.Find(View(m->name));
      if (c != nullptr && c->slot == child.slot) {
        first = std::string(View(m->name));
        break;
      }
    }
    const std::string& element = table.element_names[child.slot];
    std::string_view first_value = first;
    if (!first_value.empty() && first_value[0] == '_') first_value.remove_prefix(1);
    if (first_value == child.value_name) {
      return "duplicate property '" + std::string(name) + "'";
    }
    return "'" + std::string(name) + "' and '" + first +
           "' are both values of the choice element '" + element + "' (only one type is allowed)";
  }

  // `value` is the property, `ext` its "_name" sibling; either may be null.
  void Property(const Child& c, const Json* value, const Json* ext) {
    if (c.is_array) {
      if (value != nullptr && !value->IsArray()) {
        Report("structure", "element '" + c.value_name + "' repeats (max " + MaxText(c) +
                                "): expected an array, found " + KindName(*value));
        return;
      }
      if (ext != nullptr && !ext->IsArray()) {
        Report("structure", "'_" + c.value_name + "' must be an array aligned with '" +
                                c.value_name + "', found " + KindName(*ext));
        ext = nullptr;
      }
      if (value != nullptr && value->Empty()) {
        Report("structure", "empty array (FHIR JSON has no empty arrays)");
        return;
      }
      if (ext != nullptr && ext->Empty()) {
        Report("structure", "empty array '_" + c.value_name + "'");
        ext = nullptr;
      }
      if (value != nullptr && ext != nullptr && value->Size() != ext->Size()) {
        Report("structure", "'_" + c.value_name + "' has " + std::to_string(ext->Size()) +
                                " entries but '" + c.value_name + "' has " +
                                std::to_string(value->Size()));
        ext = nullptr;
      }
      if (value == nullptr && ext == nullptr) return;
      const Json& items = value != nullptr ? *value : *ext;
      rapidjson::SizeType n = items.Size();
      if (c.max >= 0 && n > static_cast<rapidjson::SizeType>(c.max)) {
        Report("structure", "element '" + c.value_name + "' has " + std::to_string(n) +
                                " values, more than max " + MaxText(c));
      }
      for (rapidjson::SizeType i = 0; i < n; ++i) {
        path_.back().index = static_cast<int32_t>(i);
        Item(c, value != nullptr ? &(*value)[i] : nullptr, ext != nullptr ? &(*ext)[i] : nullptr,
             /*in_array=*/true);
      }
      path_.back().index = -1;
      return;
    }
    if (value != nullptr && value->IsArray()) {
      Report("structure", "element '" + c.value_name +
                              "' does not repeat (max 1): expected a single value, found an array");
      return;
    }
    if (ext != nullptr && !ext->IsObject()) {
      Report("structure", "'_" + c.value_name + "' must be an object, found " + KindName(*ext));
      ext = nullptr;
      if (value == nullptr) return;
    }
    Item(c, value, ext, /*in_array=*/false);
  }

  void Item(const Child& c, const Json* value, const Json* ext, bool in_array) {
    bool value_null = value == nullptr || value->IsNull();
    bool ext_null = ext == nullptr || ext->IsNull();
    if (c.shape != Shape::kPrimitive) {
      if (value->IsNull()) {
        Report("structure", "null is not allowed here");
      } else if (c.shape == Shape::kResource) {
        Resource(*value, /*root=*/false);
      } else if (!value->IsObject()) {
        Report("structure", "expected an object (" + c.type_name + "), found " + KindName(*value));
      } else {
        Object(*value, *c.table, /*is_resource=*/false);
      }
      return;
    }
    if (!in_array) {
      if ((value != nullptr && value->IsNull()) || (ext != nullptr && ext->IsNull())) {
        Report("structure", "null is not allowed here (omit the property instead)");
      }
    } else if (value_null && ext_null) {
      Report("structure", "'" + c.value_name + "' and '_" + c.value_name +
                              "' are both null or absent at the same index");
    }
    if (!value_null) Primitive(c, *value);
    if (!ext_null) {
      if (!ext->IsObject()) {
        Report("structure",
               "'_" + c.value_name + "' entries must be objects, found " + KindName(*ext));
      } else {
        Object(*ext, *c.table, /*is_resource=*/false);
      }
    }
  }

  void Primitive(const Child& c, const Json& v) {
    switch (c.prim) {
      case Prim::kBoolean:
        if (!v.IsBool()) WrongKind(c, "boolean", v);
        return;
      case Prim::kDecimal:
        if (!v.IsNumber()) WrongKind(c, "number", v);
        return;
      case Prim::kInteger:
      case Prim::kPositiveInt:
      case Prim::kUnsignedInt: {
        if (!v.IsNumber()) {
          WrongKind(c, "number", v);
          return;
        }
        if (v.IsDouble()) {
          Report("value", c.type_name +
                              " must be a whole number without fraction or exponent, found " +
                              NumberText(v));
          return;
        }
        int64_t min = c.prim == Prim::kInteger       ? int64_t{-2147483648}
                      : c.prim == Prim::kPositiveInt ? 1
                                                     : 0;
        bool in_range = v.IsInt() && v.GetInt() >= min;
        if (!in_range) {
          Report("value", c.type_name + " out of range [" + std::to_string(min) +
                              ", 2147483647]: " + NumberText(v));
        }
        return;
      }
      default:
        break;
    }
    if (!v.IsString()) {
      WrongKind(c, "string", v);
      return;
    }
    std::string_view s = View(v);
    if (s.empty()) {
      Report("value", "empty string (FHIR does not allow empty strings; omit the property)");
      return;
    }
    if (!StringPrimitiveText(c.prim, s)) {
      Report("value", "invalid " + c.type_name + " '" + Clip(s) + "'");
    }
  }

  void WrongKind(const Child& c, const char* expected, const Json& v) {
    Report("structure", std::string("expected a JSON ") + expected + " (" + c.type_name +
                            "), found " + KindName(v));
  }

  static std::string NumberText(const Json& v) {
    if (v.IsInt64()) return std::to_string(v.GetInt64());
    if (v.IsUint64()) return std::to_string(v.GetUint64());
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v.GetDouble());
    return buf;
  }

  static std::string MaxText(const Child& c) {
    return c.max < 0 ? std::string("*") : std::to_string(c.max);
  }

  static std::string Clip(std::string_view s) {
    constexpr size_t kMax = 80;
    if (s.size() <= kMax) return std::string(s);
    return std::string(s.substr(0, kMax)) + "...";
  }

  std::string Location() const {
    std::string out;
    for (const Segment& seg : path_) {
      if (!out.empty()) out += '.';
      out += seg.name;
      if (seg.index >= 0) {
        out += '[';
        out += std::to_string(seg.index);
        out += ']';
      }
    }
    return out;
  }

  void Report(std::string_view code, std::string message) {
    out_.push_back(ValidationIssue{ValidationIssue::Severity::kError, std::string(code), Location(),
                                   std::move(message)});
  }

  void ReportAt(std::string_view name, std::string_view code, std::string message) {
    path_.push_back({name, -1});
    Report(code, std::move(message));
    path_.pop_back();
  }

  const ValidatorTables& tables_;
  std::vector<ValidationIssue>& out_;
  std::vector<Segment> path_;
  std::vector<const Json::Member*> exts_;
  int depth_ = 0;
};

// ---------------------------------------------------------------------------
// Loading the compacted definitions.

struct ElementDef {
  std::string path;
  int min = 0;
  int max = 1;  // -1 for "*"
  std::vector<std::string> types;
  std::string content_reference;
};

std::string_view Parent(std::string_view path) {
  size_t dot = path.rfind('.');
  return dot == std::string_view::npos ? std::string_view() : path.substr(0, dot);
}

std::string_view LastSegment(std::string_view path) {
  size_t dot = path.rfind('.');
  return dot == std::string_view::npos ? path : path.substr(dot + 1);
}

}  // namespace

Validator::Validator(std::unique_ptr<const ValidatorTables> tables) : tables_(std::move(tables)) {}
Validator::~Validator() = default;

Result<std::shared_ptr<const Validator>> Validator::FromDefinitions(std::string_view json) {
  ASSIGN_OR_RETURN(JsonDoc doc, ParseJson(json));
  const Json* types = Member(doc, "types");
  if (types == nullptr || !types->IsObject()) {
    return Status::Incorrect("structure definitions: no \"types\" object");
  }
  auto tables = std::make_unique<ValidatorTables>();
  struct TypeInfo {
    std::string kind;
    bool is_abstract = false;
    std::vector<ElementDef> elements;
  };
  std::unordered_map<std::string, TypeInfo> infos;

  // Pass 1: read every type and create a table per type and per backbone
  // element (an element that has child elements in the same definition).
  for (auto t = types->MemberBegin(); t != types->MemberEnd(); ++t) {
    std::string name(View(t->name));
    TypeInfo& info = infos[name];
    info.kind = std::string(StringMember(t->value, "kind"));
    const Json* abs = Member(t->value, "abstract");
    info.is_abstract = abs != nullptr && abs->IsBool() && abs->GetBool();
    const Json* elements = Member(t->value, "elements");
    if (elements == nullptr || !elements->IsArray()) {
      return Status::Incorrect("structure definitions: type " + name + " has no elements");
    }
    for (const Json& e : elements->GetArray()) {
      ElementDef def;
      def.path = std::string(StringMember(e, "path"));
      if (Parent(def.path).empty()) {
        return Status::Incorrect("structure definitions: bad element path '" + def.path + "'");
      }
      if (const Json* min = Member(e, "min"); min != nullptr && min->IsInt())
        def.min = min->GetInt();
      std::string_view max = StringMember(e, "max");
      if (max == "*") {
        def.max = -1;
      } else if (!max.empty()) {
        def.max = std::atoi(std::string(max).c_str());
      }
      if (const Json* ts = Member(e, "types"); ts != nullptr && ts->IsArray()) {
        for (const Json& code : ts->GetArray()) {
          if (code.IsString()) def.types.emplace_back(View(code));
        }
      }
      def.content_reference = std::string(StringMember(e, "contentReference"));
      if (Member(e, "summary") != nullptr) {
        std::string_view element = std::string_view(def.path).substr(def.path.find('.') + 1);
        tables->summary[name].emplace_back(element);
      }
      info.elements.push_back(std::move(def));
    }
    Table& table = tables->tables.emplace_back();
    table.name = name;
    tables->by_path[name] = &table;
    for (const ElementDef& def : info.elements) {
      std::string parent(Parent(def.path));
      if (tables->by_path.find(parent) == tables->by_path.end()) {
        Table& backbone = tables->tables.emplace_back();
        backbone.name = parent;
        tables->by_path[parent] = &backbone;
      }
    }
    if (info.kind == "resource") {
      if (info.is_abstract) {
        tables->abstract_resources[name] = true;
      } else {
        tables->resources[name] = &table;
      }
    }
  }

  // Pass 2: fill in the children of every table.
  for (auto& [type_name, info] : infos) {
    for (const ElementDef& def : info.elements) {
      Table& parent = *tables->by_path.at(std::string(Parent(def.path)));
      std::string element(LastSegment(def.path));
      if (parent.element_names.size() >= 64) {
        return Status::Incorrect("structure definitions: more than 64 elements in " + parent.name);
      }
      auto slot = static_cast<uint8_t>(parent.element_names.size());
      parent.element_names.push_back(element);
      if (def.min >= 1) parent.required |= uint64_t{1} << slot;

      Child base;
      base.slot = slot;
      base.is_array = def.max != 1;
      base.max = def.max;
      auto add = [&](Child c, std::string json_name) {
        c.json_name = std::move(json_name);
        c.value_name = c.json_name;
        bool primitive = c.shape == Shape::kPrimitive;
        parent.children.push_back(c);
        if (primitive) {
          c.json_name = "_" + c.value_name;
          c.is_extension = true;
          parent.children.push_back(std::move(c));
        }
      };

      // A backbone element with its own children, or a contentReference to
      // one (Questionnaire.item.item -> Questionnaire.item).
      const std::string& inner = def.content_reference.empty() ? def.path : def.content_reference;
      if (auto it = tables->by_path.find(inner); it != tables->by_path.end()) {
        Child c = base;
        c.shape = Shape::kComplex;
        c.table = it->second;
        c.type_name = inner;
        add(std::move(c), element);
        continue;
      }
      if (!def.content_reference.empty()) {
        return Status::Incorrect("structure definitions: " + def.path +
                                 " refers to unknown element " + def.content_reference);
      }
      if (def.types.empty()) {
        return Status::Incorrect("structure definitions: " + def.path + " has no type");
      }
      bool choice = element.size() > 3 && element.compare(element.size() - 3, 3, "[x]") == 0;
      if (!choice && def.types.size() != 1) {
        return Status::Incorrect("structure definitions: " + def.path + " has several types");
      }
      std::string stem = choice ? element.substr(0, element.size() - 3) : element;
      for (const std::string& code : def.types) {
        Child c = base;
        c.type_name = code;
        if (code == "Resource") {
          c.shape = Shape::kResource;
        } else {
          auto it = tables->by_path.find(code);
          auto info_it = infos.find(code);
          if (it == tables->by_path.end() || info_it == infos.end()) {
            return Status::Incorrect("structure definitions: " + def.path + " has unknown type " +
                                     code);
          }
          c.table = it->second;
          if (info_it->second.kind == "primitive-type") {
            std::optional<Prim> prim = PrimFromName(code);
            if (!prim) {
              return Status::Incorrect("structure definitions: unknown primitive type " + code);
            }
            c.shape = Shape::kPrimitive;
            c.prim = *prim;
          } else {
            c.shape = Shape::kComplex;
          }
        }
        std::string json_name = stem;
        if (choice) {
          json_name += static_cast<char>(std::toupper(static_cast<unsigned char>(code[0])));
          json_name += code.substr(1);
        }
        add(std::move(c), std::move(json_name));
      }
    }
  }
  for (Table& table : tables->tables) table.BuildIndex();
  return std::shared_ptr<const Validator>(new Validator(std::move(tables)));
}

std::shared_ptr<const Validator> Validator::R4() {
  static const std::shared_ptr<const Validator> kR4 = [] {
    std::string_view defs(lhcr_r4_structure_defs,
                          static_cast<size_t>(lhcr_r4_structure_defs_end - lhcr_r4_structure_defs));
    Result<std::shared_ptr<const Validator>> v = FromDefinitions(defs);
    if (!v.ok()) {
      std::fprintf(stderr, "lhcr: embedded R4 structure definitions are unusable: %s\n",
                   v.status().ToString().c_str());
      std::abort();
    }
    return *std::move(v);
  }();
  return kR4;
}

std::vector<ValidationIssue> Validator::Validate(const Json& resource) const {
  std::vector<ValidationIssue> issues;
  Run(*tables_, issues).Resource(resource, /*root=*/true);
  return issues;
}

const std::vector<std::string>& Validator::SummaryElements(std::string_view type) const {
  static const std::vector<std::string> kNone;
  auto it = tables_->summary.find(type);
  return it == tables_->summary.end() ? kNone : it->second;
}

bool Validator::IsResourceType(std::string_view name) const {
  return tables_->resources.find(name) != tables_->resources.end();
}

bool Validator::IsValidPrimitive(std::string_view type, std::string_view text) {
  std::optional<Prim> prim = PrimFromName(type);
  if (!prim) return false;
  switch (*prim) {
    case Prim::kBoolean:
      return text == "true" || text == "false";
    case Prim::kInteger:
      return IntegerText(text, /*allow_minus=*/true, int64_t{-2147483648});
    case Prim::kPositiveInt:
      return IntegerText(text, /*allow_minus=*/false, 1);
    case Prim::kUnsignedInt:
      return IntegerText(text, /*allow_minus=*/false, 0);
    case Prim::kDecimal:
      return DecimalText(text);
    default:
      return StringPrimitiveText(*prim, text);
  }
}

}  // namespace lhcr::fhir
