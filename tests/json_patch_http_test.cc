// The FHIR patch interaction with JSON Patch, over real HTTP, against the
// official cases in the shared data (fhir-test-cases json-patch-tests.json).
//
// None of the 16 cases' documents is a FHIR resource: they are RFC 6902's
// appendix documents ({"foo":"bar"}, {"/":9,"~1":10}, ...) with no
// resourceType, so none can be stored and patched as it stands. The
// library-level test (src/fhir/json_patch_test.cc, SharedConformanceCases)
// runs them exactly as written. Here:
//   1. each case's patch is sent as written to a stored Basic, and the HTTP
//      outcome must agree with the library plus validation: where the
//      library fails, a 4xx and the resource unchanged; where it succeeds
//      but the result is not a valid resource (members "baz", "foo", ...),
//      a 4xx and the resource unchanged. Nothing non-FHIR is ever stored.
//   2. the same RFC 6902 appendix cases rewritten onto a Patient (same
//      operation, same kind of target, FHIR element names) must give the
//      RFC's outcome through HTTP PATCH. A.14 (~ escaping) has no FHIR
//      counterpart: FHIR element names never contain '/' or '~'.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <string>

#include "fhir/json.h"
#include "fhir/json_patch.h"
#include "fhir/validator.h"
#include "testing/test_server.h"

namespace lhcr {
namespace {

using fhir::Json;
using fhir::JsonDoc;
using testing::ClientResponse;
using testing::HttpClient;
using testing::TestServer;

const std::vector<std::pair<std::string, std::string>> kPatchHeaders = {
    {"Content-Type", "application/json-patch+json"}};

// The resource without what the server sets (meta.versionId/lastUpdated).
std::string Canonical(std::string_view text) {
  auto doc = fhir::ParseJson(text);
  if (!doc.ok()) return "(not JSON) " + std::string(text);
  if (auto m = doc->FindMember("meta"); m != doc->MemberEnd() && m->value.IsObject()) {
    m->value.RemoveMember("versionId");
    m->value.RemoveMember("lastUpdated");
    if (m->value.ObjectEmpty()) doc->RemoveMember("meta");
  }
  return fhir::ToJson(*doc);
}

bool SameResource(std::string_view a, std::string_view b) {
  auto x = fhir::ParseJson(Canonical(a));
  auto y = fhir::ParseJson(Canonical(b));
  return x.ok() && y.ok() && *x == *y;  // objects compare regardless of member order
}

class JsonPatchHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = TestServer::Start();
    ASSERT_NE(server_, nullptr);
    client_ = std::make_unique<HttpClient>(server_->port());
  }
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(JsonPatchHttpTest, SharedCasesAsWrittenNeverStoreANonResource) {
  const std::string file = testing::SharedDataDir() + "/fhir-test-cases/json-patch-tests.json";
  std::string text = testing::ReadFile(file);
  if (text.empty()) GTEST_SKIP() << "shared test cases not found at " << file;
  auto cases = fhir::ParseJson(text);
  ASSERT_TRUE(cases.ok() && cases->IsArray());
  const fhir::Validator& validator = *fhir::Validator::R4();
  int run = 0, library_failed = 0, invalid_result = 0, applied = 0;
  for (rapidjson::SizeType i = 0; i < cases->Size(); ++i) {
    const Json& c = (*cases)[i];
    SCOPED_TRACE("case " + std::to_string(i) + ": " +
                 std::string(fhir::StringMember(c, "comment")));
    const Json* disabled = fhir::Member(c, "disabled");
    if (disabled != nullptr && disabled->IsBool() && disabled->GetBool()) continue;
    ++run;
    std::string id = "jp" + std::to_string(i);
    std::string basic =
        R"({"resourceType":"Basic","id":")" + id + R"(","code":{"text":"json patch case"}})";
    ClientResponse put = client_->Send("PUT", "/fhir/Basic/" + id, basic);
    ASSERT_EQ(put.status, 201) << put.body;
    std::string patch = fhir::ToJson(c["patch"]);

    // What the library and the validator say about this patch on this doc.
    JsonDoc local;
    local.Parse(basic.c_str());
    Status lib = fhir::ApplyJsonPatch(c["patch"], &local);
    bool valid = lib.ok() && validator.Validate(local).empty();

    ClientResponse r = client_->Call("PATCH", "/fhir/Basic/" + id, patch, kPatchHeaders);
    ClientResponse after = client_->Get("/fhir/Basic/" + id);
    ASSERT_EQ(after.status, 200);
    if (valid) {
      ++applied;
      EXPECT_EQ(r.status, 200) << r.body;
      EXPECT_TRUE(SameResource(after.body, fhir::ToJson(local))) << after.body;
    } else {
      lib.ok() ? ++invalid_result : ++library_failed;
      EXPECT_TRUE(r.status == 400 || r.status == 422) << r.status << " " << r.body;
      EXPECT_NE(r.body.find("OperationOutcome"), std::string::npos) << r.body;
      EXPECT_EQ(after.Header("ETag"), "W/\"1\"")
          << "a refused patch must leave the resource unchanged";
      EXPECT_TRUE(SameResource(after.body, basic)) << after.body;
    }
  }
  std::cout << "json-patch-tests.json over HTTP on a Basic: " << run << " cases, " << library_failed
            << " refused by JSON Patch, " << invalid_result
            << " refused because the result is not a valid resource, " << applied << " applied\n";
  EXPECT_EQ(run, library_failed + invalid_result + applied);
}

// RFC 6902 appendix A cases (the ones in json-patch-tests.json), rewritten
// onto a Patient.
struct FhirCase {
  const char* name;
  const char* patch;
  const char* expected;  // the patched resource, or nullptr for a refusal
};

constexpr const char* kBase =
    R"({"resourceType":"Patient","id":"p","active":true,"gender":"female","multipleBirthInteger":2,)"
    R"("name":[{"family":"Chalmers","given":["all","grass","cows","eat"]}]})";

const FhirCase kFhirCases[] = {
    {"4.1 add with missing object",
     R"([{"op":"add","path":"/contact/0/name","value":{"text":"x"}}])", nullptr},
    {"A.1 adding an object member", R"([{"op":"add","path":"/birthDate","value":"1974-12-25"}])",
     R"({"resourceType":"Patient","id":"p","active":true,"gender":"female","multipleBirthInteger":2,"name":[{"family":"Chalmers","given":["all","grass","cows","eat"]}],"birthDate":"1974-12-25"})"},
    {"A.2 adding an array element", R"([{"op":"add","path":"/name/0/given/1","value":"qux"}])",
     R"({"resourceType":"Patient","id":"p","active":true,"gender":"female","multipleBirthInteger":2,"name":[{"family":"Chalmers","given":["all","qux","grass","cows","eat"]}]})"},
    {"A.3 removing an object member", R"([{"op":"remove","path":"/gender"}])",
     R"({"resourceType":"Patient","id":"p","active":true,"multipleBirthInteger":2,"name":[{"family":"Chalmers","given":["all","grass","cows","eat"]}]})"},
    {"A.4 removing an array element", R"([{"op":"remove","path":"/name/0/given/1"}])",
     R"({"resourceType":"Patient","id":"p","active":true,"gender":"female","multipleBirthInteger":2,"name":[{"family":"Chalmers","given":["all","cows","eat"]}]})"},
    {"A.5 replacing a value", R"([{"op":"replace","path":"/gender","value":"male"}])",
     R"({"resourceType":"Patient","id":"p","active":true,"gender":"male","multipleBirthInteger":2,"name":[{"family":"Chalmers","given":["all","grass","cows","eat"]}]})"},
    {"A.6 moving a value", R"([{"op":"move","from":"/name/0/family","path":"/name/0/text"}])",
     R"({"resourceType":"Patient","id":"p","active":true,"gender":"female","multipleBirthInteger":2,"name":[{"given":["all","grass","cows","eat"],"text":"Chalmers"}]})"},
    {"A.7 moving an array element",
     R"([{"op":"move","from":"/name/0/given/1","path":"/name/0/given/3"}])",
     R"({"resourceType":"Patient","id":"p","active":true,"gender":"female","multipleBirthInteger":2,"name":[{"family":"Chalmers","given":["all","cows","eat","grass"]}]})"},
    {"A.8 testing a value: success",
     R"([{"op":"test","path":"/gender","value":"female"},{"op":"test","path":"/multipleBirthInteger","value":2}])",
     kBase},
    {"A.9 testing a value: error", R"([{"op":"test","path":"/gender","value":"male"}])", nullptr},
    {"A.10 adding a nested member object",
     R"([{"op":"add","path":"/maritalStatus","value":{"coding":[{"code":"M"}]}}])",
     R"({"resourceType":"Patient","id":"p","active":true,"gender":"female","multipleBirthInteger":2,"name":[{"family":"Chalmers","given":["all","grass","cows","eat"]}],"maritalStatus":{"coding":[{"code":"M"}]}})"},
    {"A.11 ignoring unrecognized elements",
     R"([{"op":"add","path":"/birthDate","value":"1974-12-25","xyz":123}])",
     R"({"resourceType":"Patient","id":"p","active":true,"gender":"female","multipleBirthInteger":2,"name":[{"family":"Chalmers","given":["all","grass","cows","eat"]}],"birthDate":"1974-12-25"})"},
    {"A.12 adding to a non-existent target",
     R"([{"op":"add","path":"/maritalStatus/text","value":"x"}])", nullptr},
    {"A.15 comparing strings and numbers",
     R"([{"op":"test","path":"/multipleBirthInteger","value":"2"}])", nullptr},
    // Valid JSON Patch whose result is not FHIR: given[] would hold an array.
    {"A.16 adding an array value",
     R"([{"op":"add","path":"/name/0/given/-","value":["abc","def"]}])", nullptr},
};

TEST_F(JsonPatchHttpTest, AppendixCasesOnAPatient) {
  for (const FhirCase& c : kFhirCases) {
    SCOPED_TRACE(c.name);
    ClientResponse put = client_->Send("PUT", "/fhir/Patient/p", kBase);
    ASSERT_TRUE(put.status == 200 || put.status == 201) << put.body;
    std::string etag = put.Header("ETag");
    ClientResponse r = client_->Call("PATCH", "/fhir/Patient/p", c.patch, kPatchHeaders);
    ClientResponse after = client_->Get("/fhir/Patient/p");
    ASSERT_EQ(after.status, 200);
    if (c.expected != nullptr) {
      EXPECT_EQ(r.status, 200) << r.body;
      EXPECT_NE(r.Header("ETag"), etag);
      EXPECT_EQ(after.Header("ETag"), r.Header("ETag"));
      EXPECT_TRUE(SameResource(after.body, c.expected)) << after.body;
    } else {
      EXPECT_TRUE(r.status == 400 || r.status == 422) << r.status << " " << r.body;
      EXPECT_EQ(after.Header("ETag"), etag);
      EXPECT_TRUE(SameResource(after.body, kBase)) << after.body;
    }
  }
}

}  // namespace
}  // namespace lhcr
