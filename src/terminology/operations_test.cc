#include "terminology/operations.h"

#include <gtest/gtest.h>

namespace lhcr::terminology {
namespace {

std::shared_ptr<const Terminology> Small() {
  TerminologyBuilder b;
  Status s = b.AddFhirJson(R"({"resourceType":"Bundle","entry":[
    {"resource":{"resourceType":"CodeSystem","url":"http://example.org/cs","name":"Ex",
      "concept":[{"code":"A","display":"Alpha","concept":[{"code":"B","display":"Beta"}]}]}},
    {"resource":{"resourceType":"ValueSet","url":"http://example.org/vs",
      "compose":{"include":[{"system":"http://example.org/cs",
        "filter":[{"property":"concept","op":"is-a","value":"A"}]}]}}}]})");
  EXPECT_TRUE(s.ok()) << s.message();
  return std::move(b).Build();
}

TEST(Operations, ReadsEveryKindOfParameterValue) {
  auto p = ParseParameters(R"({"resourceType":"Parameters","parameter":[
    {"name":"url","valueUri":"u"},{"name":"count","valueInteger":3},
    {"name":"activeOnly","valueBoolean":true},
    {"name":"coding","valueCoding":{"system":"s","code":"c","display":"d"}},
    {"name":"codeableConcept","valueCodeableConcept":{"coding":[{"system":"s2","code":"c2"}]}}]})");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->find("url")->second, "u");
  EXPECT_EQ(p->find("count")->second, "3");
  EXPECT_EQ(p->find("activeOnly")->second, "true");
  EXPECT_EQ(p->find("coding.code")->second, "c");
  EXPECT_EQ(p->find("codeableConcept.system")->second, "s2");
  EXPECT_TRUE(ParseParameters("")->empty());
  EXPECT_EQ(ParseParameters(R"({"resourceType":"Patient"})").status().code(),
            StatusCode::kIncorrect);
  EXPECT_EQ(ParseParameters(R"({"resourceType":"Parameters","parameter":[{"valueString":"x"}]})")
                .status()
                .code(),
            StatusCode::kIncorrect);
}

TEST(Operations, AnswerWithWholeResources) {
  auto t = Small();
  OperationParams lookup = {{"system", "http://example.org/cs"}, {"code", "B"}};
  auto l = LookupOperation(*t, *Ucum::Embedded(), lookup);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(*l, R"({"resourceType":"Parameters","parameter":[{"name":"name","valueString":"Ex"},)"
                R"({"name":"display","valueString":"Beta"},{"name":"property","part":[)"
                R"({"name":"code","valueCode":"inactive"},{"name":"value","valueBoolean":false}]},)"
                R"({"name":"property","part":[{"name":"code","valueCode":"parent"},)"
                R"({"name":"value","valueCode":"A"}]}]})");
  OperationParams expand = {{"url", "http://example.org/vs"}, {"count", "1"}, {"offset", "1"}};
  auto e = ExpandOperation(*t, expand);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e, R"({"resourceType":"ValueSet","url":"http://example.org/vs","status":"active",)"
                R"("expansion":{"identifier":"urn:lhcr:expansion:http://example.org/vs|",)"
                R"("timestamp":"1970-01-01T00:00:00Z","total":2,"offset":1,"parameter":[)"
                R"({"name":"offset","valueInteger":1},{"name":"count","valueInteger":1}],)"
                R"("contains":[{"system":"http://example.org/cs","code":"B","display":"Beta"}]}})");
  OperationParams validate = {{"url", "http://example.org/vs"},
                              {"coding.system", "http://example.org/cs"},
                              {"coding.code", "B"}};
  auto v = ValidateCodeOperation(*t, validate);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v,
            R"({"resourceType":"Parameters","parameter":[{"name":"result","valueBoolean":true},)"
            R"({"name":"display","valueString":"Beta"}]})");
  EXPECT_EQ(
      ExpandOperation(*t, {{"url", "http://example.org/vs"}, {"count", "-1"}}).status().code(),
      StatusCode::kIncorrect);
  EXPECT_EQ(LookupOperation(*t, *Ucum::Embedded(), {{"system", "x"}}).status().code(),
            StatusCode::kIncorrect);
  EXPECT_EQ(
      LookupOperation(*t, *Ucum::Embedded(), {{"system", "x"}, {"code", "y"}}).status().code(),
      StatusCode::kNotFound);
  EXPECT_EQ(TranslateOperation(*t, {{"system", "x"}, {"code", "y"}}).status().code(),
            StatusCode::kNotFound);  // no map loaded at all
}

TEST(Operations, TranslateChoosesMapsBySourceAndTargetScope) {
  TerminologyBuilder b;
  for (const char* m : {
           R"({"resourceType":"ConceptMap","url":"http://m/1","sourceUri":"http://vs/a",
               "targetUri":"http://vs/sct","group":[{"source":"s","target":"t1",
               "element":[{"code":"c","target":[{"code":"x"}]}]}]})",
           R"({"resourceType":"ConceptMap","url":"http://m/2","sourceCanonical":"http://vs/b",
               "group":[{"source":"s","target":"t2",
               "element":[{"code":"c","target":[{"code":"y"}]}]}]})"}) {
    ASSERT_TRUE(b.AddFhirJson(m).ok());
  }
  auto t = std::move(b).Build();
  auto all = TranslateOperation(*t, {{"system", "s"}, {"code", "c"}});
  ASSERT_TRUE(all.ok());
  EXPECT_NE(all->find("\"code\":\"x\""), std::string::npos);
  EXPECT_NE(all->find("\"code\":\"y\""), std::string::npos);
  auto b_only = TranslateOperation(*t, {{"system", "s"}, {"code", "c"}, {"source", "http://vs/b"}});
  ASSERT_TRUE(b_only.ok());
  EXPECT_EQ(b_only->find("\"code\":\"x\""), std::string::npos);
  EXPECT_NE(b_only->find("\"code\":\"y\""), std::string::npos);
  auto to_sct =
      TranslateOperation(*t, {{"system", "s"}, {"code", "c"}, {"target", "http://vs/sct"}});
  ASSERT_TRUE(to_sct.ok());
  EXPECT_NE(to_sct->find("\"code\":\"x\""), std::string::npos);
  EXPECT_EQ(to_sct->find("\"code\":\"y\""), std::string::npos);
  EXPECT_EQ(TranslateOperation(*t, {{"system", "s"}, {"code", "c"}, {"source", "http://vs/z"}})
                .status()
                .code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace lhcr::terminology
