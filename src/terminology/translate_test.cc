#include "terminology/translate.h"

#include <gtest/gtest.h>

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
  EXPECT_FALSE(TranslateBundle(*t, *Ucum::Embedded(), {kMap}, "{\"valueQuantity\"").ok());
}

}  // namespace
}  // namespace lhcr::terminology
