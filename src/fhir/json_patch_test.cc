#include "fhir/json_patch.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

namespace lhcr::fhir {
namespace {

JsonDoc Parse(std::string_view text) {
  Result<JsonDoc> doc = ParseJson(text);
  EXPECT_TRUE(doc.ok()) << doc.status().ToString() << " in " << text;
  return doc.ok() ? std::move(doc).value() : JsonDoc();
}

// Applies `patch` to `doc`; returns the status and the resulting document
// (compact JSON) so a test can assert the whole outcome.
struct Outcome {
  Status status;
  std::string doc;
};

Outcome Apply(std::string_view doc, std::string_view patch) {
  JsonDoc target = Parse(doc);
  JsonDoc p = Parse(patch);
  Status st = ApplyJsonPatch(p, &target);
  return {st, ToJson(target)};
}

// Patched successfully into `expected` (compared as compact JSON text, so
// member order matters here: JSON Patch keeps the order of untouched members
// and appends added ones).
void ExpectPatched(std::string_view doc, std::string_view patch, std::string_view expected) {
  Outcome out = Apply(doc, patch);
  EXPECT_TRUE(out.status.ok()) << out.status.ToString();
  EXPECT_EQ(out.doc, ToJson(Parse(expected)));
}

// Failed with exactly `message`, leaving the document unchanged.
void ExpectFailed(std::string_view doc, std::string_view patch, std::string_view message) {
  Outcome out = Apply(doc, patch);
  EXPECT_EQ(out.status, Status::Incorrect(std::string(message)));
  EXPECT_EQ(out.doc, ToJson(Parse(doc)));
}

TEST(JsonPatchTest, EmptyPatchChangesNothing) { ExpectPatched(R"({"a":1})", "[]", R"({"a":1})"); }

TEST(JsonPatchTest, AddMemberAppendsAndReplacesExisting) {
  ExpectPatched(R"({"a":1,"b":2})", R"([{"op":"add","path":"/c","value":3}])",
                R"({"a":1,"b":2,"c":3})");
  ExpectPatched(R"({"a":1,"b":2})", R"([{"op":"add","path":"/a","value":[9]}])",
                R"({"a":[9],"b":2})");
}

TEST(JsonPatchTest, AddIntoArray) {
  ExpectPatched(R"([1,2,3])", R"([{"op":"add","path":"/0","value":0}])", "[0,1,2,3]");
  ExpectPatched(R"([1,2,3])", R"([{"op":"add","path":"/2","value":9}])", "[1,2,9,3]");
  ExpectPatched(R"([1,2,3])", R"([{"op":"add","path":"/3","value":4}])", "[1,2,3,4]");
  ExpectPatched(R"([1,2,3])", R"([{"op":"add","path":"/-","value":4}])", "[1,2,3,4]");
  ExpectPatched(R"({"a":[]})", R"([{"op":"add","path":"/a/-","value":{"x":1}}])",
                R"({"a":[{"x":1}]})");
}

TEST(JsonPatchTest, AddRejectsBadIndexes) {
  ExpectFailed("[1,2,3]", R"([{"op":"add","path":"/4","value":0}])",
               "patch operation 0 (add): path /4: index 4 is out of bounds for the document root "
               "(size 3)");
  ExpectFailed("[1,2,3]", R"([{"op":"add","path":"/01","value":0}])",
               "patch operation 0 (add): path /01: \"01\" is not a valid array index for the "
               "document root");
  ExpectFailed("[1,2,3]", R"([{"op":"add","path":"/-1","value":0}])",
               "patch operation 0 (add): path /-1: \"-1\" is not a valid array index for the "
               "document root");
  ExpectFailed("[1]", R"([{"op":"add","path":"/99999999999999999999999","value":0}])",
               "patch operation 0 (add): path /99999999999999999999999: index "
               "99999999999999999999999 is out of bounds for the document root (size 1)");
}

TEST(JsonPatchTest, AddDoesNotCreateMissingParents) {
  ExpectFailed(R"({"q":{"bar":2}})", R"([{"op":"add","path":"/a/b","value":1}])",
               "patch operation 0 (add): path /a/b: /a does not exist");
  ExpectFailed(R"({"a":"text"})", R"([{"op":"add","path":"/a/b","value":1}])",
               "patch operation 0 (add): path /a/b: /a is not an object or array");
}

TEST(JsonPatchTest, AddOrReplaceAtRootReplacesDocument) {
  ExpectPatched(R"({"a":1})", R"([{"op":"add","path":"","value":[1]}])", "[1]");
  ExpectPatched(R"({"a":1})", R"([{"op":"replace","path":"","value":{"b":2}}])", R"({"b":2})");
}

TEST(JsonPatchTest, RemoveKeepsOrderOfOtherMembers) {
  ExpectPatched(R"({"a":1,"b":2,"c":3,"d":4})", R"([{"op":"remove","path":"/a"}])",
                R"({"b":2,"c":3,"d":4})");
  ExpectPatched(R"({"a":[1,2,3]})", R"([{"op":"remove","path":"/a/0"}])", R"({"a":[2,3]})");
}

TEST(JsonPatchTest, RemoveErrors) {
  ExpectFailed(R"({"a":1})", R"([{"op":"remove","path":"/b"}])",
               "patch operation 0 (remove): path /b does not exist");
  ExpectFailed(R"({"a":[1]})", R"([{"op":"remove","path":"/a/1"}])",
               "patch operation 0 (remove): path /a/1 does not exist");
  ExpectFailed(R"({"a":[1]})", R"([{"op":"remove","path":"/a/-"}])",
               "patch operation 0 (remove): path /a/- does not exist: \"-\" names the position "
               "after the last element of /a");
  ExpectFailed(R"({"a":1})", R"([{"op":"remove","path":""}])",
               "patch operation 0 (remove): path : the whole document cannot be removed");
}

TEST(JsonPatchTest, ReplaceNeedsAnExistingTarget) {
  ExpectPatched(R"({"name":[{"a":1}]})", R"([{"op":"replace","path":"/name/0/a","value":2}])",
                R"({"name":[{"a":2}]})");
  ExpectFailed(R"({"a":1})", R"([{"op":"replace","path":"/b","value":2}])",
               "patch operation 0 (replace): path /b does not exist");
}

TEST(JsonPatchTest, ErrorNamesOperationIndexAndLeavesTargetUnchanged) {
  // The first two operations succeed on the working copy; the third fails.
  ExpectFailed(R"({"name":[1,2,3],"x":true})",
               R"([{"op":"remove","path":"/x"},
                   {"op":"add","path":"/name/-","value":4},
                   {"op":"replace","path":"/name/5","value":0}])",
               "patch operation 2 (replace): path /name/5 does not exist");
}

TEST(JsonPatchTest, PointerEscapes) {
  ExpectPatched(R"({"a/b":1,"m~n":2})",
                R"([{"op":"replace","path":"/a~1b","value":10},
                    {"op":"replace","path":"/m~0n","value":20}])",
                R"({"a/b":10,"m~n":20})");
  // "~01" is "~1" (decoded once, left to right), not "/".
  ExpectPatched(R"({"/":9,"~1":10})", R"([{"op":"replace","path":"/~01","value":0}])",
                R"({"/":9,"~1":0})");
  // The empty token is a member named "".
  ExpectPatched(R"({"":1})", R"([{"op":"replace","path":"/","value":2}])", R"({"":2})");
  ExpectFailed(R"({"a":1})", R"([{"op":"remove","path":"/a~2"}])",
               "patch operation 0 (remove): path /a~2 is not a JSON Pointer: '~' must be "
               "followed by '0' or '1'");
  ExpectFailed(R"({"a":1})", R"([{"op":"remove","path":"/a~"}])",
               "patch operation 0 (remove): path /a~ is not a JSON Pointer: '~' must be "
               "followed by '0' or '1'");
  ExpectFailed(R"({"a":1})", R"([{"op":"remove","path":"a"}])",
               "patch operation 0 (remove): path a is not a JSON Pointer: it must be empty or "
               "start with '/'");
}

TEST(JsonPatchTest, MoveWithinObjectAndArray) {
  ExpectPatched(R"({"a":{"b":1},"c":{}})", R"([{"op":"move","from":"/a/b","path":"/c/d"}])",
                R"({"a":{},"c":{"d":1}})");
  ExpectPatched(R"({"foo":["all","grass","cows","eat"]})",
                R"([{"op":"move","from":"/foo/1","path":"/foo/3"}])",
                R"({"foo":["all","cows","eat","grass"]})");
  ExpectPatched(R"({"a":{"b":1}})", R"([{"op":"move","from":"/a","path":"/a"}])",
                R"({"a":{"b":1}})");
  ExpectPatched(R"({"a":{"b":1}})", R"([{"op":"move","from":"/a","path":""}])", R"({"b":1})");
}

TEST(JsonPatchTest, MoveErrors) {
  ExpectFailed(R"({"a":{"b":1}})", R"([{"op":"move","from":"/a","path":"/a/c"}])",
               "patch operation 0 (move): path /a/c is inside from /a: a value cannot be moved "
               "into its own child");
  ExpectFailed(R"({"a":1})", R"([{"op":"move","from":"","path":"/b"}])",
               "patch operation 0 (move): path /b is inside from : a value cannot be moved into "
               "its own child");
  ExpectFailed(R"({"a":1})", R"([{"op":"move","from":"/x","path":"/b"}])",
               "patch operation 0 (move): from /x does not exist");
  ExpectFailed(R"({"a":1})", R"([{"op":"move","from":"/x","path":"/x"}])",
               "patch operation 0 (move): from /x does not exist");
  ExpectFailed(R"({"a":1})", R"([{"op":"move","path":"/b"}])",
               "patch operation 0 (move): missing \"from\" (a string)");
  // "/ab" is not inside "/a": prefixes are compared by token, not by text.
  ExpectPatched(R"({"a":1,"ab":{}})", R"([{"op":"move","from":"/a","path":"/ab/x"}])",
                R"({"ab":{"x":1}})");
}

TEST(JsonPatchTest, CopyIsDeepAndMayTargetOwnChild) {
  ExpectPatched(R"({"a":{"b":[1]}})",
                R"([{"op":"copy","from":"/a","path":"/a/c"},
                    {"op":"add","path":"/a/b/-","value":2}])",
                R"({"a":{"b":[1,2],"c":{"b":[1]}}})");
  ExpectFailed(R"({"a":1})", R"([{"op":"copy","from":"/x","path":"/b"}])",
               "patch operation 0 (copy): from /x does not exist");
}

TEST(JsonPatchTest, TestComparesByValue) {
  const char* doc = R"({"n":1,"f":2.5,"big":18446744073709551615,"neg":-3,
                        "o":{"x":1,"y":[true,null,"s"]}})";
  ExpectPatched(doc,
                R"([{"op":"test","path":"/n","value":1.0},
                    {"op":"test","path":"/n","value":1e0},
                    {"op":"test","path":"/f","value":25e-1},
                    {"op":"test","path":"/big","value":18446744073709551615},
                    {"op":"test","path":"/neg","value":-3.0},
                    {"op":"test","path":"/o","value":{"y":[true,null,"s"],"x":1}}])",
                doc);
  const char* unequal[] = {
      R"({"op":"test","path":"/n","value":"1"})",
      R"({"op":"test","path":"/n","value":1.5})",
      R"({"op":"test","path":"/n","value":true})",
      R"({"op":"test","path":"/neg","value":18446744073709551613})",
      R"({"op":"test","path":"/o","value":{"x":1}})",
      R"({"op":"test","path":"/o","value":{"x":1,"y":[true,null]}})",
      R"({"op":"test","path":"/o","value":{"x":1,"z":[true,null,"s"]}})",
      R"({"op":"test","path":"/o/y","value":[null,true,"s"]})",
  };
  for (const char* op : unequal) {
    std::string path = Member(Parse(op), "path")->GetString();
    ExpectFailed(doc, "[" + std::string(op) + "]",
                 "patch operation 0 (test): path " + path + ": the value is not the one expected");
  }
  ExpectFailed(doc, R"([{"op":"test","path":"/zzz","value":1}])",
               "patch operation 0 (test): path /zzz does not exist");
}

TEST(JsonPatchTest, MalformedOperations) {
  ExpectFailed("{}", R"({"op":"add","path":"/a","value":1})",
               "a JSON Patch must be an array of operations");
  ExpectFailed("{}", "[1]", "patch operation 0: not an object");
  ExpectFailed("{}", R"([{"path":"/a"}])", "patch operation 0: missing \"op\" (a string)");
  ExpectFailed("{}", R"([{"op":"frobnicate","path":"/a"}])",
               "patch operation 0 (frobnicate): unknown op");
  ExpectFailed("{}", R"([{"op":"add","value":1}])",
               "patch operation 0 (add): missing \"path\" (a string)");
  ExpectFailed("{}", R"([{"op":"add","path":5,"value":1}])",
               "patch operation 0 (add): missing \"path\" (a string)");
  ExpectFailed("{}", R"([{"op":"add","path":"/a"}])", "patch operation 0 (add): missing \"value\"");
  ExpectFailed(R"({"a":1})", R"([{"op":"test","path":"/a"}])",
               "patch operation 0 (test): missing \"value\"");
  ExpectFailed("{}", R"([{"op":"x)" + std::string(60, 'y') + R"(","path":"/a"}])",
               "patch operation 0 (x" + std::string(39, 'y') + "...): unknown op");
  // Unknown members are ignored (RFC 6902 section 4), and null is a value.
  ExpectPatched("{}", R"([{"op":"add","path":"/a","value":null,"xyz":1}])", R"({"a":null})");
}

TEST(JsonPatchTest, TargetRemainsUsableAfterSuccessfulPatch) {
  // The patched document owns its values: the patch may be destroyed.
  JsonDoc target = Parse(R"({"a":"x"})");
  {
    JsonDoc patch = Parse(R"([{"op":"add","path":"/b","value":"a fairly long string value"}])");
    ASSERT_TRUE(ApplyJsonPatch(patch, &target).ok());
  }
  EXPECT_EQ(ToJson(target), R"({"a":"x","b":"a fairly long string value"})");
  JsonDoc patch2 = Parse(R"([{"op":"copy","from":"/b","path":"/c"}])");
  ASSERT_TRUE(ApplyJsonPatch(patch2, &target).ok());
  EXPECT_EQ(ToJson(target),
            R"({"a":"x","b":"a fairly long string value","c":"a fairly long string value"})");
}

// Runs every case of the shared json-patch-tests.json (the format of the
// json-patch/json-patch-tests suite): {comment, doc, patch, expected | error,
// disabled?}. A case with "error" must fail, leaving the doc unchanged; the
// error text is the suite's, not ours, so only failure is asserted.
TEST(JsonPatchTest, SharedConformanceCases) {
  const std::string file = LHCR_SHARED_DATA "/fhir-test-cases/json-patch-tests.json";
  std::ifstream in(file);
  if (!in) GTEST_SKIP() << "shared test cases not found at " << file;
  std::stringstream text;
  text << in.rdbuf();
  JsonDoc cases = Parse(text.str());
  ASSERT_TRUE(cases.IsArray()) << file << " is not an array of cases";

  int passed = 0, failed = 0, disabled = 0, expect_ok = 0, expect_error = 0;
  for (rapidjson::SizeType i = 0; i < cases.Size(); ++i) {
    const Json& c = cases[i];
    std::string name = "case " + std::to_string(i) + ": " + std::string(StringMember(c, "comment"));
    SCOPED_TRACE(name);
    const Json* disabled_flag = Member(c, "disabled");
    if (disabled_flag != nullptr && disabled_flag->IsBool() && disabled_flag->GetBool()) {
      ++disabled;
      continue;
    }
    const Json* doc = Member(c, "doc");
    const Json* patch = Member(c, "patch");
    const Json* expected = Member(c, "expected");
    bool wants_error = Member(c, "error") != nullptr;
    ASSERT_TRUE(doc != nullptr && patch != nullptr) << "malformed case";
    JsonDoc target;
    target.CopyFrom(*doc, target.GetAllocator());
    const std::string before = ToJson(target);
    Status st = ApplyJsonPatch(*patch, &target);
    bool ok;
    if (wants_error) {
      ++expect_error;
      ok = !st.ok() && st.code() == StatusCode::kIncorrect && ToJson(target) == before;
      EXPECT_TRUE(ok) << "expected an error (" << StringMember(c, "error") << "), got "
                      << st.ToString() << " and " << ToJson(target);
    } else {
      ++expect_ok;
      // rapidjson's == compares objects regardless of member order.
      ok = st.ok() && (expected == nullptr || target == *expected);
      EXPECT_TRUE(ok) << st.ToString() << "; got " << ToJson(target) << ", want "
                      << (expected ? ToJson(*expected) : "(no expected: only success)");
    }
    ok ? ++passed : ++failed;
    if (ok && wants_error) std::cout << "  [" << name << "] error: " << st.message() << "\n";
  }
  std::cout << "json-patch-tests.json: " << cases.Size() << " cases, " << passed << " passed ("
            << expect_ok << " expecting a result, " << expect_error << " expecting an error), "
            << failed << " failed, " << disabled << " disabled\n";
  RecordProperty("passed", passed);
  RecordProperty("failed", failed);
  RecordProperty("disabled", disabled);
  EXPECT_GT(passed, 0);
}

}  // namespace
}  // namespace lhcr::fhir
