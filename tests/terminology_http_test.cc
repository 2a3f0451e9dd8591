// The terminology operations over HTTP with the real binary and the shipped
// subset (data/terminology): CodeSystem/$lookup, ValueSet/$validate-code,
// ValueSet/$expand and ConceptMap/$translate on GET and POST, the
// CapabilityStatement declaring them, and bad input as OperationOutcomes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "fhir/json.h"
#include "testing/lhcr_process.h"
#include "testing/test_server.h"

namespace lhcr {
namespace {

const std::string kSct = "http://snomed.info/sct";
const std::string kVs = "https://lhcr.example.org/fhir/ValueSet/";

// The value of parameter `name` (value[x] as text), or "".
std::string ParamValue(const fhir::Json& params, const std::string& name) {
  for (const fhir::Json& p : params["parameter"].GetArray()) {
    if (fhir::StringMember(p, "name") != name) continue;
    for (auto it = p.MemberBegin(); it != p.MemberEnd(); ++it) {
      std::string key = it->name.GetString();
      if (key.rfind("value", 0) != 0) continue;
      if (it->value.IsString()) return it->value.GetString();
      if (it->value.IsBool()) return it->value.GetBool() ? "true" : "false";
    }
  }
  return "";
}

std::string IssueCode(const std::string& body) {
  auto d = fhir::ParseJson(body);
  if (!d.ok() || fhir::StringMember(*d, "resourceType") != "OperationOutcome") return "";
  return std::string(fhir::StringMember((*d)["issue"][0], "code"));
}

class TerminologyHttpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    // A ConceptMap of the test's own, loaded beside the shipped subset.
    std::string term = dir_->path() + "/terminology";
    std::filesystem::create_directories(term + "/fhir");
    std::filesystem::copy(std::string(LHCR_SOURCE_DIR) + "/data/terminology", term,
                          std::filesystem::copy_options::recursive |
                              std::filesystem::copy_options::overwrite_existing);
    std::ofstream(term + "/fhir/ConceptMap-test.json") << R"({"resourceType":"ConceptMap",
      "url":"https://example.org/ConceptMap/read-to-sct","group":[{"source":"http://read.info/ctv3",
      "target":"http://snomed.info/sct","element":[{"code":"X40J5","target":[
      {"code":"44054006","equivalence":"equivalent"}]}]}]})";
    std::string error;
    server_ = testing::LhcrProcess::Serve(
                  {"--data", dir_->path() + "/data", "--no-fsync", "--terminology", term}, &error)
                  .release();
    ASSERT_NE(server_, nullptr) << error;
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  testing::ClientResponse Post(const std::string& target, const std::string& body) {
    testing::HttpClient http(server_->port());
    return http.Send("POST", target, body);
  }
  testing::ClientResponse Get(const std::string& target) {
    testing::HttpClient http(server_->port());
    return http.Get(target);
  }
  static testing::TempDir* dir_;
  static testing::LhcrProcess* server_;
};
testing::TempDir* TerminologyHttpTest::dir_ = nullptr;
testing::LhcrProcess* TerminologyHttpTest::server_ = nullptr;

TEST_F(TerminologyHttpTest, LookupGivesDisplayHierarchyAndDmdLevel) {
  auto r = Get("/fhir/CodeSystem/$lookup?system=" + kSct + "&code=325278007");
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = fhir::ParseJson(r.body);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(fhir::StringMember(*d, "resourceType"), "Parameters");
  EXPECT_EQ(ParamValue(*d, "name"), "SNOMED CT");
  EXPECT_EQ(ParamValue(*d, "display"), "Metformin 500mg tablets");
  EXPECT_NE(r.body.find(
                R"({"name":"code","valueCode":"parent"},{"name":"value","valueCode":"109081006"})"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find(R"("valueCode":"dmd-level"},{"name":"value","valueString":"VMP"})"),
            std::string::npos)
      << r.body;
  // POST with a Parameters body, one property asked for.
  r = Post(
      "/fhir/CodeSystem/$lookup",
      R"({"resourceType":"Parameters","parameter":[{"name":"system","valueUri":"http://loinc.org"},
               {"name":"code","valueCode":"718-7"},{"name":"property","valueCode":"parent"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(
      r.body,
      R"({"resourceType":"Parameters","parameter":[{"name":"name","valueString":"LOINC_subset"},)"
      R"({"name":"version","valueString":"2.78"},)"
      R"({"name":"display","valueString":"Hemoglobin [Mass/volume] in Blood"}]})");
  // UCUM codes are looked up by parsing them.
  r = Get("/fhir/CodeSystem/$lookup?system=http://unitsofmeasure.org&code=mL/min/%7B1.73_m2%7D");
  EXPECT_EQ(r.status, 200) << r.body;
  r = Get("/fhir/CodeSystem/$lookup?system=http://unitsofmeasure.org&code=mmHg");
  EXPECT_EQ(r.status, 404) << r.body;
  r = Get("/fhir/CodeSystem/$lookup?system=" + kSct + "&code=1");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(IssueCode(r.body), "not-found");
  r = Get("/fhir/CodeSystem/$lookup?system=" + kSct);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(IssueCode(r.body), "invalid");
  r = Post("/fhir/CodeSystem/$lookup", R"({"resourceType":"Patient"})");
  EXPECT_EQ(r.status, 400);
}

TEST_F(TerminologyHttpTest, ValidateCodeAgainstIntensionalAndExtensionalValueSets) {
  auto r = Get("/fhir/ValueSet/$validate-code?url=" + kVs +
               "isa-conditions-diabetes&system=" + kSct + "&code=44054006");
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = fhir::ParseJson(r.body);
  EXPECT_EQ(ParamValue(*d, "result"), "true");
  r = Post("/fhir/ValueSet/$validate-code",
           R"({"resourceType":"Parameters","parameter":[{"name":"url","valueUri":")" + kVs +
               R"(codelist-conditions-asthma"},{"name":"coding","valueCoding":{"system":")" + kSct +
               R"(","code":"44054006"}}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  d = fhir::ParseJson(r.body);
  EXPECT_EQ(ParamValue(*d, "result"), "false");
  EXPECT_NE(ParamValue(*d, "message").find("is not in value set"), std::string::npos);
  r = Get("/fhir/ValueSet/$validate-code?url=https://nowhere/vs&system=" + kSct + "&code=1");
  EXPECT_EQ(r.status, 404);
  r = Get("/fhir/ValueSet/$validate-code?system=" + kSct + "&code=1");
  EXPECT_EQ(r.status, 400);
}

TEST_F(TerminologyHttpTest, ExpandPagesAndFilters) {
  auto all = Get("/fhir/ValueSet/$expand?url=" + kVs + "isa-conditions-diabetes-type-ii");
  ASSERT_EQ(all.status, 200) << all.body;
  auto d = fhir::ParseJson(all.body);
  ASSERT_TRUE(d.ok());
  int64_t total = (*d)["expansion"]["total"].GetInt64();
  EXPECT_GT(total, 10);
  EXPECT_EQ((*d)["expansion"]["contains"].Size(), static_cast<rapidjson::SizeType>(total));
  auto page =
      Get("/fhir/ValueSet/$expand?url=" + kVs + "isa-conditions-diabetes-type-ii&offset=2&count=3");
  auto p = fhir::ParseJson(page.body);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ((*p)["expansion"]["total"].GetInt64(), total);
  ASSERT_EQ((*p)["expansion"]["contains"].Size(), 3u);
  EXPECT_EQ(std::string((*p)["expansion"]["contains"][0]["code"].GetString()),
            std::string((*d)["expansion"]["contains"][2]["code"].GetString()));
  auto coma =
      Get("/fhir/ValueSet/$expand?url=" + kVs + "isa-conditions-diabetes-type-ii&filter=coma");
  auto c = fhir::ParseJson(coma.body);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)["expansion"]["total"].GetInt64(), 1);
  EXPECT_EQ(std::string((*c)["expansion"]["contains"][0]["code"].GetString()), "190331003");
  EXPECT_EQ(Get("/fhir/ValueSet/$expand?url=" + kVs + "isa-conditions-diabetes&count=x").status,
            400);
  EXPECT_EQ(Get("/fhir/ValueSet/$expand?url=https://nowhere").status, 404);
}

TEST_F(TerminologyHttpTest, TranslateFindsTheMappedCoding) {
  auto r = Get("/fhir/ConceptMap/$translate?system=http://read.info/ctv3&code=X40J5");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(
      r.body,
      R"({"resourceType":"Parameters","parameter":[{"name":"result","valueBoolean":true},)"
      R"j({"name":"message","valueString":"1 mapping(s)"},{"name":"match","part":[)j"
      R"({"name":"equivalence","valueCode":"equivalent"},{"name":"concept","valueCoding":)"
      R"({"system":"http://snomed.info/sct","code":"44054006","display":"Type 2 diabetes mellitus"}},)"
      R"({"name":"source","valueUri":"https://example.org/ConceptMap/read-to-sct"}]}]})");
  r = Post(
      "/fhir/ConceptMap/$translate",
      R"({"resourceType":"Parameters","parameter":[{"name":"url","valueUri":"https://example.org/ConceptMap/read-to-sct"},
               {"name":"coding","valueCoding":{"system":"http://read.info/ctv3","code":"XaaaA"}}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = fhir::ParseJson(r.body);
  EXPECT_EQ(ParamValue(*d, "result"), "false");
  EXPECT_EQ(Get("/fhir/ConceptMap/$translate?url=https://nowhere&system=s&code=c").status, 404);
  EXPECT_EQ(Get("/fhir/ConceptMap/$translate?system=s").status, 400);
}

TEST_F(TerminologyHttpTest, CapabilityStatementDeclaresTheOperations) {
  auto r = Get("/fhir/metadata");
  ASSERT_EQ(r.status, 200);
  for (const char* def :
       {"OperationDefinition/CodeSystem-lookup", "OperationDefinition/ValueSet-validate-code",
        "OperationDefinition/ValueSet-expand", "OperationDefinition/ConceptMap-translate"}) {
    EXPECT_NE(r.body.find(def), std::string::npos) << def;
  }
  // An operation that changes state is still POST only.
  EXPECT_EQ(Get("/fhir/Patient/$match").status, 405);
}

}  // namespace
}  // namespace lhcr
