#include "terminology/ucum.h"

#include <cmath>
#include <cstdlib>
#include <set>

#include "fhir/json.h"

extern "C" const char lhcr_ucum_defs[];
extern "C" const char lhcr_ucum_defs_end[];

namespace lhcr::terminology {
namespace {

constexpr int kMaxDepth = 16;
constexpr int kMaxExponent = 99;

std::string DimText(const UnitValue& u) {
  static const char* kNames[8] = {"L", "T", "M", "A", "Θ", "Q", "F", "mol"};
  std::string s;
  for (int i = 0; i < 8; ++i) {
    if (u.dims[i] == 0) continue;
    if (!s.empty()) s += ".";
    s += kNames[i];
    if (u.dims[i] != 1) s += std::to_string(u.dims[i]);
  }
  for (const auto& [a, e] : u.arbitrary) {
    if (!s.empty()) s += ".";
    s += a + (e != 1 ? std::to_string(e) : "");
  }
  return s.empty() ? "1" : s;
}

void Combine(UnitValue* into, const UnitValue& u, int sign) {
  into->factor *= sign > 0 ? u.factor : 1 / u.factor;
  for (int i = 0; i < 8; ++i) into->dims[i] += sign * u.dims[i];
  for (const auto& [a, e] : u.arbitrary) {
    int& x = into->arbitrary[a];
    x += sign * e;
    if (x == 0) into->arbitrary.erase(a);
  }
}

int Index(const fhir::Json& config, std::string_view name) {
  for (rapidjson::SizeType i = 0; i < config.Size(); ++i) {
    if (config[i].IsString() && fhir::AsView(config[i]) == name) return static_cast<int>(i);
    // ["dim_", "dimVec_"]: the dimension vector column.
    if (config[i].IsArray() && config[i].Size() == 2 && config[i][0].IsString() &&
        fhir::AsView(config[i][0]) == name) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

}  // namespace

Result<std::shared_ptr<const Ucum>> Ucum::FromDefinitions(std::string_view json) {
  ASSIGN_OR_RETURN(fhir::JsonDoc doc, fhir::ParseJson(json));
  const fhir::Json* prefixes = doc.IsObject() ? fhir::Member(doc, "prefixes") : nullptr;
  const fhir::Json* units = doc.IsObject() ? fhir::Member(doc, "units") : nullptr;
  auto table = [](const fhir::Json* t, const fhir::Json** config, const fhir::Json** data) {
    *config = t != nullptr ? fhir::Member(*t, "config") : nullptr;
    *data = t != nullptr ? fhir::Member(*t, "data") : nullptr;
    return *config != nullptr && (*config)->IsArray() && *data != nullptr && (*data)->IsArray();
  };
  const fhir::Json *pc, *pd, *uc, *ud;
  if (!table(prefixes, &pc, &pd) || !table(units, &uc, &ud)) {
    return Status::Incorrect("UCUM definitions: no prefixes/units tables");
  }
  auto ucum = std::make_shared<Ucum>();
  int p_code = Index(*pc, "code_"), p_value = Index(*pc, "value_");
  if (p_code < 0 || p_value < 0) return Status::Incorrect("UCUM definitions: prefix columns");
  for (const fhir::Json& p : pd->GetArray()) {
    if (!p.IsArray() || static_cast<int>(p.Size()) <= std::max(p_code, p_value) ||
        !p[p_code].IsString() || !p[p_value].IsNumber()) {
      return Status::Incorrect("UCUM definitions: bad prefix row");
    }
    ucum->prefixes_[std::string(fhir::AsView(p[p_code]))] = p[p_value].GetDouble();
  }
  int u_base = Index(*uc, "isBase_"), u_name = Index(*uc, "name_"), u_code = Index(*uc, "csCode_"),
      u_mag = Index(*uc, "magnitude_"), u_dim = Index(*uc, "dim_"),
      u_metric = Index(*uc, "isMetric_"), u_special = Index(*uc, "isSpecial_"),
      u_arb = Index(*uc, "isArbitrary_"), u_mole = Index(*uc, "moleExp_"),
      u_source = Index(*uc, "source_");
  for (int i :
       {u_base, u_name, u_code, u_mag, u_dim, u_metric, u_special, u_arb, u_mole, u_source}) {
    if (i < 0) return Status::Incorrect("UCUM definitions: unit columns");
  }
  for (const fhir::Json& u : ud->GetArray()) {
    if (!u.IsArray() || static_cast<int>(u.Size()) <= u_source) {
      return Status::Incorrect("UCUM definitions: bad unit row");
    }
    if (!u[u_source].IsString() || fhir::AsView(u[u_source]) != "UCUM") continue;
    if (!u[u_code].IsString() || !u[u_mag].IsNumber() || !u[u_mole].IsNumber()) {
      return Status::Incorrect("UCUM definitions: bad unit row");
    }
    Unit unit;
    unit.magnitude = u[u_mag].GetDouble();
    const fhir::Json& dim = u[u_dim];
    if (dim.IsArray() && dim.Size() == 7) {
      for (int d = 0; d < 7; ++d) unit.dims[d] = dim[d].IsInt() ? dim[d].GetInt() : 0;
    }
    unit.dims[7] = u[u_mole].IsInt() ? u[u_mole].GetInt() : 0;
    unit.metric = (u[u_metric].IsBool() && u[u_metric].GetBool()) ||
                  (u[u_base].IsBool() && u[u_base].GetBool());
    unit.special = u[u_special].IsBool() && u[u_special].GetBool();
    unit.arbitrary = u[u_arb].IsBool() && u[u_arb].GetBool();
    if (u[u_name].IsString()) unit.name = std::string(fhir::AsView(u[u_name]));
    ucum->units_[std::string(fhir::AsView(u[u_code]))] = std::move(unit);
  }
  if (ucum->units_.count("m") == 0 || ucum->units_.count("g") == 0) {
    return Status::Incorrect("UCUM definitions: no base units");
  }
  return std::shared_ptr<const Ucum>(std::move(ucum));
}

std::shared_ptr<const Ucum> Ucum::Embedded() {
  static const std::shared_ptr<const Ucum> kEmbedded = [] {
    auto u = FromDefinitions(std::string_view(lhcr_ucum_defs, lhcr_ucum_defs_end - lhcr_ucum_defs));
    // The embedded file is part of the build; failing to read it is a
    // build error, not input.
    if (!u.ok()) std::abort();
    return *u;
  }();
  return kEmbedded;
}

std::string Ucum::AtomName(std::string_view atom) const {
  auto it = units_.find(std::string(atom));
  return it == units_.end() ? "" : it->second.name;
}

// One unit symbol with its exponent: "mL", "m2", "10*9", "s-1", "[IU]".
Result<UnitValue> Ucum::Simple(std::string_view token) const {
  // Split off a trailing exponent ([+-]?digits) unless the digits are all
  // there is (then it is a factor, handled by the caller).
  size_t end = token.size();
  while (end > 0 && std::isdigit(static_cast<unsigned char>(token[end - 1]))) --end;
  int exponent = 1;
  std::string_view symbol = token;
  if (end < token.size() && end > 0) {
    size_t sign_at = end;
    if (token[end - 1] == '+' || token[end - 1] == '-') sign_at = end - 1;
    if (sign_at > 0) {
      std::string_view digits = token.substr(end);
      if (digits.size() > 2)
        return Status::Incorrect("exponent too large in '" + std::string(token) + "'");
      exponent = std::atoi(std::string(digits).c_str());
      if (sign_at < end && token[sign_at] == '-') exponent = -exponent;
      symbol = token.substr(0, sign_at);
    }
  }
  if (std::abs(exponent) > kMaxExponent) return Status::Incorrect("exponent too large");
  const Unit* unit = nullptr;
  double prefix = 1;
  if (auto it = units_.find(std::string(symbol)); it != units_.end()) {
    unit = &it->second;
  } else {
    for (size_t n : {size_t{1}, size_t{2}}) {
      if (symbol.size() <= n) break;
      auto p = prefixes_.find(std::string(symbol.substr(0, n)));
      auto u = units_.find(std::string(symbol.substr(n)));
      if (p != prefixes_.end() && u != units_.end() && u->second.metric) {
        unit = &u->second;
        prefix = p->second;
        break;
      }
    }
  }
  if (unit == nullptr) return Status::Incorrect("unknown unit '" + std::string(symbol) + "'");
  UnitValue v;
  if (unit->special) {
    if (symbol != "Cel" && symbol != "[degF]") {
      return Status::Unsupported("special unit '" + std::string(symbol) + "' is not converted");
    }
    v.special = std::string(symbol);
  }
  v.factor = std::pow(prefix * unit->magnitude, exponent);
  for (int i = 0; i < 8; ++i) v.dims[i] = unit->dims[i] * exponent;
  if (unit->arbitrary) v.arbitrary[std::string(symbol)] = exponent;
  return v;
}

Result<UnitValue> Ucum::ParseComponent(std::string_view s, size_t* pos, int depth) const {
  if (*pos >= s.size()) return Status::Incorrect("unit expression ends early");
  UnitValue v;
  if (s[*pos] == '(') {
    ++*pos;
    ASSIGN_OR_RETURN(v, ParseTerm(s, pos, depth + 1));
    if (*pos >= s.size() || s[*pos] != ')') return Status::Incorrect("missing ')'");
    ++*pos;
    return v;
  }
  size_t start = *pos;
  int bracket = 0;
  while (*pos < s.size()) {
    char c = s[*pos];
    if (c == '[') ++bracket;
    if (c == ']') {
      if (bracket == 0) return Status::Incorrect("unbalanced ']'");
      --bracket;
    }
    if (bracket == 0 && (c == '.' || c == '/' || c == '(' || c == ')' || c == '{')) break;
    if (static_cast<unsigned char>(c) <= ' ' || static_cast<unsigned char>(c) >= 127) {
      return Status::Incorrect("unit expressions are printable ASCII without spaces");
    }
    ++*pos;
  }
  if (bracket != 0) return Status::Incorrect("missing ']'");
  std::string_view token = s.substr(start, *pos - start);
  if (!token.empty()) {
    if (token.find_first_not_of("0123456789") == std::string_view::npos) {
      if (token.size() > 15) return Status::Incorrect("factor too large");
      v.factor = std::strtod(std::string(token).c_str(), nullptr);
    } else {
      ASSIGN_OR_RETURN(v, Simple(token));
    }
  }
  if (*pos < s.size() && s[*pos] == '{') {
    size_t close = s.find('}', *pos);
    if (close == std::string_view::npos) return Status::Incorrect("missing '}'");
    for (size_t i = *pos + 1; i < close; ++i) {
      if (s[i] == '{' || static_cast<unsigned char>(s[i]) >= 127) {
        return Status::Incorrect("bad annotation");
      }
    }
    *pos = close + 1;
  } else if (token.empty()) {
    return Status::Incorrect("empty unit component");
  }
  return v;
}

Result<UnitValue> Ucum::ParseTerm(std::string_view s, size_t* pos, int depth) const {
  if (depth > kMaxDepth) return Status::Incorrect("unit expression nested too deep");
  UnitValue v;
  int sign = 1;
  if (*pos < s.size() && s[*pos] == '/') {
    sign = -1;
    ++*pos;
  }
  while (true) {
    ASSIGN_OR_RETURN(UnitValue c, ParseComponent(s, pos, depth));
    if (!c.special.empty() && (sign < 0 || !v.special.empty() || v.dims != UnitValue().dims)) {
      return Status::Unsupported("special unit " + c.special + " inside an expression");
    }
    if (!v.special.empty()) {
      return Status::Unsupported("special unit " + v.special + " inside an expression");
    }
    Combine(&v, c, sign);
    if (!c.special.empty()) v.special = c.special;
    if (*pos >= s.size() || s[*pos] == ')') break;
    if (s[*pos] == '.') {
      sign = 1;
    } else if (s[*pos] == '/') {
      sign = -1;
    } else {
      return Status::Incorrect(std::string("unexpected '") + s[*pos] + "'");
    }
    ++*pos;
  }
  return v;
}

Result<UnitValue> Ucum::Parse(std::string_view expression) const {
  if (expression.empty()) return Status::Incorrect("empty unit");
  if (expression.size() > 256) return Status::Incorrect("unit expression too long");
  size_t pos = 0;
  auto v = ParseTerm(expression, &pos, 0);
  if (!v.ok()) {
    return Status(v.status().code(),
                  "'" + std::string(expression) + "' is not UCUM: " + v.status().message());
  }
  if (pos != expression.size()) {
    return Status::Incorrect("'" + std::string(expression) + "' is not UCUM: unexpected ')'");
  }
  return v;
}

Result<double> Ucum::Convert(double value, std::string_view from, std::string_view to) const {
  ASSIGN_OR_RETURN(UnitValue f, Parse(from));
  ASSIGN_OR_RETURN(UnitValue t, Parse(to));
  if (!f.Commensurable(t)) {
    return Status::Incorrect("'" + std::string(from) + "' (" + DimText(f) + ") and '" +
                             std::string(to) + "' (" + DimText(t) + ") are not commensurable");
  }
  if (f.special.empty() && t.special.empty()) return value * f.factor / t.factor;
  // Temperatures: through kelvin.
  double kelvin = f.special == "Cel"      ? value + 273.15
                  : f.special == "[degF]" ? (value + 459.67) * 5.0 / 9.0
                                          : value * f.factor;
  return t.special == "Cel"      ? kelvin - 273.15
         : t.special == "[degF]" ? kelvin * 9.0 / 5.0 - 459.67
                                 : kelvin / t.factor;
}

Result<Converted> Ucum::ToPreferred(double value, std::string_view unit,
                                    const std::vector<std::string>& preferred) const {
  ASSIGN_OR_RETURN(UnitValue from, Parse(unit));
  for (const std::string& p : preferred) {
    auto to = Parse(p);
    if (!to.ok() || !from.Commensurable(*to)) continue;
    ASSIGN_OR_RETURN(double v, Convert(value, unit, p));
    return Converted{v, p};
  }
  return Status::NotFound("no preferred unit for '" + std::string(unit) + "' (" + DimText(from) +
                          ")");
}

std::string Ucum::Normalise(std::string_view unit) {
  std::string u(unit);
  while (!u.empty() && u.back() == ' ') u.pop_back();
  while (!u.empty() && u.front() == ' ') u.erase(0, 1);
  static const std::map<std::string, std::string> kSpellings = {
      {"mmHg", "mm[Hg]"},
      {"mm Hg", "mm[Hg]"},
      {"x10^9/L", "10*9/L"},
      {"10^9/L", "10*9/L"},
      {"x10*9/L", "10*9/L"},
      {"x10^12/L", "10*12/L"},
      {"10^12/L", "10*12/L"},
      {"x10*12/L", "10*12/L"},
      {"kg/m^2", "kg/m2"},
      {"mL/min/1.73m2", "mL/min/{1.73_m2}"},
      {"ml/min/1.73m2", "mL/min/{1.73_m2}"},
      {"mL/min/1.73m^2", "mL/min/{1.73_m2}"},
      {"degC", "Cel"},
      {"°C", "Cel"},
      {"bpm", "/min"},
      {"beats/min", "/min"}};
  auto it = kSpellings.find(u);
  return it == kSpellings.end() ? u : it->second;
}

const std::vector<std::string>& Ucum::DefaultPreferredUnits() {
  // By dimension; the first commensurable one wins. Molar and mass
  // concentrations stay apart (their dimensions differ).
  static const std::vector<std::string> kUnits = {
      "mmol/L",  "g/L",    "mmol/mol", "%",     "mL/min/{1.73_m2}",
      "mg/mmol", "10*9/L", "mm[Hg]",   "kg/m2", "kg",
      "cm",      "/min",   "Cel",      "s",     "L",
      "U/L",     "mL/min"};
  return kUnits;
}

const std::set<std::string>& Ucum::CanonicalUnits() {
  // clang-format off
  static const std::set<std::string> kUnits = {
      "mmol/L", "umol/L", "nmol/L", "pmol/L", "mg/dL", "g/L", "mg/L", "mmol/mol", "%",
      "mL/min/{1.73_m2}", "mg/mmol", "kg", "g", "cm", "m", "mm[Hg]", "kg/m2", "10*9/L",
      "10*12/L", "/min", "Cel", "U/L", "[IU]/L", "mL/min", "fL", "pg", "s", "L"};
  // clang-format on
  return kUnits;
}

}  // namespace lhcr::terminology
