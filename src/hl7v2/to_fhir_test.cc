#include "hl7v2/to_fhir.h"

#include <gtest/gtest.h>
#include <rapidjson/pointer.h>

#include "fhir/json.h"
#include "fhir/validator.h"

namespace lhcr::hl7v2 {
namespace {

using fhir::Json;
using fhir::JsonDoc;

SourceInfo Source() {
  SourceInfo s;
  s.source_id = "acute";
  s.ods_code = "RXX";
  return s;
}

MappedMessage Map(std::string_view er7) {
  auto m = ParseMessage(er7);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  auto mapped = MapToFhir(*m, Source());
  EXPECT_TRUE(mapped.ok()) << mapped.status().ToString();
  return std::move(mapped).value();
}

JsonDoc Doc(const MappedMessage& m) {
  auto d = fhir::ParseJson(m.bundle_json);
  EXPECT_TRUE(d.ok());
  // Every Bundle is valid R4.
  for (const auto& issue : fhir::Validator::R4()->Validate(*d)) {
    ADD_FAILURE() << fhir::ToString(issue);
  }
  return std::move(d).value();
}

std::string At(const Json& doc, const char* pointer) {
  const Json* v = rapidjson::Pointer(pointer).Get(doc);
  if (v == nullptr) return "<absent>";
  return v->IsString() ? std::string(fhir::AsView(*v)) : fhir::ToJson(*v);
}

const char* kA01 =
    "MSH|^~\\&|PAS|RXX|LHCR|REGION|20240301093000+0000||ADT^A01^ADT_A01|C1|P|2.4\r"
    "EVN|A01|20240301092500+0000\r"
    "PID|1||M1^^^RXX^MR~943 476 5919^^^NHS^NH~4444444444^^^NHS^NH||SMITH^JANE^ANN^^MRS^^L~"
    "JONES^JANE^^^^^M||19700101|F|||1 HIGH STREET^FLAT 2^LEEDS^W YORKS^ls14ap^GB^H||"
    "0113 496 0000^PRN^PH~^NET^Internet^jane@example.org|07700 900000^WPN^CP|||||||||||||||"
    "20240301|Y||01\r"
    "PD1|||THE SURGERY^^^^^^^^^y12345|G1234567^WHO^JOHN^^^DR\r"
    "PV1|1|I|WARD1^BAY2^BED3^RXX||||C1234567^JONES^ANNA^^^DR||||||||||||V9876|||||||||||||||||||"
    "||||||20240301090000+0000\r";

TEST(ToFhirTest, A01PatientAndEncounter) {
  MappedMessage m = Map(kA01);
  EXPECT_EQ(m.event, "ADT^A01");
  EXPECT_EQ(m.control_id, "C1");
  EXPECT_EQ(m.message_time, "2024-03-01T09:25:00+00:00");
  EXPECT_EQ(
      m.findings,
      (std::vector<Finding>{{"PID-3[3]", "invalid-nhs-number",
                             "'4444444444' is not a valid NHS number (modulus 11); not stored as "
                             "one"}}));
  JsonDoc d = Doc(m);
  EXPECT_EQ(At(d, "/type"), "transaction");
  ASSERT_EQ(d["entry"].Size(), 3u);
  EXPECT_EQ(
      At(d, "/entry/0/request"),
      R"({"method":"PUT","url":"Patient?identifier=https://fhir.acute.example/Id/patient|M1"})");
  const Json& p = d["entry"][0]["resource"];
  EXPECT_EQ(
      fhir::ToJson(p),
      R"({"resourceType":"Patient","identifier":[{"use":"usual","system":"https://fhir.acute.example/Id/patient","value":"M1"},)"
      R"({"extension":[{"url":"https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus","valueCodeableConcept":{"coding":[{"system":"https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland","code":"01"}]}}],"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"}],)"
      R"("active":true,"name":[{"use":"official","family":"SMITH","given":["JANE","ANN"],"prefix":["MRS"]},{"use":"maiden","family":"JONES","given":["JANE"]}],)"
      R"("telecom":[{"system":"phone","value":"0113 496 0000","use":"home"},{"system":"email","value":"jane@example.org","use":"home"},{"system":"phone","value":"07700 900000","use":"work"}],)"
      R"("gender":"female","birthDate":"1970-01-01","deceasedDateTime":"2024-03-01",)"
      R"("address":[{"use":"home","line":["1 HIGH STREET","FLAT 2"],"city":"LEEDS","district":"W YORKS","postalCode":"LS1 4AP","country":"GB"}],)"
      R"("generalPractitioner":[{"type":"Organization","identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"Y12345"},"display":"THE SURGERY"},)"
      R"({"type":"Practitioner","identifier":{"system":"https://fhir.hl7.org.uk/Id/gmp-number","value":"G1234567"},"display":"DR JOHN WHO"}],)"
      R"("managingOrganization":{"type":"Organization","identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"RXX"}},)"
      R"("meta":{"source":"acute#C1"},"extension":[{"url":"https://lhcr.example/fhir/StructureDefinition/source-message-time","valueDateTime":"2024-03-01T09:25:00+00:00"}]})");
  const Json& e = d["entry"][1]["resource"];
  EXPECT_EQ(At(d, "/entry/1/request/url"),
            "Encounter?identifier=https://fhir.acute.example/Id/visit-number|V9876");
  EXPECT_EQ(At(e, "/status"), "in-progress");
  EXPECT_EQ(
      At(e, "/class"),
      R"({"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"IMP","display":"inpatient encounter"})");
  EXPECT_EQ(At(e, "/subject/reference"), At(d, "/entry/0/fullUrl"));
  EXPECT_EQ(At(e, "/period"), R"({"start":"2024-03-01T09:00:00+00:00"})");
  EXPECT_EQ(At(e, "/location/0"),
            R"({"location":{"display":"WARD1, BAY2, BED3, RXX"},"status":"active"})");
  EXPECT_EQ(
      At(e, "/participant/0/individual"),
      R"({"type":"Practitioner","identifier":{"system":"https://fhir.acute.example/Id/practitioner","value":"C1234567"},"display":"DR ANNA JONES"})");
  const Json& prov = d["entry"][2]["resource"];
  EXPECT_EQ(At(prov, "/resourceType"), "Provenance");
  EXPECT_EQ(At(d, "/entry/2/request/method"), "PUT");
  EXPECT_EQ(At(d, "/entry/2/request/url"), "Provenance/" + At(prov, "/id"));
  EXPECT_EQ(At(prov, "/target/0/reference"), At(d, "/entry/0/fullUrl"));
  EXPECT_EQ(At(prov, "/target/1/reference"), At(d, "/entry/1/fullUrl"));
  EXPECT_EQ(At(prov, "/recorded"), "2024-03-01T09:30:00+00:00");
  EXPECT_EQ(At(prov, "/entity/0/what/identifier/value"), "C1");
  EXPECT_EQ(At(prov, "/agent/0/who/identifier/value"), "RXX");
  // Deterministic: the same message maps to the same bytes.
  EXPECT_EQ(Map(kA01).bundle_json, m.bundle_json);
}

TEST(ToFhirTest, EncounterStatusByEvent) {
  std::string a03 = kA01;
  a03.replace(a03.find("ADT^A01"), 7, "ADT^A03");
  a03.replace(a03.find("EVN|A01"), 7, "EVN|A03");
  a03.replace(a03.find("20240301090000+0000\r"), 20, "20240301090000+0000|20240305120000+0000\r");
  JsonDoc d = Doc(Map(a03));
  EXPECT_EQ(At(d, "/entry/1/resource/status"), "finished");
  EXPECT_EQ(At(d, "/entry/1/resource/period"),
            R"({"start":"2024-03-01T09:00:00+00:00","end":"2024-03-05T12:00:00+00:00"})");
  EXPECT_EQ(At(d, "/entry/1/resource/location/0/status"), "completed");
  std::string a02 = kA01;
  a02.replace(a02.find("ADT^A01"), 7, "ADT^A02");
  a02.replace(a02.find("WARD1^BAY2^BED3^RXX||||"), 24,
              "WARD2^BAY1^BED1^RXX|||WARD1^BAY2^BED3^RXX|");
  d = Doc(Map(a02));
  EXPECT_EQ(At(d, "/entry/1/resource/location"),
            R"([{"location":{"display":"WARD1, BAY2, BED3, RXX"},"status":"completed"},)"
            R"({"location":{"display":"WARD2, BAY1, BED1, RXX"},"status":"active"}])");
  std::string a31 = kA01;
  a31.replace(a31.find("ADT^A01"), 7, "ADT^A31");
  d = Doc(Map(a31));
  EXPECT_EQ(d["entry"].Size(), 2u);  // Patient and Provenance: no visit
}

TEST(ToFhirTest, A40Merge) {
  MappedMessage m =
      Map("MSH|^~\\&|PAS|RXX|LHCR|REGION|20240301093000||ADT^A40^ADT_A39|C40|P|2.4\r"
          "EVN|A40|20240301093000\r"
          "PID|1||M1^^^RXX^MR||SMITH^JANE\r"
          "MRG|M2^^^RXX^MR\r");
  ASSERT_TRUE(m.merge);
  EXPECT_EQ(*m.merge, (MergeInstruction{{"https://fhir.acute.example/Id/patient", "M1"},
                                        {"https://fhir.acute.example/Id/patient", "M2"}}));
  JsonDoc d = Doc(m);
  EXPECT_EQ(At(d, "/entry/0/resource/identifier/0/value"), "M1");
  auto no_mrg = ParseMessage(
      "MSH|^~\\&|PAS|RXX|LHCR|REGION|20240301093000||ADT^A40|C41|P|2.4\rPID|1||M1^^^RXX^MR\r");
  auto r = MapToFhir(*no_mrg, Source());
  EXPECT_EQ(r.status().message(), "ADT^A40: MRG-1 (the prior patient identifier) missing");
  EXPECT_EQ(r.status().details().front().code, "101");
}

TEST(ToFhirTest, OruResults) {
  MappedMessage m =
      Map("MSH|^~\\&|LAB|RXX|LHCR|REGION|20240301100000+0000||ORU^R01|L1|P|2.4\r"
          "PID|1||M1^^^RXX^MR||SMITH^JANE||19700101|F\r"
          "OBR|1|P100|F200|FBC^Full blood count^WINPATH|||20240301080000+0000|||||||||||||||"
          "20240301095500+0000||HM|F\r"
          "OBX|1|NM|HB^Haemoglobin^WINPATH^718-7^Hemoglobin^LN||135|g/L^^UCUM|130-170|N|||F|||"
          "20240301081000+0000\r"
          "OBX|2|NM|PLT^Platelets^WINPATH||<10|10*9/L|150-400|LL|||F\r"
          "OBX|3|ST|COM^Comment^WINPATH||Sample \\T\\ label checked||||||F\r"
          "NTE|1||Repeat advised\r"
          "OBX|4|CE|ORG^Organism^WINPATH||27268008^Salmonella^SCT||||||P\r"
          "OBX|5|SN|TITRE^Titre^WINPATH||^1^:^128||||||F\r"
          "OBX|6|NM|K^Potassium^WINPATH||4.10|mmol/L|3.5-5.3|H|||C\r");
  EXPECT_EQ(m.findings, std::vector<Finding>{});
  JsonDoc d = Doc(m);
  ASSERT_EQ(d["entry"].Size(), 9u);  // Patient, 6 Observations, report, Provenance
  const Json& hb = d["entry"][1]["resource"];
  EXPECT_EQ(At(d, "/entry/1/request/url"),
            "Observation?identifier=https://fhir.acute.example/Id/observation|F200-HB");
  EXPECT_EQ(
      At(hb, "/code"),
      R"({"coding":[{"system":"https://fhir.acute.example/lab-codes","code":"HB","display":"Haemoglobin"},)"
      R"({"system":"https://fhir.acute.example/lab-codes","code":"718-7","display":"Hemoglobin"},)"
      R"({"system":"http://loinc.org","code":"718-7","display":"Hemoglobin"}],"text":"Haemoglobin"})");
  EXPECT_EQ(At(hb, "/valueQuantity"),
            R"({"value":135,"unit":"g/L","system":"http://unitsofmeasure.org","code":"g/L"})");
  EXPECT_NE(m.bundle_json.find(R"("valueQuantity":{"value":135,)"), std::string::npos);
  EXPECT_EQ(At(hb, "/status"), "final");
  EXPECT_EQ(At(hb, "/effectiveDateTime"), "2024-03-01T08:10:00+00:00");
  EXPECT_EQ(At(hb, "/interpretation/0/coding/0/code"), "N");
  EXPECT_EQ(At(hb, "/referenceRange/0/text"), "130-170");
  const Json& plt = d["entry"][2]["resource"];
  EXPECT_EQ(At(plt, "/valueQuantity/comparator"), "<");
  EXPECT_EQ(At(plt, "/effectiveDateTime"), "2024-03-01T08:00:00+00:00");  // from OBR-7
  const Json& com = d["entry"][3]["resource"];
  EXPECT_EQ(At(com, "/valueString"), "Sample & label checked");
  EXPECT_EQ(At(com, "/note/0/text"), "Repeat advised");
  const Json& org = d["entry"][4]["resource"];
  EXPECT_EQ(At(org, "/valueCodeableConcept/coding/0"),
            R"({"system":"http://snomed.info/sct","code":"27268008","display":"Salmonella"})");
  EXPECT_EQ(At(org, "/status"), "preliminary");
  EXPECT_EQ(At(d, "/entry/5/resource/valueRatio"),
            R"({"numerator":{"value":1},"denominator":{"value":128}})");
  EXPECT_NE(m.bundle_json.find(R"("valueQuantity":{"value":4.10,)"), std::string::npos);
  EXPECT_EQ(At(d, "/entry/6/resource/status"), "corrected");
  const Json& dr = d["entry"][7]["resource"];
  EXPECT_EQ(At(d, "/entry/7/request/url"),
            "DiagnosticReport?identifier=https://fhir.acute.example/Id/filler-order-number|F200");
  EXPECT_EQ(At(dr, "/status"), "final");
  EXPECT_EQ(At(dr, "/issued"), "2024-03-01T09:55:00+00:00");
  EXPECT_EQ(At(dr, "/category/0/coding/0/code"), "HM");
  EXPECT_EQ(At(dr, "/code/coding/0/code"), "FBC");
  EXPECT_EQ(dr["result"].Size(), 6u);
  EXPECT_EQ(At(dr, "/result/0/reference"), At(d, "/entry/1/fullUrl"));
  EXPECT_EQ(d["entry"][8]["resource"]["target"].Size(), 8u);
}

TEST(ToFhirTest, ErrorsAndFindings) {
  auto siu = ParseMessage("MSH|^~\\&|A|B|C|D|20240101||SIU^S12|1|P|2.4\r");
  auto r = MapToFhir(*siu, Source());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(r.status().message(), "message type SIU^S12 is not supported (ADT and ORU^R01 are)");
  EXPECT_EQ(r.status().details().front().code, "200");
  auto no_id = ParseMessage(
      "MSH|^~\\&|A|B|C|D|20240101||ADT^A04|1|P|2.4\rPID|1||1234567890^^^NHS^NH||X^Y\r");
  r = MapToFhir(*no_id, Source());
  EXPECT_EQ(r.status().code(), StatusCode::kIncorrect);
  EXPECT_EQ(r.status().details().front().location, "PID-3");
  EXPECT_EQ(r.status().details().front().code, "101");
  auto no_pid = ParseMessage("MSH|^~\\&|A|B|C|D|20240101||ADT^A04|1|P|2.4\r");
  EXPECT_EQ(MapToFhir(*no_pid, Source()).status().message(), "ADT^A04: no PID segment");
  // Only an NHS number: it becomes the key; bad dates are findings.
  MappedMessage m =
      Map("MSH|^~\\&|A|B|C|D|20240101120000||ADT^A28|1|P|2.4\r"
          "PID|1||9434765919^^^NHS^NH||X^Y||19700230|Q\r");
  JsonDoc d = Doc(m);
  EXPECT_EQ(At(d, "/entry/0/request/url"),
            "Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919");
  EXPECT_EQ(m.findings, (std::vector<Finding>{
                            {"PID-8", "unmapped-code", "administrative sex 'Q' not in table 0001"},
                            {"PID-7", "invalid-date",
                             "'19700230' is not an HL7 date/time: no such day in that month"}}));
}

TEST(ToFhirTest, NhsNumbers) {
  EXPECT_TRUE(IsValidNhsNumber("9434765919"));
  EXPECT_FALSE(IsValidNhsNumber("9434765918"));
  EXPECT_FALSE(IsValidNhsNumber("1111111111"));
  EXPECT_FALSE(IsValidNhsNumber("0123456789"));
  EXPECT_FALSE(IsValidNhsNumber("943476591"));
  EXPECT_FALSE(IsValidNhsNumber("94347659 9"));
}

TEST(ToFhirTest, DropStaleEntries) {
  MappedMessage m = Map(kA01);
  // Nothing stored: everything is kept.
  auto none = [](const std::string&, const std::string&) -> Result<std::optional<std::string>> {
    return std::optional<std::string>();
  };
  auto all = DropStaleEntries(m.bundle_json, none);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->kept, 3);
  EXPECT_EQ(all->bundle_json, m.bundle_json);
  // A newer Patient is stored: the Patient entry goes, the Encounter points
  // at the stored Patient, the Provenance targets the Encounter only.
  auto newer = [](const std::string& type,
                  const std::string& q) -> Result<std::optional<std::string>> {
    if (type != "Patient") return std::optional<std::string>();
    return std::optional<std::string>(
        R"({"resourceType":"Patient","id":"p1","meta":{"source":"acute#C9"},"extension":[{"url":"https://lhcr.example/fhir/StructureDefinition/source-message-time","valueDateTime":"2024-03-02T00:00:00Z"}]})");
  };
  auto some = DropStaleEntries(m.bundle_json, newer);
  ASSERT_TRUE(some.ok());
  EXPECT_EQ(some->kept, 2);
  EXPECT_EQ(some->dropped, 1);
  auto d = fhir::ParseJson(some->bundle_json);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(At(*d, "/entry/0/resource/subject/reference"), "Patient/p1");
  EXPECT_EQ((*d)["entry"][1]["resource"]["target"].Size(), 1u);
}

TEST(ToFhirTest, DropStaleEntriesResolvesConditionalReferences) {
  // A Bundle that refers to a Patient of another feed by a conditional
  // reference: the stored MedicationRequest points at Patient/p1, where the
  // server points the conditional reference, so it says the same: dropped.
  const std::string bundle =
      R"({"resourceType":"Bundle","type":"transaction","entry":[)"
      R"({"fullUrl":"urn:uuid:m","resource":{"resourceType":"MedicationRequest","meta":{"source":"epma#2"},"status":"active","subject":{"reference":"Patient?identifier=s|1"}},"request":{"method":"PUT","url":"MedicationRequest?identifier=m|1"}}]})";
  std::string subject = "Patient/p1";
  auto stored = [&](const std::string& type,
                    const std::string& query) -> Result<std::optional<std::string>> {
    if (type == "Patient") {
      EXPECT_EQ(query, "identifier=s|1");
      return std::optional<std::string>(R"({"resourceType":"Patient","id":"p1"})");
    }
    return std::optional<std::string>(
        R"({"resourceType":"MedicationRequest","id":"r1","meta":{"source":"epma#1"},"status":"active","subject":{"reference":")" +
        subject + R"("}})");
  };
  auto checked = DropStaleEntries(bundle, stored);
  ASSERT_TRUE(checked.ok()) << checked.status().ToString();
  EXPECT_EQ(checked->kept, 0);
  EXPECT_EQ(checked->dropped, 1);
  // Stored against another Patient: the fact changed, kept.
  subject = "Patient/p2";
  checked = DropStaleEntries(bundle, stored);
  ASSERT_TRUE(checked.ok());
  EXPECT_EQ(checked->kept, 1);
}

TEST(ToFhirTest, DropStaleEntriesDropsUnchangedFacts) {
  // A FHIR source's Bundle: no message times. The stored Organization says
  // the same thing (other id, meta and message time): dropped. The stored
  // Patient differs in one fact: kept.
  const std::string bundle =
      R"({"resourceType":"Bundle","type":"transaction","entry":[)"
      R"({"fullUrl":"urn:uuid:o","resource":{"resourceType":"Organization","meta":{"source":"gp#2"},"name":"A","identifier":[{"system":"s","value":"Y1"}]},"request":{"method":"PUT","url":"Organization?identifier=s|Y1"}},)"
      R"({"fullUrl":"urn:uuid:p","resource":{"resourceType":"Patient","meta":{"source":"gp#2"},"gender":"male","managingOrganization":{"reference":"urn:uuid:o"}},"request":{"method":"PUT","url":"Patient?identifier=s|1"}}]})";
  auto stored = [](const std::string& type,
                   const std::string&) -> Result<std::optional<std::string>> {
    if (type == "Organization") {
      return std::optional<std::string>(
          R"({"resourceType":"Organization","id":"org1","meta":{"versionId":"3","source":"gp#1"},"extension":[{"url":"https://lhcr.example/fhir/StructureDefinition/source-message-time","valueDateTime":"2024-03-02T00:00:00Z"}],"identifier":[{"value":"Y1","system":"s"}],"name":"A"})");
    }
    return std::optional<std::string>(
        R"({"resourceType":"Patient","id":"p1","meta":{"source":"gp#1"},"gender":"female","managingOrganization":{"reference":"Organization/org1"}})");
  };
  auto checked = DropStaleEntries(bundle, stored);
  ASSERT_TRUE(checked.ok()) << checked.status().ToString();
  EXPECT_EQ(checked->kept, 1);
  EXPECT_EQ(checked->dropped, 1);
  auto d = fhir::ParseJson(checked->bundle_json);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(At(*d, "/entry/0/resource/resourceType"), "Patient");
  EXPECT_EQ(At(*d, "/entry/0/resource/managingOrganization/reference"), "Organization/org1");
  // The same Bundle again once written: nothing is kept (same meta.source).
  auto same = [&](const std::string& type,
                  const std::string&) -> Result<std::optional<std::string>> {
    if (type == "Organization") return stored(type, "");
    return std::optional<std::string>(
        R"({"resourceType":"Patient","id":"p1","meta":{"source":"gp#2"},"gender":"male","managingOrganization":{"reference":"Organization/org1"}})");
  };
  auto again = DropStaleEntries(bundle, same);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->kept, 0);
}

}  // namespace
}  // namespace lhcr::hl7v2
