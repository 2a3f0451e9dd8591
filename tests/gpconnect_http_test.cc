// Patient/$gpc.getstructuredrecord over real HTTP against the lhcr binary:
// every include* parameter and part, the Bundle's shape (profile, Patient,
// registered practice, usual GP and role, one List per area with the GP
// Connect SNOMED codes), the person's records across two sources, and every
// Spine error code with its HTTP status. Synthetic data and NHS numbers from
// the never-issued 999 range only.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fhir/json.h"
#include "testing/lhcr_process.h"
#include "testing/test_server.h"

namespace lhcr {
namespace {

constexpr const char* kNhs = "9990000018";  // the person with records
constexpr const char* kNhsDeceased = "9990000026";
constexpr const char* kNhsUnverified = "9990000034";
constexpr const char* kNhsNobody = "9990000042";  // valid, no Person
constexpr const char* kNhsRestricted = "9990000050";

std::string NhsIdentifier(const std::string& nhs, const std::string& verification) {
  return R"({"system":"https://fhir.nhs.uk/Id/nhs-number","value":")" + nhs +
         R"(","extension":[{"url":"https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus","valueCodeableConcept":{"coding":[{"system":"https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland","code":")" +
         verification + R"("}]}}]})";
}

std::string Params(const std::string& nhs, const std::string& more = "") {
  return R"({"resourceType":"Parameters","parameter":[{"name":"patientNHSNumber","valueIdentifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":")" +
         nhs + "\"}}" + (more.empty() ? "" : "," + more) + "]}";
}

struct Outcome {
  std::string issue_code;
  std::string spine_code;
  std::string spine_system;
};
Outcome OutcomeOf(const std::string& body) {
  Outcome o;
  auto d = fhir::ParseJson(body);
  if (!d.ok() || fhir::StringMember(*d, "resourceType") != "OperationOutcome") return o;
  const fhir::Json& issue = (*d)["issue"][0];
  o.issue_code = fhir::StringMember(issue, "code");
  if (const fhir::Json* det = fhir::Member(issue, "details")) {
    o.spine_code = fhir::StringMember((*det)["coding"][0], "code");
    o.spine_system = fhir::StringMember((*det)["coding"][0], "system");
  }
  return o;
}

class GpConnectHttpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    std::string error;
    server_ = testing::LhcrProcess::Serve({"--data", dir_->path() + "/data", "--no-fsync"}, &error)
                  .release();
    ASSERT_NE(server_, nullptr) << error;
    testing::HttpClient http(server_->port());
    auto put = [&](const std::string& type, const std::string& id, const std::string& rest) {
      auto r = http.Send("PUT", "/fhir/" + type + "/" + id,
                         R"({"resourceType":")" + type + R"(","id":")" + id + "\"," + rest + "}");
      ASSERT_TRUE(r.status == 200 || r.status == 201) << type << "/" << id << ": " << r.body;
    };
    put("Organization", "gp", R"("name":"Test Surgery")");
    put("Organization", "trust", R"("name":"Test Trust")");
    put("Practitioner", "drx", R"("name":[{"family":"Doctor"}])");
    put("PractitionerRole", "drx-gp",
        R"("practitioner":{"reference":"Practitioner/drx"},"organization":{"reference":"Organization/gp"})");
    put("Medication", "med1", R"("code":{"text":"paracetamol"})");
    // The GP's record (verified) and the hospital's (not traced).
    put("Patient", "gp-a",
        R"("identifier":[)" + NhsIdentifier(kNhs, "01") +
            R"(],"name":[{"family":"Testperson"}],"generalPractitioner":[{"reference":"Organization/gp"},{"reference":"Practitioner/drx"}])");
    put("Patient", "hosp-a",
        R"("identifier":[)" + NhsIdentifier(kNhs, "02") +
            R"(],"name":[{"family":"Testperson"}],"managingOrganization":{"reference":"Organization/trust"})");
    put("Person", "pa",
        R"("identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":")" +
            std::string(kNhs) +
            R"("}],"link":[{"target":{"reference":"Patient/gp-a"}},{"target":{"reference":"Patient/hosp-a"}}])");
    // Not found for the spec's other reasons.
    put("Patient", "dead",
        R"("identifier":[)" + NhsIdentifier(kNhsDeceased, "01") + R"(],"deceasedBoolean":true)");
    put("Person", "pdead",
        R"("identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":")" +
            std::string(kNhsDeceased) + R"("}],"link":[{"target":{"reference":"Patient/dead"}}])");
    put("Patient", "unver", R"("identifier":[)" + NhsIdentifier(kNhsUnverified, "02") + "]");
    put("Person", "punver",
        R"("identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":")" +
            std::string(kNhsUnverified) +
            R"("}],"link":[{"target":{"reference":"Patient/unver"}}])");
    put("Patient", "restr",
        R"("meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}]},"identifier":[)" +
            NhsIdentifier(kNhsRestricted, "01") + "]");
    put("Person", "prestr",
        R"("identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":")" +
            std::string(kNhsRestricted) +
            R"("}],"link":[{"target":{"reference":"Patient/restr"}}])");

    const std::string gp = R"("patient":{"reference":"Patient/gp-a"})";
    const std::string hosp = R"("subject":{"reference":"Patient/hosp-a"})";
    const std::string gp_subject = R"("subject":{"reference":"Patient/gp-a"})";
    auto clinical = [](const std::string& code) {
      return R"("clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical","code":")" +
             code + R"("}]})";
    };
    put("AllergyIntolerance", "al-active", clinical("active") + "," + gp);
    put("AllergyIntolerance", "al-resolved", clinical("resolved") + "," + gp);
    put("MedicationStatement", "ms-old",
        R"("status":"completed","medicationReference":{"reference":"Medication/med1"},"effectivePeriod":{"start":"2019-01-01","end":"2019-06-01"},)" +
            gp_subject);
    put("MedicationStatement", "ms-current",
        R"("status":"active","medicationCodeableConcept":{"text":"aspirin"},"effectivePeriod":{"start":"2024-01-01"},)" +
            hosp);
    put("MedicationRequest", "mr-plan",
        R"("status":"active","intent":"plan","medicationReference":{"reference":"Medication/med1"},"authoredOn":"2024-02-01",)" +
            gp_subject);
    put("MedicationRequest", "mr-issue",
        R"("status":"completed","intent":"order","medicationReference":{"reference":"Medication/med1"},"authoredOn":"2024-02-02",)" +
            gp_subject);
    put("Encounter", "enc-2020",
        R"("status":"finished","class":{"code":"AMB"},"period":{"start":"2020-05-01T10:00:00Z"},)" +
            gp_subject);
    put("Encounter", "enc-2023",
        R"("status":"finished","class":{"code":"AMB"},"period":{"start":"2023-05-01T10:00:00Z"},)" +
            hosp);
    put("Encounter", "enc-2024",
        R"("status":"finished","class":{"code":"AMB"},"period":{"start":"2024-05-01T10:00:00Z"},"participant":[{"individual":{"reference":"Practitioner/drx"}}],)" +
            gp_subject);
    auto condition = [](const std::string& status, const std::string& significance) {
      return R"("extension":[{"url":"https://fhir.hl7.org.uk/STU3/StructureDefinition/Extension-CareConnect-ProblemSignificance-1","valueCode":")" +
             significance +
             R"("}],"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":")" +
             status + R"("}]},"code":{"text":"x"},)";
    };
    put("Condition", "pr-active-major", condition("active", "major") + gp_subject);
    put("Condition", "pr-resolved-minor", condition("resolved", "minor") + hosp);
    put("Immunization", "imm",
        R"("status":"completed","vaccineCode":{"text":"flu"},"occurrenceDateTime":"2024-10-01",)" +
            gp);
    put("Observation", "hb",
        R"("status":"final","code":{"text":"Hb"},"effectiveDateTime":"2024-03-01",)" + hosp);
    put("DiagnosticReport", "fbc",
        R"("status":"final","code":{"text":"FBC"},"result":[{"reference":"Observation/hb"}],"performer":[{"reference":"Organization/trust"}],)" +
            hosp);
    put("ServiceRequest", "ref",
        R"("status":"active","intent":"order","code":{"text":"cardiology"},)" + gp_subject);
    put("Observation", "bp-2018",
        R"("status":"final","code":{"text":"BP"},"effectiveDateTime":"2018-03-01",)" + gp_subject);
    put("Observation", "bp-2024",
        R"("status":"final","code":{"text":"BP"},"effectiveDateTime":"2024-03-01",)" + gp_subject);
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  testing::ClientResponse Post(const std::string& body) {
    testing::HttpClient http(server_->port());
    return http.Send("POST", "/fhir/Patient/$gpc.getstructuredrecord", body);
  }

  // The structured record: per List its code and entry references, and the
  // "Type/id" of every resource in the Bundle.
  struct Record {
    std::vector<std::string> resources;
    std::vector<std::pair<std::string, std::vector<std::string>>> lists;
    std::vector<std::string> Entries(const std::string& code) const {
      for (const auto& [c, e] : lists) {
        if (c == code) return e;
      }
      return {"(no list " + code + ")"};
    }
    bool Has(const std::string& ref) const {
      return std::find(resources.begin(), resources.end(), ref) != resources.end();
    }
  };
  Record Get(const std::string& more) {
    auto r = Post(Params(kNhs, more));
    EXPECT_EQ(r.status, 200) << r.body;
    Record rec;
    auto d = fhir::ParseJson(r.body);
    if (!d.ok()) return rec;
    EXPECT_EQ(fhir::StringMember(*d, "type"), "collection");
    EXPECT_EQ(std::string((*d)["meta"]["profile"][0].GetString()),
              "https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-StructuredRecord-Bundle-1");
    for (const fhir::Json& e : (*d)["entry"].GetArray()) {
      const fhir::Json& res = e["resource"];
      std::string type(fhir::StringMember(res, "resourceType"));
      if (type == "List") {
        std::vector<std::string> items;
        if (const fhir::Json* en = fhir::Member(res, "entry")) {
          for (const fhir::Json& x : en->GetArray()) {
            items.push_back(std::string(fhir::StringMember(x["item"], "reference")));
          }
        } else {
          EXPECT_NE(fhir::Member(res, "emptyReason"), nullptr);
        }
        EXPECT_EQ(fhir::StringMember(res["subject"], "reference"), "Patient/gp-a");
        EXPECT_EQ(fhir::StringMember(res, "mode"), "snapshot");
        rec.lists.emplace_back(fhir::StringMember(res["code"]["coding"][0], "code"), items);
      } else {
        rec.resources.push_back(type + "/" + std::string(fhir::StringMember(res, "id")));
      }
    }
    return rec;
  }

  static testing::TempDir* dir_;
  static testing::LhcrProcess* server_;
};
testing::TempDir* GpConnectHttpTest::dir_ = nullptr;
testing::LhcrProcess* GpConnectHttpTest::server_ = nullptr;

using Refs = std::vector<std::string>;

TEST_F(GpConnectHttpTest, PatientPracticeAndUsualGpWithNoAreas) {
  Record r = Get("");
  EXPECT_EQ(r.resources, (Refs{"Patient/gp-a", "Patient/hosp-a", "Organization/gp",
                               "Practitioner/drx", "PractitionerRole/drx-gp"}));
  EXPECT_TRUE(r.lists.empty());
}

TEST_F(GpConnectHttpTest, Allergies) {
  Record r = Get(
      R"({"name":"includeAllergies","part":[{"name":"includeResolvedAllergies","valueBoolean":false}]})");
  ASSERT_EQ(r.lists.size(), 1u);
  EXPECT_EQ(r.Entries("886921000000105"), (Refs{"AllergyIntolerance/al-active"}));
  EXPECT_FALSE(r.Has("AllergyIntolerance/al-resolved"));
  r = Get(
      R"({"name":"includeAllergies","part":[{"name":"includeResolvedAllergies","valueBoolean":true}]})");
  EXPECT_EQ(r.Entries("886921000000105"), (Refs{"AllergyIntolerance/al-active"}));
  EXPECT_EQ(r.Entries("1103671000000101"), (Refs{"AllergyIntolerance/al-resolved"}));
  EXPECT_TRUE(r.Has("AllergyIntolerance/al-resolved"));
}

TEST_F(GpConnectHttpTest, MedicationAcrossSourcesWithIssuesAndFromDate) {
  Record r = Get(
      R"({"name":"includeMedication","part":[{"name":"includePrescriptionIssues","valueBoolean":true}]})");
  EXPECT_EQ(r.Entries("933361000000108"),
            (Refs{"MedicationStatement/ms-old", "MedicationStatement/ms-current",
                  "MedicationRequest/mr-plan", "MedicationRequest/mr-issue"}));
  EXPECT_TRUE(r.Has("Medication/med1"));
  r = Get(
      R"({"name":"includeMedication","part":[{"name":"includePrescriptionIssues","valueBoolean":false},{"name":"medicationSearchFromDate","valueDate":"2020-01-01"}]})");
  EXPECT_EQ(r.Entries("933361000000108"),
            (Refs{"MedicationStatement/ms-current", "MedicationRequest/mr-plan"}));
  EXPECT_FALSE(r.Has("MedicationRequest/mr-issue"));
}

TEST_F(GpConnectHttpTest, Consultations) {
  Record r = Get(R"({"name":"includeConsultations"})");
  EXPECT_EQ(r.Entries("1149501000000101"),
            (Refs{"Encounter/enc-2020", "Encounter/enc-2023", "Encounter/enc-2024"}));
  r = Get(
      R"({"name":"includeConsultations","part":[{"name":"consultationSearchPeriod","valuePeriod":{"start":"2021-01-01","end":"2023-12-31"}}]})");
  EXPECT_EQ(r.Entries("1149501000000101"), (Refs{"Encounter/enc-2023"}));
  r = Get(
      R"({"name":"includeConsultations","part":[{"name":"includeNumberOfMostRecent","valueInteger":2}]})");
  EXPECT_EQ(r.Entries("1149501000000101"), (Refs{"Encounter/enc-2024", "Encounter/enc-2023"}));
}

TEST_F(GpConnectHttpTest, ProblemsByStatusAndSignificance) {
  Record r = Get(R"({"name":"includeProblems"})");
  EXPECT_EQ(r.Entries("717711000000103"),
            (Refs{"Condition/pr-active-major", "Condition/pr-resolved-minor"}));
  r = Get(R"({"name":"includeProblems","part":[{"name":"includeStatus","valueCode":"active"}]})");
  EXPECT_EQ(r.Entries("717711000000103"), (Refs{"Condition/pr-active-major"}));
  r = Get(
      R"({"name":"includeProblems","part":[{"name":"includeSignificance","valueCode":"minor"}]})");
  EXPECT_EQ(r.Entries("717711000000103"), (Refs{"Condition/pr-resolved-minor"}));
  // Two combinations: their union.
  r = Get(R"({"name":"includeProblems","part":[{"name":"includeStatus","valueCode":"active"}]},
             {"name":"includeProblems","part":[{"name":"includeStatus","valueCode":"inactive"},{"name":"includeSignificance","valueCode":"minor"}]})");
  EXPECT_EQ(r.Entries("717711000000103"),
            (Refs{"Condition/pr-active-major", "Condition/pr-resolved-minor"}));
}

TEST_F(GpConnectHttpTest, ImmunisationsInvestigationsReferralsUncategorised) {
  Record r = Get(R"({"name":"includeImmunisations"},{"name":"includeInvestigations"},
                    {"name":"includeReferrals"},{"name":"includeUncategorisedData"})");
  EXPECT_EQ(r.Entries("1102181000000102"), (Refs{"Immunization/imm"}));
  EXPECT_EQ(r.Entries("887191000000108"), (Refs{"DiagnosticReport/fbc"}));
  EXPECT_TRUE(r.Has("Observation/hb"));      // the report's result
  EXPECT_TRUE(r.Has("Organization/trust"));  // its performer
  EXPECT_EQ(r.Entries("792931000000107"), (Refs{"ServiceRequest/ref"}));
  // A report's results are not uncategorised.
  EXPECT_EQ(r.Entries("826501000000100"), (Refs{"Observation/bp-2018", "Observation/bp-2024"}));
  r = Get(
      R"({"name":"includeUncategorisedData","part":[{"name":"uncategorisedDataSearchPeriod","valuePeriod":{"start":"2020-01-01"}}]})");
  EXPECT_EQ(r.Entries("826501000000100"), (Refs{"Observation/bp-2024"}));
  EXPECT_FALSE(r.Has("Observation/hb"));
}

TEST_F(GpConnectHttpTest, EmptyAreaIsAnEmptyList) {
  testing::HttpClient http(server_->port());
  ASSERT_EQ(http.Call("DELETE", "/fhir/ServiceRequest/ref").status / 100, 2);
  auto post = Post(Params(kNhs, R"({"name":"includeReferrals"})"));
  ASSERT_EQ(post.status, 200) << post.body;
  EXPECT_NE(post.body.find(R"("note":[{"text":"Information not available"}],"emptyReason")"),
            std::string::npos)
      << post.body;
  Record r = Get(R"({"name":"includeReferrals"})");
  EXPECT_EQ(r.Entries("792931000000107"), Refs{});
  // Put it back for the tests that share this server.
  ASSERT_EQ(
      http.Send(
              "PUT", "/fhir/ServiceRequest/ref",
              R"({"resourceType":"ServiceRequest","id":"ref","status":"active","intent":"order","code":{"text":"cardiology"},"subject":{"reference":"Patient/gp-a"}})")
              .status /
          100,
      2);
}

TEST_F(GpConnectHttpTest, ErrorCodesAndStatuses) {
  const std::string kSpine = "https://fhir.nhs.uk/STU3/CodeSystem/Spine-ErrorOrWarningCode-1";
  struct Case {
    std::string body;
    int status;
    std::string spine;
  };
  const std::vector<Case> cases = {
      // The body.
      {"not json", 422, "INVALID_RESOURCE"},
      {R"({"resourceType":"Patient"})", 422, "INVALID_RESOURCE"},
      // The NHS number.
      {R"({"resourceType":"Parameters","parameter":[]})", 422, "INVALID_PARAMETER"},
      {Params("9990000019"), 400, "INVALID_NHS_NUMBER"},  // check digit
      {Params("12345"), 400, "INVALID_NHS_NUMBER"},
      {Params("1111111111"), 400, "INVALID_NHS_NUMBER"},  // placeholder
      {R"({"resourceType":"Parameters","parameter":[{"name":"patientNHSNumber","valueIdentifier":{"system":"https://example.org/mrn","value":"9990000018"}}]})",
       400, "INVALID_NHS_NUMBER"},
      // Parameters and parts.
      {Params(kNhs, R"({"name":"includeAllergies"})"), 422, "INVALID_PARAMETER"},
      {Params(kNhs, R"({"name":"includeMedication"})"), 422, "INVALID_PARAMETER"},
      {Params(kNhs, R"({"name":"includeFrogs"})"), 422, "INVALID_PARAMETER"},
      {Params(kNhs, R"({"name":"includeImmunisations"},{"name":"includeImmunisations"})"), 422,
       "INVALID_PARAMETER"},
      {Params(
           kNhs,
           R"({"name":"includeAllergies","part":[{"name":"includeResolvedAllergies","valueBoolean":true},{"name":"includeResolvedAllergies","valueBoolean":true}]})"),
       422, "INVALID_PARAMETER"},
      {Params(
           kNhs,
           R"({"name":"includeAllergies","part":[{"name":"includeResolvedAllergies","valueBoolean":true},{"name":"colour","valueCode":"red"}]})"),
       422, "INVALID_PARAMETER"},
      {Params(
           kNhs,
           R"({"name":"includeMedication","part":[{"name":"includePrescriptionIssues","valueBoolean":true},{"name":"medicationSearchFromDate","valueDate":"2020-01"}]})"),
       422, "INVALID_PARAMETER"},
      {Params(
           kNhs,
           R"({"name":"includeMedication","part":[{"name":"includePrescriptionIssues","valueBoolean":true},{"name":"medicationSearchFromDate","valueDate":"2999-01-01"}]})"),
       422, "INVALID_PARAMETER"},
      {Params(
           kNhs,
           R"({"name":"includeConsultations","part":[{"name":"consultationSearchPeriod","valuePeriod":{"start":"2024-01-01","end":"2023-01-01"}}]})"),
       422, "INVALID_PARAMETER"},
      {Params(
           kNhs,
           R"({"name":"includeConsultations","part":[{"name":"consultationSearchPeriod","valuePeriod":{"start":"2024-01-01"}},{"name":"includeNumberOfMostRecent","valueInteger":3}]})"),
       422, "INVALID_RESOURCE"},
      {Params(
           kNhs,
           R"({"name":"includeProblems","part":[{"name":"includeStatus","valueCode":"resolved"}]})"),
       422, "INVALID_PARAMETER"},
      {Params(
           kNhs,
           R"({"name":"includeUncategorisedData","part":[{"name":"uncategorisedDataSearchPeriod","valuePeriod":{"start":"2024-01-01T00:00:00Z"}}]})"),
       422, "INVALID_PARAMETER"},
      // The patient.
      {Params(kNhsNobody), 404, "PATIENT_NOT_FOUND"},
      {Params(kNhsDeceased), 404, "PATIENT_NOT_FOUND"},
      {Params(kNhsUnverified), 404, "PATIENT_NOT_FOUND"},
      {Params(kNhsRestricted), 404, "PATIENT_NOT_FOUND"},
  };
  for (const Case& c : cases) {
    auto r = Post(c.body);
    EXPECT_EQ(r.status, c.status) << c.body << "\n" << r.body;
    Outcome o = OutcomeOf(r.body);
    EXPECT_EQ(o.spine_code, c.spine) << c.body << "\n" << r.body;
    EXPECT_EQ(o.spine_system, kSpine) << r.body;
  }
  // POST only; and the CapabilityStatement declares it.
  testing::HttpClient http(server_->port());
  auto r = http.Get("/fhir/Patient/$gpc.getstructuredrecord?patientNHSNumber=9990000018");
  EXPECT_EQ(r.status / 100, 4) << r.body;
  r = http.Get("/fhir/metadata");
  EXPECT_NE(
      r.body.find(
          R"({"name":"gpc.getstructuredrecord","definition":"https://fhir.nhs.uk/STU3/OperationDefinition/GPConnect-GetStructuredRecord-Operation-1"})"),
      std::string::npos);
}

}  // namespace
}  // namespace lhcr
