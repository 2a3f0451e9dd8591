// Patient/{id}/$summary over HTTP with the real binary, the shipped
// terminology subset and a source registry: a Person linking a GP record and
// a hospital record; the document Bundle holds one medicine for the GP's VMP
// and the hospital's AMP of it, one for two VMPs of one VTM (dose differs),
// a hospital-only medicine, and a Provenance per entry; the operation is
// declared in the CapabilityStatement; bad requests are OperationOutcomes.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <string>

#include "fhir/json.h"
#include "testing/lhcr_process.h"
#include "testing/test_server.h"

namespace lhcr {
namespace {

const std::string kSct = "http://snomed.info/sct";

std::string IssueCode(const std::string& body) {
  auto d = fhir::ParseJson(body);
  if (!d.ok() || fhir::StringMember(*d, "resourceType") != "OperationOutcome") return "";
  return std::string(fhir::StringMember((*d)["issue"][0], "code"));
}

class SummaryHttpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    std::string sources = dir_->path() + "/sources.json";
    std::ofstream(sources) << R"({"sources":[
      {"id":"gp1","name":"GP","kind":"gp","ods_code":"Y90001","format":"fhir"},
      {"id":"acute1","name":"Acute trust","kind":"acute","ods_code":"R9A","format":"fhir"}]})";
    std::string error;
    server_ = testing::LhcrProcess::Serve(
                  {"--data", dir_->path() + "/data", "--no-fsync", "--sources", sources}, &error)
                  .release();
    ASSERT_NE(server_, nullptr) << error;
    auto med = [](const std::string& type, const std::string& id, const std::string& source,
                  const std::string& patient, const std::string& code, const std::string& status,
                  const std::string& dose) {
      bool req = type == "MedicationRequest";
      return "{\"resourceType\":\"" + type + "\",\"id\":\"" + id + "\",\"meta\":{\"source\":\"" +
             source + "#x\"},\"status\":\"" + status + "\"," +
             (req ? "\"intent\":\"order\",\"authoredOn\":\"2024-05-01\"," : "") +
             "\"medicationCodeableConcept\":{\"coding\":[{\"system\":\"" + kSct + "\",\"code\":\"" +
             code + "\"}]},\"subject\":{\"reference\":\"Patient/" + patient + "\"},\"" +
             (req ? "dosageInstruction" : "dosage") + "\":[{\"text\":\"" + dose + "\"}]}";
    };
    std::vector<std::pair<std::string, std::string>> puts = {
        {"Patient/g", R"({"resourceType":"Patient","id":"g","meta":{"source":"gp1#1"},
           "name":[{"family":"Test","given":["Ann"]}],"birthDate":"1950-01-01"})"},
        {"Patient/h", R"({"resourceType":"Patient","id":"h","meta":{"source":"acute1#1"},
           "name":[{"family":"Test","given":["Ann"]}],"birthDate":"1950-01-01"})"},
        {"Patient/other", R"({"resourceType":"Patient","id":"other","birthDate":"1960-01-01"})"},
        {"Person/p1", R"({"resourceType":"Person","id":"p1","link":[
           {"target":{"reference":"Patient/g"},"assurance":"level3"},
           {"target":{"reference":"Patient/h"},"assurance":"level3"}]})"},
        // Gliclazide: the GP's VMP and the hospital's AMP of it.
        {"MedicationStatement/m1",
         med("MedicationStatement", "m1", "gp1", "g", "325242002", "active", "one daily")},
        {"MedicationRequest/r1",
         med("MedicationRequest", "r1", "acute1", "h", "378911000001109", "active", "one daily")},
        // Metformin: 500mg VMP at the GP, 1g VMP in hospital (one VTM).
        {"MedicationStatement/m2",
         med("MedicationStatement", "m2", "gp1", "g", "325278007", "active", "500mg three times")},
        {"MedicationRequest/r2",
         med("MedicationRequest", "r2", "acute1", "h", "376701008", "stopped", "1g twice")},
        // Omeprazole only in hospital.
        {"MedicationRequest/r3",
         med("MedicationRequest", "r3", "acute1", "h", "317335006", "active", "20mg daily")},
        // Another person's medicine: never in this summary.
        {"MedicationStatement/m9",
         med("MedicationStatement", "m9", "gp1", "other", "317972000", "active", "40mg daily")},
        {"Condition/c1", R"({"resourceType":"Condition","id":"c1","meta":{"source":"gp1#1"},
           "code":{"coding":[{"system":"http://snomed.info/sct","code":"44054006"}]},
           "subject":{"reference":"Patient/g"},"onsetDateTime":"2019-05-01"})"},
        {"Condition/c2", R"({"resourceType":"Condition","id":"c2","meta":{"source":"acute1#1"},
           "code":{"coding":[{"system":"http://snomed.info/sct","code":"44054006"}]},
           "subject":{"reference":"Patient/h"},"onsetDateTime":"2019-05-01"})"},
    };
    testing::HttpClient http(server_->port());
    for (const auto& [target, body] : puts) {
      auto r = http.Send("PUT", "/fhir/" + target, body);
      ASSERT_TRUE(r.status == 201 || r.status == 200) << target << ": " << r.body;
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  testing::ClientResponse Get(const std::string& target) {
    testing::HttpClient http(server_->port());
    return http.Get(target);
  }
  static testing::TempDir* dir_;
  static testing::LhcrProcess* server_;
};
testing::TempDir* SummaryHttpTest::dir_ = nullptr;
testing::LhcrProcess* SummaryHttpTest::server_ = nullptr;

// The document's MedicationStatements: display -> (status, record status,
// conflicts, provenance sources).
struct Med {
  std::string status, record_status;
  std::set<std::string> conflicts, sources;
};

std::map<std::string, Med> Medications(const fhir::Json& bundle) {
  std::map<std::string, std::set<std::string>> prov;
  for (const fhir::Json& e : bundle["entry"].GetArray()) {
    const fhir::Json& r = e["resource"];
    if (fhir::StringMember(r, "resourceType") != "Provenance") continue;
    for (const fhir::Json& en : r["entity"].GetArray()) {
      std::string what(fhir::StringMember(en["what"], "reference"));
      prov[std::string(fhir::StringMember(r["target"][0], "reference"))].insert(
          what.substr(what.find("/fhir/") + 6));
    }
  }
  std::map<std::string, Med> out;
  for (const fhir::Json& e : bundle["entry"].GetArray()) {
    const fhir::Json& r = e["resource"];
    if (fhir::StringMember(r, "resourceType") != "MedicationStatement") continue;
    Med m;
    m.status = fhir::StringMember(r, "status");
    for (const fhir::Json& x : r["extension"].GetArray()) {
      std::string url(fhir::StringMember(x, "url"));
      if (url.ends_with("record-medication-status"))
        m.record_status = fhir::StringMember(x, "valueCode");
      if (url.ends_with("record-conflict")) {
        std::string v(fhir::StringMember(x, "valueString"));
        m.conflicts.insert(v.substr(0, v.find(':')));
      }
    }
    m.sources = prov[std::string(fhir::StringMember(e, "fullUrl"))];
    out[std::string(fhir::StringMember(r["medicationCodeableConcept"], "text"))] = m;
  }
  return out;
}

TEST_F(SummaryHttpTest, OneReconciledRecordAcrossLinkedSources) {
  for (std::string patient : {"g", "h"}) {
    auto r = Get("/fhir/Patient/" + patient + "/$summary");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.Header("Content-Type").find("application/fhir+json"), std::string::npos);
    auto d = fhir::ParseJson(r.body);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(fhir::StringMember(*d, "type"), "document");
    const fhir::Json& comp = (*d)["entry"][0]["resource"];
    EXPECT_EQ(fhir::StringMember(comp, "resourceType"), "Composition");
    EXPECT_TRUE(fhir::StringMember(comp["subject"], "reference").ends_with("/Patient/" + patient));
    std::map<std::string, Med> meds = Medications(*d);
    ASSERT_EQ(meds.size(), 3u) << r.body.substr(0, 6000);
    const Med& gliclazide = meds["Gliclazide 80mg tablets"];
    EXPECT_EQ(gliclazide.record_status, "active");
    EXPECT_EQ(gliclazide.conflicts, std::set<std::string>{});
    EXPECT_EQ(gliclazide.sources,
              (std::set<std::string>{"MedicationStatement/m1", "MedicationRequest/r1"}));
    const Med& metformin = meds["Metformin"];
    EXPECT_EQ(metformin.record_status, "active");
    EXPECT_EQ(metformin.conflicts, (std::set<std::string>{"dose-differs", "status-differs"}));
    EXPECT_EQ(metformin.sources,
              (std::set<std::string>{"MedicationStatement/m2", "MedicationRequest/r2"}));
    const Med& omeprazole = meds["Omeprazole 20mg gastro-resistant capsules"];
    EXPECT_EQ(omeprazole.record_status, "hospital-only");
    EXPECT_EQ(omeprazole.sources, std::set<std::string>{"MedicationRequest/r3"});
    // One problem from the two sources; nothing of Patient/other.
    int conditions = 0;
    for (const fhir::Json& e : (*d)["entry"].GetArray()) {
      conditions += fhir::StringMember(e["resource"], "resourceType") == "Condition";
    }
    EXPECT_EQ(conditions, 1);
    EXPECT_EQ(r.body.find("m9"), std::string::npos);
  }
  // POST invokes it too.
  testing::HttpClient http(server_->port());
  auto p = http.Send("POST", "/fhir/Patient/g/$summary", "");
  EXPECT_EQ(p.status, 200) << p.body;
}

TEST_F(SummaryHttpTest, DeclaredAndBadRequestsAreOutcomes) {
  auto r = Get("/fhir/metadata");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(R"({"name":"summary","definition":"http://hl7.org/fhir/uv/ips/)"
                        R"(OperationDefinition/summary"})"),
            std::string::npos);
  r = Get("/fhir/Patient/nobody/$summary");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(IssueCode(r.body), "not-found");
  r = Get("/fhir/Patient/$summary");  // type level: not served
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(IssueCode(r.body), "not-found");
  r = Get("/fhir/Observation/g/$summary");
  EXPECT_EQ(r.status, 404) << r.body;
}

}  // namespace
}  // namespace lhcr
