#include "terminology/ucum.h"

#include <gtest/gtest.h>

namespace lhcr::terminology {
namespace {

double Conv(double v, const char* from, const char* to) {
  auto r = Ucum::Embedded()->Convert(v, from, to);
  EXPECT_TRUE(r.ok()) << from << " -> " << to << ": " << r.status().message();
  return r.ok() ? *r : -1;
}

TEST(Ucum, ParsesTheUnitsTheRegionUses) {
  auto u = Ucum::Embedded();
  for (const char* unit :
       {"mmol/L",     "umol/L",  "mg/dL", "g/L",    "mmol/mol", "%",       "mL/min/{1.73_m2}",
        "kg",         "g",       "cm",    "m",      "mm[Hg]",   "kg/m2",   "10*9/L",
        "mg/mmol",    "/min",    "Cel",   "[IU]/L", "s-1",      "m.s-2",   "(kg.m)/s2",
        "{cells}/uL", "10*3/uL", "U/L",   "mL",     "[in_i]",   "[lb_av]", "1"}) {
    auto p = u->Parse(unit);
    EXPECT_TRUE(p.ok()) << unit << ": " << p.status().message();
  }
}

TEST(Ucum, ConvertsBetweenCommensurableUnits) {
  EXPECT_DOUBLE_EQ(Conv(5.2, "mmol/L", "mmol/L"), 5.2);
  EXPECT_NEAR(Conv(88, "umol/L", "mmol/L"), 0.088, 1e-12);
  EXPECT_NEAR(Conv(13.5, "g/dL", "g/L"), 135, 1e-9);
  EXPECT_NEAR(Conv(180, "mg/dL", "g/L"), 1.8, 1e-12);
  EXPECT_NEAR(Conv(1.75, "m", "cm"), 175, 1e-9);
  EXPECT_NEAR(Conv(154, "[lb_av]", "kg"), 69.853, 1e-3);
  EXPECT_NEAR(Conv(70, "[in_i]", "cm"), 177.8, 1e-9);
  EXPECT_NEAR(Conv(16, "kPa", "mm[Hg]"), 120.0, 0.05);
  EXPECT_NEAR(Conv(6500, "10*6/L", "10*9/L"), 6.5, 1e-12);
  EXPECT_NEAR(Conv(6.5, "10*3/uL", "10*9/L"), 6.5, 1e-12);
  EXPECT_NEAR(Conv(98.6, "[degF]", "Cel"), 37.0, 1e-9);
  EXPECT_NEAR(Conv(37, "Cel", "K"), 310.15, 1e-9);
  EXPECT_NEAR(Conv(60, "mL/min/{1.73_m2}", "mL/min"), 60, 1e-9);  // annotations count as 1
  EXPECT_NEAR(Conv(2, "h", "min"), 120, 1e-9);
}

TEST(Ucum, RefusesWhatItCannotDo) {
  auto u = Ucum::Embedded();
  // Molar vs mass concentration: needs a molecular weight.
  auto r = u->Convert(5, "mmol/L", "mg/dL");
  EXPECT_EQ(r.status().code(), StatusCode::kIncorrect);
  EXPECT_NE(r.status().message().find("not commensurable"), std::string::npos);
  EXPECT_EQ(u->Convert(1, "[IU]/L", "U/L").status().code(), StatusCode::kIncorrect);
  for (const char* bad : {"", "mmHg", "mmol/", "(mg", "mg)", "m[Hg", "kg/m^2", "xyz", "mg L",
                          "{abc", "m999", "10*999/L"}) {
    EXPECT_FALSE(u->Parse(bad).ok()) << bad;
  }
  EXPECT_EQ(u->Parse("[pH]").status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(u->Parse("Cel/s").status().code(), StatusCode::kUnsupported);
}

TEST(Ucum, NormalisesCommonSpellingsAndPicksPreferredUnits) {
  EXPECT_EQ(Ucum::Normalise("mmHg"), "mm[Hg]");
  EXPECT_EQ(Ucum::Normalise("x10^9/L"), "10*9/L");
  EXPECT_EQ(Ucum::Normalise("mmol/L"), "mmol/L");
  auto u = Ucum::Embedded();
  auto c = u->ToPreferred(154, "[lb_av]", Ucum::DefaultPreferredUnits());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->unit, "kg");
  c = u->ToPreferred(88, "umol/L", Ucum::DefaultPreferredUnits());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->unit, "mmol/L");
  EXPECT_EQ(u->ToPreferred(1, "[IU]", Ucum::DefaultPreferredUnits()).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(u->AtomName("m[Hg]"), "meter of mercury column");
}

TEST(Ucum, RejectsDefinitionsThatAreNotUcumLhc) {
  EXPECT_FALSE(Ucum::FromDefinitions("{}").ok());
  EXPECT_FALSE(Ucum::FromDefinitions("[").ok());
  EXPECT_FALSE(
      Ucum::FromDefinitions(
          R"({"prefixes":{"config":["code_","value_"],"data":[]},"units":{"config":[],"data":[]}})")
          .ok());
}

}  // namespace
}  // namespace lhcr::terminology
