// The consolidation rules, each over hand-built source records (some
// conflicting), with a small dm+d hierarchy: VTM metformin, two of its VMPs
// (500mg, 1g), an AMP of the 500mg VMP; VMP gliclazide (no VTM) and its AMP.
#include <gtest/gtest.h>

#include <set>

#include "record/record.h"

namespace lhcr::record {
namespace {

constexpr const char* kSct = "http://snomed.info/sct";

std::shared_ptr<const terminology::Terminology> Dmd() {
  terminology::TerminologyBuilder b;
  auto add = [&](const std::string& code, const std::string& display, const std::string& level,
                 const std::string& parent) {
    terminology::Concept& c = b.MutableConcept(kSct, code);
    c.code = code;
    c.display = display;
    c.properties["dmd-level"] = level;
    if (!parent.empty()) c.parents.push_back(parent);
  };
  add("109081006", "Metformin", "VTM", "");
  add("325278007", "Metformin 500mg tablets", "VMP", "109081006");
  add("376705009", "Metformin 1g tablets", "VMP", "109081006");
  add("3776211000001106", "Metformin 500mg tablets (Accord)", "AMP", "325278007");
  add("325242002", "Gliclazide 80mg tablets", "VMP", "");
  add("378911000001109", "Gliclazide 80mg tablets (Teva)", "AMP", "325242002");
  return std::move(b).Build();
}

// A source record: `body` is the resource's members after resourceType/id.
SourceItem Item(const std::string& type, const std::string& id, const std::string& patient,
                const std::string& source, const std::string& body) {
  std::string json = "{\"resourceType\":\"" + type + "\",\"id\":\"" + id +
                     "\",\"meta\":{\"source\":\"" + source + "#k\"}," + body + "}";
  return {type, id, patient, json};
}

std::string Med(const std::string& code, const std::string& display, const std::string& status,
                const std::string& dose = "") {
  std::string s = "\"status\":\"" + status +
                  "\",\"medicationCodeableConcept\":{\"coding\":[{\"system\":\"" + kSct +
                  "\",\"code\":\"" + code + "\",\"display\":\"" + display +
                  "\"}]},\"dateAsserted\":\"2024-01-02\"";
  if (!dose.empty()) s += ",\"dosage\":[{\"text\":\"" + dose + "\"}]";
  return s;
}

std::string Request(const std::string& code, const std::string& status, const std::string& dose,
                    const std::string& authored) {
  return "\"status\":\"" + status + "\",\"intent\":\"order\",\"medicationCodeableConcept\":{" +
         "\"coding\":[{\"system\":\"" + kSct + "\",\"code\":\"" + code + "\"}]},\"authoredOn\":\"" +
         authored + "\",\"dosageInstruction\":[{\"text\":\"" + dose + "\"}]";
}

ConsolidateOptions Kinds() {
  ConsolidateOptions o;
  o.source_kinds = {{"gp1", "gp"}, {"gp2", "gp"}, {"acute", "acute"}, {"social", "social-care"}};
  return o;
}

SourceItems Items(std::vector<SourceItem> items) {
  SourceItems s;
  s.person = "Person/1";
  s.requested = "Patient/g";
  s.patients = {"Patient/g", "Patient/h"};
  s.items = std::move(items);
  return s;
}

TEST(Consolidate, AmpAndVmpOfOneMedicineAreOneEntry) {
  auto t = Dmd();
  SourceItems in = Items({
      Item("MedicationStatement", "m1", "Patient/g", "gp1",
           Med("325242002", "Gliclazide 80mg tablets", "active", "One tablet twice a day")),
      Item("MedicationRequest", "r1", "Patient/h", "acute",
           Request("378911000001109", "active", "One tablet twice a day", "2024-03-04")),
  });
  ConsolidatedRecord r = Consolidate(in, t.get(), Kinds());
  ASSERT_EQ(r.medications.size(), 1u);
  const MedicationEntry& m = r.medications[0];
  EXPECT_EQ(m.key, "vmp:325242002");
  EXPECT_EQ(m.vmp, "325242002");
  EXPECT_EQ(m.vtm, "");
  EXPECT_EQ(m.display, "Gliclazide 80mg tablets");
  EXPECT_EQ(m.status, MedicationStatus::kActive);
  EXPECT_EQ(m.last_issued, "2024-03-04");
  EXPECT_TRUE(m.conflicts.empty());
  ASSERT_EQ(m.per_source.size(), 2u);
  EXPECT_EQ(m.per_source[0].level, "VMP");
  EXPECT_EQ(m.per_source[1].level, "AMP");
  EXPECT_TRUE(m.per_source[1].hospital);
  EXPECT_EQ(m.sources, (std::vector<SourceRef>{{"MedicationStatement/m1", "gp1", "Patient/g"},
                                               {"MedicationRequest/r1", "acute", "Patient/h"}}));
}

// medication[x] as a reference: a contained Medication's code is matched as
// an inline one; medicines named by nothing are never merged into one entry.
TEST(Consolidate, MedicationReferencesAreReadAndNeverMergedOnEmptiness) {
  auto t = Dmd();
  const std::string sct = kSct;
  SourceItems in = Items({
      Item("MedicationStatement", "m1", "Patient/g", "gp1",
           Med("325242002", "Gliclazide 80mg tablets", "active")),
      Item("MedicationRequest", "r1", "Patient/h", "acute",
           "\"contained\":[{\"resourceType\":\"Medication\",\"id\":\"med\",\"code\":{\"coding\":"
           "[{\"system\":\"" +
               sct +
               "\",\"code\":\"378911000001109\"}]}}],\"status\":\"active\","
               "\"intent\":\"order\",\"medicationReference\":{\"reference\":\"#med\"}"),
      Item("MedicationRequest", "r2", "Patient/h", "acute",
           "\"status\":\"active\",\"intent\":\"order\",\"medicationReference\":{\"reference\":"
           "\"Medication/x1\"}"),
      Item("MedicationRequest", "r3", "Patient/h", "acute",
           "\"status\":\"active\",\"intent\":\"order\",\"medicationReference\":{\"reference\":"
           "\"Medication/x2\"}"),
      Item("MedicationRequest", "r4", "Patient/h", "acute",
           "\"status\":\"active\",\"intent\":\"order\",\"medicationReference\":{\"reference\":"
           "\"Medication/x3\",\"display\":\"Omeprazole 20mg capsules\"}"),
  });
  ConsolidatedRecord r = Consolidate(in, t.get(), Kinds());
  ASSERT_EQ(r.medications.size(), 4u);
  std::set<std::string> keys;
  for (const MedicationEntry& m : r.medications) {
    keys.insert(m.key);
    if (m.key == "vmp:325242002") {
      EXPECT_EQ(m.per_source.size(), 2u);  // the contained AMP joins the GP's VMP
    }
  }
  EXPECT_EQ(keys, (std::set<std::string>{"vmp:325242002", "ref:Medication/x1", "ref:Medication/x2",
                                         "text:omeprazole 20mg capsules"}));
}

TEST(Consolidate, VmpsOfOneVtmAreOneEntryAndDoseDifferenceIsAConflict) {
  auto t = Dmd();
  SourceItems in = Items({
      Item("MedicationStatement", "m1", "Patient/g", "gp1",
           Med("325278007", "Metformin 500mg tablets", "active", "One tablet three times a day")),
      Item("MedicationRequest", "r1", "Patient/h", "acute",
           Request("376705009", "active", "One tablet twice a day", "2024-05-06")),
      Item("MedicationStatement", "m2", "Patient/h", "gp2",
           Med("3776211000001106", "Metformin 500mg tablets (Accord)", "active",
               "one tablet three times a day")),
  });
  ConsolidatedRecord r = Consolidate(in, t.get(), Kinds());
  ASSERT_EQ(r.medications.size(), 1u);
  const MedicationEntry& m = r.medications[0];
  EXPECT_EQ(m.key, "vtm:109081006");
  EXPECT_EQ(m.display, "Metformin");
  EXPECT_EQ(m.sources.size(), 3u);
  ASSERT_EQ(m.conflicts.size(), 1u);
  EXPECT_EQ(m.conflicts[0].kind, "dose-differs");
  EXPECT_NE(m.conflicts[0].detail.find("MedicationRequest/r1 (acute): One tablet twice a day"),
            std::string::npos)
      << m.conflicts[0].detail;
}

TEST(Consolidate, StoppedInHospitalButActiveAtGpIsActiveWithAConflict) {
  auto t = Dmd();
  SourceItems in = Items({
      Item("MedicationStatement", "m1", "Patient/g", "gp1",
           Med("325242002", "Gliclazide 80mg tablets", "active")),
      Item("MedicationRequest", "r1", "Patient/h", "acute",
           Request("378911000001109", "stopped", "One tablet daily", "2024-03-04")),
  });
  ConsolidatedRecord r = Consolidate(in, t.get(), Kinds());
  ASSERT_EQ(r.medications.size(), 1u);
  EXPECT_EQ(r.medications[0].status, MedicationStatus::kActive);
  ASSERT_EQ(r.medications[0].conflicts.size(), 1u);
  EXPECT_EQ(r.medications[0].conflicts[0].kind, "status-differs");
  EXPECT_EQ(r.medications[0].conflicts[0].detail,
            "active in MedicationStatement/m1 (gp1); stopped in MedicationRequest/r1 (acute): "
            "One tablet daily");
}

TEST(Consolidate, HospitalOnlyAndStoppedEverywhere) {
  auto t = Dmd();
  SourceItems in = Items({
      Item("MedicationRequest", "r1", "Patient/h", "acute",
           Request("325278007", "active", "500mg twice a day", "2024-03-04")),
      Item("MedicationStatement", "m1", "Patient/g", "gp1",
           Med("325242002", "Gliclazide 80mg tablets", "completed")),
      Item("MedicationStatement", "m2", "Patient/g", "gp1",
           Med("378911000001109", "Gliclazide 80mg tablets (Teva)", "stopped")),
  });
  ConsolidatedRecord r = Consolidate(in, t.get(), Kinds());
  ASSERT_EQ(r.medications.size(), 2u);
  // Ordered by status: stopped before hospital-only.
  EXPECT_EQ(r.medications[0].key, "vmp:325242002");
  EXPECT_EQ(r.medications[0].status, MedicationStatus::kStopped);
  EXPECT_TRUE(r.medications[0].conflicts.empty());
  EXPECT_EQ(r.medications[1].key, "vtm:109081006");
  EXPECT_EQ(r.medications[1].status, MedicationStatus::kHospitalOnly);
  EXPECT_EQ(ToString(r.medications[1].status), "hospital-only");
}

TEST(Consolidate, WithoutTerminologyOnlyIdenticalCodesMatch) {
  SourceItems in = Items({
      Item("MedicationStatement", "m1", "Patient/g", "gp1",
           Med("325242002", "Gliclazide 80mg tablets", "active")),
      Item("MedicationStatement", "m2", "Patient/h", "gp2",
           Med("325242002", "Gliclazide 80mg tablets", "active")),
      Item("MedicationRequest", "r1", "Patient/h", "acute",
           Request("378911000001109", "active", "x", "2024-03-04")),
  });
  ConsolidatedRecord r = Consolidate(in, nullptr, Kinds());
  ASSERT_EQ(r.medications.size(), 2u);
  EXPECT_EQ(r.medications[0].key, "code:http://snomed.info/sct|325242002");
  EXPECT_EQ(r.medications[0].sources.size(), 2u);
  EXPECT_EQ(r.medications[1].key, "code:http://snomed.info/sct|378911000001109");
}

std::string Condition(const std::string& code, const std::string& onset,
                      const std::string& status = "active") {
  std::string s =
      "\"clinicalStatus\":{\"coding\":[{\"system\":\"http://terminology.hl7.org/"
      "CodeSystem/condition-clinical\",\"code\":\"" +
      status + "\"}]},\"code\":{\"coding\":[{\"system\":\"" + kSct + "\",\"code\":\"" + code +
      "\",\"display\":\"d" + code + "\"}]}";
  if (!onset.empty()) s += ",\"onsetDateTime\":\"" + onset + "\"";
  return s;
}

TEST(Consolidate, ProblemsByConceptAndOnset) {
  SourceItems in = Items({
      Item("Condition", "c1", "Patient/g", "gp1", Condition("44054006", "2019-05-01")),
      Item("Condition", "c2", "Patient/h", "gp2", Condition("44054006", "2019-05-01T10:00:00Z")),
      Item("Condition", "c3", "Patient/h", "gp2", Condition("44054006", "")),
      Item("Condition", "c4", "Patient/g", "gp1", Condition("38341003", "2015-01-01", "resolved")),
      Item("Condition", "c5", "Patient/h", "acute", Condition("38341003", "2021-02-03")),
  });
  ConsolidatedRecord r = Consolidate(in, nullptr, Kinds());
  ASSERT_EQ(r.problems.size(), 3u);
  // Newest onset first.
  EXPECT_EQ(r.problems[0].onset, "2021-02-03");
  EXPECT_EQ(r.problems[0].code.code, "38341003");
  EXPECT_EQ(r.problems[1].onset, "2019-05-01");
  EXPECT_EQ(r.problems[1].code.code, "44054006");
  // The record without onset joins the concept's entry.
  EXPECT_EQ(r.problems[1].sources.size(), 3u);
  EXPECT_EQ(r.problems[2].onset, "2015-01-01");
  EXPECT_EQ(r.problems[2].clinical_status, "resolved");
  EXPECT_EQ(r.counts[1], (CategoryCount{"problems", 5, 3}));
}

std::string Allergy(const std::string& code, const std::string& criticality) {
  std::string s = "\"code\":{\"coding\":[{\"system\":\"" + std::string(kSct) + "\",\"code\":\"" +
                  code + "\"}]},\"recordedDate\":\"2020-01-01\"";
  if (!criticality.empty()) s += ",\"criticality\":\"" + criticality + "\"";
  return s;
}

TEST(Consolidate, AllergiesDeduplicatedHighestCriticalityWins) {
  SourceItems in = Items({
      Item("AllergyIntolerance", "a1", "Patient/g", "gp1", Allergy("91936005", "low")),
      Item("AllergyIntolerance", "a2", "Patient/h", "acute", Allergy("91936005", "high")),
      Item("AllergyIntolerance", "a3", "Patient/h", "gp2", Allergy("91936005", "unable-to-assess")),
      Item("AllergyIntolerance", "a4", "Patient/h", "gp2", Allergy("300916003", "")),
  });
  ConsolidatedRecord r = Consolidate(in, nullptr, Kinds());
  ASSERT_EQ(r.allergies.size(), 2u);
  EXPECT_EQ(r.allergies[0].code.code, "91936005");
  EXPECT_EQ(r.allergies[0].criticality, "high");
  EXPECT_EQ(r.allergies[0].sources.size(), 3u);
  EXPECT_EQ(r.allergies[1].criticality, "");
}

std::string Obs(const std::string& loinc, const std::string& time, double value,
                const std::string& unit, const std::string& local = "") {
  std::string codings =
      "{\"system\":\"http://loinc.org\",\"code\":\"" + loinc + "\",\"display\":\"HbA1c\"}";
  if (!local.empty()) codings = "{\"system\":\"urn:local\",\"code\":\"" + local + "\"}," + codings;
  return "\"status\":\"final\",\"code\":{\"coding\":[" + codings + "]},\"effectiveDateTime\":\"" +
         time + "\",\"valueQuantity\":{\"value\":" + std::to_string(value) + ",\"unit\":\"" + unit +
         "\",\"system\":\"http://unitsofmeasure.org\",\"code\":\"" + unit + "\"}";
}

TEST(Consolidate, ResultsAlignedByCodeAndTimeWithTrend) {
  SourceItems in = Items({
      Item("Observation", "o1", "Patient/g", "gp1",
           Obs("4548-4", "2023-01-01T09:00:00Z", 48, "mmol/mol")),
      // The same result from the lab, by its local code beside LOINC.
      Item("Observation", "o2", "Patient/h", "acute",
           Obs("4548-4", "2023-01-01T09:00:30Z", 48, "mmol/mol", "HBA1C")),
      Item("Observation", "o3", "Patient/h", "acute",
           Obs("4548-4", "2024-01-01T09:00:00Z", 60, "mmol/mol", "HBA1C")),
      Item("Observation", "bp", "Patient/g", "gp1",
           "\"status\":\"final\",\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":"
           "\"85354-9\"}]},\"effectiveDateTime\":\"2024-02-02\",\"component\":[{\"code\":{"
           "\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8480-6\"}]},"
           "\"valueQuantity\":{\"value\":140,\"code\":\"mm[Hg]\"}},{\"code\":{\"coding\":[{"
           "\"system\":\"http://loinc.org\",\"code\":\"8462-4\"}]},\"valueQuantity\":{\"value\":"
           "85,\"code\":\"mm[Hg]\"}}]"),
  });
  ConsolidatedRecord r = Consolidate(in, nullptr, Kinds());
  ASSERT_EQ(r.results.size(), 3u);
  const ResultSeries* hba1c = nullptr;
  for (const ResultSeries& s : r.results) {
    if (s.code.code == "4548-4") hba1c = &s;
  }
  ASSERT_NE(hba1c, nullptr);
  EXPECT_EQ(hba1c->code.system, "http://loinc.org");
  EXPECT_EQ(hba1c->unit, "mmol/mol");
  ASSERT_EQ(hba1c->points.size(), 2u);
  EXPECT_EQ(hba1c->points[0].sources.size(), 2u);
  EXPECT_EQ(hba1c->points[1].value, 60);
  EXPECT_EQ(hba1c->trend, "rising");
  EXPECT_EQ(r.counts[3], (CategoryCount{"results", 4, 3}));
}

TEST(Consolidate, TrendFallingAndStable) {
  SourceItems falling = Items({
      Item("Observation", "o1", "Patient/g", "gp1", Obs("4548-4", "2023-01-01", 60, "mmol/mol")),
      Item("Observation", "o2", "Patient/g", "gp1", Obs("4548-4", "2024-01-01", 50, "mmol/mol")),
  });
  EXPECT_EQ(Consolidate(falling, nullptr).results[0].trend, "falling");
  SourceItems stable = Items({
      Item("Observation", "o1", "Patient/g", "gp1", Obs("4548-4", "2023-01-01", 60, "mmol/mol")),
      Item("Observation", "o2", "Patient/g", "gp1", Obs("4548-4", "2024-01-01", 61, "mmol/mol")),
  });
  EXPECT_EQ(Consolidate(stable, nullptr).results[0].trend, "stable");
}

std::string Enc(const std::string& start, const std::string& cls, const std::string& ods) {
  return "\"status\":\"finished\",\"class\":{\"system\":\"http://terminology.hl7.org/CodeSystem/"
         "v3-ActCode\",\"code\":\"" +
         cls + "\"},\"period\":{\"start\":\"" + start +
         "\"},\"serviceProvider\":{\"type\":\"Organization\",\"identifier\":{\"system\":\"https:"
         "//fhir.nhs.uk/Id/ods-organization-code\",\"value\":\"" +
         ods + "\"}}";
}

TEST(Consolidate, TimelineCareTeamAndSocialCare) {
  SourceItems in = Items({
      Item("Patient", "g", "", "gp1",
           "\"generalPractitioner\":[{\"type\":\"Organization\",\"identifier\":{\"value\":"
           "\"Y90001\"},\"display\":\"Practice 1\"}]"),
      Item("Encounter", "e1", "Patient/h", "acute", Enc("2024-01-01T10:00:00Z", "IMP", "R9A")),
      // The same admission sent twice (a duplicate record): one entry.
      Item("Encounter", "e2", "Patient/h", "acute", Enc("2024-01-01T10:00:00Z", "IMP", "R9A")),
      Item("Encounter", "e3", "Patient/g", "gp1", Enc("2024-02-01", "AMB", "Y90001")),
      Item("Encounter", "e4", "Patient/h", "social", Enc("2023-06-01", "HH", "X99")),
      Item("EpisodeOfCare", "ep1", "Patient/h", "social",
           "\"status\":\"active\",\"type\":[{\"coding\":[{\"system\":\"urn:la\",\"code\":\"HC\","
           "\"display\":\"Home care\"}]}],\"period\":{\"start\":\"2023-07-01\"},"
           "\"managingOrganization\":{\"identifier\":{\"value\":\"X99\"}}"),
  });
  ConsolidatedRecord r = Consolidate(in, nullptr, Kinds());
  ASSERT_EQ(r.timeline.size(), 4u);
  EXPECT_EQ(r.timeline[0].start, "2024-02-01");
  EXPECT_EQ(r.timeline[1].sources.size(), 2u);
  EXPECT_EQ(r.timeline[1].setting, "acute");
  EXPECT_EQ(r.timeline[2].kind, "episode");
  EXPECT_EQ(r.timeline[2].type, "Home care");
  ASSERT_EQ(r.social_care.size(), 2u);
  EXPECT_EQ(r.social_care[0].kind, "service");
  EXPECT_EQ(r.social_care[0].service.code, "HC");
  EXPECT_EQ(r.social_care[1].kind, "contact");
  std::set<std::string> team;
  for (const CareTeamMember& m : r.care_team) team.insert(m.organisation + "/" + m.role);
  EXPECT_EQ(team, (std::set<std::string>{"Y90001/registered GP practice", "Y90001/gp", "R9A/acute",
                                         "X99/social-care", "gp1/gp"}));
}

TEST(Consolidate, NothingFromASourceIsLostFromView) {
  auto t = Dmd();
  SourceItems in = Items({
      Item("Patient", "g", "", "gp1", "\"active\":true"),
      Item("MedicationStatement", "m1", "Patient/g", "gp1",
           Med("325242002", "Gliclazide 80mg tablets", "active")),
      Item("Condition", "c1", "Patient/g", "gp1", Condition("44054006", "2019-05-01")),
      Item("Observation", "o1", "Patient/g", "gp1",
           "\"status\":\"final\",\"code\":{\"text\":\"Smoking\"},\"valueCodeableConcept\":{"
           "\"coding\":[{\"code\":\"77176002\",\"display\":\"Smoker\"}]}"),
      Item("Observation", "o2", "Patient/g", "gp1", "\"status\":\"registered\",\"code\":{}"),
      Item("DiagnosticReport", "d1", "Patient/g", "acute", "\"status\":\"final\""),
      Item("CarePlan", "cp1", "Patient/g", "gp1", "\"title\":\"Frailty plan\""),
      Item("Flag", "f1", "Patient/g", "gp1", "\"code\":{\"text\":\"Violent\"}"),
      {"Condition", "bad", "Patient/g", "not json"},
  });
  ConsolidatedRecord r = Consolidate(in, t.get(), Kinds());
  std::set<std::string> cited;
  auto cite = [&](const std::vector<SourceRef>& v) {
    for (const SourceRef& s : v) cited.insert(s.reference);
  };
  for (const auto& x : r.medications) cite(x.sources);
  for (const auto& x : r.problems) cite(x.sources);
  for (const auto& x : r.allergies) cite(x.sources);
  for (const auto& x : r.results)
    for (const auto& p : x.points) cite(p.sources);
  for (const auto& x : r.timeline) cite(x.sources);
  for (const auto& x : r.care_team) cite(x.sources);
  for (const auto* l : {&r.care_plans, &r.alerts, &r.reports})
    for (const auto& x : *l) cite(x.sources);
  for (const SourceItem& i : in.items) {
    EXPECT_TRUE(cited.count(i.type + "/" + i.id)) << i.type << "/" << i.id;
  }
  EXPECT_EQ(r.care_plans[0].display, "Frailty plan");
  EXPECT_EQ(r.alerts[0].display, "Violent");
}

}  // namespace
}  // namespace lhcr::record
