// ToSummaryBundle: a valid R4 document Bundle whose Composition has the IPS
// / PRSB sections and whose every consolidated entry has a Provenance naming
// its source records.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "fhir/json.h"
#include "fhir/validator.h"
#include "record/record.h"

namespace lhcr::record {
namespace {

SourceItem Item(const std::string& type, const std::string& id, const std::string& patient,
                const std::string& source, const std::string& body) {
  return {type, id, patient,
          "{\"resourceType\":\"" + type + "\",\"id\":\"" + id + "\",\"meta\":{\"source\":\"" +
              source + "#k\"}," + body + "}"};
}

SourceItems Sample() {
  SourceItems s;
  s.person = "Person/p1";
  s.requested = "Patient/g";
  s.patients = {"Patient/g", "Patient/h"};
  const std::string med =
      "\"status\":\"active\",\"medicationCodeableConcept\":{\"coding\":[{\"system\":\"http://"
      "snomed.info/sct\",\"code\":\"325242002\",\"display\":\"Gliclazide 80mg tablets\"}]},"
      "\"subject\":{\"reference\":\"Patient/g\"},\"dateAsserted\":\"2024-01-02\",\"dosage\":[{"
      "\"text\":\"one daily\"}]";
  s.items = {
      Item("Patient", "g", "", "gp1", "\"active\":true"),
      Item("Patient", "h", "", "acute", "\"active\":true"),
      Item("MedicationStatement", "m1", "Patient/g", "gp1", med),
      Item("MedicationStatement", "m2", "Patient/h", "acute",
           "\"status\":\"stopped\",\"medicationCodeableConcept\":{\"coding\":[{\"system\":"
           "\"http://snomed.info/sct\",\"code\":\"325242002\"}]},\"subject\":{\"reference\":"
           "\"Patient/h\"},\"dosage\":[{\"text\":\"two daily\"}]"),
      Item("Condition", "c1", "Patient/g", "gp1",
           "\"code\":{\"coding\":[{\"system\":\"http://snomed.info/sct\",\"code\":\"44054006\"}]},"
           "\"subject\":{\"reference\":\"Patient/g\"},\"onsetDateTime\":\"2019-05-01\""),
      Item("Observation", "o1", "Patient/g", "gp1",
           "\"status\":\"final\",\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":"
           "\"4548-4\"}]},\"subject\":{\"reference\":\"Patient/g\"},\"effectiveDateTime\":\"2023-"
           "01-01\",\"valueQuantity\":{\"value\":48,\"code\":\"mmol/mol\"}"),
      Item("Observation", "o2", "Patient/h", "acute",
           "\"status\":\"final\",\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":"
           "\"4548-4\"}]},\"subject\":{\"reference\":\"Patient/h\"},\"effectiveDateTime\":\"2024-"
           "01-01\",\"valueQuantity\":{\"value\":60,\"code\":\"mmol/mol\"}"),
      Item("Encounter", "e1", "Patient/h", "acute",
           "\"status\":\"finished\",\"class\":{\"code\":\"IMP\"},\"subject\":{\"reference\":"
           "\"Patient/h\"},\"period\":{\"start\":\"2024-01-01\",\"end\":\"2024-01-03\"},"
           "\"serviceProvider\":{\"identifier\":{\"value\":\"R9A\"}}"),
      Item("EpisodeOfCare", "ep1", "Patient/h", "social",
           "\"status\":\"active\",\"patient\":{\"reference\":\"Patient/h\"},\"type\":[{\"coding\":"
           "[{\"system\":\"urn:la\",\"code\":\"HC\"}]}],\"period\":{\"start\":\"2023-07-01\"}"),
      Item("Flag", "f1", "Patient/g", "gp1",
           "\"status\":\"active\",\"code\":{\"text\":\"Risk to staff\"},\"subject\":{"
           "\"reference\":\"Patient/g\"}"),
  };
  return s;
}

TEST(SummaryBundle, ValidDocumentWithSectionsAndProvenance) {
  SourceItems items = Sample();
  ConsolidateOptions o;
  o.source_kinds = {{"gp1", "gp"}, {"acute", "acute"}, {"social", "social-care"}};
  ConsolidatedRecord rec = Consolidate(items, nullptr, o);
  std::string json =
      ToSummaryBundle(rec, items, {"http://h/fhir", 1'735'689'600'000 /* 2025-01-01 */});
  auto doc = fhir::ParseJson(json);
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  std::vector<fhir::ValidationIssue> issues = fhir::Validator::R4()->Validate(*doc);
  EXPECT_TRUE(issues.empty()) << ToString(issues.front()) << "\n" << json;

  EXPECT_EQ(fhir::StringMember(*doc, "type"), "document");
  EXPECT_EQ(fhir::StringMember(*doc, "timestamp"), "2025-01-01T00:00:00.000Z");
  const fhir::Json& entries = (*doc)["entry"];
  const fhir::Json& comp = entries[0]["resource"];
  EXPECT_EQ(fhir::StringMember(comp, "resourceType"), "Composition");
  EXPECT_EQ(fhir::StringMember(comp["type"]["coding"][0], "code"), "60591-5");
  EXPECT_EQ(fhir::StringMember(comp["subject"], "reference"), "http://h/fhir/Patient/g");

  // Every entry by fullUrl; provenance targets -> their source references.
  std::map<std::string, const fhir::Json*> by_url;
  std::map<std::string, std::set<std::string>> provenance;
  for (const fhir::Json& e : entries.GetArray()) {
    by_url[std::string(fhir::StringMember(e, "fullUrl"))] = &e["resource"];
    const fhir::Json& r = e["resource"];
    if (fhir::StringMember(r, "resourceType") != "Provenance") continue;
    auto& set = provenance[std::string(fhir::StringMember(r["target"][0], "reference"))];
    for (const fhir::Json& en : r["entity"].GetArray()) {
      EXPECT_EQ(fhir::StringMember(en, "role"), "source");
      set.insert(std::string(fhir::StringMember(en["what"], "reference")));
    }
  }
  std::map<std::string, std::vector<std::string>> sections;  // LOINC -> resource types
  for (const fhir::Json& s : comp["section"].GetArray()) {
    auto& types = sections[std::string(fhir::StringMember(s["code"]["coding"][0], "code"))];
    if (!s.HasMember("entry")) {
      EXPECT_EQ(fhir::StringMember(s["emptyReason"]["coding"][0], "code"), "unavailable");
      continue;
    }
    for (const fhir::Json& ref : s["entry"].GetArray()) {
      std::string url(fhir::StringMember(ref, "reference"));
      ASSERT_TRUE(by_url.count(url)) << "section entry not in the Bundle: " << url;
      types.push_back(std::string(fhir::StringMember(*by_url[url], "resourceType")));
    }
  }
  EXPECT_EQ(sections["10160-0"], std::vector<std::string>{"MedicationStatement"});
  EXPECT_EQ(sections["11450-4"], std::vector<std::string>{"Condition"});
  EXPECT_EQ(sections["48765-2"], std::vector<std::string>{});
  EXPECT_EQ(sections["30954-2"], std::vector<std::string>{"Observation"});
  EXPECT_EQ(sections["46240-8"], (std::vector<std::string>{"Encounter", "EpisodeOfCare"}));
  EXPECT_EQ(sections["29762-2"], std::vector<std::string>{"EpisodeOfCare"});
  EXPECT_EQ(sections["104605-1"], std::vector<std::string>{"Flag"});
  EXPECT_EQ(sections["18776-5"], std::vector<std::string>{});
  EXPECT_FALSE(sections["85847-2"].empty());

  // The medication: one entry from two sources, with the conflicts.
  std::string med_url(fhir::StringMember(comp["section"][1]["entry"][0], "reference"));
  EXPECT_EQ(provenance[med_url], (std::set<std::string>{"http://h/fhir/MedicationStatement/m1",
                                                        "http://h/fhir/MedicationStatement/m2"}));
  const fhir::Json& med = *by_url[med_url];
  EXPECT_EQ(fhir::StringMember(med, "status"), "active");
  EXPECT_EQ(med["extension"].Size(), 3u);  // status, dose-differs, status-differs
  // The result series: both points' sources, latest value, trend.
  std::string res_url(fhir::StringMember(comp["section"][3]["entry"][0], "reference"));
  EXPECT_EQ(provenance[res_url], (std::set<std::string>{"http://h/fhir/Observation/o1",
                                                        "http://h/fhir/Observation/o2"}));
  EXPECT_EQ((*by_url[res_url])["valueQuantity"]["value"].GetDouble(), 60);
  EXPECT_EQ(fhir::StringMember((*by_url[res_url])["extension"][0], "valueCode"), "rising");

  // Deterministic for the same record and time.
  EXPECT_EQ(json, ToSummaryBundle(rec, items, {"http://h/fhir", 1'735'689'600'000}));
}

}  // namespace
}  // namespace lhcr::record
