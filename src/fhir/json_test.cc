#include "fhir/json.h"

#include <gtest/gtest.h>

namespace lhcr::fhir {
namespace {

TEST(JsonTest, ParseErrorNamesOffset) {
  Result<JsonDoc> r = ParseJson("{\"a\":}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIncorrect);
  EXPECT_NE(r.status().message().find("offset 5"), std::string::npos);
}

// A name that is a piece of a longer string is looked up by its own length.
TEST(JsonTest, MemberTakesANameCutFromALongerString) {
  auto doc = ParseJson(R"({"a":1,"a.b":2,"subject":{"reference":"Patient/1"}})");
  ASSERT_TRUE(doc.ok());
  const std::string path = "a.b";
  const Json* a = Member(*doc, std::string_view(path).substr(0, 1));
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->GetInt(), 1);
  const std::string dotted = "subject.reference";
  const Json* subject = Member(*doc, std::string_view(dotted).substr(0, 7));
  ASSERT_NE(subject, nullptr);
  EXPECT_EQ(StringMember(*subject, std::string_view(dotted).substr(8)), "Patient/1");
  EXPECT_EQ(Member(*doc, std::string_view(path).substr(0, 2)), nullptr);  // "a."
}

TEST(JsonTest, KeepsDecimalPrecision) {
  NumberTexts texts;
  auto doc = ParseJsonKeepingNumbers(
      R"({"valueQuantity":{"value":1.50},"n":[72,1e2,0.1],"big":12345678901234567890})", &texts);
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(texts.size(), 2u);  // 1.50 and 1e2; 72, 0.1 and the uint64 are canonical
  EXPECT_EQ(texts.at("/valueQuantity/value"), "1.50");
  EXPECT_EQ(texts.at("/n/1"), "1e2");
  EXPECT_EQ(ToJson(*doc),
            R"({"valueQuantity":{"value":1.5},"n":[72,100.0,0.1],"big":12345678901234567890})");
  EXPECT_EQ(ToJsonKeepingNumbers(*doc, texts, ""),
            R"({"valueQuantity":{"value":1.50},"n":[72,1e2,0.1],"big":12345678901234567890})");
  // A subtree written from where it sits in the parsed text.
  EXPECT_EQ(ToJsonKeepingNumbers((*doc)["valueQuantity"], texts, "/valueQuantity"),
            R"({"value":1.50})");
}

TEST(JsonTest, ChangedNumberIsWrittenAsItIsNow) {
  NumberTexts texts;
  auto doc = ParseJsonKeepingNumbers(R"({"v":1.50})", &texts);
  ASSERT_TRUE(doc.ok());
  (*doc)["v"].SetDouble(2.0);
  EXPECT_EQ(ToJsonKeepingNumbers(*doc, texts, ""), R"({"v":2.0})");
}

TEST(JsonTest, CorrectsNumbersTheParserMisreads) {
  // RapidJSON 1.1.0 with full precision reads "0E42" as about 1.5e23.
  NumberTexts texts;
  auto doc = ParseJsonKeepingNumbers(R"({"a":0E42,"b":[0e40]})", &texts);
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ((*doc)["a"].GetDouble(), 0.0);
  EXPECT_EQ((*doc)["b"][0].GetDouble(), 0.0);
  EXPECT_EQ(ToJsonKeepingNumbers(*doc, texts, ""), R"({"a":0E42,"b":[0e40]})");
}

TEST(JsonTest, RejectsNumbersOutOfRange) {
  NumberTexts texts;
  auto doc = ParseJsonKeepingNumbers(R"({"a":1e400})", &texts);
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().code(), StatusCode::kIncorrect);
}

TEST(JsonTest, PointerEscapes) {
  NumberTexts texts;
  auto doc = ParseJsonKeepingNumbers(R"({"a/b":{"c~d":1.00}})", &texts);
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(texts.at("/a~1b/c~0d"), "1.00");
  EXPECT_EQ(ToJsonKeepingNumbers(*doc, texts, ""), R"({"a/b":{"c~d":1.00}})");
}

}  // namespace
}  // namespace lhcr::fhir
