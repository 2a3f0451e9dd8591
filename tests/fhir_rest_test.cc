// The FHIR REST API end to end: a real lhcr on loopback, real HTTP.
#include <gtest/gtest.h>

#include "fhir/json.h"
#include "testing/test_server.h"

namespace lhcr {
namespace {

using testing::ClientResponse;
using testing::HttpClient;
using testing::TestServer;

class FhirRestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = TestServer::Start();
    ASSERT_NE(server_, nullptr);
    client_ = std::make_unique<HttpClient>(server_->port());
  }
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(FhirRestTest, CreateThenRead) {
  ClientResponse c = client_->Send("POST", "/fhir/Patient",
                                   R"({"resourceType":"Patient","gender":"female"})");
  ASSERT_EQ(c.status, 201) << c.body;
  EXPECT_EQ(c.Header("ETag"), "W/\"1\"");
  std::string loc = c.Header("Location");
  ASSERT_NE(loc.find("/fhir/Patient/"), std::string::npos);
  std::string id = loc.substr(loc.find("/Patient/") + 9);
  id = id.substr(0, id.find('/'));
  ClientResponse r = client_->Get("/fhir/Patient/" + id);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, c.body);
  EXPECT_EQ(r.Header("Content-Type"), "application/fhir+json; charset=utf-8");
}

}  // namespace
}  // namespace lhcr
