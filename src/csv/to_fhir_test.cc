#include "csv/to_fhir.h"

#include <gtest/gtest.h>
#include <rapidjson/pointer.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "fhir/json.h"
#include "fhir/search_param.h"
#include "fhir/validator.h"
#include "interaction/interaction.h"
#include "search/search.h"
#include "synth/synth.h"
#include "testing/local_record.h"

namespace lhcr::csv {
namespace {

namespace fs = std::filesystem;
using fhir::Json;
using fhir::JsonDoc;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The "csv" member of the social care source in the registry synth writes.
std::string SynthCsvMember() {
  auto doc = fhir::ParseJson(synth::SourceRegistryJson());
  EXPECT_TRUE(doc.ok());
  for (const Json& s : (*doc)["sources"].GetArray()) {
    if (fhir::StringMember(s, "format") == "csv") return fhir::ToJson(s["csv"]);
  }
  ADD_FAILURE() << "no csv source in the registry";
  return "{}";
}

CsvMapping SynthMapping() {
  auto m = ParseCsvMapping(SynthCsvMember());
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? *m : CsvMapping{};
}

CsvSourceInfo Source() {
  CsvSourceInfo s;
  s.source_id = "la-x99";
  s.ods_code = "X99";
  s.extract_time = "2025-01-01T06:00:00Z";
  return s;
}

// Every Bundle, and every resource in it, is valid R4.
JsonDoc Valid(const std::string& bundle_json) {
  auto d = fhir::ParseJson(bundle_json);
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  if (!d.ok()) return JsonDoc();
  auto validator = fhir::Validator::R4();
  for (const auto& issue : validator->Validate(*d)) {
    ADD_FAILURE() << fhir::ToString(issue) << "\n" << bundle_json.substr(0, 3000);
  }
  for (const Json& e : (*d)["entry"].GetArray()) {
    for (const auto& issue : validator->Validate(e["resource"])) {
      ADD_FAILURE() << fhir::ToString(issue);
    }
  }
  return std::move(d).value();
}

std::string At(const Json& doc, const char* pointer) {
  const Json* v = rapidjson::Pointer(pointer).Get(doc);
  if (v == nullptr) return "<absent>";
  return v->IsString() ? std::string(fhir::AsView(*v)) : fhir::ToJson(*v);
}

const char* kHeader =
    "PersonRef,Forename,Surname,DOB,Gender,NHSNo,Address1,Town,PostCode,EventRef,EventType,"
    "ServiceCode,ServiceDesc,StartDate,EndDate,HoursPerWeek\r\n";

CsvMapped Map(const std::string& rows, const CsvMapping& mapping = SynthMapping()) {
  auto mapped = MapCsvToFhir(kHeader + rows, mapping, Source());
  EXPECT_TRUE(mapped.ok()) << mapped.status().ToString();
  return mapped.ok() ? std::move(mapped).value() : CsvMapped{};
}

// ------------------------------------------------------------ the mapping file

TEST(CsvMappingTest, ParsesTheSynthMapping) {
  CsvMapping m = SynthMapping();
  EXPECT_EQ(m.delimiter, ',');
  EXPECT_EQ(m.quote, '"');
  EXPECT_TRUE(m.header);
  EXPECT_EQ(m.date_format, "DD/MM/YYYY");
  EXPECT_EQ(m.record_id_column, "PersonRef");
  ASSERT_EQ(m.columns.size(), 16u);
  EXPECT_EQ(m.columns[0], (CsvColumn{"PersonRef", "patient.identifier.local", "",
                                     "the person's social care record id"}));
  EXPECT_EQ(m.columns[11], (CsvColumn{"ServiceCode", "event.code",
                                      "https://x99.example.gov.uk/CodeSystem/asc-service",
                                      "local service codes"}));
  EXPECT_EQ(m.local_codes.at("HC"), "Home care package");
  EXPECT_EQ(m.event_types,
            (std::map<std::string, std::string>{
                {"ASSESS", "Encounter"}, {"REVIEW", "Encounter"}, {"SERVICE", "EpisodeOfCare"}}));
  EXPECT_EQ(m.dialect(), (Dialect{',', '"', true}));
}

TEST(CsvMappingTest, ErrorsNameTheMember) {
  auto error = [](const std::string& json) {
    auto m = ParseCsvMapping(json);
    if (m.ok()) return std::string("<ok>");
    EXPECT_EQ(m.status().code(), StatusCode::kIncorrect);
    return m.status().message();
  };
  const std::string cols = R"("columns":[{"name":"Ref","field":"patient.identifier.local"},)"
                           R"({"name":"Code","field":"event.code"}])";
  EXPECT_EQ(error(R"({"record_id_column":"Ref",)" + cols + "}"), "<ok>");
  EXPECT_EQ(error("[1]"), "csv mapping: not a JSON object");
  EXPECT_EQ(error("{"), "csv mapping: " + fhir::ParseJson("{").status().message());
  EXPECT_EQ(error(R"({"delimiter":";;","record_id_column":"Ref",)" + cols + "}"),
            "csv mapping: \"delimiter\" is not a one-character string");
  EXPECT_EQ(error(R"({"quote":",","record_id_column":"Ref",)" + cols + "}"),
            "csv mapping: \"delimiter\" and \"quote\" must differ and be neither CR, LF nor NUL");
  EXPECT_EQ(error(R"({"header":"yes","record_id_column":"Ref",)" + cols + "}"),
            "csv mapping: \"header\" is not a boolean");
  EXPECT_EQ(error(R"({"date_format":"DD/MM/YY","record_id_column":"Ref",)" + cols + "}"),
            "csv mapping: date_format 'DD/MM/YY' is not DD, MM and YYYY once each, with '/', "
            "'-', '.' or ' ' between them or nothing");
  EXPECT_EQ(error(R"({"encoding":"Windows-1252","record_id_column":"Ref",)" + cols + "}"),
            "csv mapping: \"encoding\" 'Windows-1252' is not supported (UTF-8 only)");
  EXPECT_EQ(error("{" + cols + "}"), "csv mapping: no \"record_id_column\"");
  EXPECT_EQ(error(R"({"record_id_column":7,)" + cols + "}"),
            "csv mapping: \"record_id_column\" is not a string");
  EXPECT_EQ(error(R"({"record_id_column":"Ref"})"),
            "csv mapping: no \"columns\" array with at least one column");
  EXPECT_EQ(error(R"({"record_id_column":"Ref","columns":[{"field":"ignore"}]})"),
            "csv mapping: columns[0] has no \"name\"");
  EXPECT_EQ(error(R"({"record_id_column":"Ref","columns":[{"name":"Ref","field":3}]})"),
            "csv mapping: columns[0]: \"field\" is not a string");
  EXPECT_EQ(
      error(
          R"({"record_id_column":"Ref","columns":[{"name":"Ref","field":"patient.idnetifier"}]})"),
      "csv mapping: columns[0] (Ref): unknown field 'patient.idnetifier' (docs/CSV.md lists the "
      "targets)");
  EXPECT_EQ(error(R"({"record_id_column":"Ref","columns":[)"
                  R"({"name":"Ref","field":"patient.identifier.local"},)"
                  R"({"name":"A","field":"event.code"},{"name":"B","field":"event.code"}]})"),
            "csv mapping: columns[2] (B): field 'event.code' is mapped twice");
  EXPECT_EQ(error(R"({"record_id_column":"Ref","columns":[)"
                  R"({"name":"Ref","field":"patient.identifier.local"},)"
                  R"({"name":"Ref","field":"ignore"}]})"),
            "csv mapping: columns[1]: column name 'Ref' is used twice");
  EXPECT_EQ(error(R"({"record_id_column":"Id",)" + cols + "}"),
            "csv mapping: columns[0] (Ref): patient.identifier.local must be the "
            "record_id_column ('Id')");
  EXPECT_EQ(
      error(R"({"record_id_column":"Code","columns":[{"name":"Code","field":"event.code"}]})"),
      "csv mapping: record_id_column 'Code' is mapped to 'event.code', not "
      "patient.identifier.local");
  EXPECT_EQ(
      error(R"({"record_id_column":"Nope","columns":[{"name":"Code","field":"event.code"}]})"),
      "csv mapping: record_id_column 'Nope' is not among the columns");
  EXPECT_EQ(error(R"({"record_id_column":"Ref","local_codes":[],)" + cols + "}"),
            "csv mapping: \"local_codes\" is not an object");
  EXPECT_EQ(error(R"({"record_id_column":"Ref","local_codes":{"A":1},)" + cols + "}"),
            "csv mapping: local_codes[\"A\"] is not a string");
  EXPECT_EQ(error(R"({"record_id_column":"Ref","event_types":{"LAB":"Observation"},)" + cols + "}"),
            "csv mapping: event_types[\"LAB\"] 'Observation' is not a supported resource type "
            "(Encounter, EpisodeOfCare)");
}

// ------------------------------------------------------------ mapping

TEST(CsvToFhirTest, OneRecordExactly) {
  CsvMapped m =
      Map("ASC1,John,Hall,22/01/1941,Male,943 476 5919,45 Stockport Lane,Manchester,m125af,"
          "ASC1-1,ASSESS,ASM01,Care Act needs assessment,10/03/2024,03/04/2024,\r\n"
          "ASC1,John,Hall,22/01/1941,Male,943 476 5919,45 Stockport Lane,Manchester,m125af,"
          "ASC1-2,SERVICE,HC,Home care package,30/04/2024,,7.50\r\n");
  EXPECT_EQ(m.rows, 2);
  EXPECT_TRUE(m.findings_without_record.empty());
  ASSERT_EQ(m.records.size(), 1u);
  const CsvRecord& r = m.records[0];
  EXPECT_EQ(r.record_id, "ASC1");
  EXPECT_EQ(r.first_row, 1);
  EXPECT_EQ(r.findings, std::vector<Finding>{});
  JsonDoc d = Valid(r.bundle_json);
  EXPECT_EQ(At(d, "/type"), "transaction");
  ASSERT_EQ(d["entry"].Size(), 4u);

  EXPECT_EQ(
      At(d, "/entry/0/request"),
      R"({"method":"PUT","url":"Patient?identifier=https://fhir.example.nhs.uk/X99/Id/patient|ASC1"})");
  const std::string patient_url = At(d, "/entry/0/fullUrl");
  EXPECT_EQ(patient_url.rfind("urn:uuid:", 0), 0u);
  EXPECT_EQ(
      fhir::ToJson(d["entry"][0]["resource"]),
      R"({"resourceType":"Patient","meta":{"source":"la-x99#ASC1","profile":["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"]},)"
      R"("identifier":[{"use":"usual","system":"https://fhir.example.nhs.uk/X99/Id/patient","value":"ASC1"},)"
      R"({"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"}],"active":true,)"
      R"("name":[{"use":"official","family":"Hall","given":["John"]}],"gender":"male","birthDate":"1941-01-22",)"
      R"("address":[{"use":"home","line":["45 Stockport Lane"],"city":"Manchester","postalCode":"M12 5AF"}],)"
      R"("managingOrganization":{"type":"Organization","identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"X99"}}})");

  EXPECT_EQ(
      At(d, "/entry/1/request"),
      R"({"method":"PUT","url":"Encounter?identifier=https://fhir.example.nhs.uk/X99/Id/encounter|ASC1-1"})");
  EXPECT_EQ(
      fhir::ToJson(d["entry"][1]["resource"]),
      R"({"resourceType":"Encounter","meta":{"source":"la-x99#ASC1","profile":["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Encounter"]},)"
      R"("extension":[{"url":"https://lhcr.example/fhir/StructureDefinition/source-event-category","valueCoding":{"system":"https://x99.example.gov.uk/CodeSystem/asc-event","code":"ASSESS"}}],)"
      R"("identifier":[{"system":"https://fhir.example.nhs.uk/X99/Id/encounter","value":"ASC1-1"}],"status":"finished",)"
      R"("class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"HH","display":"home health"},)"
      R"("type":[{"coding":[{"system":"https://x99.example.gov.uk/CodeSystem/asc-service","code":"ASM01","display":"Care Act needs assessment"}],"text":"Care Act needs assessment"}],)"
      R"("serviceType":{"coding":[{"system":"https://x99.example.gov.uk/CodeSystem/asc-event","code":"ASSESS"}]},)"
      R"("subject":{"reference":")" +
          patient_url +
          R"("},"period":{"start":"2024-03-10","end":"2024-04-03"},)"
          R"("serviceProvider":{"type":"Organization","identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"X99"}}})");

  EXPECT_EQ(
      At(d, "/entry/2/request"),
      R"({"method":"PUT","url":"EpisodeOfCare?identifier=https://fhir.example.nhs.uk/X99/Id/episodeofcare|ASC1-2"})");
  // The hours keep their text ("7.50": FHIR decimals keep precision).
  EXPECT_NE(r.bundle_json.find(R"("valueQuantity":{"value":7.50,"unit":"h/wk")"),
            std::string::npos);
  EXPECT_EQ(
      fhir::ToJson(d["entry"][2]["resource"]),
      R"({"resourceType":"EpisodeOfCare","meta":{"source":"la-x99#ASC1","profile":["https://fhir.hl7.org.uk/StructureDefinition/UKCore-EpisodeOfCare"]},)"
      R"("extension":[{"url":"https://lhcr.example/fhir/StructureDefinition/source-event-category","valueCoding":{"system":"https://x99.example.gov.uk/CodeSystem/asc-event","code":"SERVICE"}},)"
      R"({"url":"https://lhcr.example/fhir/StructureDefinition/care-hours-per-week","valueQuantity":{"value":7.5,"unit":"h/wk","system":"http://unitsofmeasure.org","code":"h/wk"}}],)"
      R"("identifier":[{"system":"https://fhir.example.nhs.uk/X99/Id/episodeofcare","value":"ASC1-2"}],"status":"active",)"
      R"("type":[{"coding":[{"system":"https://x99.example.gov.uk/CodeSystem/asc-service","code":"HC","display":"Home care package"}],"text":"Home care package"}],)"
      R"("patient":{"reference":")" +
          patient_url +
          R"("},"period":{"start":"2024-04-30"},)"
          R"("managingOrganization":{"type":"Organization","identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"X99"}}})");

  const Json& prov = d["entry"][3]["resource"];
  EXPECT_EQ(At(d, "/entry/3/request/url"), "Provenance/" + At(prov, "/id"));
  EXPECT_EQ(At(prov, "/id").rfind("csv-", 0), 0u);
  EXPECT_EQ(At(prov, "/target"), R"([{"reference":")" + patient_url + R"("},{"reference":")" +
                                     At(d, "/entry/1/fullUrl") + R"("},{"reference":")" +
                                     At(d, "/entry/2/fullUrl") + R"("}])");
  EXPECT_EQ(At(prov, "/recorded"), "2025-01-01T06:00:00Z");
  EXPECT_EQ(At(prov, "/meta"), R"({"source":"la-x99#ASC1"})");
  EXPECT_EQ(
      At(prov, "/agent"),
      R"([{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/provenance-participant-type","code":"author"}]},)"
      R"("who":{"type":"Organization","identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"X99"},"display":"la-x99"}}])");
  EXPECT_EQ(
      At(prov, "/entity"),
      R"([{"role":"source","what":{"identifier":{"system":"urn:lhcr:csv:la-x99","value":"ASC1"},"display":"CSV extract record ASC1"}}])");

  // Deterministic: the same extract maps to the same bytes.
  CsvMapped again =
      Map("ASC1,John,Hall,22/01/1941,Male,943 476 5919,45 Stockport Lane,Manchester,m125af,"
          "ASC1-1,ASSESS,ASM01,Care Act needs assessment,10/03/2024,03/04/2024,\r\n"
          "ASC1,John,Hall,22/01/1941,Male,943 476 5919,45 Stockport Lane,Manchester,m125af,"
          "ASC1-2,SERVICE,HC,Home care package,30/04/2024,,7.50\r\n");
  EXPECT_EQ(again.records[0].bundle_json, r.bundle_json);
}

TEST(CsvToFhirTest, FindingsForBadData) {
  CsvMapped m = Map(
      // 1: a bad NHS number, an impossible DOB, an unknown service code.
      "A1,Ann,Lee,31/02/1950,Female,943 476 5918,1 Road,Town,M1 1AA,A1-1,ASSESS,XYZ,,"
      "01/01/2024,,\r\n"
      // 2: same record, other surname (conflict) and a year before 1880.
      "A1,Ann,Leigh,01/01/1870,Female,943 476 5918,1 Road,Town,M1 1AA,A1-2,REVIEW,REV,,"
      "05/05/2024,01/05/2024,lots\r\n"
      // 3: no record id.
      ",Bob,Smith,01/01/1960,Male,,2 Road,Town,M1 1AB,B-1,ASSESS,ASM01,,01/01/2024,,\r\n"
      // 4: no surname, no DOB, an unknown gender and category, a test-range NHS number.
      "C1,Cat,,,Z,999 000 0018,,,,C1-1,VISIT,ASM01,,2024-01-01,,\r\n"
      // 5: C1-1 again in the same record (the last row wins); 6: in another record.
      "C1,Cat,,,Z,999 000 0018,,,,C1-1,ASSESS,ASM01,,02/01/2024,,\r\n"
      "D1,Dan,Day,02/02/1962,Male,,,,,C1-1,ASSESS,ASM01,,02/01/2024,,\r\n");
  EXPECT_EQ(m.rows, 6);
  EXPECT_EQ(m.findings_without_record,
            (std::vector<Finding>{{"row 3, column PersonRef", "rejected-row",
                                   "no record id (PersonRef): row skipped"}}));
  ASSERT_EQ(m.records.size(), 3u);
  EXPECT_EQ(m.records[0].record_id, "A1");
  EXPECT_EQ(
      m.records[0].findings,
      (std::vector<Finding>{
          {"row 2, column Surname", "conflicting-demographics",
           "'Leigh' here, 'Lee' in row 1 of the same record: the last row's value is kept"},
          {"row 2, column DOB", "conflicting-demographics",
           "'01/01/1870' here, '31/02/1950' in row 1 of the same record: the last row's value "
           "is kept"},
          {"row 2, column DOB", "invalid-date", "'01/01/1870' is before 1880; not stored"},
          {"row 2, column NHSNo", "invalid-nhs-number",
           "'943 476 5918' is not a valid NHS number (modulus 11); not stored as one"},
          {"row 1, column ServiceCode", "unmapped-code",
           "code 'XYZ' is not in local_codes: kept without a display"},
          {"row 2, column HoursPerWeek", "unmapped-value",
           "'lots' is not a number of hours; not stored"},
          {"row 2, column EndDate", "invalid-date",
           "end 2024-05-01 is before start 2024-05-05; end not stored"},
      }));
  JsonDoc a = Valid(m.records[0].bundle_json);
  const Json& pa = a["entry"][0]["resource"];
  EXPECT_EQ(At(pa, "/name/0/family"), "Leigh");  // the last row wins
  EXPECT_EQ(At(pa, "/birthDate"), "<absent>");
  EXPECT_EQ(At(pa, "/identifier/1"), "<absent>");
  EXPECT_EQ(
      At(a, "/entry/1/resource/type/0"),
      R"({"coding":[{"system":"https://x99.example.gov.uk/CodeSystem/asc-service","code":"XYZ"}]})");
  // The status follows the source's end date even when that date is not kept.
  EXPECT_EQ(At(a, "/entry/2/resource/status"), "finished");
  EXPECT_EQ(At(a, "/entry/2/resource/period"), R"({"start":"2024-05-05"})");

  EXPECT_EQ(m.records[1].record_id, "C1");
  EXPECT_EQ(m.records[1].first_row, 4);
  EXPECT_EQ(m.records[1].findings,
            (std::vector<Finding>{
                {"row 5, column Surname", "missing-item", "no family name"},
                {"row 5, column DOB", "missing-item", "no date of birth"},
                {"row 5, column Gender", "unmapped-code", "gender 'Z' not mapped; not stored"},
                {"row 5, column NHSNo", "test-nhs-number",
                 "NHS number 9990000018 is in the test range 999"},
                {"row 4, column EventType", "unmapped-code",
                 "event category 'VISIT' is not in event_types: stored as an Encounter"},
                {"row 4, column StartDate", "invalid-date",
                 "'2024-01-01' is not a date in the form DD/MM/YYYY; not stored"},
                {"row 5, column EventRef", "duplicate-row",
                 "event identifier 'C1-1' is also in row 4 of this record: the last row wins"},
            }));
  JsonDoc c = Valid(m.records[1].bundle_json);
  ASSERT_EQ(c["entry"].Size(), 3u);  // Patient, one Encounter, Provenance
  EXPECT_EQ(At(c, "/entry/1/resource/period/start"), "2024-01-02");
  EXPECT_EQ(At(c, "/entry/0/resource/identifier/1/value"), "9990000018");

  EXPECT_EQ(m.records[2].record_id, "D1");
  EXPECT_EQ(m.records[2].findings,
            (std::vector<Finding>{
                {"row 6, column EventRef", "rejected-row",
                 "event identifier 'C1-1' already belongs to record 'C1' (row 5): row skipped"}}));
  JsonDoc dd = Valid(m.records[2].bundle_json);
  ASSERT_EQ(dd["entry"].Size(), 2u);  // Patient, Provenance
}

TEST(CsvToFhirTest, OtherDialectNoHeaderAndDefaults) {
  auto mapping = ParseCsvMapping(
      R"({"delimiter":";","quote":"'","header":false,"date_format":"YYYY-MM-DD",)"
      R"("record_id_column":"Id","columns":[{"name":"Id","field":"patient.identifier.local"},)"
      R"({"name":"Skip","field":"ignore"},{"name":"Name","field":"patient.name.family"},)"
      R"({"name":"Code","field":"event.code"},{"name":"When","field":"event.period.start"}]})");
  ASSERT_TRUE(mapping.ok()) << mapping.status().ToString();
  CsvSourceInfo s;
  s.source_id = "care home";
  auto m = MapCsvToFhir("7;x;'O''Neil; Jr';V1;2024-2-29\n", *mapping, s);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_EQ(m->records.size(), 1u);
  EXPECT_EQ(m->records[0].findings,
            (std::vector<Finding>{{"row 1, column Code", "unmapped-code",
                                   "code 'V1' is not in local_codes: kept without a display"}}));
  JsonDoc d = Valid(m->records[0].bundle_json);
  EXPECT_EQ(At(d, "/entry/0/request/url"),
            "Patient?identifier=https://fhir.care-home.example/Id/patient|7");
  EXPECT_EQ(At(d, "/entry/0/resource/name/0/family"), "O'Neil; Jr");
  EXPECT_EQ(At(d, "/entry/0/resource/managingOrganization"), "<absent>");
  // Without an event identifier column the event is keyed by what it says.
  EXPECT_EQ(At(d, "/entry/1/request/url"),
            "Encounter?identifier=https://fhir.care-home.example/Id/encounter|7--V1-2024-2-29");
  EXPECT_EQ(At(d, "/entry/1/resource/type/0/coding/0/system"),
            "https://fhir.care-home.example/CodeSystem/code");
  EXPECT_EQ(At(d, "/entry/1/resource/period/start"), "2024-02-29");
  EXPECT_EQ(At(d, "/entry/1/resource/status"), "in-progress");
  EXPECT_EQ(At(d, "/entry/2/resource/recorded"), "1970-01-01T00:00:00Z");
  EXPECT_EQ(At(d, "/entry/0/resource/meta/source"), "care%20home#7");

  CsvSourceInfo w = CsvSourceInfo{.source_id = "s", .ods_code = "Q1"}.WithDefaults();
  EXPECT_EQ(w.patient_id_system, "https://fhir.example.nhs.uk/Q1/Id/patient");
  EXPECT_EQ(w.encounter_id_system, "https://fhir.example.nhs.uk/Q1/Id/encounter");
  EXPECT_EQ(w.episode_of_care_id_system, "https://fhir.example.nhs.uk/Q1/Id/episodeofcare");
  EXPECT_EQ(w.code_system_prefix, "https://fhir.example.nhs.uk/Q1/CodeSystem/");
}

TEST(CsvToFhirTest, UnusableTextsAreErrors) {
  auto error = [](const std::string& text) {
    auto m = MapCsvToFhir(text, SynthMapping(), Source());
    if (m.ok()) return std::string("<ok>");
    EXPECT_EQ(m.status().code(), StatusCode::kIncorrect);
    return m.status().message();
  };
  EXPECT_EQ(error(std::string(kHeader)), "<ok>");
  EXPECT_EQ(error(std::string(kHeader) + "A1,\"Ann,Lee\r\n"),
            "CSV line 2, column 2 (Forename): quoted field not closed before the end");
  EXPECT_EQ(error(std::string(kHeader) + "A1,Ann\r\n"),
            "CSV line 2, column 3 (Surname): a record of 2 fields where the header has 16");
  EXPECT_EQ(error("PersonRef,Forename\r\nA1,Ann\r\n"),
            "CSV header has no column 'Surname' (mapped to patient.name.family)");
  EXPECT_EQ(error(""), "CSV text is empty: no header line");
  CsvMapping no_header = SynthMapping();
  no_header.header = false;
  auto m = MapCsvToFhir("A1,Ann\r\n", no_header, Source());
  EXPECT_EQ(m.status().message(), "CSV rows have 2 fields, the mapping names 16 columns");
}

// ------------------------------------------------------------ a whole region

class CsvRegionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ =
        new fs::path(fs::temp_directory_path() / ("lhcr_csv_test_" + std::to_string(::getpid())));
    fs::remove_all(*dir_);
    synth::SynthOptions o;
    o.people = 3000;
    o.seed = 11;
    o.noise = 0.6;
    o.threads = 2;
    o.out = (*dir_ / "region").string();
    auto r = synth::Synthesise(o, *synth::CodeBook::BuiltIn(), nullptr);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    extract_ = new std::string(Slurp(*dir_ / "region" / synth::FeedPath(synth::kSocialCareCsv)));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
    delete extract_;
  }
  static fs::path* dir_;
  static std::string* extract_;
};
fs::path* CsvRegionTest::dir_ = nullptr;
std::string* CsvRegionTest::extract_ = nullptr;

TEST_F(CsvRegionTest, EveryRecordMapsToAValidBundle) {
  auto mapped = MapCsvToFhir(*extract_, SynthMapping(), Source());
  ASSERT_TRUE(mapped.ok()) << mapped.status().ToString();
  EXPECT_TRUE(mapped->findings_without_record.empty());
  // One record per distinct PersonRef, in order of first appearance.
  auto table = ParseCsv(*extract_);
  ASSERT_TRUE(table.ok());
  std::vector<std::string> refs;
  std::set<std::string> seen;
  for (const Row& row : table->rows) {
    if (seen.insert(row.fields[0]).second) refs.push_back(row.fields[0]);
  }
  EXPECT_EQ(mapped->rows, static_cast<int>(table->rows.size()));
  ASSERT_EQ(mapped->records.size(), refs.size());
  ASSERT_GT(refs.size(), 100u);
  std::map<std::string, int> types;
  std::map<std::string, int> codes;
  for (size_t i = 0; i < refs.size(); ++i) {
    const CsvRecord& r = mapped->records[i];
    EXPECT_EQ(r.record_id, refs[i]);
    JsonDoc d = Valid(r.bundle_json);
    if (::testing::Test::HasFailure()) return;
    for (const Json& e : d["entry"].GetArray()) {
      std::string type(fhir::StringMember(e["resource"], "resourceType"));
      ++types[type];
      if (type != "Provenance") {
        EXPECT_EQ(At(e["resource"], "/meta/profile/0"),
                  "https://fhir.hl7.org.uk/StructureDefinition/UKCore-" + type);
      }
      EXPECT_EQ(At(e["resource"], "/meta/source"), "la-x99#" + r.record_id);
    }
    for (const Finding& f : r.findings) ++codes[f.code];
  }
  EXPECT_EQ(types["Patient"], static_cast<int>(refs.size()));
  EXPECT_EQ(types["Provenance"], static_cast<int>(refs.size()));
  EXPECT_GT(types["Encounter"], 0);
  EXPECT_GT(types["EpisodeOfCare"], 0);
  EXPECT_EQ(types["Encounter"] + types["EpisodeOfCare"], mapped->rows);
  // The noise synth adds shows up as findings of these kinds only.
  for (const auto& [code, n] : codes) {
    EXPECT_TRUE(code == "invalid-nhs-number" || code == "invalid-date" ||
                code == "conflicting-demographics")
        << code << " x" << n;
  }
  EXPECT_GT(codes["invalid-nhs-number"], 0);
}

class CsvStoreTest : public CsvRegionTest {
 protected:
  void SetUp() override {
    lookup_ = [this](const std::string& type,
                     const std::string& query) -> Result<std::optional<std::string>> {
      ASSIGN_OR_RETURN(search::QueryParams params, search::ParseQueryString(query));
      ASSIGN_OR_RETURN(interaction::Response r, interactions_->Search({}, type, params));
      ASSIGN_OR_RETURN(JsonDoc doc, fhir::ParseJson(r.body));
      const Json* entries = fhir::Member(doc, "entry");
      if (entries == nullptr || !entries->IsArray() || entries->Empty()) {
        return std::optional<std::string>();
      }
      return std::optional<std::string>(fhir::ToJson((*entries)[0]["resource"]));
    };
  }
  // "Type/id" -> versionId of every stored resource of the types CSV writes.
  std::map<std::string, std::string> Versions() {
    std::map<std::string, std::string> out;
    for (const char* type : {"Patient", "Encounter", "EpisodeOfCare", "Provenance"}) {
      auto r = interactions_->Search({}, type, {{"_count", "1000"}});
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (!r.ok()) continue;
      auto doc = fhir::ParseJson(r->body);
      const Json* entries = fhir::Member(*doc, "entry");
      if (entries == nullptr) continue;
      EXPECT_LT(entries->Size(), 1000u);
      for (const Json& e : entries->GetArray()) {
        out[std::string(type) + "/" + At(e["resource"], "/id")] =
            At(e["resource"], "/meta/versionId");
      }
    }
    return out;
  }

  // Maps `text`, drops what is stored already, applies the rest; the
  // number of entries written.
  int Apply(const std::string& text, const CsvSourceInfo& source) {
    auto mapped = MapCsvToFhir(text, SynthMapping(), source);
    EXPECT_TRUE(mapped.ok()) << mapped.status().ToString();
    if (!mapped.ok()) return -1;
    int written = 0;
    for (const CsvRecord& r : mapped->records) {
      auto fresh = hl7v2::DropStaleEntries(r.bundle_json, lookup_);
      EXPECT_TRUE(fresh.ok()) << fresh.status().ToString();
      if (!fresh.ok() || fresh->kept == 0) continue;
      auto applied = interactions_->Bundle({}, fresh->bundle_json);
      EXPECT_TRUE(applied.ok()) << r.record_id << ": " << applied.status().ToString();
      written += fresh->kept;
    }
    return written;
  }

  testing::FixedClock clock_;
  testing::LocalRecord record_{clock_};
  interaction::Interactions* const interactions_ = &record_.interactions();
  hl7v2::CurrentResourceLookup lookup_;
};

TEST_F(CsvStoreTest, ApplyingTheSameExtractTwiceStoresNothingNew) {
  auto mapped = MapCsvToFhir(*extract_, SynthMapping(), Source());
  ASSERT_TRUE(mapped.ok());
  int entries = 0;
  for (const CsvRecord& r : mapped->records) {
    auto d = fhir::ParseJson(r.bundle_json);
    entries += static_cast<int>((*d)["entry"].Size());
  }
  EXPECT_EQ(Apply(*extract_, Source()), entries);
  const std::map<std::string, std::string> first = Versions();
  EXPECT_EQ(static_cast<int>(first.size()), entries);
  for (const auto& [ref, version] : first) EXPECT_EQ(version, "1") << ref;

  // The same extract again (even received at another time): nothing new.
  CsvSourceInfo later = Source();
  later.extract_time = "2025-01-02T06:00:00Z";
  EXPECT_EQ(Apply(*extract_, later), 0);
  EXPECT_EQ(Versions(), first);

  // One changed row: its event and the record's Provenance get a version 2,
  // nothing else changes.
  std::string changed = *extract_;
  size_t row = changed.find(",SERVICE,HC,");
  ASSERT_NE(row, std::string::npos);
  size_t eol = changed.find("\r\n", row);
  size_t last_comma = changed.rfind(',', eol);
  changed.replace(last_comma + 1, eol - last_comma - 1, "99");
  EXPECT_EQ(Apply(changed, later), 2);
  std::map<std::string, std::string> second = Versions();
  ASSERT_EQ(second.size(), first.size());
  int bumped = 0;
  for (const auto& [ref, version] : second) {
    if (version != first.at(ref)) {
      ++bumped;
      EXPECT_EQ(version, "2") << ref;
      EXPECT_TRUE(ref.rfind("EpisodeOfCare/", 0) == 0 || ref.rfind("Provenance/", 0) == 0) << ref;
    }
  }
  EXPECT_EQ(bumped, 2);
}

TEST(CsvUnchangedTest, NothingStoredKeepsEveryEntry) {
  hl7v2::CurrentResourceLookup none = [](const std::string&,
                                         const std::string&) -> Result<std::optional<std::string>> {
    return std::optional<std::string>();
  };
  CsvMapped m = Map("A1,Ann,Lee,01/01/1950,Female,,,,,A1-1,ASSESS,ASM01,,01/01/2024,,\r\n");
  auto all = hl7v2::DropStaleEntries(m.records[0].bundle_json, none);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->kept, 3);
  EXPECT_EQ(all->dropped, 0);
}

}  // namespace
}  // namespace lhcr::csv
