#include "terminology/rf2.h"

#include <gtest/gtest.h>

#include "terminology/terminology.h"

namespace lhcr::terminology {
namespace {

const char* kConcepts =
    "id\teffectiveTime\tactive\tmoduleId\tdefinitionStatusId\r\n"
    "73211009\t20020131\t1\t900000000000207008\t900000000000074008\r\n"
    "44054006\t20020131\t1\t900000000000207008\t900000000000074008\r\n"
    "44054006\t20010101\t0\t900000000000207008\t900000000000074008\r\n"  // older row
    "190331003\t20020131\t0\t900000000000207008\t900000000000074008\r\n";
const char* kDescriptions =
    "id\teffectiveTime\tactive\tmoduleId\tconceptId\tlanguageCode\ttypeId\tterm\tcaseSignificanceId"
    "\r\n"
    "121589010\t20170731\t1\t900000000000207008\t73211009\ten\t900000000000003001\tDiabetes "
    "mellitus (disorder)\t900000000000448009\r\n"
    "121589011\t20170731\t1\t900000000000207008\t73211009\ten\t900000000000013009\tDiabetes "
    "mellitus\t900000000000448009\r\n"
    "73599013\t20170731\t1\t900000000000207008\t44054006\ten\t900000000000013009\tType II "
    "diabetes mellitus\t900000000000448009\r\n"
    "73599014\t20170731\t1\t900000000000207008\t44054006\ten\t900000000000013009\tType 2 "
    "diabetes mellitus\t900000000000448009\r\n"
    "73599015\t20170731\t0\t900000000000207008\t44054006\ten\t900000000000013009\tRetired "
    "term\t900000000000448009\r\n";
const char* kRelationships =
    "id\teffectiveTime\tactive\tmoduleId\tsourceId\tdestinationId\trelationshipGroup\ttypeId\t"
    "characteristicTypeId\tmodifierId\r\n"
    "100000028\t20020131\t1\t900000000000207008\t44054006\t73211009\t0\t116680003\t"
    "900000000000011006\t900000000000451002\r\n"
    "100000029\t20020131\t1\t900000000000207008\t44054006\t113331007\t1\t363698007\t"
    "900000000000011006\t900000000000451002\r\n"
    "100000030\t20020131\t0\t900000000000207008\t190331003\t44054006\t0\t116680003\t"
    "900000000000011006\t900000000000451002\r\n";
const char* kLanguage =
    "id\teffectiveTime\tactive\tmoduleId\trefsetId\treferencedComponentId\tacceptabilityId\r\n"
    "a1\t20170731\t1\t900000000000207008\t999001261000000100\t73599014\t900000000000548007\r\n";

TEST(Rf2, LoadsConceptsTermsAndIsA) {
  Rf2Content content;
  ASSERT_TRUE(ParseRf2Concepts(kConcepts, &content).ok());
  ASSERT_TRUE(ParseRf2Descriptions(kDescriptions, &content).ok());
  ASSERT_TRUE(ParseRf2Relationships(kRelationships, &content).ok());
  ASSERT_TRUE(ParseRf2Language(kLanguage, &content).ok());
  EXPECT_EQ(content.concepts.size(), 3u);
  EXPECT_TRUE(content.concepts["44054006"].active);  // the newer row wins
  EXPECT_EQ(content.is_a.size(), 2u);                // the attribute row is skipped
  TerminologyBuilder b;
  content.AddTo(b);
  auto t = std::move(b).Build();
  auto dm = t->Lookup(kSnomed, "73211009");
  ASSERT_TRUE(dm.ok());
  EXPECT_EQ(dm->display, "Diabetes mellitus");  // a synonym over the FSN
  EXPECT_EQ(dm->children, std::vector<std::string>{"44054006"});
  auto t2 = t->Lookup(kSnomed, "44054006");
  ASSERT_TRUE(t2.ok());
  EXPECT_EQ(t2->display, "Type 2 diabetes mellitus");  // the language refset's preferred term
  EXPECT_EQ(t2->designations, std::vector<std::string>{"Type II diabetes mellitus"});
  EXPECT_EQ(t2->parents, std::vector<std::string>{"73211009"});
  EXPECT_EQ(t2->version, "http://snomed.info/sct/version/20020131");
  EXPECT_FALSE(t->Lookup(kSnomed, "190331003")->active);
  EXPECT_TRUE(t->Subsumes(kSnomed, "73211009", "44054006"));
  EXPECT_FALSE(t->Subsumes(kSnomed, "44054006", "190331003"));  // inactive edge
}

TEST(Rf2, RejectsMalformedFiles) {
  Rf2Content c;
  Status s = ParseRf2Concepts("id\teffectiveTime\tactive\tmoduleId\n", &c);
  EXPECT_EQ(s.code(), StatusCode::kIncorrect);
  EXPECT_NE(s.message().find("line 1"), std::string::npos) << s.message();
  s = ParseRf2Concepts(
      "id\teffectiveTime\tactive\tmoduleId\tdefinitionStatusId\n"
      "73211009\t2002013\t1\t900000000000207008\t900000000000074008\n",
      &c);
  EXPECT_EQ(s.code(), StatusCode::kIncorrect);
  EXPECT_NE(s.message().find("line 2: effectiveTime"), std::string::npos) << s.message();
  s = ParseRf2Concepts(
      "id\teffectiveTime\tactive\tmoduleId\tdefinitionStatusId\n"
      "7321x009\t20020131\t1\t900000000000207008\t900000000000074008\n",
      &c);
  EXPECT_EQ(s.code(), StatusCode::kIncorrect);
  s = ParseRf2Concepts(
      "id\teffectiveTime\tactive\tmoduleId\tdefinitionStatusId\n"
      "73211009\t20020131\t2\t900000000000207008\t900000000000074008\n",
      &c);
  EXPECT_EQ(s.code(), StatusCode::kIncorrect);
  EXPECT_EQ(ParseRf2Concepts("", &c).code(), StatusCode::kIncorrect);
  EXPECT_EQ(ParseRf2Descriptions(kConcepts, &c).code(), StatusCode::kIncorrect);
}

}  // namespace
}  // namespace lhcr::terminology
