#include "terminology/translate.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "fhir/json.h"

namespace lhcr::terminology {
namespace {

const std::string kLab = "https://fhir.example.nhs.uk/R9A/CodeSystem/lab";
const std::string kMap = "https://fhir.example.nhs.uk/R9A/ConceptMap/local-codes";

std::shared_ptr<const Terminology> Lab() {
  TerminologyBuilder b;
  EXPECT_TRUE(b.AddLocalCodeMap("local_code,display,unit,loinc,snomed\n"
                                "CREA,Creatinine,umol/L,14682-9,1000731000000107\n"
                                "HB,Haemoglobin,g/L,718-7,1022431000000105\n",
                                kLab, kMap)
                  .ok());
  return std::move(b).Build();
}

std::string Bundle(const std::string& code, const std::string& quantity) {
  return R"({"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Observation","status":"final","code":{"coding":[{"system":")" +
         kLab + R"(","code":")" + code + R"(","display":"x"}]},"valueQuantity":)" + quantity +
         R"(},"request":{"method":"PUT","url":"Observation?identifier=a|1"}}]})";
}

TEST(TranslateBundle, AddsTheStandardCodingsBesideTheLocalOne) {
  auto t = Lab();
  auto r = TranslateBundle(*t, *Ucum::Embedded(), {kMap},
                           Bundle("CREA", R"({"value":88,"unit":"umol/L"})"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->changed);
  EXPECT_EQ(r->codings_added, 2);
  EXPECT_EQ(r->quantities_coded, 1);
  EXPECT_TRUE(r->findings.empty());
  auto d = fhir::ParseJson(r->bundle_json);
  ASSERT_TRUE(d.ok());
  const auto& ob = (*d)["entry"][0]["resource"];
  ASSERT_EQ(ob["code"]["coding"].Size(), 3u);
  EXPECT_EQ(std::string(ob["code"]["coding"][0]["code"].GetString()), "CREA");  // kept, first
  EXPECT_EQ(std::string(ob["code"]["coding"][1]["system"].GetString()), "http://loinc.org");
  EXPECT_EQ(std::string(ob["code"]["coding"][1]["code"].GetString()), "14682-9");
  EXPECT_EQ(std::string(ob["code"]["coding"][2]["code"].GetString()), "1000731000000107");
  EXPECT_EQ(fhir::ToJson(ob["valueQuantity"]),
            R"({"value":88,"unit":"umol/L","system":"http://unitsofmeasure.org","code":"umol/L"})");
  // Translating the result again changes nothing: a resend stores nothing.
  auto again = TranslateBundle(*t, *Ucum::Embedded(), {kMap}, r->bundle_json);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->changed);
  EXPECT_EQ(again->bundle_json, r->bundle_json);
}

TEST(TranslateBundle, ConvertsToTheMappedUnitAndKeepsTheOriginal) {
  auto t = Lab();
  auto r = TranslateBundle(*t, *Ucum::Embedded(), {kMap},
                           Bundle("HB", R"({"value":13.50,"unit":"g/dL"})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->quantities_converted, 1);
  auto d = fhir::ParseJson(r->bundle_json);
  EXPECT_EQ(
      fhir::ToJson((*d)["entry"][0]["resource"]["valueQuantity"]),
      R"({"extension":[{"url":"https://lhcr.example.org/fhir/StructureDefinition/original-quantity",)"
      R"("valueQuantity":{"value":13.5,"unit":"g/dL"}}],"value":135.0,"unit":"g/L",)"
      R"("system":"http://unitsofmeasure.org","code":"g/L"})");
}

TEST(TranslateBundle, ReportsUnmappedCodesAndBadUnits) {
  auto t = Lab();
  auto r = TranslateBundle(*t, *Ucum::Embedded(), {kMap},
                           Bundle("K", R"({"value":4.1,"unit":"millimoles"})"));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->findings.size(), 2u);
  EXPECT_EQ(
      r->findings[0],
      (TranslationFinding{"Bundle.entry[0].resource.code.coding[0]", "unmapped-code",
                          "code " + kLab + "|K has no mapping in this source's concept maps"}));
  EXPECT_EQ(r->findings[1].code, "invalid-unit");
  EXPECT_EQ(r->findings[1].location, "Bundle.entry[0].resource.valueQuantity");
  r = TranslateBundle(*t, *Ucum::Embedded(), {kMap},
                      Bundle("CREA", R"({"value":1.2,"unit":"mg/dL"})"));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->findings.size(), 1u);
  EXPECT_EQ(r->findings[0].code, "unit-mismatch");  // molar vs mass: no molecular weight
  // Without the source's map: no codings, no findings; units still coded.
  r = TranslateBundle(*t, *Ucum::Embedded(), {}, Bundle("K", R"({"value":70,"unit":"[lb_av]"})"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->findings.empty());
  EXPECT_EQ(r->codings_added, 0);
  EXPECT_EQ(r->quantities_converted, 1);  // to kg
  // A score is dimensionless like a ratio, but is never converted to one.
  r = TranslateBundle(*t, *Ucum::Embedded(), {}, Bundle("K", R"({"value":3,"unit":"{score}"})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->quantities_converted, 0);
  EXPECT_EQ(r->quantities_coded, 1);
  EXPECT_FALSE(TranslateBundle(*t, *Ucum::Embedded(), {kMap}, "{\"valueQuantity\"").ok());
}

// Real data: the Synthea patient Bundles (US units) translate with no
// invalid unit; g/dL becomes g/L, mg/dL stays as sent.
TEST(TranslateBundle, SyntheaUnitsAreAllUcum) {
  const std::string dir = std::string(LHCR_SHARED_DATA) + "/synthea-r4";
  if (!std::filesystem::is_directory(dir)) GTEST_SKIP() << "no shared data at " << dir;
  TerminologyBuilder empty;
  auto t = std::move(empty).Build();
  int converted = 0, coded = 0, bundles = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".json") continue;
    std::ifstream in(e.path());
    std::stringstream text;
    text << in.rdbuf();
    auto r = TranslateBundle(*t, *Ucum::Embedded(), {}, text.str());
    ASSERT_TRUE(r.ok()) << e.path() << ": " << r.status().message();
    for (const auto& f : r->findings) ADD_FAILURE() << e.path() << ": " << f.message;
    converted += r->quantities_converted;
    coded += r->quantities_coded;
    if (r->changed) {
      auto d = fhir::ParseJson(r->bundle_json);
      ASSERT_TRUE(d.ok());
      for (const auto& entry : (*d)["entry"].GetArray()) {
        const auto* q = fhir::Member(entry["resource"], "valueQuantity");
        if (q != nullptr) {
          EXPECT_NE(fhir::StringMember(*q, "code"), "g/dL");
        }
      }
      auto again = TranslateBundle(*t, *Ucum::Embedded(), {}, r->bundle_json);
      ASSERT_TRUE(again.ok());
      EXPECT_FALSE(again->changed) << e.path();
    }
    ++bundles;
  }
  EXPECT_GT(bundles, 10);
  EXPECT_GT(converted, 0);  // g/dL, 10*3/uL, 10*6/uL
  EXPECT_GE(coded, 0);
}

}  // namespace
}  // namespace lhcr::terminology
