// Request auditing end to end: a real lhcr (TestServer with audit on) over
// loopback HTTP. A create, a read, a search and refused requests each leave
// an AuditEvent with who, what, which Patient and the outcome; IG officers
// find them with GET /fhir/AuditEvent?patient=...; the chain verifies.
#include <gtest/gtest.h>
#include <rapidjson/pointer.h>

#include <chrono>
#include <thread>

#include "audit/audit.h"
#include "fhir/json.h"
#include "testing/test_server.h"

namespace lhcr {
namespace {

using fhir::Json;
using fhir::JsonDoc;
using testing::ClientResponse;
using testing::HttpClient;
using testing::TempDir;
using testing::TestServer;
using Headers = std::vector<std::pair<std::string, std::string>>;

std::string Str(const Json& doc, const char* pointer) {
  const Json* v = rapidjson::Pointer(pointer).Get(doc);
  return v != nullptr && v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : "";
}

const Headers kDoctor = {{"X-Lhcr-User", "dr-synthetic-1"},
                         {"X-Lhcr-Org", "RX1"},
                         {"X-Lhcr-Role", "R8000"},
                         {"X-Lhcr-Purpose-Of-Use", "TREAT"}};

class AuditHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::TestServerOptions o;
    o.data_dir = dir_.path();
    o.audit = true;
    server_ = TestServer::Start(o);
    ASSERT_NE(server_, nullptr);
    client_ = std::make_unique<HttpClient>(server_->port());
  }
  void TearDown() override {
    client_.reset();
    if (server_) server_->Stop();
  }

  // The AuditEvents naming Patient/`pid`, once there are at least `n` (the
  // entries of reads are committed shortly after the response).
  JsonDoc EventsFor(const std::string& pid, size_t n) {
    JsonDoc doc;
    for (int attempt = 0; attempt < 200; ++attempt) {
      ClientResponse r = client_->Call(
          "GET", "/fhir/AuditEvent?patient=Patient/" + pid + "&_count=200", "", kDoctor);
      EXPECT_EQ(r.status, 200) << r.body;
      doc = fhir::ParseJson(r.body).value();
      const Json* entries = rapidjson::Pointer("/entry").Get(doc);
      if (entries != nullptr && entries->Size() >= n) return doc;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "fewer than " << n << " AuditEvents for Patient/" << pid;
    return doc;
  }

  // The one event in `bundle` with this subtype and outcome and an entity
  // of this resource type.
  static const Json* Find(const JsonDoc& bundle, const std::string& subtype,
                          const std::string& outcome, const std::string& type) {
    const Json* found = nullptr;
    const Json* entries = rapidjson::Pointer("/entry").Get(bundle);
    if (entries == nullptr) return nullptr;
    for (const Json& e : entries->GetArray()) {
      const Json& ev = e["resource"];
      bool names_type = false;
      if (ev.HasMember("entity")) {
        for (const Json& en : ev["entity"].GetArray()) {
          names_type = names_type || Str(en, "/type/code") == type;
        }
      }
      if (Str(ev, "/subtype/0/code") == subtype && Str(ev, "/outcome") == outcome && names_type) {
        EXPECT_EQ(found, nullptr) << "two " << subtype << " events";
        found = &ev;
      }
    }
    return found;
  }

  std::string Create(const std::string& type, const std::string& body) {
    ClientResponse r = client_->Send("POST", "/fhir/" + type, body, kDoctor);
    EXPECT_EQ(r.status, 201) << r.body;
    std::string loc = r.Header("Location");
    size_t at = loc.find("/" + type + "/");
    std::string id = loc.substr(at + type.size() + 2);
    return id.substr(0, id.find('/'));
  }

  TempDir dir_;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(AuditHttpTest, EveryRequestLeavesAnAuditEvent) {
  const std::string pid = Create(
      "Patient", R"({"resourceType":"Patient","name":[{"family":"Testperson","given":["Ada"]}]})");
  const std::string oid = Create(
      "Observation",
      R"({"resourceType":"Observation","status":"final","code":{"text":"pulse"},"subject":{"reference":"Patient/)" +
          pid + R"("}})");
  ClientResponse read = client_->Call("GET", "/fhir/Observation/" + oid, "", kDoctor);
  ASSERT_EQ(read.status, 200);
  ClientResponse search =
      client_->Call("GET", "/fhir/Observation?patient=Patient/" + pid, "", kDoctor);
  ASSERT_EQ(search.status, 200);
  // Refused: a Patient read with a bad version, and an attempt on the trail.
  ClientResponse missing =
      client_->Call("GET", "/fhir/Patient/" + pid + "/_history/99", "",
                    {{"X-Lhcr-User", "dr-synthetic-2"}, {"X-Lhcr-Break-Glass", "collapsed in ED"}});
  ASSERT_EQ(missing.status, 404);

  // Patient create, Observation create, read, search, the failed vread.
  JsonDoc events = EventsFor(pid, 5);

  const Json* entries = rapidjson::Pointer("/entry").Get(events);
  int creates = 0;
  for (const Json& e : entries->GetArray()) {
    const Json& ev = e["resource"];
    if (Str(ev, "/subtype/0/code") != "create") continue;
    ++creates;
    EXPECT_EQ(Str(ev, "/action"), "C");
    EXPECT_EQ(Str(ev, "/agent/0/who/identifier/value"), "dr-synthetic-1");
    EXPECT_EQ(Str(ev, "/agent/0/role/0/coding/0/code"), "R8000");
    EXPECT_EQ(Str(ev, "/agent/0/purposeOfUse/0/coding/0/code"), "TREAT");
    EXPECT_EQ(Str(ev, "/agent/1/who/identifier/value"), "RX1");
    EXPECT_EQ(Str(ev, "/agent/0/network/address"), "127.0.0.1");
    EXPECT_EQ(Str(ev, "/entity/0/what/reference"), "Patient/" + pid);
    EXPECT_EQ(Str(ev, "/source/observer/display"), "lhcr");
  }
  EXPECT_EQ(creates, 2);

  const Json* r = Find(events, "read", "0", "Observation");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(Str(*r, "/action"), "R");
  EXPECT_EQ(Str(*r, "/entity/0/what/reference"), "Patient/" + pid);
  EXPECT_EQ(Str(*r, "/entity/0/role/code"), "1");
  EXPECT_EQ(Str(*r, "/entity/1/what/reference"), "Observation/" + oid);
  EXPECT_EQ(Str(*r, "/type/code"), "rest");

  const Json* s = Find(events, "search-type", "0", "Observation");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Str(*s, "/entity/1/type/code"), "Observation");
  EXPECT_EQ(Str(*s, "/entity/1/role/code"), "24");
  EXPECT_FALSE(Str(*s, "/entity/1/query").empty());

  const Json* failed = Find(events, "vread", "4", "1");  // entity type 1: a Person
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ(Str(*failed, "/agent/0/who/identifier/value"), "dr-synthetic-2");
  EXPECT_EQ(Str(*failed, "/agent/0/purposeOfUse/0/coding/0/code"), "ETREAT");
  EXPECT_EQ(Str(*failed, "/agent/0/extension/0/valueString"), "collapsed in ED");
  EXPECT_EQ(Str(*failed, "/outcomeDesc").substr(0, 3), "404");

  server_->Stop();
  auto report = audit::Verify(server_->store(), dir_.path());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_GE(report->entries, 6);  // and the IG officer's own searches
}

TEST_F(AuditHttpTest, TheTrailCannotBeWrittenThroughTheApi) {
  ClientResponse read = client_->Call("GET", "/fhir/metadata", "", kDoctor);
  ASSERT_EQ(read.status, 200);
  // Its entry, AuditEvent/1, is committed shortly after the response.
  for (int attempt = 0; attempt < 200; ++attempt) {
    ClientResponse r = client_->Call("GET", "/fhir/AuditEvent?_id=1", "", kDoctor);
    if (r.body.find("\"entry\"") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ClientResponse put = client_->Send(
      "PUT", "/fhir/AuditEvent/1",
      R"({"resourceType":"AuditEvent","id":"1","type":{"code":"rest"},"recorded":"2026-01-01T00:00:00Z","agent":[{"requestor":true}],"source":{"observer":{"display":"x"}}})",
      kDoctor);
  EXPECT_EQ(put.status, 403) << put.body;
  ClientResponse del = client_->Call("DELETE", "/fhir/AuditEvent/1", "", kDoctor);
  EXPECT_EQ(del.status, 403) << del.body;
  // Both refusals are themselves audited (outcome 4), after the metadata read.
  JsonDoc doc;
  for (int attempt = 0; attempt < 200; ++attempt) {
    ClientResponse r = client_->Call("GET", "/fhir/AuditEvent?outcome=4", "", kDoctor);
    doc = fhir::ParseJson(r.body).value();
    const Json* e = rapidjson::Pointer("/entry").Get(doc);
    if (e != nullptr && e->Size() >= 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const Json* e = rapidjson::Pointer("/entry").Get(doc);
  ASSERT_NE(e, nullptr);
  ASSERT_EQ(e->Size(), 2u);
  server_->Stop();
  auto report = audit::Verify(server_->store(), dir_.path());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->problem;
}

}  // namespace
}  // namespace lhcr
