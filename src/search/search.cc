#include "search/search.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <set>

#include "fhir/fhirpath.h"
#include "fhir/json.h"
#include "fhir/search_index.h"

namespace lhcr::search {
namespace {

using fhir::SearchParam;
using fhir::SearchParamType;
using store::IndexQuery;
using store::IndexType;
using store::Rid;
using store::RidSet;
using Op = IndexQuery::Op;

constexpr int64_t kMinTime = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxTime = std::numeric_limits<int64_t>::max();

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= s.size()) return Status::Incorrect("bad percent-encoding in query");
      int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return Status::Incorrect("bad percent-encoding in query");
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

IndexType IndexTypeOf(SearchParamType t) {
  switch (t) {
    case SearchParamType::kToken:
      return IndexType::kToken;
    case SearchParamType::kString:
      return IndexType::kString;
    case SearchParamType::kDate:
      return IndexType::kDate;
    case SearchParamType::kReference:
      return IndexType::kReference;
    case SearchParamType::kQuantity:
      return IndexType::kQuantity;
    case SearchParamType::kNumber:
      return IndexType::kNumber;
    case SearchParamType::kUri:
      return IndexType::kUri;
    default:
      return IndexType::kToken;
  }
}

bool IsResultParam(std::string_view name) {
  static const std::set<std::string_view> kResult = {
      "_count", "_sort",      "_include",       "_revinclude", "_summary", "_elements",
      "_total", "_contained", "_containedType", "_format",     "_pretty"};
  return kResult.contains(name);
}

// Splits "prefix+value" for ordered types.
std::pair<std::string, std::string> SplitPrefix(std::string_view v) {
  static const std::set<std::string_view> kPrefixes = {"eq", "ne", "gt", "lt", "ge",
                                                       "le", "sa", "eb", "ap"};
  if (v.size() > 2 && kPrefixes.contains(v.substr(0, 2)) &&
      (std::isdigit(static_cast<unsigned char>(v[2])) || v[2] == '-' || v[2] == '.')) {
    return {std::string(v.substr(0, 2)), std::string(v.substr(2))};
  }
  return {"eq", std::string(v)};
}

Result<Op> RangeOp(std::string_view prefix) {
  if (prefix == "eq") return Op::kRangeEq;
  if (prefix == "ne") return Op::kRangeNe;
  if (prefix == "gt") return Op::kGt;
  if (prefix == "lt") return Op::kLt;
  if (prefix == "ge") return Op::kGe;
  if (prefix == "le") return Op::kLe;
  if (prefix == "sa") return Op::kSa;
  if (prefix == "eb") return Op::kEb;
  if (prefix == "ap") return Op::kAp;
  return Status::Incorrect("unknown prefix " + std::string(prefix));
}

// A decimal's implicit range by its significant digits (R4 3.1.1.4.3):
// "100" means [99.5, 100.5), "1e2" likewise by its mantissa.
Result<std::pair<double, double>> NumberRange(std::string_view s, double* value) {
  std::string str(s);
  char* end = nullptr;
  double v = std::strtod(str.c_str(), &end);
  if (str.empty() || end != str.c_str() + str.size() || !std::isfinite(v)) {
    return Status::Incorrect("'" + str + "' is not a number");
  }
  *value = v;
  int exponent = 0;
  std::string mantissa = str;
  size_t e = str.find_first_of("eE");
  if (e != std::string::npos) {
    exponent = std::atoi(str.c_str() + e + 1);
    mantissa = str.substr(0, e);
  }
  size_t dot = mantissa.find('.');
  int decimals = dot == std::string::npos ? 0 : static_cast<int>(mantissa.size() - dot - 1);
  double half = 0.5 * std::pow(10.0, exponent - decimals);
  return std::make_pair(v - half, v + half);
}

RidSet Union(const RidSet& a, const RidSet& b) {
  RidSet out;
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

RidSet Intersect(const RidSet& a, const RidSet& b) {
  RidSet out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

RidSet Minus(const RidSet& a, const RidSet& b) {
  RidSet out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

std::string Key(std::string_view type, std::string_view code) {
  std::string k(type);
  k += '.';
  k += code;
  return k;
}

// Builds the index queries for one value of one parameter; their union is
// the value's match set.
Result<std::vector<IndexQuery>> ValueQueries(std::string_view type, const SearchParam& p,
                                             const Clause& c, const std::string& raw) {
  IndexQuery q;
  q.param = Key(type, p.code);
  q.type = IndexTypeOf(p.type);
  std::vector<IndexQuery> out;
  switch (p.type) {
    case SearchParamType::kToken: {
      std::vector<std::string> parts = SplitEscaped(raw, '|');
      if (parts.size() > 2) return Status::Incorrect("token value has more than one '|': " + raw);
      if (parts.size() == 2) {
        q.s1 = parts[0];
        if (!parts[1].empty()) q.s2 = parts[1];
        if (parts[0].empty() && parts[1].empty()) return Status::Incorrect("empty token value");
      } else {
        if (parts[0].empty()) return Status::Incorrect("empty token value");
        q.s2 = parts[0];
      }
      q.op = Op::kEq;
      out.push_back(q);
      return out;
    }
    case SearchParamType::kString: {
      std::string norm = fhir::NormaliseString(raw);
      q.s1 = norm;
      q.op = c.modifier == "contains" ? Op::kContains
             : c.modifier == "exact"  ? Op::kEq
                                      : Op::kPrefix;
      out.push_back(q);
      return out;
    }
    case SearchParamType::kUri: {
      q.s1 = raw;
      q.op = c.modifier == "below" ? Op::kPrefix : c.modifier == "above" ? Op::kAbove : Op::kEq;
      out.push_back(q);
      return out;
    }
    case SearchParamType::kDate: {
      auto [prefix, value] = SplitPrefix(raw);
      ASSIGN_OR_RETURN(q.op, RangeOp(prefix));
      auto range = fhir::ParseFhirDateRange(value);
      if (!range.ok()) return Status::Incorrect("'" + raw + "' is not a valid date for " + p.code);
      q.dlo = range->lo;
      q.dhi = range->hi;
      if (q.op == Op::kAp) {
        // Approximately: widen by 10% of the distance to now (R4 leaves the
        // amount to the server), at least a day.
        int64_t span = std::max<int64_t>(86400000, (q.dhi - q.dlo) / 10);
        q.dlo = q.dlo > kMinTime + span ? q.dlo - span : kMinTime;
        q.dhi = q.dhi < kMaxTime - span ? q.dhi + span : kMaxTime;
      }
      out.push_back(q);
      return out;
    }
    case SearchParamType::kNumber:
    case SearchParamType::kQuantity: {
      auto [prefix, rest] = SplitPrefix(raw);
      ASSIGN_OR_RETURN(q.op, RangeOp(prefix));
      std::string number = rest;
      if (p.type == SearchParamType::kQuantity) {
        std::vector<std::string> parts = SplitEscaped(rest, '|');
        if (parts.size() != 1 && parts.size() != 3) {
          return Status::Incorrect("quantity must be number or number|system|code: " + raw);
        }
        number = parts[0];
        if (parts.size() == 3) {
          if (!parts[1].empty()) q.s1 = parts[1];
          if (!parts[2].empty()) q.s2 = parts[2];
        }
      }
      double v = 0;
      ASSIGN_OR_RETURN(auto range, NumberRange(number, &v));
      switch (q.op) {
        case Op::kRangeEq:
        case Op::kRangeNe:
          q.qlo = range.first;
          q.qhi = range.second;
          break;
        case Op::kAp:
          q.qlo = v - std::abs(v) * 0.1;
          q.qhi = v + std::abs(v) * 0.1;
          break;
        default:  // gt/lt/ge/le/sa/eb compare with the value itself
          q.qlo = v;
          q.qhi = v;
      }
      out.push_back(q);
      return out;
    }
    case SearchParamType::kReference: {
      q.op = Op::kEq;
      std::string target_type = c.modifier;
      std::string id = raw;
      if (raw.find("://") != std::string::npos || raw.rfind("urn:", 0) == 0) {
        // An absolute URL is matched as stored; canonical "url|version" by url.
        q.s1 = std::string();
        q.s2 = raw.substr(0, raw.find('|'));
        out.push_back(q);
        return out;
      }
      size_t slash = raw.find('/');
      if (slash != std::string::npos) {
        target_type = raw.substr(0, slash);
        id = raw.substr(slash + 1);
        size_t hist = id.find("/_history/");
        if (hist != std::string::npos) id = id.substr(0, hist);
      }
      if (id.empty()) return Status::Incorrect("empty reference value for " + p.code);
      if (!target_type.empty()) q.s1 = target_type;
      q.s2 = id;
      out.push_back(q);
      return out;
    }
    default:
      return Status::Incorrect("search parameter " + p.code + " of this type is not supported");
  }
}

// Evaluates p's expression for the resource's type.
std::vector<fhir::PathValue> Evaluate(const fhir::Json& doc, const SearchParam& p) {
  std::vector<fhir::PathValue> out;
  for (const fhir::FhirPath& path : p.PathsFor(fhir::StringMember(doc, "resourceType"))) {
    path.Evaluate(doc, &out);
  }
  return out;
}

void CollectStrings(const fhir::Json& n, std::vector<std::string>* out) {
  if (n.IsString()) {
    out->emplace_back(fhir::AsView(n));
  } else if (n.IsArray()) {
    for (const auto& e : n.GetArray()) CollectStrings(e, out);
  } else if (n.IsObject()) {
    for (const auto& m : n.GetObject()) {
      std::string_view k = fhir::AsView(m.name);
      if (k == "extension" || k == "id" || k == "use" || k == "period" || k == "type") continue;
      CollectStrings(m.value, out);
    }
  }
}

// The raw strings a string parameter indexes (for :exact).
std::vector<std::string> ExtractStrings(const fhir::Json& doc, const SearchParam& p) {
  std::vector<std::string> out;
  for (const fhir::PathValue& v : Evaluate(doc, p)) CollectStrings(*v.node, &out);
  return out;
}

// CodeableConcept.text and Coding.display of a token parameter (for :text).
std::vector<std::string> ExtractTokenTexts(const fhir::Json& doc, const SearchParam& p) {
  std::vector<std::string> out;
  for (const fhir::PathValue& v : Evaluate(doc, p)) {
    const fhir::Json& n = *v.node;
    if (!n.IsObject()) continue;
    if (auto t = fhir::StringMember(n, "text"); !t.empty()) out.emplace_back(t);
    if (auto d = fhir::StringMember(n, "display"); !d.empty()) out.emplace_back(d);
    if (const fhir::Json* coding = fhir::Member(n, "coding"); coding && coding->IsArray()) {
      for (const auto& c : coding->GetArray()) {
        if (auto d = fhir::StringMember(c, "display"); !d.empty()) out.emplace_back(d);
      }
    }
  }
  return out;
}

std::string OrderedNumber(double v) {
  // Maps a double to a string that sorts as the number does.
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  bits = (bits & (1ULL << 63)) ? ~bits : bits | (1ULL << 63);
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(bits));
  return buf;
}

// The key a resource sorts by for p: its smallest value ascending, its
// largest descending (R4 3.1.1.5.4). Empty when it has none.
std::string SortKeyOf(const fhir::Json& doc, const SearchParam& p, bool descending) {
  std::vector<std::string> keys;
  for (const store::IndexRow& r : fhir::ExtractParam(doc, p)) {
    switch (r.type) {
      case IndexType::kDate:
        keys.push_back(OrderedNumber(static_cast<double>(descending ? r.hi : r.lo)));
        break;
      case IndexType::kNumber:
      case IndexType::kQuantity:
        keys.push_back(OrderedNumber(r.num));
        break;
      case IndexType::kToken:
        keys.push_back(r.s2);
        break;
      case IndexType::kReference:
        keys.push_back(r.s1 + "/" + r.s2);
        break;
      default:
        keys.push_back(r.s1);
    }
  }
  if (keys.empty()) return {};
  return descending ? *std::max_element(keys.begin(), keys.end())
                    : *std::min_element(keys.begin(), keys.end());
}

// Whether one index row satisfies q (the in-memory twin of StoreView::Match,
// for composite components).
bool RowMatches(const store::IndexRow& r, const IndexQuery& q) {
  if (r.type != q.type) return false;
  auto range = [&](double lo, double hi, double qlo, double qhi) {
    switch (q.op) {
      case Op::kRangeEq:
        return lo >= qlo && hi <= qhi;
      case Op::kRangeNe:
        return !(lo >= qlo && hi <= qhi);
      case Op::kGt:
        return hi > qhi;
      case Op::kLt:
        return lo < qlo;
      case Op::kGe:
        return hi >= qlo;
      case Op::kLe:
        return lo <= qhi;
      case Op::kSa:
        return lo > qhi;
      case Op::kEb:
        return hi < qlo;
      case Op::kAp:
        return lo <= qhi && hi >= qlo;
      default:
        return false;
    }
  };
  switch (q.type) {
    case IndexType::kToken:
    case IndexType::kReference:
      return (!q.s1 || *q.s1 == r.s1) && (!q.s2 || *q.s2 == r.s2);
    case IndexType::kString:
      if (q.op == Op::kContains) return r.s1.find(q.s1.value_or("")) != std::string::npos;
      if (q.op == Op::kPrefix) return r.s1.rfind(q.s1.value_or(""), 0) == 0;
      return r.s1 == q.s1.value_or("");
    case IndexType::kUri:
      if (q.op == Op::kPrefix) return r.s1.rfind(q.s1.value_or(""), 0) == 0;
      if (q.op == Op::kAbove) return q.s1.value_or("").rfind(r.s1, 0) == 0;
      return r.s1 == q.s1.value_or("");
    case IndexType::kDate:
      return range(static_cast<double>(r.lo), static_cast<double>(r.hi), static_cast<double>(q.dlo),
                   static_cast<double>(q.dhi));
    case IndexType::kQuantity:
      if ((q.s1 && *q.s1 != r.s1) || (q.s2 && *q.s2 != r.s2)) return false;
      return range(r.num, r.num, q.qlo, q.qhi);
    case IndexType::kNumber:
      return range(r.num, r.num, q.qlo, q.qhi);
  }
  return false;
}

}  // namespace

Result<RidSet> MatchParamRows(const std::string& type, std::string_view code,
                              std::string_view suffix, IndexQuery q, store::StoreView& view,
                              const fhir::SearchParamRegistry& registry, const RidSet* within) {
  const fhir::BoundSearchParam* b = registry.Bound(type, code);
  if (b == nullptr || (b->stored && b->sources.size() == 1)) {
    q.param = Key(type, code);
    q.param += suffix;
    return view.Match(q, within);
  }
  // The union over the sources; "missing" is what is left of "present".
  const bool missing = q.op == Op::kMissing;
  if (missing || q.op == Op::kPresent) q.op = Op::kPresent;
  RidSet out;
  for (const fhir::IndexSource& src : b->sources) {
    IndexQuery sq = q;
    sq.param = src.key;
    sq.param += suffix;
    if (!src.target_type.empty()) {
      // Only the reference rows to one type stand for this parameter's rows
      // (the :identifier rows are its own).
      if (!suffix.empty() || sq.type != IndexType::kReference) continue;
      if (sq.s1 && *sq.s1 != src.target_type) continue;
      sq.s1 = src.target_type;
      if (sq.op == Op::kPresent) {
        sq.op = Op::kEq;
        sq.s2.reset();
      }
    }
    ASSIGN_OR_RETURN(RidSet m, view.Match(sq, within));
    out = Union(out, m);
  }
  if (!missing) return out;
  RidSet all;
  if (within != nullptr) {
    all = *within;
  } else {
    ASSIGN_OR_RETURN(all, view.AllOfType(type));
  }
  return Minus(all, out);
}

std::vector<std::string> SplitEscaped(std::string_view value, char sep) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '\\' && i + 1 < value.size()) {
      out.back() += value[++i];
    } else if (c == sep) {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

Result<QueryParams> ParseQueryString(std::string_view query) {
  QueryParams out;
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view part = query.substr(pos, amp - pos);
    if (!part.empty()) {
      size_t eq = part.find('=');
      std::string_view k = part.substr(0, eq);
      std::string_view v = eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
      ASSIGN_OR_RETURN(std::string key, PercentDecode(k));
      ASSIGN_OR_RETURN(std::string val, PercentDecode(v));
      out.emplace_back(std::move(key), std::move(val));
    }
    pos = amp + 1;
  }
  return out;
}

namespace {

// Parses "name[:modifier][.chain...]" with value into a Clause.
Result<Clause> ParseClause(std::string_view type, std::string_view name, std::string_view value,
                           const fhir::SearchParamRegistry& registry, int depth) {
  if (depth > 4) return Status::Incorrect("search chain too deep");
  Clause c;
  if (name.rfind("_has:", 0) == 0) {
    // _has:Type:param:rest
    std::string_view rest = name.substr(5);
    size_t a = rest.find(':');
    if (a == std::string_view::npos)
      return Status::Incorrect("malformed _has: " + std::string(name));
    size_t b = rest.find(':', a + 1);
    if (b == std::string_view::npos)
      return Status::Incorrect("malformed _has: " + std::string(name));
    c.code = "_has";
    c.has_type = rest.substr(0, a);
    c.has_param = rest.substr(a + 1, b - a - 1);
    if (!registry.Find(c.has_type, c.has_param)) {
      return Status::Incorrect("_has: " + c.has_type + " has no search parameter " + c.has_param);
    }
    ASSIGN_OR_RETURN(Clause inner,
                     ParseClause(c.has_type, rest.substr(b + 1), value, registry, depth + 1));
    c.has.push_back(std::move(inner));
    return c;
  }
  size_t dot = name.find('.');
  std::string_view head = name.substr(0, dot);
  size_t colon = head.find(':');
  c.code = head.substr(0, colon);
  if (colon != std::string_view::npos) c.modifier = head.substr(colon + 1);
  const SearchParam* p = registry.Find(type, c.code);
  if (p == nullptr) {
    return Status::NotFound(std::string(type) + " has no search parameter '" + c.code + "'");
  }
  if (dot != std::string_view::npos) {
    if (p->type != SearchParamType::kReference) {
      return Status::Incorrect("chained search on non-reference parameter " + c.code);
    }
    std::vector<std::string> targets;
    if (!c.modifier.empty()) {
      targets.push_back(c.modifier);
    } else {
      targets = p->targets;
    }
    std::string_view rest = name.substr(dot + 1);
    // The chained parameter must exist on at least one target type.
    Result<Clause> inner =
        Status::Incorrect("no target of " + c.code + " has parameter " + std::string(rest));
    for (const std::string& t : targets) {
      inner = ParseClause(t, rest, value, registry, depth + 1);
      if (inner.ok()) break;
    }
    if (!inner.ok()) return inner.status();
    c.chain.push_back(std::move(inner).value());
    return c;
  }
  const std::set<std::string_view> kModifiers = {"exact", "contains",   "missing", "not",
                                                 "text",  "identifier", "above",   "below"};
  if (!c.modifier.empty() && !kModifiers.contains(c.modifier) &&
      !(p->type == SearchParamType::kReference && registry.IsResourceType(c.modifier))) {
    return Status::Incorrect("unknown modifier :" + c.modifier + " on " + c.code);
  }
  if ((c.modifier == "text" || c.modifier == "not") && p->type != SearchParamType::kToken) {
    return Status::Incorrect(":" + c.modifier + " applies to token parameters only");
  }
  if (c.modifier == "identifier" && p->type != SearchParamType::kReference) {
    return Status::Incorrect(":identifier applies to reference parameters only");
  }
  if ((c.modifier == "exact" || c.modifier == "contains") && p->type != SearchParamType::kString) {
    return Status::Incorrect(":" + c.modifier + " applies to string parameters only");
  }
  if (c.modifier == "missing") {
    if (value != "true" && value != "false")
      return Status::Incorrect(":missing takes true or false");
    c.values.emplace_back(value);
    return c;
  }
  // Split on unescaped ',' but keep other escapes: token ('|') and
  // composite ('$') values are split again later.
  std::string cur;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\\' && i + 1 < value.size()) {
      cur += value[i];
      cur += value[++i];
    } else if (value[i] == ',') {
      c.values.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += value[i];
    }
  }
  c.values.push_back(std::move(cur));
  for (const std::string& v : c.values) {
    if (v.empty()) return Status::Incorrect("empty value for search parameter " + c.code);
  }
  return c;
}

}  // namespace

Result<SearchRequest> ParseSearch(std::string_view type, const QueryParams& params,
                                  const fhir::SearchParamRegistry& registry,
                                  const ParseOptions& options) {
  SearchRequest r;
  r.type = type;
  std::string self;
  auto append_self = [&](const std::string& k, const std::string& v) {
    if (!self.empty()) self += '&';
    self += k + "=" + v;
  };
  for (const auto& [name, value] : params) {
    if (name == "_count") {
      char* end = nullptr;
      long n = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || n < 0)
        return Status::Incorrect("_count must be a non-negative integer");
      r.count = static_cast<int>(std::min<long>(n, 1000));
      continue;
    }
    if (name == "_sort") {
      for (const std::string& k : SplitEscaped(value, ',')) {
        SortKey s;
        s.descending = !k.empty() && k[0] == '-';
        s.code = s.descending ? k.substr(1) : k;
        if (s.code != "_id" && s.code != "_lastUpdated" && registry.Find(type, s.code) == nullptr) {
          return Status::Incorrect("cannot sort by unknown parameter " + s.code);
        }
        r.sort.push_back(s);
      }
      append_self(name, value);
      continue;
    }
    if (name == "_include" || name == "_revinclude" || name == "_include:iterate" ||
        name == "_revinclude:iterate" || name == "_include:recurse" ||
        name == "_revinclude:recurse") {
      bool rev = name.rfind("_revinclude", 0) == 0;
      IncludeSpec inc;
      inc.iterate = name.find(':') != std::string::npos;
      std::vector<std::string> parts = SplitEscaped(value, ':');
      if (parts.size() == 1 && parts[0] == "*") {
        inc.source_type = "*";
        inc.param = "*";
      } else {
        if (parts.size() < 2 || parts.size() > 3) {
          return Status::Incorrect(name + " must be Type:param[:targetType]");
        }
        inc.source_type = parts[0];
        inc.param = parts[1];
        if (parts.size() == 3) inc.target_type = parts[2];
        if (inc.param != "*") {
          const SearchParam* p = registry.Find(inc.source_type, inc.param);
          if (p == nullptr || p->type != SearchParamType::kReference) {
            return Status::Incorrect(name + ": " + inc.source_type +
                                     " has no reference parameter " + inc.param);
          }
        }
      }
      (rev ? r.revincludes : r.includes).push_back(inc);
      append_self(name, value);
      continue;
    }
    if (name == "_summary") {
      static const std::map<std::string, SummaryMode> kModes = {{"true", SummaryMode::kTrue},
                                                                {"text", SummaryMode::kText},
                                                                {"data", SummaryMode::kData},
                                                                {"count", SummaryMode::kCount},
                                                                {"false", SummaryMode::kFalse}};
      auto it = kModes.find(value);
      if (it == kModes.end())
        return Status::Incorrect("_summary must be true, text, data, count or false");
      r.summary = it->second;
      append_self(name, value);
      continue;
    }
    if (name == "_elements") {
      for (const std::string& e : SplitEscaped(value, ',')) {
        if (!e.empty()) r.elements.push_back(e);
      }
      append_self(name, value);
      continue;
    }
    if (name == "_total") {
      if (value == "none")
        r.total = TotalMode::kNone;
      else if (value == "estimate")
        r.total = TotalMode::kEstimate;
      else if (value == "accurate")
        r.total = TotalMode::kAccurate;
      else
        return Status::Incorrect("_total must be none, estimate or accurate");
      continue;
    }
    if (IsResultParam(name)) continue;  // _format, _pretty, _contained: accepted, no effect
    Result<Clause> c = ParseClause(type, name, value, registry, 0);
    if (!c.ok()) {
      if (c.status().code() == StatusCode::kNotFound && !options.strict) {
        r.ignored.push_back(name);
        continue;
      }
      return Status::Incorrect(c.status().message());
    }
    r.clauses.push_back(std::move(c).value());
    append_self(name, value);
  }
  r.self_query = self;
  return r;
}

namespace {

// Targets (type, id) of the resources in `rids` matched by `clause`'s chain.
Result<RidSet> MatchChain(const std::string& type, const Clause& c, const SearchParam& p,
                          store::StoreView& view, const fhir::SearchParamRegistry& registry,
                          const RidSet* within) {
  const Clause& inner = c.chain.front();
  std::vector<std::string> targets;
  if (!c.modifier.empty()) {
    targets.push_back(c.modifier);
  } else {
    targets = p.targets;
  }
  RidSet out;
  for (const std::string& t : targets) {
    if (registry.Find(t, inner.code) == nullptr && inner.code != "_has") continue;
    ASSIGN_OR_RETURN(RidSet inner_rids, MatchClause(t, inner, view, registry, nullptr));
    if (inner_rids.empty()) continue;
    ASSIGN_OR_RETURN(auto versions, view.Fetch(inner_rids, std::nullopt));
    for (const auto& v : versions) {
      IndexQuery q;
      q.type = IndexType::kReference;
      q.op = Op::kEq;
      q.s1 = v.type;
      q.s2 = v.id;
      ASSIGN_OR_RETURN(RidSet m, MatchParamRows(type, c.code, "", q, view, registry, within));
      out = Union(out, m);
    }
  }
  return out;
}

// Resources of `type` referred to (by param has_param) from has_type
// resources that match the inner clause.
Result<RidSet> MatchHas(const std::string& type, const Clause& c, store::StoreView& view,
                        const fhir::SearchParamRegistry& registry, const RidSet* within) {
  const SearchParam* p = registry.Find(c.has_type, c.has_param);
  if (p == nullptr) return Status::Incorrect("unknown _has parameter " + c.has_param);
  ASSIGN_OR_RETURN(RidSet inner, MatchClause(c.has_type, c.has.front(), view, registry, nullptr));
  ASSIGN_OR_RETURN(auto versions, view.Fetch(inner, std::nullopt));
  std::vector<std::string> ids;
  for (const auto& v : versions) {
    auto doc = fhir::ParseJson(v.json);
    if (!doc.ok()) continue;
    for (const store::IndexRow& row : fhir::ExtractParam(*doc, *p)) {
      if (row.type == IndexType::kReference && row.s1 == type) ids.push_back(row.s2);
    }
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  ASSIGN_OR_RETURN(RidSet out, view.ByIds(type, ids));
  if (within != nullptr) return Intersect(out, *within);
  return out;
}

Result<RidSet> MatchLastUpdated(const std::string& type, const Clause& c, store::StoreView& view,
                                const RidSet* within) {
  RidSet out;
  for (const std::string& raw : c.values) {
    auto [prefix, value] = SplitPrefix(raw);
    auto range = fhir::ParseFhirDateRange(value);
    if (!range.ok()) return Status::Incorrect("'" + raw + "' is not a valid date for _lastUpdated");
    int64_t lo = range->lo, hi = range->hi;
    RidSet m;
    if (prefix == "eq" || prefix == "ap") {
      ASSIGN_OR_RETURN(m, view.ByLastUpdated(type, lo, hi));
    } else if (prefix == "ne") {
      ASSIGN_OR_RETURN(RidSet eq, view.ByLastUpdated(type, lo, hi));
      ASSIGN_OR_RETURN(RidSet all, view.AllOfType(type));
      m = Minus(all, eq);
    } else if (prefix == "gt" || prefix == "sa") {
      ASSIGN_OR_RETURN(m, view.ByLastUpdated(type, hi + 1, kMaxTime));
    } else if (prefix == "ge") {
      ASSIGN_OR_RETURN(m, view.ByLastUpdated(type, lo, kMaxTime));
    } else if (prefix == "lt" || prefix == "eb") {
      ASSIGN_OR_RETURN(m, view.ByLastUpdated(type, kMinTime, lo - 1));
    } else {  // le
      ASSIGN_OR_RETURN(m, view.ByLastUpdated(type, kMinTime, hi));
    }
    out = Union(out, m);
  }
  if (within != nullptr) return Intersect(out, *within);
  return out;
}

// Token :text: the text of a CodeableConcept or a Coding's display, by
// normalised prefix (R4 leaves the matching to the server).
Result<RidSet> MatchTokenText(const std::string& type, const SearchParam& p, const Clause& c,
                              store::StoreView& view, const RidSet* within) {
  RidSet candidates;
  if (within != nullptr) {
    candidates = *within;
  } else {
    ASSIGN_OR_RETURN(candidates, view.AllOfType(type));
  }
  std::vector<std::string> needles;
  for (const std::string& v : c.values) needles.push_back(fhir::NormaliseString(v));
  ASSIGN_OR_RETURN(auto versions, view.Fetch(candidates, std::nullopt));
  RidSet out;
  for (const auto& v : versions) {
    const Rid rid = v.rid;
    auto doc = fhir::ParseJson(v.json);
    if (!doc.ok()) continue;
    bool hit = false;
    for (const std::string& text : ExtractTokenTexts(*doc, p)) {
      std::string norm = fhir::NormaliseString(text);
      for (const std::string& n : needles) {
        if (norm.rfind(n, 0) == 0 || norm.find(" " + n) != std::string::npos) hit = true;
      }
    }
    if (hit) out.push_back(rid);
  }
  return out;
}

// String :exact: the normalised index narrows, the stored text decides.
Result<RidSet> FilterExact(const SearchParam& p, const std::vector<std::string>& values,
                           RidSet candidates, store::StoreView& view) {
  ASSIGN_OR_RETURN(auto versions, view.Fetch(candidates, std::nullopt));
  RidSet out;
  for (const auto& version : versions) {
    auto doc = fhir::ParseJson(version.json);
    if (!doc.ok()) continue;
    std::vector<std::string> texts = ExtractStrings(*doc, p);
    for (const std::string& v : values) {
      if (std::find(texts.begin(), texts.end(), v) != texts.end()) {
        out.push_back(version.rid);
        break;
      }
    }
  }
  return out;
}

Result<RidSet> MatchComposite(std::string_view type, const SearchParam& p,
                              const std::vector<std::string>& values, store::StoreView& view,
                              const fhir::SearchParamRegistry& registry, const RidSet* within) {
  RidSet out;
  for (const std::string& raw : values) {
    std::vector<std::string> parts = SplitEscaped(raw, '$');
    if (parts.size() != p.components.size()) {
      return Status::Incorrect("composite " + p.code + " takes " +
                               std::to_string(p.components.size()) + " '$'-separated values");
    }
    // Each component as its own single-value query, matched against the
    // rows of one element.
    std::vector<std::vector<IndexQuery>> component_queries;
    for (size_t i = 0; i < parts.size(); ++i) {
      const SearchParam* cp = registry.FindByUrl(p.components[i].definition);
      if (cp == nullptr) return Status::Fault("composite component definition not found");
      Clause cc;
      ASSIGN_OR_RETURN(auto qs, ValueQueries(type, *cp, cc, parts[i]));
      component_queries.push_back(std::move(qs));
    }
    RidSet candidates;
    if (within != nullptr) {
      candidates = *within;
    } else {
      ASSIGN_OR_RETURN(candidates, view.AllOfType(std::string(type)));
    }
    ASSIGN_OR_RETURN(auto versions, view.Fetch(candidates, std::nullopt));
    for (const auto& version : versions) {
      auto doc = fhir::ParseJson(version.json);
      if (!doc.ok()) continue;
      bool hit = false;
      for (const auto& tuple : fhir::ExtractCompositeTuples(*doc, p, registry)) {
        bool all = tuple.size() == component_queries.size();
        for (size_t i = 0; all && i < tuple.size(); ++i) {
          bool any = false;
          for (const store::IndexRow& row : tuple[i]) {
            for (const IndexQuery& q : component_queries[i]) {
              if (RowMatches(row, q)) any = true;
            }
          }
          all = any;
        }
        if (all) hit = true;
      }
      if (hit) out.push_back(version.rid);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

Result<RidSet> MatchClause(const std::string& type, const Clause& c, store::StoreView& view,
                           const fhir::SearchParamRegistry& registry, const RidSet* within) {
  if (c.code == "_has") return MatchHas(type, c, view, registry, within);
  if (c.code == "_id") {
    std::vector<std::string> ids;
    for (const auto& v : c.values) ids.push_back(SplitEscaped(v, '|').back());
    ASSIGN_OR_RETURN(RidSet m, view.ByIds(type, ids));
    if (within != nullptr) return Intersect(m, *within);
    return m;
  }
  if (c.code == "_lastUpdated") return MatchLastUpdated(type, c, view, within);
  const SearchParam* p = registry.Find(type, c.code);
  if (p == nullptr) return Status::Incorrect(type + " has no search parameter " + c.code);
  if (!c.chain.empty()) return MatchChain(type, c, *p, view, registry, within);
  if (c.modifier == "missing") {
    IndexQuery q;
    q.type = IndexTypeOf(p->type);
    q.op = c.values.front() == "true" ? Op::kMissing : Op::kPresent;
    return MatchParamRows(type, c.code, "", q, view, registry, within);
  }
  if (p->type == SearchParamType::kComposite) {
    return MatchComposite(type, *p, c.values, view, registry, within);
  }
  if (c.modifier == "text") return MatchTokenText(type, *p, c, view, within);
  if (c.modifier == "identifier") {
    RidSet out;
    for (const std::string& v : c.values) {
      std::vector<std::string> parts = SplitEscaped(v, '|');
      IndexQuery q;
      q.type = IndexType::kToken;
      q.op = Op::kEq;
      if (parts.size() == 2) {
        q.s1 = parts[0];
        if (!parts[1].empty()) q.s2 = parts[1];
      } else {
        q.s2 = parts[0];
      }
      ASSIGN_OR_RETURN(RidSet m,
                       MatchParamRows(type, c.code, ":identifier", q, view, registry, within));
      out = Union(out, m);
    }
    return out;
  }
  RidSet out;
  for (const std::string& v : c.values) {
    ASSIGN_OR_RETURN(auto queries, ValueQueries(type, *p, c, v));
    for (const IndexQuery& q : queries) {
      ASSIGN_OR_RETURN(RidSet m, MatchParamRows(type, c.code, "", q, view, registry,
                                                c.modifier == "not" ? nullptr : within));
      out = Union(out, m);
    }
  }
  if (c.modifier == "exact") {
    std::vector<std::string> exact;
    for (const std::string& v : c.values) exact.push_back(SplitEscaped(v, ',').front());
    return FilterExact(*p, exact, std::move(out), view);
  }
  if (c.modifier == "not") {
    RidSet all;
    if (within != nullptr) {
      all = *within;
    } else {
      ASSIGN_OR_RETURN(all, view.AllOfType(type));
    }
    return Minus(all, out);
  }
  return out;
}

Result<std::vector<Rid>> Execute(const SearchRequest& request, store::StoreView& view,
                                 const fhir::SearchParamRegistry& registry) {
  // Most selective first: ids and references narrow fastest, string scans last.
  std::vector<const Clause*> order;
  for (const Clause& c : request.clauses) order.push_back(&c);
  auto rank = [&](const Clause* c) {
    if (c->code == "_id") return 0;
    if (c->modifier == "not" || c->modifier == "missing" || c->modifier == "text") return 9;
    if (c->code == "_has" || !c->chain.empty()) return 5;
    const SearchParam* p = registry.Find(request.type, c->code);
    if (p == nullptr) return 8;
    switch (p->type) {
      case SearchParamType::kReference:
        return 1;
      case SearchParamType::kToken:
        return 2;
      case SearchParamType::kUri:
        return 2;
      case SearchParamType::kDate:
        return 4;
      case SearchParamType::kComposite:
        return 7;
      default:
        return 3;
    }
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](const Clause* a, const Clause* b) { return rank(a) < rank(b); });
  std::optional<RidSet> current;
  for (const Clause* c : order) {
    ASSIGN_OR_RETURN(RidSet m,
                     MatchClause(request.type, *c, view, registry, current ? &*current : nullptr));
    current = current ? Intersect(*current, m) : std::move(m);
    if (current->empty()) break;
  }
  if (!current) {
    ASSIGN_OR_RETURN(current, view.AllOfType(request.type));
  }
  std::vector<Rid> rids(current->begin(), current->end());
  if (request.sort.empty() || rids.empty()) return rids;

  // Sort keys come from the resources themselves.
  ASSIGN_OR_RETURN(auto versions, view.Fetch(rids, std::nullopt));
  struct Keyed {
    Rid rid;
    std::vector<std::string> keys;
  };
  std::vector<Keyed> keyed;
  keyed.reserve(versions.size());
  for (size_t i = 0; i < versions.size(); ++i) {
    Keyed k{versions[i].rid, {}};
    auto doc = fhir::ParseJson(versions[i].json);
    for (const SortKey& s : request.sort) {
      if (s.code == "_id") {
        k.keys.push_back(versions[i].id);
      } else if (s.code == "_lastUpdated") {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%020lld",
                      static_cast<long long>(versions[i].last_updated) + (1LL << 62));
        k.keys.push_back(buf);
      } else {
        const SearchParam* p = registry.Find(request.type, s.code);
        k.keys.push_back(doc.ok() && p != nullptr ? SortKeyOf(*doc, *p, s.descending) : "");
      }
    }
    keyed.push_back(std::move(k));
  }
  std::stable_sort(keyed.begin(), keyed.end(), [&](const Keyed& a, const Keyed& b) {
    for (size_t i = 0; i < request.sort.size(); ++i) {
      // Resources without a value sort last either way.
      bool ae = a.keys[i].empty(), be = b.keys[i].empty();
      if (ae != be) return be;
      if (a.keys[i] != b.keys[i]) {
        return request.sort[i].descending ? a.keys[i] > b.keys[i] : a.keys[i] < b.keys[i];
      }
    }
    return a.rid < b.rid;
  });
  std::vector<Rid> out;
  out.reserve(keyed.size());
  for (const Keyed& k : keyed) out.push_back(k.rid);
  return out;
}

}  // namespace lhcr::search
