// Gather over a real SQLite store: a Person linking two Patients, records of
// both, and another person's records that must not be gathered.
#include <gtest/gtest.h>

#include <set>

#include "record/record.h"
#include "testing/local_record.h"

namespace lhcr::record {
namespace {

class GatherTest : public ::testing::Test {
 protected:
  void Put(const std::string& type, const std::string& id, const std::string& body) {
    std::string json = "{\"resourceType\":\"" + type + "\",\"id\":\"" + id + "\"" +
                       (body.empty() ? "" : ",") + body + "}";
    auto r = rec_.interactions().Update(ctx_, type, id, json, {});
    ASSERT_TRUE(r.ok()) << type << "/" << id << ": " << r.status().ToString();
  }
  void Record(const std::string& type, const std::string& id, const std::string& patient) {
    std::string ref = "{\"reference\":\"Patient/" + patient + "\"}";
    if (type == "Condition") {
      Put(type, id, "\"subject\":" + ref + ",\"code\":{\"text\":\"x\"}");
    } else if (type == "Observation") {
      Put(type, id, "\"status\":\"final\",\"code\":{\"text\":\"x\"},\"subject\":" + ref);
    } else if (type == "AllergyIntolerance") {
      Put(type, id, "\"patient\":" + ref);
    } else if (type == "Encounter") {
      Put(type, id, "\"status\":\"finished\",\"class\":{\"code\":\"AMB\"},\"subject\":" + ref);
    } else if (type == "MedicationStatement") {
      Put(type, id,
          "\"status\":\"active\",\"medicationCodeableConcept\":{\"text\":\"x\"},\"subject\":" +
              ref);
    } else if (type == "EpisodeOfCare") {
      Put(type, id, "\"status\":\"active\",\"patient\":" + ref);
    }
  }
  Result<SourceItems> GatherFor(const std::string& patient) {
    auto view = rec_.store().View();
    if (!view.ok()) return view.status();
    return Gather(**view, *fhir::SearchParamRegistry::R4(), patient);
  }

  testing::LocalRecord rec_;
  interaction::RequestContext ctx_;
};

TEST_F(GatherTest, EveryRecordOfEveryLinkedPatientAndNoOther) {
  Put("Patient", "gp", "\"active\":true");
  Put("Patient", "acute", "\"active\":true");
  Put("Patient", "other", "\"active\":true");
  // An inactive Person that still names Patient/acute (merged away) is ignored.
  Put("Person", "old",
      "\"active\":false,\"link\":[{\"target\":{\"reference\":\"Patient/acute\"}},"
      "{\"target\":{\"reference\":\"Patient/other\"}}]");
  Put("Person", "p1",
      "\"link\":[{\"target\":{\"reference\":\"Patient/gp\"},\"assurance\":\"level3\"},"
      "{\"target\":{\"reference\":\"Patient/acute\"},\"assurance\":\"level3\"}]");
  Put("Person", "p2", "\"link\":[{\"target\":{\"reference\":\"Patient/other\"}}]");
  Record("Condition", "c1", "gp");
  Record("MedicationStatement", "m1", "gp");
  Record("Observation", "o1", "acute");
  Record("Encounter", "e1", "acute");
  Record("AllergyIntolerance", "a1", "gp");
  Record("EpisodeOfCare", "ep1", "acute");
  Record("Condition", "c2", "other");
  Record("Observation", "o2", "other");

  auto got = GatherFor("acute");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->person, "Person/p1");
  EXPECT_EQ(got->requested, "Patient/acute");
  EXPECT_EQ(got->patients, (std::vector<std::string>{"Patient/acute", "Patient/gp"}));
  std::set<std::string> refs;
  for (const SourceItem& i : got->items) {
    refs.insert(i.type + "/" + i.id + "@" + i.patient);
    EXPECT_NE(i.json.find("\"id\":\"" + i.id + "\""), std::string::npos);
  }
  EXPECT_EQ(refs, (std::set<std::string>{
                      "Patient/acute@", "Patient/gp@", "Condition/c1@Patient/gp",
                      "MedicationStatement/m1@Patient/gp", "Observation/o1@Patient/acute",
                      "Encounter/e1@Patient/acute", "AllergyIntolerance/a1@Patient/gp",
                      "EpisodeOfCare/ep1@Patient/acute"}));
}

TEST_F(GatherTest, APatientWithoutPersonIsItsOwnRecord) {
  Put("Patient", "lone", "\"active\":true");
  Record("Condition", "c1", "lone");
  auto got = GatherFor("lone");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->person, "");
  EXPECT_EQ(got->patients, (std::vector<std::string>{"Patient/lone"}));
  ASSERT_EQ(got->items.size(), 2u);
  EXPECT_EQ(got->items[1].type, "Condition");
}

TEST_F(GatherTest, UnknownOrDeletedPatientIsNotFound) {
  auto got = GatherFor("nobody");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kNotFound);
  Put("Patient", "gone", "\"active\":true");
  ASSERT_TRUE(rec_.interactions().Delete(ctx_, "Patient", "gone", {}).ok());
  got = GatherFor("gone");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace lhcr::record
