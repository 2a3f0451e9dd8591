#include "ingest/source_registry.h"

#include <gtest/gtest.h>

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
     "local_code_map": "acute-rxx/local-codes.csv"}
  ]
})";

TEST(SourceRegistryTest, LoadsTheSynthFormatFromAFile) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/sources.json";
  std::ofstream(path) << kRegistry;
  auto registry = LoadSourceRegistry(path);
  ASSERT_TRUE(registry.ok()) << registry.status().ToString();
  ASSERT_EQ(registry->sources().size(), 2u);

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
  EXPECT_EQ(registry->sources()[1], acute);
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
}

}  // namespace
}  // namespace lhcr::ingest
