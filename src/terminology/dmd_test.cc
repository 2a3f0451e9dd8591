#include "terminology/dmd.h"

#include <gtest/gtest.h>

#include "terminology/terminology.h"

namespace lhcr::terminology {
namespace {

TEST(Dmd, ParsesTheReleaseElements) {
  auto vtm = ParseDmdXml(
      "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<VIRTUAL_THERAPEUTIC_MOIETIES>"
      "<VTM><VTMID>109081006</VTMID><NM>Metformin</NM></VTM>"
      "<VTM><VTMID>1</VTMID><INVALID>1</INVALID><NM>Old</NM></VTM>"
      "</VIRTUAL_THERAPEUTIC_MOIETIES>");
  ASSERT_TRUE(vtm.ok()) << vtm.status().message();
  ASSERT_EQ(vtm->size(), 2u);
  EXPECT_EQ((*vtm)[0], (DmdProduct{DmdProduct::Level::kVtm, "109081006", "Metformin", "", false}));
  EXPECT_TRUE((*vtm)[1].invalid);
  auto vmp = ParseDmdXml(
      "<VIRTUAL_MED_PRODUCTS><VMPS><VMP><VPID>325278007</VPID><VTMID>109081006</VTMID>"
      "<NM>Metformin 500mg tablets</NM></VMP></VMPS>"
      "<VIRTUAL_PRODUCT_INGREDIENT><VPI><VPID>325278007</VPID><ISID>1</ISID></VPI>"
      "</VIRTUAL_PRODUCT_INGREDIENT></VIRTUAL_MED_PRODUCTS>");
  ASSERT_TRUE(vmp.ok()) << vmp.status().message();
  ASSERT_EQ(vmp->size(), 1u);
  EXPECT_EQ((*vmp)[0].parent, "109081006");
  auto amp = ParseDmdXml(
      "<ACTUAL_MEDICINAL_PRODUCTS><AMPS><AMP><APID>1234511000001109</APID>"
      "<VPID>325278007</VPID><NM>Metformin 500mg tablets</NM><DESC>Metformin 500mg tablets "
      "(A Supplier)</DESC></AMP></AMPS></ACTUAL_MEDICINAL_PRODUCTS>");
  ASSERT_TRUE(amp.ok());
  TerminologyBuilder b;
  AddDmdProducts(*vtm, b);
  AddDmdProducts(*vmp, b);
  AddDmdProducts(*amp, b);
  auto t = std::move(b).Build();
  auto a = t->Lookup(kSnomed, "1234511000001109");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->properties.at("dmd-level"), "AMP");
  EXPECT_TRUE(t->Subsumes(kSnomed, "109081006", "1234511000001109"));  // AMP -> VMP -> VTM
  EXPECT_FALSE(t->Lookup(kSnomed, "1")->active);
}

TEST(Dmd, RejectsBadInput) {
  EXPECT_EQ(ParseDmdXml("<VTM><VTMID>1</VTMID>").status().code(), StatusCode::kIncorrect);
  EXPECT_EQ(ParseDmdXml("<X><VTM><NM>a</NM></VTM></X>").status().code(), StatusCode::kIncorrect);
  EXPECT_EQ(ParseDmdXml("<X><VMP><VPID>12</VPID></VMP></X>").status().code(),
            StatusCode::kIncorrect);
  EXPECT_EQ(ParseDmdXml("").status().code(), StatusCode::kIncorrect);
  // No entity expansion, no network: an external entity is not fetched.
  auto ext = ParseDmdXml(
      "<!DOCTYPE x [<!ENTITY e SYSTEM \"http://example.org/x\">]><X><VTM><VTMID>1</VTMID>"
      "<NM>&e;</NM></VTM></X>");
  EXPECT_FALSE(ext.ok());
}

}  // namespace
}  // namespace lhcr::terminology
