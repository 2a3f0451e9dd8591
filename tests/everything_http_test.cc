// Patient/{id}/$everything over real HTTP against the lhcr binary: the
// person's whole record from any of their source Patients, GET and POST,
// _type/_since/_count, next links that stay stable while writes go on, the
// CapabilityStatement declaring it, and bad requests as OperationOutcomes.
// Synthetic data only.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fhir/json.h"
#include "testing/lhcr_process.h"
#include "testing/test_server.h"

namespace lhcr {
namespace {

std::string IssueCode(const std::string& body) {
  auto d = fhir::ParseJson(body);
  if (!d.ok() || fhir::StringMember(*d, "resourceType") != "OperationOutcome") return "";
  return std::string(fhir::StringMember((*d)["issue"][0], "code"));
}

// The "Type/id" of each entry, in order.
std::vector<std::string> EntryRefs(const fhir::Json& bundle) {
  std::vector<std::string> out;
  const fhir::Json* entries = fhir::Member(bundle, "entry");
  if (entries == nullptr) return out;
  for (const fhir::Json& e : entries->GetArray()) {
    const fhir::Json& r = e["resource"];
    out.push_back(std::string(fhir::StringMember(r, "resourceType")) + "/" +
                  std::string(fhir::StringMember(r, "id")));
  }
  return out;
}

std::string Link(const fhir::Json& bundle, std::string_view relation) {
  const fhir::Json* links = fhir::Member(bundle, "link");
  if (links == nullptr) return "";
  for (const fhir::Json& l : links->GetArray()) {
    if (fhir::StringMember(l, "relation") == relation)
      return std::string(fhir::StringMember(l, "url"));
  }
  return "";
}

class EverythingHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    server_ = testing::LhcrProcess::Serve({"--data", dir_.path() + "/data", "--no-fsync"}, &error);
    ASSERT_NE(server_, nullptr) << error;
    http_ = std::make_unique<testing::HttpClient>(server_->port());
    Put("Organization", "gp", R"("name":"Test Surgery")");
    Put("Practitioner", "drx", R"("name":[{"family":"Doctor"}])");
    Put("Medication", "med1", R"("code":{"text":"paracetamol"})");
    Put("Patient", "a",
        R"("name":[{"family":"Testperson"}],"generalPractitioner":[{"reference":"Organization/gp"}])");
    Put("Patient", "b", R"("name":[{"family":"Testperson"}])");
    Put("Patient", "c", R"("name":[{"family":"Otherperson"}])");
    Put("Person", "p1",
        R"("link":[{"target":{"reference":"Patient/a"}},{"target":{"reference":"Patient/b"}}])");
    Put("Person", "p2", R"("link":[{"target":{"reference":"Patient/c"}}])");
    for (int i = 0; i < 6; ++i) {
      Put("Observation", "oa" + std::to_string(i),
          R"("status":"final","code":{"text":"bp"},"subject":{"reference":"Patient/a"},"performer":[{"reference":"Practitioner/drx"}])");
    }
    for (int i = 0; i < 6; ++i) {
      Put("Observation", "ob" + std::to_string(i),
          R"("status":"final","code":{"text":"hr"},"subject":{"reference":"Patient/b"})");
    }
    Put("MedicationRequest", "mb",
        R"("status":"active","intent":"order","medicationReference":{"reference":"Medication/med1"},"subject":{"reference":"Patient/b"})");
    Put("Observation", "oc",
        R"("status":"final","code":{"text":"hr"},"subject":{"reference":"Patient/c"})");
  }

  void Put(const std::string& type, const std::string& id, const std::string& rest) {
    auto r = http_->Send("PUT", "/fhir/" + type + "/" + id,
                         R"({"resourceType":")" + type + R"(","id":")" + id + "\"," + rest + "}");
    ASSERT_TRUE(r.status == 200 || r.status == 201) << type << "/" << id << ": " << r.body;
  }

  fhir::JsonDoc GetBundle(const std::string& target, int want_status = 200) {
    auto r = http_->Get(target);
    EXPECT_EQ(r.status, want_status) << target << ": " << r.body;
    auto d = fhir::ParseJson(r.body);
    EXPECT_TRUE(d.ok()) << r.body;
    return d.ok() ? std::move(*d) : fhir::JsonDoc();
  }

  // Follows next links from `first` (a full URL is cut to its path).
  std::vector<std::string> AllPages(fhir::JsonDoc first, int* pages) {
    std::vector<std::string> out = EntryRefs(first);
    *pages = 1;
    std::string next = Link(first, "next");
    while (!next.empty() && *pages < 100) {
      std::string path = next.substr(next.find("/fhir"));
      fhir::JsonDoc page = GetBundle(path);
      for (auto& r : EntryRefs(page)) out.push_back(r);
      next = Link(page, "next");
      ++*pages;
    }
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::LhcrProcess> server_;
  std::unique_ptr<testing::HttpClient> http_;
};

const std::vector<std::string> kPersonOne = {
    "Patient/a",       "Patient/b",        "Person/p1",       "MedicationRequest/mb",
    "Observation/oa0", "Observation/oa1",  "Observation/oa2", "Observation/oa3",
    "Observation/oa4", "Observation/oa5",  "Observation/ob0", "Observation/ob1",
    "Observation/ob2", "Observation/ob3",  "Observation/ob4", "Observation/ob5",
    "Organization/gp", "Practitioner/drx", "Medication/med1"};

TEST_F(EverythingHttpTest, WholePersonOnOnePage) {
  fhir::JsonDoc b = GetBundle("/fhir/Patient/a/$everything?_count=100");
  EXPECT_EQ(fhir::StringMember(b, "type"), "searchset");
  EXPECT_EQ(b["total"].GetInt(), 19);
  EXPECT_EQ(EntryRefs(b), kPersonOne);
  EXPECT_NE(Link(b, "self").find("/fhir/Patient/a/$everything?_count=100"), std::string::npos);
  EXPECT_EQ(Link(b, "next"), "");
  // From the other source's Patient: the same record, that Patient first.
  b = GetBundle("/fhir/Patient/b/$everything?_count=100");
  std::vector<std::string> refs = EntryRefs(b);
  EXPECT_EQ(refs.front(), "Patient/b");
  std::sort(refs.begin(), refs.end());
  std::vector<std::string> want = kPersonOne;
  std::sort(want.begin(), want.end());
  EXPECT_EQ(refs, want);
  // The other person sees nothing of the first's.
  b = GetBundle("/fhir/Patient/c/$everything");
  EXPECT_EQ(EntryRefs(b), (std::vector<std::string>{"Patient/c", "Person/p2", "Observation/oc"}));
}

TEST_F(EverythingHttpTest, PagesStayStableWhileWritesGoOn) {
  fhir::JsonDoc first = GetBundle("/fhir/Patient/a/$everything?_count=4");
  EXPECT_EQ(EntryRefs(first).size(), 4u);
  EXPECT_EQ(first["total"].GetInt(), 19);
  // Writes after the first page: a new member, a changed one, a deleted one.
  Put("Observation", "late",
      R"("status":"final","code":{"text":"x"},"subject":{"reference":"Patient/a"})");
  Put("Observation", "ob5",
      R"("status":"amended","code":{"text":"hr"},"subject":{"reference":"Patient/b"})");
  int del = http_->Call("DELETE", "/fhir/Observation/oa0").status;
  ASSERT_TRUE(del == 200 || del == 204) << del;
  int pages = 0;
  std::vector<std::string> all = AllPages(std::move(first), &pages);
  EXPECT_EQ(pages, 5);
  EXPECT_EQ(all, kPersonOne);  // as it was when the first page was read
  // A new request sees the writes.
  fhir::JsonDoc now = GetBundle("/fhir/Patient/a/$everything?_count=100");
  std::vector<std::string> refs = EntryRefs(now);
  EXPECT_EQ(std::count(refs.begin(), refs.end(), "Observation/late"), 1);
  EXPECT_EQ(std::count(refs.begin(), refs.end(), "Observation/oa0"), 0);
  EXPECT_EQ(refs.size(), 19u);
}

TEST_F(EverythingHttpTest, TypeSinceAndPost) {
  fhir::JsonDoc b = GetBundle("/fhir/Patient/a/$everything?_type=MedicationRequest,Medication");
  EXPECT_EQ(EntryRefs(b), (std::vector<std::string>{"MedicationRequest/mb", "Medication/med1"}));
  EXPECT_NE(Link(b, "self").find("_type=MedicationRequest,Medication"), std::string::npos);
  // _since: only what changed at or after the instant.
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  Put("Observation", "ob2",
      R"("status":"amended","code":{"text":"hr"},"subject":{"reference":"Patient/b"})");
  fhir::JsonDoc changed = GetBundle("/fhir/Observation/ob2");
  std::string at(fhir::StringMember(changed["meta"], "lastUpdated"));
  b = GetBundle("/fhir/Patient/a/$everything?_since=" + at);
  EXPECT_EQ(EntryRefs(b), (std::vector<std::string>{"Observation/ob2"}));
  // POST with a Parameters body.
  auto r = http_->Send(
      "POST", "/fhir/Patient/a/$everything",
      R"({"resourceType":"Parameters","parameter":[{"name":"_type","valueCode":"Patient"},
                         {"name":"_count","valueInteger":1}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = fhir::ParseJson(r.body);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(EntryRefs(*d), (std::vector<std::string>{"Patient/a"}));
  EXPECT_EQ((*d)["total"].GetInt(), 2);
  EXPECT_NE(Link(*d, "next"), "");
}

TEST_F(EverythingHttpTest, ErrorsAndCapabilityStatement) {
  auto r = http_->Get("/fhir/Patient/nobody/$everything");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(IssueCode(r.body), "not-found");
  int del = http_->Call("DELETE", "/fhir/Patient/c").status;
  ASSERT_TRUE(del == 200 || del == 204) << del;
  r = http_->Get("/fhir/Patient/c/$everything");
  EXPECT_EQ(r.status, 410);
  r = http_->Get("/fhir/Patient/a/$everything?_since=yesterday");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(IssueCode(r.body), "invalid");
  r = http_->Get("/fhir/Patient/a/$everything?_type=Nonsense");
  EXPECT_EQ(r.status, 400);
  r = http_->Get("/fhir/Patient/a/$everything?_count=-2");
  EXPECT_EQ(r.status, 400);
  r = http_->Get("/fhir/Patient/a/$everything?start=2020-01-01");
  EXPECT_EQ(IssueCode(r.body), "not-supported");
  r = http_->Get("/fhir/Observation/oc/$everything");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(IssueCode(r.body), "not-found");
  r = http_->Get("/fhir/metadata");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(
      r.body.find(
          R"({"name":"everything","definition":"http://hl7.org/fhir/OperationDefinition/Patient-everything"})"),
      std::string::npos);
}

}  // namespace
}  // namespace lhcr
