#include "ingest/source_registry.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "testing/test_server.h"

namespace lhcr::ingest {
namespace {

// The shape `lhcr synth` writes (src/synth/synth.cc SourceRegistryJson).
constexpr const char* kRegistry = R"({
  "generator": "lhcr synth", "reference_date": "2025-01-01",
  "sources": [
    {"id": "gp-a81001", "name": "Riverside Surgery", "kind": "gp", "ods_code": "A81001",
     "format": "fhir", "identity_trust": 0.95, "files": ["gp-a81001/bundles.ndjson"],
     "record_id_system": "https://fhir.example.nhs.uk/A81001/Id/patient",
     "resource_id_system_prefix": "https://fhir.example.nhs.uk/A81001/Id/"},
    {"id": "acute-rxx", "name": "Northtown Hospitals NHS Trust", "kind": "acute",
     "ods_code": "RXX", "format": "hl7v2", "identity_trust": 0.9,
     "files": ["acute-rxx/adt.hl7", "acute-rxx/oru.hl7"],
     "hl7v2": {"version": "2.4", "record_id": "PID-3 MR", "nhs_number": "PID-3 NH",
               "segment_terminator": "\r"},
     "local_code_systems": {"99R9AL": "https://fhir.example.nhs.uk/RXX/CodeSystem/lab"},
     "local_code_map": "acute-rxx/local-codes.csv",
     "concept_maps": ["https://example.org/ConceptMap/rxx-extra"]},
    {"id": "la-x99", "name": "Northshire City Council Adult Social Care", "kind": "social-care",
     "ods_code": "X99", "format": "csv", "identity_trust": 0.6,
     "files": ["social-care/X99/extract.csv"],
     "csv": {"delimiter": ",", "quote": "\"", "line_terminator": "\r\n", "header": true,
             "encoding": "UTF-8", "date_format": "DD/MM/YYYY", "row": "one event per row",
             "record_id_column": "PersonRef",
             "columns": [
               {"name": "PersonRef", "field": "patient.identifier.local"},
               {"name": "Surname", "field": "patient.name.family"},
               {"name": "ServiceCode", "field": "event.code",
                "system": "https://x99.example.gov.uk/CodeSystem/asc-service",
                "note": "local service codes"}],
             "local_codes": {"HC": "Home care package"},
             "event_types": {"SERVICE": "EpisodeOfCare"}}}
  ]
})";

TEST(SourceRegistryTest, LoadsTheSynthFormatFromAFile) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/sources.json";
  std::ofstream(path) << kRegistry;
  std::filesystem::create_directories(dir.path() + "/acute-rxx");
  const std::string map_csv = "local_code,display,unit,loinc,snomed\nHB,Haemoglobin,g/L,718-7,\n";
  std::ofstream(dir.path() + "/acute-rxx/local-codes.csv") << map_csv;
  auto registry = LoadSourceRegistry(path);
  ASSERT_TRUE(registry.ok()) << registry.status().ToString();
  ASSERT_EQ(registry->sources().size(), 3u);

  Source acute;
  acute.id = "acute-rxx";
  acute.name = "Northtown Hospitals NHS Trust";
  acute.kind = "acute";
  acute.ods_code = "RXX";
  acute.format = "hl7v2";
  acute.identity_trust = 0.9;
  acute.files = {"acute-rxx/adt.hl7", "acute-rxx/oru.hl7"};
  acute.hl7_version = "2.4";
  acute.local_code_systems = {{"99R9AL", "https://fhir.example.nhs.uk/RXX/CodeSystem/lab"}};
  // The local code map is read relative to the registry's folder.
  acute.local_code_map = "acute-rxx/local-codes.csv";
  acute.local_code_map_csv = map_csv;
  acute.concept_maps = {"https://example.org/ConceptMap/rxx-extra"};
  EXPECT_EQ(registry->sources()[1], acute);
  EXPECT_EQ(ConceptMapsOf(acute),
            (std::vector<std::string>{"https://example.org/ConceptMap/rxx-extra",
                                      "https://fhir.example.nhs.uk/RXX/ConceptMap/local-codes"}));
  EXPECT_TRUE(ConceptMapsOf(registry->sources()[0]).empty());
  EXPECT_EQ(registry->sources()[0].record_id_system,
            "https://fhir.example.nhs.uk/A81001/Id/patient");

  EXPECT_EQ(registry->FindByOds("RXX"), &registry->sources()[1]);
  EXPECT_EQ(registry->FindById("gp-a81001"), &registry->sources()[0]);
  EXPECT_EQ(registry->FindByOds("ZZZ"), nullptr);
  EXPECT_EQ(registry->FindById(""), nullptr);

  hl7v2::SourceInfo info = ToHl7SourceInfo(acute);
  EXPECT_EQ(info.source_id, "acute-rxx");
  EXPECT_EQ(info.ods_code, "RXX");
  EXPECT_EQ(info.patient_id_system, "https://fhir.example.nhs.uk/RXX/Id/patient");
  EXPECT_EQ(info.lab_code_system, "https://fhir.example.nhs.uk/RXX/CodeSystem/lab");
  EXPECT_EQ(info.visit_id_system, "");  // left to SourceInfo's defaults
  EXPECT_FALSE(registry->sources()[0].csv.has_value());
  EXPECT_FALSE(registry->sources()[1].csv.has_value());
}

TEST(SourceRegistryTest, CsvSourceCarriesItsMapping) {
  auto registry = ParseSourceRegistry(kRegistry);
  ASSERT_TRUE(registry.ok()) << registry.status().ToString();
  const Source* la = registry->FindById("la-x99");
  ASSERT_NE(la, nullptr);
  ASSERT_TRUE(la->csv.has_value());
  csv::CsvMapping want;
  want.record_id_column = "PersonRef";
  want.columns = {{"PersonRef", "patient.identifier.local", "", ""},
                  {"Surname", "patient.name.family", "", ""},
                  {"ServiceCode", "event.code", "https://x99.example.gov.uk/CodeSystem/asc-service",
                   "local service codes"}};
  want.local_codes = {{"HC", "Home care package"}};
  want.event_types = {{"SERVICE", "EpisodeOfCare"}};
  EXPECT_EQ(*la->csv, want);

  csv::CsvSourceInfo info = ToCsvSourceInfo(*la);
  EXPECT_EQ(info.source_id, "la-x99");
  EXPECT_EQ(info.ods_code, "X99");
  EXPECT_EQ(info.patient_id_system, "");  // left to CsvSourceInfo's defaults
  csv::CsvSourceInfo full = info.WithDefaults();
  EXPECT_EQ(full.patient_id_system, "https://fhir.example.nhs.uk/X99/Id/patient");
  EXPECT_EQ(full.episode_of_care_id_system, "https://fhir.example.nhs.uk/X99/Id/episodeofcare");

  // A source with its own systems keeps them.
  Source named = *la;
  named.record_id_system = "https://la.example/Id/person";
  named.resource_id_system_prefix = "https://la.example/Id/";
  info = ToCsvSourceInfo(named);
  EXPECT_EQ(info.patient_id_system, "https://la.example/Id/person");
  EXPECT_EQ(info.encounter_id_system, "https://la.example/Id/encounter");
  EXPECT_EQ(info.episode_of_care_id_system, "https://la.example/Id/episodeofcare");

  // The mapping of the registry maps an extract.
  auto mapped = csv::MapCsvToFhir("PersonRef,Surname,ServiceCode\r\nASC1,Hall,HC\r\n", *la->csv,
                                  ToCsvSourceInfo(*la));
  ASSERT_TRUE(mapped.ok()) << mapped.status().ToString();
  ASSERT_EQ(mapped->records.size(), 1u);
  EXPECT_NE(mapped->records[0].bundle_json.find(
                "Patient?identifier=https://fhir.example.nhs.uk/X99/Id/patient|ASC1"),
            std::string::npos);
}

TEST(SourceRegistryTest, ErrorsNameTheProblem) {
  auto missing = LoadSourceRegistry("/nonexistent/sources.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(missing.status().message(), "cannot read source registry /nonexistent/sources.json");

  EXPECT_EQ(ParseSourceRegistry("{").status().code(), StatusCode::kIncorrect);
  EXPECT_EQ(ParseSourceRegistry("{}").status().message(), "source registry: no \"sources\" array");
  EXPECT_EQ(ParseSourceRegistry(R"({"sources":[{"name":"x"}]})").status().message(),
            "source registry: sources[0] has no \"id\"");
  EXPECT_EQ(ParseSourceRegistry(R"({"sources":[{"id":"a"},{"id":"a"}]})").status().message(),
            "source registry: sources[1]: duplicate id a");
  EXPECT_EQ(ParseSourceRegistry(
                R"({"sources":[{"id":"a"},{"id":"la","format":"csv","csv":{"columns":[]}}]})")
                .status()
                .message(),
            "source registry: sources[1] (la): csv mapping: no \"record_id_column\"");
  EXPECT_EQ(
      ParseSourceRegistry(R"({"sources":[{"id":"la","csv":"PersonRef"}]})").status().message(),
      "source registry: sources[0] (la): csv mapping: not a JSON object");
}

}  // namespace
}  // namespace lhcr::ingest
