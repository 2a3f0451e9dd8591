// UCUM (the Unified Code for Units of Measure, https://ucum.org/ucum):
// parses unit expressions and converts quantities between commensurable
// units. The definitions (prefixes, and each unit's magnitude and dimension
// in the base units m, s, g, rad, K, C, cd, with the mole exponent) are the
// UCUM tables as the ucum-lhc library of the US National Library of
// Medicine ships them (npm @lhncbc/ucum-lhc, data/ucumDefs.min.json),
// embedded at build time; only the units whose source is UCUM itself are
// taken (not ucum-lhc's LOINC combinations, which the parser builds anyway).
//
// The expression grammar is UCUM's (section 2.1, "Syntax rules"): products
// '.' and quotients '/' of components, a leading '/', parentheses, integer
// factors, exponents (m2, 10*9, s-1), prefixes on metric units (mL, umol,
// mm[Hg]), annotations {..} which count as 1 ({1.73_m2}). Case-sensitive
// codes (c/s) only. Arbitrary units ([IU], [arb'U]) are commensurable only
// with themselves. Special units (with an offset or a log scale) are
// converted only for temperature (Cel, K, [degF]); others are kUnsupported.
// Molar <-> mass conversions need a molecular weight and are not done: the
// dimensions differ, so Convert says so.
//
// An Ucum is immutable once made: safe to share between threads.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"

namespace lhcr::terminology {

// A parsed unit: value_in_base_units = value * factor, with dimension
// exponents (L, T, M, A, Θ, Q, F, mole) and arbitrary units.
struct UnitValue {
  double factor = 1;
  std::array<int, 8> dims{};
  std::map<std::string, int> arbitrary;
  std::string special;  // "Cel" / "[degF]" when the expression is that unit alone
  bool Commensurable(const UnitValue& o) const {
    return dims == o.dims && arbitrary == o.arbitrary;
  }
};

struct Converted {
  double value = 0;
  std::string unit;  // the UCUM code it is in
};

class Ucum {
 public:
  // From ucumDefs JSON (the ucum-lhc layout: {"prefixes":{"config","data"},
  // "units":{"config","data"}}). kIncorrect when it is not that.
  static Result<std::shared_ptr<const Ucum>> FromDefinitions(std::string_view json);
  // The definitions built into the binary (parsed once, on first use).
  static std::shared_ptr<const Ucum> Embedded();

  // kIncorrect, with the reason, when `expression` is not valid UCUM (or
  // names a unit not defined); kUnsupported for a special unit other than
  // the temperatures.
  Result<UnitValue> Parse(std::string_view expression) const;
  bool IsValid(std::string_view expression) const { return Parse(expression).ok(); }
  // `value` in `from` expressed in `to`. kIncorrect: either is not UCUM, or
  // they are not commensurable (the message names both dimensions).
  Result<double> Convert(double value, std::string_view from, std::string_view to) const;
  // `value` in `unit` converted to the first of `preferred` that it is
  // commensurable with. kNotFound when none is; kIncorrect when `unit` is
  // not UCUM.
  Result<Converted> ToPreferred(double value, std::string_view unit,
                                const std::vector<std::string>& preferred) const;
  // The unit name ucum-lhc gives an atom ("millimeter of mercury" for
  // "m[Hg]"), for $lookup on UCUM; empty when none.
  std::string AtomName(std::string_view atom) const;

  // Common non-UCUM spellings sent by labs, to their UCUM code ("mmHg" ->
  // "mm[Hg]", "x10^9/L" and "10^9/L" -> "10*9/L", "mmol/l" stays valid
  // UCUM); any other text is returned unchanged.
  static std::string Normalise(std::string_view unit);

  // The units lhcr converts quantities to, by dimension, first match wins
  // (docs/TERMINOLOGY.md "Units").
  static const std::vector<std::string>& DefaultPreferredUnits();
  // The units a quantity is kept in as sent (the usual clinical units:
  // mmol/L, umol/L, mg/dL, g/L, mmol/mol, %, kg, cm, mm[Hg], 10*9/L, ...):
  // converting creatinine in umol/L to mmol/L would help nobody.
  static const std::set<std::string>& CanonicalUnits();

 private:
  struct Unit {
    double magnitude = 1;
    std::array<int, 8> dims{};
    bool metric = false;
    bool special = false;
    bool arbitrary = false;
    std::string name;
  };
  Result<UnitValue> ParseTerm(std::string_view s, size_t* pos, int depth) const;
  Result<UnitValue> ParseComponent(std::string_view s, size_t* pos, int depth) const;
  Result<UnitValue> Simple(std::string_view token) const;

  std::unordered_map<std::string, double> prefixes_;
  std::unordered_map<std::string, Unit> units_;
};

}  // namespace lhcr::terminology
