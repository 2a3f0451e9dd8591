// The FHIR REST API end to end: a real lhcr on loopback, real HTTP. Each
// test states the whole outcome the R4 spec asks for
// (http://hl7.org/fhir/R4/http.html, search.html): status, headers, the
// OperationOutcome issue code and the resource fields that matter.
#include <gtest/gtest.h>
#include <rapidjson/pointer.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "api/fhir_api.h"
#include "api/http.h"
#include "base/time.h"
#include "fhir/json.h"
#include "testing/test_server.h"

namespace lhcr {
namespace {

using fhir::Json;
using fhir::JsonDoc;
using testing::ClientResponse;
using testing::HttpClient;
using testing::TestServer;
using Headers = std::vector<std::pair<std::string, std::string>>;
using Ids = std::vector<std::string>;

JsonDoc Parse(const std::string& body) {
  auto d = fhir::ParseJson(body);
  EXPECT_TRUE(d.ok()) << "not JSON: " << body;
  if (!d.ok()) {
    JsonDoc empty;
    empty.SetObject();
    return empty;
  }
  return std::move(d).value();
}

// The value at a JSON Pointer ("/name/0/family"), or null.
const Json* At(const Json& doc, const char* pointer) {
  return rapidjson::Pointer(pointer).Get(doc);
}

// The string at a JSON Pointer, "" when absent or not a string.
std::string Str(const Json& doc, const char* pointer) {
  const Json* v = At(doc, pointer);
  return v != nullptr && v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : "";
}

std::string Str(const std::string& body, const char* pointer) {
  JsonDoc d = Parse(body);
  return Str(d, pointer);
}

// issue[*].code of an OperationOutcome body.
Ids IssueCodes(const std::string& body) {
  JsonDoc d = Parse(body);
  Ids out;
  EXPECT_EQ(Str(d, "/resourceType"), "OperationOutcome") << body;
  const Json* issues = At(d, "/issue");
  if (issues == nullptr || !issues->IsArray()) return out;
  for (const Json& i : issues->GetArray()) out.push_back(Str(i, "/code"));
  return out;
}

// Ids of the entries with search.mode `mode`, in Bundle order.
Ids EntryIds(const std::string& body, const std::string& mode = "match") {
  JsonDoc d = Parse(body);
  Ids out;
  const Json* entries = At(d, "/entry");
  if (entries == nullptr) return out;
  for (const Json& e : entries->GetArray()) {
    if (Str(e, "/search/mode") != mode) continue;
    out.push_back(mode == "match"
                      ? Str(e, "/resource/id")
                      : Str(e, "/resource/resourceType") + "/" + Str(e, "/resource/id"));
  }
  return out;
}

Ids Sorted(Ids v) {
  std::sort(v.begin(), v.end());
  return v;
}

// The URL of the link with `relation`, made relative to the server ("/fhir?.."); "" if none.
std::string LinkPath(const std::string& body, const std::string& relation) {
  JsonDoc d = Parse(body);
  const Json* links = At(d, "/link");
  if (links == nullptr) return "";
  for (const Json& l : links->GetArray()) {
    if (Str(l, "/relation") != relation) continue;
    std::string url = Str(l, "/url");
    size_t p = url.find("/fhir");
    return p == std::string::npos ? url : url.substr(p);
  }
  return "";
}

int64_t Total(const std::string& body) {
  JsonDoc d = Parse(body);
  const Json* t = At(d, "/total");
  return t != nullptr && t->IsInt64() ? t->GetInt64() : -1;
}

// "id" from a Location like http://h/fhir/Patient/id/_history/1.
std::string IdFromLocation(const std::string& loc, const std::string& type) {
  const std::string l = "/" + loc;  // a Bundle's response.location is relative
  size_t p = l.find("/" + type + "/");
  if (p == std::string::npos) return "";
  std::string id = l.substr(p + type.size() + 2);
  return id.substr(0, id.find('/'));
}

class FhirRestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = TestServer::Start();
    ASSERT_NE(server_, nullptr);
    client_ = std::make_unique<HttpClient>(server_->port());
  }

  ClientResponse Get(const std::string& target, const Headers& h = {}) {
    return client_->Call("GET", target, "", h);
  }
  ClientResponse Post(const std::string& target, const std::string& body, Headers h = {}) {
    return client_->Send("POST", target, body, std::move(h));
  }
  ClientResponse Put(const std::string& target, const std::string& body, Headers h = {}) {
    return client_->Send("PUT", target, body, std::move(h));
  }
  ClientResponse Delete(const std::string& target, const Headers& h = {}) {
    return client_->Call("DELETE", target, "", h);
  }

  // POSTs a resource, expects 201, returns the assigned id.
  std::string Create(const std::string& type, const std::string& json) {
    ClientResponse r = Post("/fhir/" + type, json);
    EXPECT_EQ(r.status, 201) << r.body;
    return Str(r.body, "/id");
  }
  // PUTs a resource with a client id, expects 201.
  void CreateAs(const std::string& type, const std::string& id, const std::string& json) {
    ClientResponse r = Put("/fhir/" + type + "/" + id, json);
    EXPECT_EQ(r.status, 201) << r.body;
  }
  // The ids a search matched (all on one page).
  Ids Search(const std::string& type_and_query) {
    ClientResponse r = Get("/fhir/" + type_and_query);
    EXPECT_EQ(r.status, 200) << type_and_query << ": " << r.body;
    return Sorted(EntryIds(r.body));
  }

  std::unique_ptr<TestServer> server_;
  std::unique_ptr<HttpClient> client_;
};

std::string PatientJson(const std::string& family, const std::string& extra = "") {
  return R"({"resourceType":"Patient","name":[{"family":")" + family + R"("}])" +
         (extra.empty() ? "" : "," + extra) + "}";
}

std::string PatientWithId(const std::string& id, const std::string& family) {
  return R"({"resourceType":"Patient","id":")" + id + R"(","name":[{"family":")" + family +
         R"("}]})";
}

// ---------------------------------------------------------------- read/vread

// Only GET/HEAD of Type/id and Type/id/_history/vid (and /healthz) run on
// the I/O threads; everything else may block and goes to the workers.
TEST(FhirApiTest, OnlyReadsByIdAreCheap) {
  auto cheap = [](std::string method, std::string target) {
    api::HttpRequest r;
    r.method = std::move(method);
    r.target = std::move(target);
    return api::FhirApi::IsCheap(r);
  };
  EXPECT_TRUE(cheap("GET", "/fhir/Patient/p1"));
  EXPECT_TRUE(cheap("HEAD", "/fhir/Patient/p1"));
  EXPECT_TRUE(cheap("GET", "/fhir/Patient//p1/"));  // empty segments, as SplitPath
  EXPECT_TRUE(cheap("GET", "/fhir/Patient/p1/_history/2"));
  EXPECT_TRUE(cheap("GET", "/healthz"));
  EXPECT_FALSE(cheap("PUT", "/fhir/Patient/p1"));
  EXPECT_FALSE(cheap("DELETE", "/fhir/Patient/p1"));
  EXPECT_FALSE(cheap("GET", "/fhir/Patient/p1?_summary=true"));
  EXPECT_FALSE(cheap("GET", "/fhir/Patient"));
  EXPECT_FALSE(cheap("GET", "/fhir/Patient/_history"));
  EXPECT_FALSE(cheap("GET", "/fhir/Patient/_search"));
  EXPECT_FALSE(cheap("GET", "/fhir/Patient/p1/_history"));
  EXPECT_FALSE(cheap("GET", "/fhir/Patient/p1/x/2"));
  EXPECT_FALSE(cheap("GET", "/fhir/Patient/p1/_history/2/x"));
  EXPECT_FALSE(cheap("GET", "/fhir/a/b/c/d/e/f"));
  EXPECT_FALSE(cheap("GET", "/fhir/metadata"));
  EXPECT_FALSE(cheap("GET", "/fhir"));
  EXPECT_FALSE(cheap("GET", "/fhirx/Patient/p1"));
  EXPECT_FALSE(cheap("GET", "/metrics"));
}

TEST_F(FhirRestTest, CreateThenRead) {
  ClientResponse c = Post("/fhir/Patient", R"({"resourceType":"Patient","gender":"female"})");
  ASSERT_EQ(c.status, 201) << c.body;
  EXPECT_EQ(c.Header("ETag"), "W/\"1\"");
  std::string id = IdFromLocation(c.Header("Location"), "Patient");
  ClientResponse r = Get("/fhir/Patient/" + id);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, c.body);
  EXPECT_EQ(r.Header("Content-Type"), "application/fhir+json; charset=utf-8");
  EXPECT_EQ(r.Header("ETag"), "W/\"1\"");
  EXPECT_EQ(r.Header("Last-Modified"), c.Header("Last-Modified"));
}

TEST_F(FhirRestTest, ReadVReadNotFoundAndGone) {
  CreateAs("Patient", "p1", PatientWithId("p1", "One"));
  ASSERT_EQ(Put("/fhir/Patient/p1", PatientWithId("p1", "Two")).status, 200);

  ClientResponse r = Get("/fhir/Patient/p1");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("ETag"), "W/\"2\"");
  EXPECT_EQ(Str(r.body, "/name/0/family"), "Two");
  EXPECT_EQ(Str(r.body, "/meta/versionId"), "2");

  ClientResponse v1 = Get("/fhir/Patient/p1/_history/1");
  ASSERT_EQ(v1.status, 200);
  EXPECT_EQ(v1.Header("ETag"), "W/\"1\"");
  EXPECT_EQ(Str(v1.body, "/name/0/family"), "One");
  EXPECT_EQ(Str(v1.body, "/meta/versionId"), "1");

  ClientResponse v9 = Get("/fhir/Patient/p1/_history/9");
  EXPECT_EQ(v9.status, 404);
  EXPECT_EQ(IssueCodes(v9.body), Ids{"not-found"});

  ClientResponse unknown = Get("/fhir/Patient/nobody");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(IssueCodes(unknown.body), Ids{"not-found"});

  ClientResponse bad_type = Get("/fhir/NoSuchType/1");
  EXPECT_EQ(bad_type.status, 404);
  EXPECT_EQ(IssueCodes(bad_type.body), Ids{"not-found"});
  EXPECT_EQ(Get("/fhir/NoSuchType").status, 404);
  EXPECT_EQ(Post("/fhir/NoSuchType", R"({"resourceType":"NoSuchType"})").status, 404);

  ClientResponse d = Delete("/fhir/Patient/p1");
  EXPECT_EQ(d.status, 204);
  EXPECT_EQ(d.body, "");

  ClientResponse gone = Get("/fhir/Patient/p1");
  EXPECT_EQ(gone.status, 410);
  EXPECT_EQ(IssueCodes(gone.body), Ids{"deleted"});
  ClientResponse gone_v = Get("/fhir/Patient/p1/_history/3");
  EXPECT_EQ(gone_v.status, 410);
  EXPECT_EQ(IssueCodes(gone_v.body), Ids{"deleted"});
  // Older versions stay readable.
  ClientResponse v2 = Get("/fhir/Patient/p1/_history/2");
  ASSERT_EQ(v2.status, 200);
  EXPECT_EQ(Str(v2.body, "/name/0/family"), "Two");
}

// ---------------------------------------------------------------- create/update

TEST_F(FhirRestTest, CreateIgnoresBodyIdAndSetsHeaders) {
  ClientResponse c = Post("/fhir/Patient", PatientWithId("mine", "Body"));
  ASSERT_EQ(c.status, 201) << c.body;
  std::string id = Str(c.body, "/id");
  EXPECT_FALSE(id.empty());
  EXPECT_NE(id, "mine");  // R4 3.1.0.8: the server assigns the id
  EXPECT_EQ(c.Header("Location"), server_->base() + "/Patient/" + id + "/_history/1");
  EXPECT_EQ(c.Header("ETag"), "W/\"1\"");
  EXPECT_NE(c.Header("Last-Modified").find(" GMT"), std::string::npos) << c.Header("Last-Modified");
  EXPECT_EQ(Str(c.body, "/meta/versionId"), "1");
  EXPECT_EQ(Str(c.body, "/name/0/family"), "Body");
  EXPECT_EQ(Get("/fhir/Patient/mine").status, 404);
}

TEST_F(FhirRestTest, UpdateMakesANewVersion) {
  std::string id = Create("Patient", PatientJson("First"));
  ClientResponse u = Put("/fhir/Patient/" + id, PatientWithId(id, "Second"));
  ASSERT_EQ(u.status, 200) << u.body;
  EXPECT_EQ(u.Header("ETag"), "W/\"2\"");
  EXPECT_EQ(Str(u.body, "/meta/versionId"), "2");
  EXPECT_EQ(Str(u.body, "/name/0/family"), "Second");
  EXPECT_EQ(Str(Get("/fhir/Patient/" + id).body, "/name/0/family"), "Second");
}

TEST_F(FhirRestTest, UpdateAfterDeleteContinuesTheVersions) {
  CreateAs("Patient", "again", PatientWithId("again", "One"));
  ASSERT_EQ(Delete("/fhir/Patient/again").status, 204);
  ClientResponse patch = client_->Call("PATCH", "/fhir/Patient/again",
                                       R"([{"op":"add","path":"/active","value":true}])",
                                       {{"Content-Type", "application/json-patch+json"}});
  EXPECT_EQ(patch.status, 410);
  EXPECT_EQ(IssueCodes(patch.body), Ids{"deleted"});
  ClientResponse u = Put("/fhir/Patient/again", PatientWithId("again", "Three"));
  ASSERT_EQ(u.status, 201) << u.body;  // brought back to life: a create
  EXPECT_EQ(u.Header("ETag"), "W/\"3\"");
  EXPECT_EQ(u.Header("Location"), server_->base() + "/Patient/again/_history/3");
  EXPECT_EQ(Str(u.body, "/meta/versionId"), "3");
  EXPECT_EQ(Get("/fhir/Patient/again/_history/2").status, 410);
  EXPECT_EQ(Str(Get("/fhir/Patient/again/_history/1").body, "/name/0/family"), "One");
}

TEST_F(FhirRestTest, HeadIsGetWithoutBody) {
  CreateAs("Patient", "hd", PatientWithId("hd", "Head"));
  ClientResponse h = client_->Call("HEAD", "/fhir/Patient/hd");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, "");
  EXPECT_EQ(h.Header("ETag"), "W/\"1\"");
  // The Content-Length a GET would have: the length of the resource.
  ClientResponse g = Get("/fhir/Patient/hd");
  EXPECT_EQ(h.Header("Content-Length"), std::to_string(g.body.size()));
  EXPECT_NE(h.Header("Content-Length"), "0");
  EXPECT_EQ(client_->Call("HEAD", "/fhir/Patient/none").status, 404);
  // The connection is still in step afterwards.
  EXPECT_EQ(Str(Get("/fhir/Patient/hd").body, "/id"), "hd");
}

TEST_F(FhirRestTest, UpdateAsCreateWithClientId) {
  ClientResponse u = Put("/fhir/Patient/client-1", PatientWithId("client-1", "Chosen"));
  ASSERT_EQ(u.status, 201) << u.body;
  EXPECT_EQ(u.Header("Location"), server_->base() + "/Patient/client-1/_history/1");
  EXPECT_EQ(u.Header("ETag"), "W/\"1\"");
  EXPECT_EQ(Str(u.body, "/id"), "client-1");
}

TEST_F(FhirRestTest, UpdateErrors) {
  ClientResponse mismatch = Put("/fhir/Patient/a", PatientWithId("b", "X"));
  EXPECT_EQ(mismatch.status, 400);
  EXPECT_EQ(IssueCodes(mismatch.body), Ids{"invalid"});

  ClientResponse no_id = Put("/fhir/Patient/a", PatientJson("X"));
  EXPECT_EQ(no_id.status, 400);
  EXPECT_EQ(IssueCodes(no_id.body), Ids{"invalid"});

  ClientResponse bad_id = Put("/fhir/Patient/a_b", PatientWithId("a_b", "X"));
  EXPECT_EQ(bad_id.status, 400);
  EXPECT_EQ(IssueCodes(bad_id.body), Ids{"invalid"});

  ClientResponse wrong_type = Put("/fhir/Patient/a", R"({"resourceType":"Practitioner","id":"a"})");
  EXPECT_EQ(wrong_type.status, 400);
  EXPECT_EQ(IssueCodes(wrong_type.body), Ids{"invalid"});

  ClientResponse wrong_type_post = Post("/fhir/Patient", R"({"resourceType":"Practitioner"})");
  EXPECT_EQ(wrong_type_post.status, 400);
  EXPECT_EQ(IssueCodes(wrong_type_post.body), Ids{"invalid"});

  EXPECT_EQ(Get("/fhir/Patient/a").status, 404);  // nothing was stored
}

// ---------------------------------------------------------------- conditional

TEST_F(FhirRestTest, ConditionalCreate) {
  const std::string body = PatientJson("Cond", R"("identifier":[{"system":"urn:s","value":"1"}])");
  const Headers cond = {{"If-None-Exist", "identifier=urn:s|1"}};
  ClientResponse first = Post("/fhir/Patient", body, cond);
  ASSERT_EQ(first.status, 201) << first.body;
  std::string id = Str(first.body, "/id");

  ClientResponse again = Post("/fhir/Patient", body, cond);
  ASSERT_EQ(again.status, 200) << again.body;  // R4 3.1.0.8.1: one match -> 200, nothing created
  EXPECT_EQ(Str(again.body, "/id"), id);
  EXPECT_EQ(again.Header("ETag"), "W/\"1\"");
  EXPECT_EQ(Search("Patient?identifier=urn:s|1"), Ids{id});

  ASSERT_EQ(Post("/fhir/Patient", body).status, 201);  // a second one, unconditionally
  ClientResponse many = Post("/fhir/Patient", body, cond);
  EXPECT_EQ(many.status, 412);
  EXPECT_EQ(IssueCodes(many.body), Ids{"conflict"});
  EXPECT_EQ(Search("Patient?identifier=urn:s|1").size(), 2u);
}

TEST_F(FhirRestTest, ConditionalUpdate) {
  const std::string body = PatientJson("CU", R"("identifier":[{"system":"urn:s","value":"cu"}])");
  ClientResponse created = Put("/fhir/Patient?identifier=urn:s|cu", body);
  ASSERT_EQ(created.status, 201) << created.body;
  std::string id = Str(created.body, "/id");
  EXPECT_EQ(created.Header("ETag"), "W/\"1\"");

  ClientResponse updated =
      Put("/fhir/Patient?identifier=urn:s|cu",
          PatientJson("CU2", R"("identifier":[{"system":"urn:s","value":"cu"}])"));
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(Str(updated.body, "/id"), id);
  EXPECT_EQ(updated.Header("ETag"), "W/\"2\"");
  EXPECT_EQ(Str(Get("/fhir/Patient/" + id).body, "/name/0/family"), "CU2");

  // A body id that is not the match's id is an error (R4 3.1.0.4.3).
  ClientResponse other_id = Put(
      "/fhir/Patient?identifier=urn:s|cu",
      R"({"resourceType":"Patient","id":"someone-else","identifier":[{"system":"urn:s","value":"cu"}]})");
  EXPECT_EQ(other_id.status, 400);
  EXPECT_EQ(IssueCodes(other_id.body), Ids{"invalid"});

  ASSERT_EQ(Post("/fhir/Patient", body).status, 201);
  ClientResponse many = Put("/fhir/Patient?identifier=urn:s|cu", body);
  EXPECT_EQ(many.status, 412);
  EXPECT_EQ(IssueCodes(many.body), Ids{"conflict"});
  EXPECT_EQ(Get("/fhir/Patient/" + id).Header("ETag"), "W/\"2\"");
}

TEST_F(FhirRestTest, DeleteAndConditionalDelete) {
  std::string id = Create("Patient", PatientJson("Del"));
  ClientResponse d = Delete("/fhir/Patient/" + id);
  EXPECT_EQ(d.status, 204);
  EXPECT_EQ(Get("/fhir/Patient/" + id).status, 410);
  // Deleting what is not there (or already deleted) succeeds (R4 3.1.0.7.1).
  EXPECT_EQ(Delete("/fhir/Patient/never-was").status, 204);
  EXPECT_EQ(Delete("/fhir/Patient/" + id).status, 204);

  std::string one = Create(
      "Patient", PatientJson("Single", R"("identifier":[{"system":"urn:s","value":"one"}])"));
  ClientResponse cd = Delete("/fhir/Patient?identifier=urn:s|one");
  EXPECT_EQ(cd.status, 204);
  EXPECT_EQ(Get("/fhir/Patient/" + one).status, 410);

  std::string m1 =
      Create("Patient", PatientJson("Many", R"("identifier":[{"system":"urn:s","value":"m"}])"));
  std::string m2 =
      Create("Patient", PatientJson("Many", R"("identifier":[{"system":"urn:s","value":"m"}])"));
  ClientResponse many = Delete("/fhir/Patient?identifier=urn:s|m");
  EXPECT_EQ(many.status, 412);
  EXPECT_EQ(IssueCodes(many.body), Ids{"conflict"});
  EXPECT_EQ(Get("/fhir/Patient/" + m1).status, 200);
  EXPECT_EQ(Get("/fhir/Patient/" + m2).status, 200);
}

// ---------------------------------------------------------------- headers

TEST_F(FhirRestTest, IfMatch) {
  CreateAs("Patient", "im", PatientWithId("im", "A"));
  ClientResponse ok = Put("/fhir/Patient/im", PatientWithId("im", "B"), {{"If-Match", "W/\"1\""}});
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.Header("ETag"), "W/\"2\"");

  ClientResponse stale =
      Put("/fhir/Patient/im", PatientWithId("im", "C"), {{"If-Match", "W/\"1\""}});
  EXPECT_EQ(stale.status, 412);
  EXPECT_EQ(IssueCodes(stale.body), Ids{"conflict"});

  ClientResponse malformed =
      Put("/fhir/Patient/im", PatientWithId("im", "C"), {{"If-Match", "banana"}});
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(IssueCodes(malformed.body), Ids{"invalid"});

  ClientResponse stale_delete = Delete("/fhir/Patient/im", {{"If-Match", "W/\"1\""}});
  EXPECT_EQ(stale_delete.status, 412);
  EXPECT_EQ(Str(Get("/fhir/Patient/im").body, "/name/0/family"), "B");
  EXPECT_EQ(Delete("/fhir/Patient/im", {{"If-Match", "W/\"2\""}}).status, 204);
}

TEST_F(FhirRestTest, IfNoneMatchAndIfModifiedSince) {
  CreateAs("Patient", "inm", PatientWithId("inm", "A"));
  ClientResponse same = Get("/fhir/Patient/inm", {{"If-None-Match", "W/\"1\""}});
  EXPECT_EQ(same.status, 304);
  EXPECT_EQ(same.body, "");
  EXPECT_EQ(same.Header("ETag"), "W/\"1\"");
  ClientResponse other = Get("/fhir/Patient/inm", {{"If-None-Match", "W/\"7\""}});
  EXPECT_EQ(other.status, 200);
  EXPECT_EQ(Str(other.body, "/id"), "inm");

  ClientResponse exists =
      Put("/fhir/Patient/inm", PatientWithId("inm", "B"), {{"If-None-Match", "*"}});
  EXPECT_EQ(exists.status, 412);
  EXPECT_EQ(IssueCodes(exists.body), Ids{"conflict"});
  EXPECT_EQ(
      Put("/fhir/Patient/fresh", PatientWithId("fresh", "B"), {{"If-None-Match", "*"}}).status,
      201);

  // If-None-Match: * matches any current version (RFC 7232 3.2).
  EXPECT_EQ(Get("/fhir/Patient/inm", {{"If-None-Match", "*"}}).status, 304);

  std::string lm = Get("/fhir/Patient/inm").Header("Last-Modified");
  // When both are sent, If-None-Match decides (RFC 7232 6): a different
  // version is modified whatever the date says.
  ClientResponse both =
      Get("/fhir/Patient/inm", {{"If-None-Match", "W/\"7\""}, {"If-Modified-Since", lm}});
  EXPECT_EQ(both.status, 200);
  EXPECT_EQ(Str(both.body, "/id"), "inm");
  ClientResponse not_modified = Get("/fhir/Patient/inm", {{"If-Modified-Since", lm}});
  EXPECT_EQ(not_modified.status, 304);
  EXPECT_EQ(not_modified.body, "");
  ClientResponse modified =
      Get("/fhir/Patient/inm", {{"If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT"}});
  EXPECT_EQ(modified.status, 200);
  EXPECT_EQ(Str(modified.body, "/id"), "inm");
}

TEST_F(FhirRestTest, PreferReturn) {
  ClientResponse minimal =
      Post("/fhir/Patient", PatientJson("Min"), {{"Prefer", "return=minimal"}});
  ASSERT_EQ(minimal.status, 201);
  EXPECT_EQ(minimal.body, "");
  EXPECT_EQ(minimal.Header("ETag"), "W/\"1\"");
  std::string id = IdFromLocation(minimal.Header("Location"), "Patient");
  ASSERT_FALSE(id.empty());

  ClientResponse rep =
      Put("/fhir/Patient/" + id, PatientWithId(id, "Rep"), {{"Prefer", "return=representation"}});
  ASSERT_EQ(rep.status, 200);
  EXPECT_EQ(Str(rep.body, "/resourceType"), "Patient");
  EXPECT_EQ(Str(rep.body, "/name/0/family"), "Rep");

  ClientResponse oo =
      Put("/fhir/Patient/" + id, PatientWithId(id, "OO"), {{"Prefer", "return=OperationOutcome"}});
  ASSERT_EQ(oo.status, 200);
  EXPECT_EQ(IssueCodes(oo.body), Ids{"informational"});
  EXPECT_EQ(oo.Header("ETag"), "W/\"3\"");
}

// ---------------------------------------------------------------- history

TEST_F(FhirRestTest, InstanceHistory) {
  CreateAs("Patient", "h", PatientWithId("h", "V1"));
  ASSERT_EQ(Put("/fhir/Patient/h", PatientWithId("h", "V2")).status, 200);
  ASSERT_EQ(Delete("/fhir/Patient/h").status, 204);

  ClientResponse r = Get("/fhir/Patient/h/_history");
  ASSERT_EQ(r.status, 200) << r.body;
  JsonDoc d = Parse(r.body);
  EXPECT_EQ(Str(d, "/type"), "history");
  EXPECT_EQ(Total(r.body), 3);
  const Json* e = At(d, "/entry");
  ASSERT_TRUE(e != nullptr && e->IsArray());
  ASSERT_EQ(e->Size(), 3u);
  // Newest first; the deletion has no resource.
  EXPECT_EQ(Str(d, "/entry/0/request/method"), "DELETE");
  EXPECT_EQ(Str(d, "/entry/0/request/url"), "Patient/h");
  EXPECT_EQ(Str(d, "/entry/0/response/status"), "204 No Content");
  EXPECT_EQ(At(d, "/entry/0/resource"), nullptr);
  EXPECT_EQ(Str(d, "/entry/1/request/method"), "PUT");
  EXPECT_EQ(Str(d, "/entry/1/response/status"), "200 OK");
  EXPECT_EQ(Str(d, "/entry/1/response/etag"), "W/\"2\"");
  EXPECT_EQ(Str(d, "/entry/1/resource/name/0/family"), "V2");
  // A PUT that created the resource: R4 allows either POST or PUT here; we
  // report the create as what it did (201).
  EXPECT_EQ(Str(d, "/entry/2/response/status"), "201 Created");
  EXPECT_EQ(Str(d, "/entry/2/resource/name/0/family"), "V1");

  EXPECT_EQ(Get("/fhir/Patient/nobody/_history").status, 404);
}

TEST_F(FhirRestTest, TypeAndSystemHistoryWithPagingAndSince) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(Create("Patient", PatientJson("H" + std::to_string(i))));
  std::this_thread::sleep_for(std::chrono::milliseconds(3));  // lastUpdated has ms precision
  std::string obs = Create(
      "Observation", R"({"resourceType":"Observation","status":"final","code":{"text":"x"}})");

  // Type history, two at a time, following next links.
  std::set<std::string> seen;
  std::string next = "/fhir/Patient/_history?_count=2";
  int pages = 0;
  while (!next.empty() && pages < 10) {
    ClientResponse r = Get(next);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(Total(r.body), 5);
    JsonDoc d = Parse(r.body);
    for (const Json& e : At(d, "/entry")->GetArray()) {
      EXPECT_EQ(Str(e, "/request/method"), "POST");
      EXPECT_EQ(Str(e, "/response/status"), "201 Created");
      seen.insert(Str(e, "/resource/id"));
    }
    // A write between pages does not shift them.
    if (pages == 0) Create("Patient", PatientJson("Late"));
    next = LinkPath(r.body, "next");
    ++pages;
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, std::set<std::string>(ids.begin(), ids.end()));

  ClientResponse sys = Get("/fhir/_history");
  ASSERT_EQ(sys.status, 200);
  EXPECT_EQ(Total(sys.body), 7);
  EXPECT_EQ(Str(sys.body, "/entry/0/resource/name/0/family"), "Late");

  // _since: only versions at or after the instant.
  std::string since = Str(Get("/fhir/Observation/" + obs).body, "/meta/lastUpdated");
  ClientResponse s = Get("/fhir/_history?_since=" + since);
  ASSERT_EQ(s.status, 200) << s.body;
  Ids since_ids;
  JsonDoc sd = Parse(s.body);
  for (const Json& e : At(sd, "/entry")->GetArray()) since_ids.push_back(Str(e, "/resource/id"));
  EXPECT_EQ(since_ids.size(), 2u);  // the Observation and the late Patient
  EXPECT_NE(std::find(since_ids.begin(), since_ids.end(), obs), since_ids.end());
  EXPECT_EQ(Get("/fhir/_history?_since=yesterday").status, 400);
}

// ---------------------------------------------------------------- search

class SearchTest : public FhirRestTest {};

TEST_F(SearchTest, TokenSearch) {
  auto obs = [](const std::string& system, const std::string& code) {
    return R"({"resourceType":"Observation","status":"final","code":{"coding":[{"system":")" +
           system + R"(","code":")" + code + R"("}]}})";
  };
  std::string a = Create("Observation", obs("http://loinc.org", "1234-5"));
  std::string b = Create("Observation", obs("http://other.org", "1234-5"));
  std::string c = Create(
      "Observation",
      R"({"resourceType":"Observation","status":"final","code":{"coding":[{"code":"1234-5"}]}})");
  std::string d = Create("Observation", obs("http://loinc.org", "9999-9"));

  EXPECT_EQ(Search("Observation?code=1234-5"), Sorted({a, b, c}));
  EXPECT_EQ(Search("Observation?code=http://loinc.org|1234-5"), Ids{a});
  EXPECT_EQ(Search("Observation?code=|1234-5"), Ids{c});
  EXPECT_EQ(Search("Observation?code=http://loinc.org|"), Sorted({a, d}));
  EXPECT_EQ(Search("Observation?code=1234-5,9999-9"), Sorted({a, b, c, d}));
  EXPECT_EQ(Search("Observation?code:not=1234-5"), Ids{d});
  EXPECT_EQ(Search("Observation?status=final&code=9999-9"), Ids{d});
}

TEST_F(SearchTest, StringSearch) {
  std::string smith = Create("Patient", PatientJson("Smith"));
  std::string smithson = Create("Patient", PatientJson("Smithson"));
  std::string jones = Create("Patient", PatientJson("Jones"));
  std::string accent = Create("Patient", PatientJson("Sm\u00edth"));
  EXPECT_EQ(Search("Patient?family=smi"),
            Sorted({smith, smithson, accent}));  // prefix, case/accent-insensitive
  EXPECT_EQ(Search("Patient?family:exact=Smith"), Ids{smith});
  EXPECT_EQ(Search("Patient?family:exact=smith"), Ids{});
  EXPECT_EQ(Search("Patient?family:contains=ITH"), Sorted({smith, smithson, accent}));
  EXPECT_EQ(Search("Patient?family:contains=one"), Ids{jones});
  EXPECT_EQ(Search("Patient?name=jon"), Ids{jones});
}

TEST_F(SearchTest, DatePrefixesAndPrecision) {
  std::string a = Create("Patient", PatientJson("A", R"("birthDate":"1980-01-01")"));
  std::string b = Create("Patient", PatientJson("B", R"("birthDate":"1990-06-15")"));
  std::string c = Create("Patient", PatientJson("C", R"("birthDate":"2000-12-31")"));
  Create("Patient", PatientJson("NoDate"));

  EXPECT_EQ(Search("Patient?birthdate=1990-06-15"), Ids{b});
  EXPECT_EQ(Search("Patient?birthdate=eq1990-06-15"), Ids{b});
  EXPECT_EQ(Search("Patient?birthdate=ne1990-06-15"), Sorted({a, c}));
  EXPECT_EQ(Search("Patient?birthdate=gt1990-06-15"), Ids{c});
  EXPECT_EQ(Search("Patient?birthdate=lt1990-06-15"), Ids{a});
  EXPECT_EQ(Search("Patient?birthdate=ge1990-06-15"), Sorted({b, c}));
  EXPECT_EQ(Search("Patient?birthdate=le1990-06-15"), Sorted({a, b}));
  EXPECT_EQ(Search("Patient?birthdate=sa1990-06-15"), Ids{c});
  EXPECT_EQ(Search("Patient?birthdate=eb1990-06-15"), Ids{a});
  EXPECT_EQ(Search("Patient?birthdate=ap1990-06-14"), Ids{b});
  EXPECT_EQ(Search("Patient?birthdate=ap1995-01-01"), Ids{});
  // Precision: the search value is a range.
  EXPECT_EQ(Search("Patient?birthdate=1990"), Ids{b});
  EXPECT_EQ(Search("Patient?birthdate=1990-06"), Ids{b});
  EXPECT_EQ(Search("Patient?birthdate=1990-07"), Ids{});
  EXPECT_EQ(Search("Patient?birthdate=ge1990"), Sorted({b, c}));
  EXPECT_EQ(Search("Patient?birthdate=lt1990"), Ids{a});
  EXPECT_EQ(Search("Patient?birthdate=ge1980&birthdate=lt2000"), Sorted({a, b}));

  std::string o = Create(
      "Observation",
      R"({"resourceType":"Observation","status":"final","code":{"text":"t"},"effectiveDateTime":"2021-03-04T10:30:00Z"})");
  EXPECT_EQ(Search("Observation?date=2021-03-04T10:30:00Z"), Ids{o});
  EXPECT_EQ(Search("Observation?date=2021-03-04"), Ids{o});
  EXPECT_EQ(Search("Observation?date=2021-03"), Ids{o});
  EXPECT_EQ(Search("Observation?date=2021-03-04T10:31:00Z"), Ids{});
  EXPECT_EQ(Search("Observation?date=gt2021-03-04T10:00:00Z"), Ids{o});
  EXPECT_EQ(Search("Observation?date=lt2021-03-04T10:00:00Z"), Ids{});
  // '+' in a query string is a space; a time zone offset must be %2B.
  EXPECT_EQ(Search("Observation?date=2021-03-04T11:30:00%2B01:00"), Ids{o});

  ClientResponse bad = Get("/fhir/Patient?birthdate=notadate");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(IssueCodes(bad.body), Ids{"invalid"});
}

TEST_F(SearchTest, ReferenceSearch) {
  std::string alpha = Create("Patient", PatientJson("Alpha"));
  std::string beta = Create("Patient", PatientJson("Beta"));
  std::string group = Create("Group", R"({"resourceType":"Group","type":"person","actual":true})");
  auto obs = [](const std::string& subject) {
    return R"({"resourceType":"Observation","status":"final","code":{"text":"t"},"subject":)" +
           subject + "}";
  };
  std::string oa = Create("Observation", obs(R"({"reference":"Patient/)" + alpha + R"("})"));
  std::string ob = Create("Observation", obs(R"({"reference":"Patient/)" + beta + R"("})"));
  std::string og = Create("Observation", obs(R"({"reference":"Group/)" + group + R"("})"));
  std::string oi =
      Create("Observation", obs(R"({"identifier":{"system":"urn:nhs","value":"943"}})"));

  EXPECT_EQ(Search("Observation?subject=" + alpha), Ids{oa});
  EXPECT_EQ(Search("Observation?subject=Patient/" + alpha), Ids{oa});
  EXPECT_EQ(Search("Observation?subject:Patient=" + beta), Ids{ob});
  EXPECT_EQ(Search("Observation?subject:Group=" + beta), Ids{});
  EXPECT_EQ(Search("Observation?subject=Group/" + group), Ids{og});
  EXPECT_EQ(Search("Observation?patient=" + alpha), Ids{oa});
  EXPECT_EQ(Search("Observation?subject:Patient.name=alpha"), Ids{oa});
  EXPECT_EQ(Search("Observation?subject.family=beta"), Ids{ob});
  EXPECT_EQ(Search("Observation?patient.family=nobody"), Ids{});
  EXPECT_EQ(Search("Observation?subject:identifier=urn:nhs|943"), Ids{oi});
  EXPECT_EQ(Search("Observation?subject:identifier=urn:nhs|944"), Ids{});
}

TEST_F(SearchTest, QuantityNumberUriAndComposite) {
  auto vq = [](const std::string& code, double v, const std::string& unit) {
    return R"({"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":")" +
           code + R"("}]},"valueQuantity":{"value":)" + std::to_string(v) +
           R"(,"system":"http://unitsofmeasure.org","code":")" + unit + R"("}})";
  };
  std::string glucose = Create("Observation", vq("15074-8", 5.4, "mmol/L"));
  std::string sys = Create("Observation", vq("8480-6", 120, "mm[Hg]"));
  std::string dia = Create("Observation", vq("8462-4", 80, "mm[Hg]"));

  EXPECT_EQ(Search("Observation?value-quantity=5.4"), Ids{glucose});
  EXPECT_EQ(Search("Observation?value-quantity=5.4|http://unitsofmeasure.org|mmol/L"),
            Ids{glucose});
  EXPECT_EQ(Search("Observation?value-quantity=5.4||mmol/L"), Ids{glucose});
  EXPECT_EQ(Search("Observation?value-quantity=5.4|http://unitsofmeasure.org|mg"), Ids{});
  EXPECT_EQ(Search("Observation?value-quantity=gt100"), Ids{sys});
  EXPECT_EQ(Search("Observation?value-quantity=ge80|http://unitsofmeasure.org|mm%5BHg%5D"),
            Sorted({sys, dia}));
  EXPECT_EQ(Search("Observation?value-quantity=lt80"), Ids{glucose});
  EXPECT_EQ(Search("Observation?value-quantity=le80"), Sorted({glucose, dia}));
  EXPECT_EQ(Search("Observation?value-quantity=ne80"), Sorted({glucose, sys}));
  EXPECT_EQ(Search("Observation?value-quantity=ap118"), Ids{sys});

  // Composite: code and value of the same observation.
  EXPECT_EQ(Search("Observation?code-value-quantity=http://loinc.org|8480-6$gt100"), Ids{sys});
  EXPECT_EQ(Search("Observation?code-value-quantity=http://loinc.org|8462-4$gt100"), Ids{});
  EXPECT_EQ(
      Search("Observation?code-value-quantity=8462-4$80|http://unitsofmeasure.org|mm%5BHg%5D"),
      Ids{dia});

  // Number.
  auto risk = [](const std::string& p) {
    return R"({"resourceType":"RiskAssessment","status":"final","subject":{"reference":"Patient/x"},"prediction":[{"probabilityDecimal":)" +
           p + "}]}";
  };
  std::string high = Create("RiskAssessment", risk("0.8"));
  std::string low = Create("RiskAssessment", risk("0.25"));
  EXPECT_EQ(Search("RiskAssessment?probability=0.8"), Ids{high});
  EXPECT_EQ(Search("RiskAssessment?probability=gt0.5"), Ids{high});
  EXPECT_EQ(Search("RiskAssessment?probability=lt0.5"), Ids{low});
  EXPECT_EQ(Search("RiskAssessment?probability=0.25"), Ids{low});
  EXPECT_EQ(Get("/fhir/RiskAssessment?probability=high").status, 400);

  // Uri.
  std::string vs = Create(
      "ValueSet",
      R"({"resourceType":"ValueSet","status":"active","url":"http://example.org/fhir/ValueSet/a"})");
  Create("ValueSet",
         R"({"resourceType":"ValueSet","status":"active","url":"http://elsewhere.org/vs"})");
  EXPECT_EQ(Search("ValueSet?url=http://example.org/fhir/ValueSet/a"), Ids{vs});
  EXPECT_EQ(Search("ValueSet?url=http://example.org/fhir"), Ids{});
  EXPECT_EQ(Search("ValueSet?url:below=http://example.org/fhir"), Ids{vs});
  EXPECT_EQ(Search("ValueSet?url:above=http://example.org/fhir/ValueSet/a/extra"), Ids{vs});
}

TEST_F(SearchTest, ModifiersMissingNotText) {
  std::string f =
      Create("Patient", PatientJson("F", R"("gender":"female","birthDate":"1970-01-01")"));
  std::string m = Create("Patient", PatientJson("M", R"("gender":"male")"));
  std::string n = Create("Patient", PatientJson("N"));
  EXPECT_EQ(Search("Patient?birthdate:missing=true"), Sorted({m, n}));
  EXPECT_EQ(Search("Patient?birthdate:missing=false"), Ids{f});
  EXPECT_EQ(Search("Patient?gender:not=male"),
            Sorted({f, n}));  // :not includes those without a value
  EXPECT_EQ(Search("Patient?gender:missing=false&gender:not=male"), Ids{f});

  std::string g = Create(
      "Observation",
      R"({"resourceType":"Observation","status":"final","code":{"text":"Glucose [Mass/volume] in Blood"}})");
  Create(
      "Observation",
      R"({"resourceType":"Observation","status":"final","code":{"coding":[{"code":"x","display":"Heart rate"}]}})");
  EXPECT_EQ(Search("Observation?code:text=glucose"), Ids{g});
  EXPECT_EQ(Search("Observation?code:text=blood"), Ids{g});
  EXPECT_EQ(Get("/fhir/Patient?birthdate:missing=maybe").status, 400);
}

TEST_F(SearchTest, CommonParameters) {
  std::string tagged = Create(
      "Patient",
      PatientJson(
          "T",
          R"("meta":{"tag":[{"system":"urn:tags","code":"vip"}],"profile":["http://example.org/StructureDefinition/p"],"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}]})"));
  std::this_thread::sleep_for(std::chrono::milliseconds(3));  // lastUpdated has ms precision
  std::string plain = Create("Patient", PatientJson("P"));
  EXPECT_EQ(Search("Patient?_id=" + plain), Ids{plain});
  EXPECT_EQ(Search("Patient?_id=" + plain + "," + tagged), Sorted({plain, tagged}));
  EXPECT_EQ(Search("Patient?_tag=urn:tags|vip"), Ids{tagged});
  EXPECT_EQ(Search("Patient?_tag=vip"), Ids{tagged});
  EXPECT_EQ(Search("Patient?_profile=http://example.org/StructureDefinition/p"), Ids{tagged});
  EXPECT_EQ(Search("Patient?_security=http://terminology.hl7.org/CodeSystem/v3-Confidentiality|R"),
            Ids{tagged});

  std::string last = Str(Get("/fhir/Patient/" + plain).body, "/meta/lastUpdated");
  std::string first = Str(Get("/fhir/Patient/" + tagged).body, "/meta/lastUpdated");
  EXPECT_EQ(Search("Patient?_lastUpdated=ge" + last), Ids{plain});
  EXPECT_EQ(Search("Patient?_lastUpdated=lt" + last), Ids{tagged});
  EXPECT_EQ(Search("Patient?_lastUpdated=le" + first), Ids{tagged});
  EXPECT_EQ(Search("Patient?_lastUpdated=gt2000-01-01"), Sorted({plain, tagged}));
  EXPECT_EQ(Search("Patient?_lastUpdated=lt2000-01-01"), Ids{});
}

TEST_F(SearchTest, ReverseChainHas) {
  std::string p1 = Create("Patient", PatientJson("Has1"));
  std::string p2 = Create("Patient", PatientJson("Has2"));
  auto obs = [](const std::string& p, const std::string& code) {
    return R"({"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":")" +
           code + R"("}]},"subject":{"reference":"Patient/)" + p + R"("}})";
  };
  Create("Observation", obs(p1, "1111-1"));
  Create("Observation", obs(p2, "2222-2"));
  EXPECT_EQ(Search("Patient?_has:Observation:patient:code=1111-1"), Ids{p1});
  EXPECT_EQ(Search("Patient?_has:Observation:subject:code=http://loinc.org|2222-2"), Ids{p2});
  EXPECT_EQ(Search("Patient?_has:Observation:patient:code=3333-3"), Ids{});
  EXPECT_EQ(Get("/fhir/Patient?_has:Observation:nosuch:code=1").status, 400);
}

TEST_F(SearchTest, GetAndPostSearchAgree) {
  std::string a = Create("Patient", PatientJson("Post", R"("gender":"female")"));
  Create("Patient", PatientJson("Post", R"("gender":"male")"));
  ClientResponse r = client_->Call("POST", "/fhir/Patient/_search", "family=post&gender=female",
                                   {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Str(r.body, "/type"), "searchset");
  EXPECT_EQ(Total(r.body), 1);
  EXPECT_EQ(EntryIds(r.body), Ids{a});
  EXPECT_EQ(Search("Patient?family=post&gender=female"), Ids{a});
  // The parameters travel as a form; a FHIR resource body is not one.
  ClientResponse json_body = Post("/fhir/Patient/_search", R"({"resourceType":"Parameters"})");
  EXPECT_EQ(json_body.status, 415);
  EXPECT_EQ(IssueCodes(json_body.body), Ids{"not-supported"});
  // Query and body parameters combine.
  ClientResponse mixed = client_->Call("POST", "/fhir/Patient/_search?family=post", "gender=female",
                                       {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(EntryIds(mixed.body), Ids{a});
}

TEST_F(SearchTest, PagingIsStableAcrossWrites) {
  Ids all;
  for (int i = 0; i < 5; ++i) all.push_back(Create("Patient", PatientJson("Page")));
  ClientResponse p1 = Get("/fhir/Patient?family=page&_count=2");
  ASSERT_EQ(p1.status, 200);
  EXPECT_EQ(Total(p1.body), 5);
  EXPECT_EQ(LinkPath(p1.body, "previous"), "");
  Ids got = EntryIds(p1.body);
  ASSERT_EQ(got.size(), 2u);

  // Resources created (and one deleted) between pages do not move the pages:
  // a page shows what matched when the search ran.
  Create("Patient", PatientJson("Page"));
  Create("Patient", PatientJson("Page"));
  ASSERT_EQ(Delete("/fhir/Patient/" + all.back()).status, 204);
  std::string next = LinkPath(p1.body, "next");
  ASSERT_FALSE(next.empty()) << p1.body;
  ClientResponse p2 = Get(next);
  ASSERT_EQ(p2.status, 200) << p2.body;
  Ids page2 = EntryIds(p2.body);
  ASSERT_EQ(page2.size(), 2u);
  got.insert(got.end(), page2.begin(), page2.end());
  ClientResponse back = Get(LinkPath(p2.body, "previous"));
  ASSERT_EQ(back.status, 200);
  EXPECT_EQ(EntryIds(back.body), EntryIds(p1.body));
  ClientResponse p3 = Get(LinkPath(p2.body, "next"));
  ASSERT_EQ(p3.status, 200);
  Ids page3 = EntryIds(p3.body);
  EXPECT_EQ(page3.size(), 1u);
  EXPECT_EQ(LinkPath(p3.body, "next"), "");
  got.insert(got.end(), page3.begin(), page3.end());
  EXPECT_EQ(Sorted(got), Sorted(all));
  EXPECT_EQ(Search("Patient?family=page").size(), 6u);

  // _count=0: the count only, and no link that would page forever.
  ClientResponse zero = Get("/fhir/Patient?family=page&_count=0");
  ASSERT_EQ(zero.status, 200);
  EXPECT_EQ(Total(zero.body), 6);
  EXPECT_EQ(EntryIds(zero.body), Ids{});
  EXPECT_EQ(LinkPath(zero.body, "next"), "");
}

TEST_F(SearchTest, Sort) {
  // Apart by more than lastUpdated's millisecond precision.
  auto tick = [] { std::this_thread::sleep_for(std::chrono::milliseconds(3)); };
  std::string a =
      Create("Patient", PatientJson("Adams", R"("gender":"male","birthDate":"1990-01-01")"));
  tick();
  std::string b =
      Create("Patient", PatientJson("Baker", R"("gender":"female","birthDate":"1980-01-01")"));
  tick();
  std::string c =
      Create("Patient", PatientJson("Clark", R"("gender":"female","birthDate":"1995-01-01")"));
  auto order = [&](const std::string& q) {
    ClientResponse r = Get("/fhir/Patient?" + q);
    EXPECT_EQ(r.status, 200) << r.body;
    return EntryIds(r.body);
  };
  EXPECT_EQ(order("_sort=family"), (Ids{a, b, c}));
  EXPECT_EQ(order("_sort=-family"), (Ids{c, b, a}));
  EXPECT_EQ(order("_sort=birthdate"), (Ids{b, a, c}));
  EXPECT_EQ(order("_sort=gender,-birthdate"), (Ids{c, b, a}));
  EXPECT_EQ(order("_sort=_lastUpdated"), (Ids{a, b, c}));
  EXPECT_EQ(order("_sort=-_lastUpdated"), (Ids{c, b, a}));
  EXPECT_EQ(Get("/fhir/Patient?_sort=nosuch").status, 400);
}

TEST_F(SearchTest, IncludeAndRevinclude) {
  std::string org = Create("Organization", R"({"resourceType":"Organization","name":"Org"})");
  std::string gp =
      Create("Practitioner", R"({"resourceType":"Practitioner","name":[{"family":"Gp"}]})");
  std::string p = Create(
      "Patient", PatientJson("Inc", R"("managingOrganization":{"reference":"Organization/)" + org +
                                        R"("},"generalPractitioner":[{"reference":"Practitioner/)" +
                                        gp + R"("}])"));
  std::string o1 = Create(
      "Observation",
      R"({"resourceType":"Observation","status":"final","code":{"text":"a"},"subject":{"reference":"Patient/)" +
          p + R"("}})");
  std::string o2 = Create(
      "Observation",
      R"({"resourceType":"Observation","status":"final","code":{"text":"b"},"subject":{"reference":"Patient/)" +
          p + R"("}})");

  ClientResponse inc = Get("/fhir/Observation?_id=" + o1 + "&_include=Observation:subject");
  ASSERT_EQ(inc.status, 200) << inc.body;
  EXPECT_EQ(EntryIds(inc.body), Ids{o1});
  EXPECT_EQ(EntryIds(inc.body, "include"), Ids{"Patient/" + p});
  EXPECT_EQ(Total(inc.body), 1);  // total counts matches only

  ClientResponse it =
      Get("/fhir/Observation?_id=" + o1 +
          "&_include=Observation:subject&_include:iterate=Patient:general-practitioner");
  ASSERT_EQ(it.status, 200) << it.body;
  EXPECT_EQ(Sorted(EntryIds(it.body, "include")), Sorted({"Patient/" + p, "Practitioner/" + gp}));

  ClientResponse no_it = Get("/fhir/Observation?_id=" + o1 +
                             "&_include=Observation:subject&_include=Patient:general-practitioner");
  EXPECT_EQ(EntryIds(no_it.body, "include"), Ids{"Patient/" + p});

  ClientResponse rev = Get("/fhir/Patient?_id=" + p + "&_revinclude=Observation:subject");
  ASSERT_EQ(rev.status, 200) << rev.body;
  EXPECT_EQ(EntryIds(rev.body), Ids{p});
  EXPECT_EQ(Sorted(EntryIds(rev.body, "include")),
            Sorted({"Observation/" + o1, "Observation/" + o2}));

  ClientResponse typed =
      Get("/fhir/Observation?_id=" + o1 + "&_include=Observation:subject:Patient");
  EXPECT_EQ(EntryIds(typed.body, "include"), Ids{"Patient/" + p});
  ClientResponse other_type =
      Get("/fhir/Observation?_id=" + o1 + "&_include=Observation:subject:Group");
  EXPECT_EQ(EntryIds(other_type.body, "include"), Ids{});
  // _revinclude:iterate walks on from what was included.
  std::string prov = Create(
      "Provenance",
      R"({"resourceType":"Provenance","target":[{"reference":"Observation/)" + o1 +
          R"("}],"recorded":"2024-01-01T00:00:00Z","agent":[{"who":{"reference":"Practitioner/)" +
          gp + R"("}}]})");
  ClientResponse rev_it =
      Get("/fhir/Patient?_id=" + p +
          "&_revinclude=Observation:subject&_revinclude:iterate=Provenance:target");
  EXPECT_EQ(Sorted(EntryIds(rev_it.body, "include")),
            Sorted({"Observation/" + o1, "Observation/" + o2, "Provenance/" + prov}));

  ClientResponse org_inc = Get("/fhir/Patient?_id=" + p + "&_include=Patient:organization");
  EXPECT_EQ(EntryIds(org_inc.body, "include"), Ids{"Organization/" + org});
  EXPECT_EQ(Get("/fhir/Patient?_include=Patient:nosuch").status, 400);
}

TEST_F(SearchTest, SummaryElementsAndTotal) {
  std::string id = Create(
      "Patient",
      PatientJson(
          "Sum",
          R"("text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Sum</div>"},"gender":"female","contact":[{"name":{"family":"Kin"}}])"));
  Create("Patient", PatientJson("Sum"));

  ClientResponse count = Get("/fhir/Patient?family=sum&_summary=count");
  ASSERT_EQ(count.status, 200);
  EXPECT_EQ(Total(count.body), 2);
  EXPECT_EQ(At(Parse(count.body), "/entry"), nullptr);

  const std::string subsetted = "SUBSETTED";
  ClientResponse t = Get("/fhir/Patient?_id=" + id + "&_summary=true");
  ASSERT_EQ(t.status, 200);
  JsonDoc td = Parse(t.body);
  EXPECT_EQ(Str(td, "/entry/0/resource/name/0/family"), "Sum");
  EXPECT_EQ(Str(td, "/entry/0/resource/gender"), "female");
  EXPECT_EQ(At(td, "/entry/0/resource/text"), nullptr);
  EXPECT_EQ(At(td, "/entry/0/resource/contact"), nullptr);
  EXPECT_EQ(Str(td, "/entry/0/resource/meta/tag/0/code"), subsetted);

  JsonDoc text = Parse(Get("/fhir/Patient?_id=" + id + "&_summary=text").body);
  EXPECT_EQ(Str(text, "/entry/0/resource/text/status"), "generated");
  EXPECT_EQ(At(text, "/entry/0/resource/name"), nullptr);
  EXPECT_EQ(Str(text, "/entry/0/resource/meta/tag/0/code"), subsetted);

  JsonDoc data = Parse(Get("/fhir/Patient?_id=" + id + "&_summary=data").body);
  EXPECT_EQ(At(data, "/entry/0/resource/text"), nullptr);
  EXPECT_EQ(Str(data, "/entry/0/resource/contact/0/name/family"), "Kin");
  EXPECT_EQ(Str(data, "/entry/0/resource/meta/tag/0/code"), subsetted);

  JsonDoc el = Parse(Get("/fhir/Patient?_id=" + id + "&_elements=gender").body);
  const Json* res = At(el, "/entry/0/resource");
  ASSERT_NE(res, nullptr);
  std::set<std::string> members;
  for (const auto& m : res->GetObject()) members.insert(m.name.GetString());
  EXPECT_EQ(members, (std::set<std::string>{"resourceType", "id", "meta", "gender"}));
  EXPECT_EQ(Str(el, "/entry/0/resource/meta/tag/0/system"),
            "http://terminology.hl7.org/CodeSystem/v3-ObservationValue");
  EXPECT_EQ(Str(el, "/entry/0/resource/meta/tag/0/code"), subsetted);

  // A full read is unchanged by earlier summaries.
  EXPECT_EQ(At(Parse(Get("/fhir/Patient/" + id).body), "/meta/tag"), nullptr);

  ClientResponse none = Get("/fhir/Patient?family=sum&_total=none");
  ASSERT_EQ(none.status, 200);
  EXPECT_EQ(At(Parse(none.body), "/total"), nullptr);
  EXPECT_EQ(EntryIds(none.body).size(), 2u);
  EXPECT_EQ(Get("/fhir/Patient?_summary=maybe").status, 400);
}

TEST_F(SearchTest, UnknownParametersLenientOrStrict) {
  std::string id = Create("Patient", PatientJson("Lenient"));
  ClientResponse lenient = Get("/fhir/Patient?family=lenient&nosuchparam=1");
  ASSERT_EQ(lenient.status, 200) << lenient.body;
  EXPECT_EQ(EntryIds(lenient.body), Ids{id});
  JsonDoc d = Parse(lenient.body);
  bool warned = false;
  for (const Json& e : At(d, "/entry")->GetArray()) {
    if (Str(e, "/search/mode") != "outcome") continue;
    EXPECT_EQ(Str(e, "/resource/resourceType"), "OperationOutcome");
    EXPECT_EQ(Str(e, "/resource/issue/0/severity"), "warning");
    EXPECT_EQ(Str(e, "/resource/issue/0/code"), "not-supported");
    warned = true;
  }
  EXPECT_TRUE(warned) << lenient.body;
  // The self link shows what was applied, without the ignored parameter.
  EXPECT_EQ(LinkPath(lenient.body, "self"), "/fhir/Patient?family=lenient");

  ClientResponse strict =
      Get("/fhir/Patient?family=lenient&nosuchparam=1", {{"Prefer", "handling=strict"}});
  EXPECT_EQ(strict.status, 400);
  EXPECT_EQ(IssueCodes(strict.body), Ids{"invalid"});

  ClientResponse bad_value = Get("/fhir/Patient?_count=many");
  EXPECT_EQ(bad_value.status, 400);
  EXPECT_EQ(IssueCodes(bad_value.body), Ids{"invalid"});
  EXPECT_EQ(Get("/fhir/Patient?gender:frobnicate=x").status, 400);
}

// ---------------------------------------------------------------- batch/transaction

TEST_F(FhirRestTest, BatchEntriesAreIndependent) {
  CreateAs("Patient", "existing", PatientWithId("existing", "Before"));
  const std::string bundle = R"({"resourceType":"Bundle","type":"batch","entry":[
    {"resource":{"resourceType":"Patient","name":[{"family":"Batch"}]},"request":{"method":"POST","url":"Patient"}},
    {"resource":{"resourceType":"Patient","bogus":true},"request":{"method":"POST","url":"Patient"}},
    {"request":{"method":"GET","url":"Patient/nobody"}},
    {"resource":{"resourceType":"Patient","id":"existing","name":[{"family":"After"}]},"request":{"method":"PUT","url":"Patient/existing"}},
    {"request":{"method":"GET","url":"Patient?family=batch"}},
    {"request":{"method":"DELETE","url":"Patient/existing"}}
  ]})";
  ClientResponse r = Post("/fhir", bundle);
  ASSERT_EQ(r.status, 200) << r.body;
  JsonDoc d = Parse(r.body);
  EXPECT_EQ(Str(d, "/type"), "batch-response");
  ASSERT_EQ(At(d, "/entry")->Size(), 6u);
  EXPECT_EQ(Str(d, "/entry/0/response/status"), "201 Created");
  std::string created = IdFromLocation(Str(d, "/entry/0/response/location"), "Patient");
  EXPECT_EQ(Str(d, "/entry/0/response/etag"), "W/\"1\"");
  EXPECT_EQ(Str(d, "/entry/1/response/status").substr(0, 3), "422");
  EXPECT_EQ(Str(d, "/entry/1/response/outcome/resourceType"), "OperationOutcome");
  EXPECT_EQ(Str(d, "/entry/2/response/status").substr(0, 3), "404");
  EXPECT_EQ(Str(d, "/entry/2/response/outcome/issue/0/code"), "not-found");
  EXPECT_EQ(Str(d, "/entry/3/response/status"), "200 OK");
  EXPECT_EQ(Str(d, "/entry/3/response/etag"), "W/\"2\"");
  EXPECT_EQ(Str(d, "/entry/4/response/status"), "200 OK");
  EXPECT_EQ(Str(d, "/entry/4/resource/type"), "searchset");
  EXPECT_EQ(Str(d, "/entry/4/resource/entry/0/resource/id"), created);
  EXPECT_EQ(Str(d, "/entry/5/response/status"), "204 No Content");
  EXPECT_EQ(Get("/fhir/Patient/" + created).status, 200);
  EXPECT_EQ(Get("/fhir/Patient/existing").status, 410);
}

TEST_F(FhirRestTest, BatchReadsEveryKindOfUrl) {
  CreateAs("Patient", "bv", PatientWithId("bv", "V1"));
  ASSERT_EQ(Put("/fhir/Patient/bv", PatientWithId("bv", "V2")).status, 200);
  CreateAs("Patient", "other", PatientWithId("other", "Other"));
  ClientResponse r = Post("/fhir", R"({"resourceType":"Bundle","type":"batch","entry":[
    {"request":{"method":"GET","url":"Patient/bv/_history/1"}},
    {"request":{"method":"GET","url":"Patient/bv/_history"}},
    {"request":{"method":"GET","url":"Patient/bv/_history/9"}},
    {"request":{"method":"GET","url":"Patient/_history"}},
    {"request":{"method":"GET","url":"Patient?_id=other"}},
    {"request":{"method":"GET","url":"Patient/bv/nonsense"}},
    {"resource":{"resourceType":"Binary","contentType":"application/json-patch+json","data":"W10="},"request":{"method":"PATCH","url":"Patient/bv"}}
  ]})");
  ASSERT_EQ(r.status, 200) << r.body;
  JsonDoc d = Parse(r.body);
  ASSERT_EQ(At(d, "/entry")->Size(), 7u);
  EXPECT_EQ(Str(d, "/entry/0/response/status"), "200 OK");
  EXPECT_EQ(Str(d, "/entry/0/response/etag"), "W/\"1\"");
  EXPECT_EQ(Str(d, "/entry/0/resource/name/0/family"), "V1");
  EXPECT_EQ(Str(d, "/entry/1/resource/type"), "history");
  EXPECT_EQ(At(d, "/entry/1/resource/entry")->Size(), 2u);
  EXPECT_EQ(Str(d, "/entry/2/response/status"), "404");
  EXPECT_EQ(Str(d, "/entry/3/resource/type"), "history");
  EXPECT_EQ(At(d, "/entry/3/resource/entry")->Size(), 3u);
  EXPECT_EQ(Str(d, "/entry/4/resource/type"), "searchset");
  EXPECT_EQ(Str(d, "/entry/4/resource/entry/0/resource/id"), "other");
  EXPECT_EQ(At(d, "/entry/4/resource/entry/1"), nullptr);
  EXPECT_EQ(Str(d, "/entry/5/response/status"), "404");
  // PATCH in a Bundle is not supported: that entry fails, alone.
  EXPECT_EQ(Str(d, "/entry/6/response/status"), "405");
}

TEST_F(FhirRestTest, TransactionIsAllOrNothing) {
  const std::string bundle = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"fullUrl":"urn:uuid:11111111-1111-1111-1111-111111111111","resource":{"resourceType":"Patient","identifier":[{"system":"urn:t","value":"aon"}]},"request":{"method":"POST","url":"Patient"}},
    {"resource":{"resourceType":"Patient","id":"aon2","identifier":[{"system":"urn:t","value":"aon"}]},"request":{"method":"PUT","url":"Patient/aon2"}},
    {"resource":{"resourceType":"Observation","status":"final"},"request":{"method":"POST","url":"Observation"}}
  ]})";
  ClientResponse r = Post("/fhir", bundle);
  EXPECT_EQ(r.status, 422) << r.body;  // Observation.code is required
  EXPECT_EQ(IssueCodes(r.body), Ids{"required"});
  EXPECT_EQ(Str(r.body, "/issue/0/expression/0"), "Bundle.entry[2].resource.code");
  EXPECT_EQ(Search("Patient?identifier=urn:t|aon"), Ids{});
  EXPECT_EQ(Get("/fhir/Patient/aon2").status, 404);

  ClientResponse unknown_ref =
      Post("/fhir", R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"resource":{"resourceType":"Patient","identifier":[{"system":"urn:t","value":"aon"}]},"request":{"method":"POST","url":"Patient"}},
    {"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:99999999-9999-9999-9999-999999999999"}},"request":{"method":"POST","url":"Observation"}}
  ]})");
  EXPECT_EQ(unknown_ref.status, 400) << unknown_ref.body;
  EXPECT_EQ(Search("Patient?identifier=urn:t|aon"), Ids{});
}

TEST_F(FhirRestTest, TransactionPreconditionFailureStoresNothing) {
  CreateAs("Patient", "tv", PatientWithId("tv", "V1"));
  ASSERT_EQ(Put("/fhir/Patient/tv", PatientWithId("tv", "V2")).status, 200);
  ClientResponse r = Post("/fhir", R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"resource":{"resourceType":"Patient","name":[{"family":"Side"}]},"request":{"method":"POST","url":"Patient"}},
    {"resource":{"resourceType":"Patient","id":"tv","name":[{"family":"V3"}]},"request":{"method":"PUT","url":"Patient/tv","ifMatch":"W/\"1\""}}
  ]})");
  EXPECT_EQ(r.status, 412) << r.body;
  EXPECT_EQ(IssueCodes(r.body), Ids{"conflict"});
  EXPECT_EQ(Search("Patient?family=side"), Ids{});
  EXPECT_EQ(Get("/fhir/Patient/tv").Header("ETag"), "W/\"2\"");

  ClientResponse ok = Post("/fhir", R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"resource":{"resourceType":"Patient","id":"tv","name":[{"family":"V3"}]},"request":{"method":"PUT","url":"Patient/tv","ifMatch":"W/\"2\""}}
  ]})");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(Str(ok.body, "/entry/0/response/etag"), "W/\"3\"");
}

TEST_F(FhirRestTest, TransactionResolvesReferences) {
  std::string existing = Create(
      "Patient", PatientJson("Known", R"("identifier":[{"system":"urn:nhs","value":"123"}])"));
  const std::string bundle = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"resource":{"resourceType":"Observation","status":"final","code":{"text":"a"},"subject":{"reference":"urn:uuid:aaaaaaaa-0000-0000-0000-000000000001"}},"request":{"method":"POST","url":"Observation"}},
    {"fullUrl":"urn:uuid:aaaaaaaa-0000-0000-0000-000000000001","resource":{"resourceType":"Patient","name":[{"family":"New"}]},"request":{"method":"POST","url":"Patient"}},
    {"resource":{"resourceType":"Observation","status":"final","code":{"text":"b"},"subject":{"reference":"Patient?identifier=urn:nhs|123"}},"request":{"method":"POST","url":"Observation"}},
    {"fullUrl":"urn:uuid:aaaaaaaa-0000-0000-0000-000000000002","resource":{"resourceType":"Patient","identifier":[{"system":"urn:nhs","value":"123"}]},"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:nhs|123"}},
    {"resource":{"resourceType":"Observation","status":"final","code":{"text":"c"},"subject":{"reference":"urn:uuid:aaaaaaaa-0000-0000-0000-000000000002"}},"request":{"method":"POST","url":"Observation"}}
  ]})";
  ClientResponse r = Post("/fhir", bundle);
  ASSERT_EQ(r.status, 200) << r.body;
  JsonDoc d = Parse(r.body);
  EXPECT_EQ(Str(d, "/type"), "transaction-response");
  ASSERT_EQ(At(d, "/entry")->Size(), 5u);
  for (int i : {0, 1, 2, 4}) {
    std::string base = "/entry/" + std::to_string(i) + "/response/";
    EXPECT_EQ(Str(d, (base + "status").c_str()), "201 Created") << i;
    EXPECT_EQ(Str(d, (base + "etag").c_str()), "W/\"1\"") << i;
  }
  // ifNoneExist matched the existing patient: 200, nothing created.
  EXPECT_EQ(Str(d, "/entry/3/response/status"), "200 OK");
  EXPECT_EQ(Str(d, "/entry/3/response/location"), "Patient/" + existing + "/_history/1");
  EXPECT_EQ(Search("Patient?identifier=urn:nhs|123"), Ids{existing});

  std::string new_patient = IdFromLocation(Str(d, "/entry/1/response/location"), "Patient");
  ASSERT_FALSE(new_patient.empty());
  auto subject_of = [&](int entry) {
    std::string loc = Str(d, ("/entry/" + std::to_string(entry) + "/response/location").c_str());
    return Str(Get("/fhir/" + loc.substr(0, loc.find("/_history"))).body, "/subject/reference");
  };
  EXPECT_EQ(subject_of(0), "Patient/" + new_patient);
  EXPECT_EQ(subject_of(2), "Patient/" + existing);
  EXPECT_EQ(subject_of(4), "Patient/" + existing);
}

TEST_F(FhirRestTest, TransactionProcessingOrder) {
  CreateAs("Patient", "ord", PatientWithId("ord", "Before"));
  CreateAs("Patient", "gone", PatientWithId("gone", "Gone"));
  // In request order: GET, PUT, POST, DELETE. Processed (R4 3.1.0.11.2):
  // DELETE, POST, PUT, GET, so the GET sees the update and the search sees
  // the create and not the deleted patient.
  const std::string bundle = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"request":{"method":"GET","url":"Patient/ord"}},
    {"request":{"method":"GET","url":"Patient?family=after,gone,posted"}},
    {"resource":{"resourceType":"Patient","id":"ord","name":[{"family":"After"}]},"request":{"method":"PUT","url":"Patient/ord"}},
    {"resource":{"resourceType":"Patient","name":[{"family":"Posted"}]},"request":{"method":"POST","url":"Patient"}},
    {"request":{"method":"DELETE","url":"Patient/gone"}}
  ]})";
  ClientResponse r = Post("/fhir", bundle);
  ASSERT_EQ(r.status, 200) << r.body;
  JsonDoc d = Parse(r.body);
  ASSERT_EQ(At(d, "/entry")->Size(), 5u);
  EXPECT_EQ(Str(d, "/entry/0/response/status"), "200 OK");
  EXPECT_EQ(Str(d, "/entry/0/response/etag"), "W/\"2\"");
  EXPECT_EQ(Str(d, "/entry/0/resource/name/0/family"), "After");
  EXPECT_EQ(Str(d, "/entry/1/response/status"), "200 OK");
  const Json* found = At(d, "/entry/1/resource/entry");
  ASSERT_NE(found, nullptr);
  std::set<std::string> families;
  for (const Json& e : found->GetArray()) families.insert(Str(e, "/resource/name/0/family"));
  EXPECT_EQ(families, (std::set<std::string>{"After", "Posted"}));
  EXPECT_EQ(Str(d, "/entry/2/response/status"), "200 OK");
  EXPECT_EQ(Str(d, "/entry/2/response/location"), "Patient/ord/_history/2");
  EXPECT_EQ(Str(d, "/entry/3/response/status"), "201 Created");
  EXPECT_EQ(Str(d, "/entry/4/response/status"), "204 No Content");
  EXPECT_EQ(Get("/fhir/Patient/gone").status, 410);
}

TEST_F(FhirRestTest, TransactionReadsVersions) {
  CreateAs("Patient", "tr", PatientWithId("tr", "V1"));
  ASSERT_EQ(Put("/fhir/Patient/tr", PatientWithId("tr", "V2")).status, 200);
  ClientResponse r = Post("/fhir", R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"request":{"method":"GET","url":"Patient/tr/_history/1"}},
    {"request":{"method":"GET","url":"Patient/tr"}}
  ]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Str(r.body, "/entry/0/resource/name/0/family"), "V1");
  EXPECT_EQ(Str(r.body, "/entry/0/response/etag"), "W/\"1\"");
  EXPECT_EQ(Str(r.body, "/entry/1/resource/name/0/family"), "V2");
}

TEST_F(FhirRestTest, BundleErrors) {
  EXPECT_EQ(Post("/fhir", R"({"resourceType":"Bundle","type":"collection"})").status, 400);
  EXPECT_EQ(Post("/fhir", R"({"resourceType":"Patient"})").status, 400);
  ClientResponse dup = Post("/fhir", R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}},
    {"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}}]})");
  EXPECT_EQ(dup.status, 400);
  EXPECT_EQ(Search("Patient"), Ids{});
}

// ---------------------------------------------------------------- patch

TEST_F(FhirRestTest, JsonPatch) {
  CreateAs("Patient", "pa", PatientWithId("pa", "Patchy"));
  const Headers jp = {{"Content-Type", "application/json-patch+json"}};
  ClientResponse ok = client_->Call(
      "PATCH", "/fhir/Patient/pa",
      R"([{"op":"add","path":"/gender","value":"other"},{"op":"replace","path":"/name/0/family","value":"Patched"}])",
      jp);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.Header("ETag"), "W/\"2\"");
  EXPECT_EQ(Str(ok.body, "/gender"), "other");
  EXPECT_EQ(Str(ok.body, "/name/0/family"), "Patched");
  EXPECT_EQ(Str(ok.body, "/meta/versionId"), "2");

  ClientResponse failed_test = client_->Call(
      "PATCH", "/fhir/Patient/pa",
      R"([{"op":"test","path":"/gender","value":"male"},{"op":"replace","path":"/gender","value":"female"}])",
      jp);
  EXPECT_TRUE(failed_test.status == 422 || failed_test.status == 400) << failed_test.status;
  EXPECT_EQ(IssueCodes(failed_test.body), Ids{"invalid"});
  EXPECT_EQ(Get("/fhir/Patient/pa").Header("ETag"), "W/\"2\"");

  ClientResponse id_change = client_->Call(
      "PATCH", "/fhir/Patient/pa", R"([{"op":"replace","path":"/id","value":"other"}])", jp);
  EXPECT_EQ(id_change.status, 422);
  EXPECT_EQ(IssueCodes(id_change.body), Ids{"invalid"});

  ClientResponse invalid_result =
      client_->Call("PATCH", "/fhir/Patient/pa", R"([{"op":"add","path":"/bogus","value":1}])", jp);
  EXPECT_EQ(invalid_result.status, 422);
  EXPECT_EQ(IssueCodes(invalid_result.body), Ids{"structure"});

  ClientResponse stale =
      client_->Call("PATCH", "/fhir/Patient/pa", R"([{"op":"add","path":"/active","value":true}])",
                    {{"Content-Type", "application/json-patch+json"}, {"If-Match", "W/\"1\""}});
  EXPECT_EQ(stale.status, 412);

  ClientResponse wrong_ct =
      client_->Call("PATCH", "/fhir/Patient/pa", R"([{"op":"add","path":"/active","value":true}])",
                    {{"Content-Type", "application/fhir+json"}});
  EXPECT_EQ(wrong_ct.status, 415);
  EXPECT_EQ(IssueCodes(wrong_ct.body), Ids{"not-supported"});

  EXPECT_EQ(client_->Call("PATCH", "/fhir/Patient/nobody", R"([])", jp).status, 404);
  EXPECT_EQ(Get("/fhir/Patient/pa").Header("ETag"), "W/\"2\"");
}

// ---------------------------------------------------------------- errors

TEST_F(FhirRestTest, InvalidJsonIs400) {
  ClientResponse r = Post("/fhir/Patient", R"({"resourceType":"Patient",)");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(IssueCodes(r.body), Ids{"invalid"});
  EXPECT_EQ(Post("/fhir/Patient", "").status, 400);
  EXPECT_EQ(Post("/fhir/Patient", "[1,2]").status, 400);
}

TEST_F(FhirRestTest, InvalidResourceIs422WithOneIssuePerProblem) {
  ClientResponse r =
      Post("/fhir/Patient",
           R"({"resourceType":"Patient","foo":1,"birthDate":"1990-13-45","active":"yes"})");
  ASSERT_EQ(r.status, 422) << r.body;
  JsonDoc d = Parse(r.body);
  std::map<std::string, std::string> by_location;  // location -> code
  for (const Json& i : At(d, "/issue")->GetArray()) {
    EXPECT_EQ(Str(i, "/severity"), "error");
    EXPECT_FALSE(Str(i, "/diagnostics").empty());
    std::string loc = Str(i, "/location/0");
    EXPECT_EQ(Str(i, "/expression/0"), loc);
    by_location[loc] = Str(i, "/code");
  }
  EXPECT_EQ(by_location, (std::map<std::string, std::string>{{"Patient.foo", "structure"},
                                                             {"Patient.birthDate", "value"},
                                                             {"Patient.active", "structure"}}));
  EXPECT_EQ(Search("Patient"), Ids{});
}

TEST_F(FhirRestTest, MethodFormatAndContentTypeErrors) {
  ClientResponse m = client_->Call("DELETE", "/fhir/metadata");
  EXPECT_EQ(m.status, 405);
  EXPECT_EQ(IssueCodes(m.body), Ids{"not-supported"});
  EXPECT_EQ(
      client_
          ->Call("PATCH", "/fhir/Patient", "[]", {{"Content-Type", "application/json-patch+json"}})
          .status,
      405);
  EXPECT_EQ(Post("/fhir/Patient/123", PatientJson("X")).status, 405);

  ClientResponse xml = Get("/fhir/metadata?_format=xml");
  EXPECT_EQ(xml.status, 406);
  EXPECT_EQ(IssueCodes(xml.body), Ids{"not-supported"});
  EXPECT_EQ(Get("/fhir/Patient", {{"Accept", "application/fhir+xml"}}).status, 406);
  EXPECT_EQ(Get("/fhir/metadata?_format=json").status, 200);
  EXPECT_EQ(Get("/fhir/metadata?_format=application/fhir%2Bjson").status, 200);

  ClientResponse ct =
      client_->Call("POST", "/fhir/Patient", PatientJson("X"), {{"Content-Type", "text/plain"}});
  EXPECT_EQ(ct.status, 415);
  EXPECT_EQ(IssueCodes(ct.body), Ids{"not-supported"});
  EXPECT_EQ(client_
                ->Call("PUT", "/fhir/Patient/x", PatientWithId("x", "X"),
                       {{"Content-Type", "application/xml"}})
                .status,
            415);
  EXPECT_EQ(Search("Patient"), Ids{});
}

TEST_F(FhirRestTest, CapabilityStatement) {
  const std::string day_before = FormatInstant(SystemClock().Now()).substr(0, 10);
  ClientResponse r = Get("/fhir/metadata");
  const std::string day_after = FormatInstant(SystemClock().Now()).substr(0, 10);
  ASSERT_EQ(r.status, 200);
  JsonDoc d = Parse(r.body);
  EXPECT_EQ(Str(d, "/resourceType"), "CapabilityStatement");
  // The statement is dated by the server's clock (the day it was asked for).
  EXPECT_TRUE(Str(d, "/date") == day_before || Str(d, "/date") == day_after) << Str(d, "/date");
  EXPECT_EQ(Str(d, "/fhirVersion"), "4.0.1");
  EXPECT_EQ(Str(d, "/kind"), "instance");
  EXPECT_EQ(Str(d, "/rest/0/mode"), "server");
  std::set<std::string> system;
  for (const Json& i : At(d, "/rest/0/interaction")->GetArray()) system.insert(Str(i, "/code"));
  EXPECT_EQ(system, (std::set<std::string>{"transaction", "batch", "history-system"}));
  const Json* patient = nullptr;
  for (const Json& res : At(d, "/rest/0/resource")->GetArray()) {
    if (Str(res, "/type") == "Patient") patient = &res;
  }
  ASSERT_NE(patient, nullptr);
  std::set<std::string> interactions, params;
  for (const Json& i : At(*patient, "/interaction")->GetArray())
    interactions.insert(Str(i, "/code"));
  for (const Json& p : At(*patient, "/searchParam")->GetArray()) params.insert(Str(p, "/name"));
  EXPECT_EQ(interactions,
            (std::set<std::string>{"read", "vread", "update", "patch", "delete", "history-instance",
                                   "history-type", "create", "search-type"}));
  for (const char* p :
       {"_id", "_lastUpdated", "family", "birthdate", "identifier", "name", "gender"}) {
    EXPECT_TRUE(params.contains(p)) << p;
  }
  EXPECT_EQ(Str(*patient, "/versioning"), "versioned-update");
  EXPECT_EQ(Str(*patient, "/conditionalDelete"), "single");
}

// ---------------------------------------------------------------- concurrency

TEST_F(FhirRestTest, IfMatchUpdatesRaceWithoutLostUpdates) {
  CreateAs("Patient", "race", PatientWithId("race", "Start"));
  constexpr int kThreads = 4;
  constexpr int kRounds = 5;
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int t = 0; t < kThreads; ++t)
    clients.push_back(std::make_unique<HttpClient>(server_->port()));
  int successes = 0;
  for (int round = 0; round < kRounds; ++round) {
    const std::string etag = Get("/fhir/Patient/race").Header("ETag");
    std::vector<int> status(kThreads, 0);
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        ready.fetch_add(1);
        while (ready.load() < kThreads) std::this_thread::yield();
        status[t] = clients[t]
                        ->Send("PUT", "/fhir/Patient/race",
                               PatientWithId("race", "T" + std::to_string(t)), {{"If-Match", etag}})
                        .status;
      });
    }
    for (auto& th : threads) th.join();
    int won = 0, lost = 0;
    for (int s : status) {
      won += s == 200;
      lost += s == 412;
    }
    EXPECT_EQ(won, 1) << "round " << round;
    EXPECT_EQ(lost, kThreads - 1) << "round " << round;
    successes += won;
  }
  EXPECT_EQ(Get("/fhir/Patient/race").Header("ETag"),
            "W/\"" + std::to_string(successes + 1) + "\"");
  ClientResponse h = Get("/fhir/Patient/race/_history");
  EXPECT_EQ(Total(h.body), successes + 1);
}

TEST_F(FhirRestTest, ConcurrentConditionalCreatesMakeOneResource) {
  constexpr int kThreads = 4;
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int t = 0; t < kThreads; ++t)
    clients.push_back(std::make_unique<HttpClient>(server_->port()));
  std::vector<ClientResponse> results(kThreads);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      results[t] = clients[t]->Send(
          "POST", "/fhir/Patient",
          PatientJson("Once", R"("identifier":[{"system":"urn:s","value":"once"}])"),
          {{"If-None-Exist", "identifier=urn:s|once"}});
    });
  }
  for (auto& th : threads) th.join();
  int created = 0, found = 0;
  std::set<std::string> ids;
  for (const ClientResponse& r : results) {
    created += r.status == 201;
    found += r.status == 200;
    ids.insert(Str(r.body, "/id"));
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(found, kThreads - 1);
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(Search("Patient?identifier=urn:s|once").size(), 1u);
}

}  // namespace
}  // namespace lhcr
