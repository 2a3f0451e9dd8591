// CollectEverything over a real SQLite store (testing::LocalRecord): a
// person with two source Patients linked by a Person, a second person whose
// records must never appear, references to Organizations, Practitioners,
// Locations and Medications, and the _type/_since filters. Synthetic data.
#include "compartment/everything.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include "interaction/interaction.h"
#include "testing/local_record.h"

namespace lhcr::compartment {
namespace {

// A clock the test moves forward.
class StepClock : public Clock {
 public:
  Millis Now() override { return now_.load(); }
  void Set(Millis t) { now_ = t; }

 private:
  std::atomic<Millis> now_{1'735'689'600'000};  // 2025-01-01T00:00:00Z
};

class EverythingTest : public ::testing::Test {
 protected:
  EverythingTest() : record_(clock_) {}

  void Put(const std::string& type, const std::string& id, const std::string& rest) {
    std::string body = R"({"resourceType":")" + type + R"(","id":")" + id + "\"" +
                       (rest.empty() ? "" : "," + rest) + "}";
    auto r = record_.interactions().Update(ctx_, type, id, body, {});
    ASSERT_TRUE(r.ok()) << type << "/" << id << ": " << r.status().ToString();
  }

  void SetUp() override {
    Put("Organization", "gp", R"("name":"Test Surgery")");
    Put("Organization", "trust", R"("name":"Test Trust")");
    Put("Organization", "unused", R"("name":"Nobody's")");
    Put("Practitioner", "drx", R"("name":[{"family":"Doctor"}])");
    Put("Location", "ward", R"("name":"Ward 1")");
    Put("Medication", "med1", R"("code":{"text":"paracetamol"})");
    Put("Patient", "a",
        R"("name":[{"family":"Testperson"}],"generalPractitioner":[{"reference":"Organization/gp"}])");
    Put("Patient", "b",
        R"("name":[{"family":"Testperson"}],"managingOrganization":{"reference":"Organization/trust"})");
    Put("Patient", "c", R"("name":[{"family":"Otherperson"}])");
    Put("Person", "p1",
        R"("link":[{"target":{"reference":"Patient/a"}},{"target":{"reference":"Patient/b"}}])");
    Put("Person", "p2", R"("link":[{"target":{"reference":"Patient/c"}}])");
    Put("Observation", "oa",
        R"("status":"final","code":{"text":"bp"},"subject":{"reference":"Patient/a"},"performer":[{"reference":"Practitioner/drx"}])");
    Put("Observation", "ob",
        R"("status":"final","code":{"text":"hr"},"subject":{"reference":"Patient/b"})");
    Put("Observation", "oc",
        R"("status":"final","code":{"text":"hr"},"subject":{"reference":"Patient/c"})");
    Put("Encounter", "ea",
        R"("status":"finished","class":{"code":"AMB"},"subject":{"reference":"Patient/a"},"location":[{"location":{"reference":"Location/ward"}}])");
    Put("MedicationRequest", "mb",
        R"("status":"active","intent":"order","medicationReference":{"reference":"Medication/med1"},"subject":{"reference":"Patient/b"})");
    Put("Condition", "cc", R"("subject":{"reference":"Patient/c"})");
    // An audit record about Patient/a: in the R4 compartment, not returned.
    Put("AuditEvent", "audit1",
        R"("type":{"code":"rest"},"recorded":"2025-01-01T00:00:00Z","agent":[{"requestor":true,"who":{"reference":"Practitioner/drx"}}],"source":{"observer":{"reference":"Organization/gp"}},"entity":[{"what":{"reference":"Patient/a"}}])");
  }

  // The "Type/id" of each rid, in order.
  std::vector<std::string> Refs(const Everything& e) {
    auto view = record_.store().View();
    EXPECT_TRUE(view.ok());
    auto versions = (*view)->Fetch(e.rids, e.seq);
    EXPECT_TRUE(versions.ok());
    std::vector<std::string> out;
    for (const auto& v : *versions) out.push_back(v.type + "/" + v.id);
    return out;
  }

  Result<Everything> Collect(EverythingRequest req) {
    auto view = record_.store().View();
    if (!view.ok()) return view.status();
    return CollectEverything(req, **view, record_.interactions().params(),
                             *PatientCompartment::R4());
  }

  StepClock clock_;
  testing::LocalRecord record_;
  interaction::RequestContext ctx_{"http://test/fhir"};
};

TEST(PatientCompartmentTest, R4DefinitionHasTheSpecParameters) {
  auto c = PatientCompartment::R4();
  auto params = [&](const std::string& type) {
    for (const auto& m : c->members()) {
      if (m.type == type) return m.params;
    }
    return std::vector<std::string>{};
  };
  EXPECT_EQ(params("Observation"), (std::vector<std::string>{"subject", "performer"}));
  EXPECT_EQ(params("Patient"), (std::vector<std::string>{"link"}));
  EXPECT_EQ(params("AllergyIntolerance"),
            (std::vector<std::string>{"patient", "recorder", "asserter"}));
  EXPECT_TRUE(c->Contains("AuditEvent"));  // in the definition; $everything leaves it out
  EXPECT_FALSE(c->Contains("Organization"));
  EXPECT_FALSE(c->Contains("Medication"));
  EXPECT_EQ(c->members().size(), 66u);
  EXPECT_FALSE(PatientCompartment::FromJson(R"({"resourceType":"CompartmentDefinition",
      "code":"Encounter","resource":[]})")
                   .ok());
}

TEST(CollectReferencesTest, TextScanAgreesWithTheParsedWalk) {
  const std::string json =
      R"({"resourceType":"Encounter","subject":{"reference":"Patient/a"},)"
      R"("note":[{"text":"see \"reference\":\"Organization/fake\" in the letter"}],)"
      R"("serviceProvider":{"reference" : "Organization/o1"},"location":[{"location":)"
      R"({"reference":"Location/l1/_history/2"}}],"participant":[{"individual":)"
      R"({"reference":"Practitioner/p1","display":"x"}}],"x":{"reference":"Medication/"}})";
  std::set<std::pair<std::string, std::string>> walked, scanned;
  auto doc = fhir::ParseJson(json);
  ASSERT_TRUE(doc.ok());
  CollectReferences(*doc, walked);
  CollectReferencesInText(json, scanned);
  const std::set<std::pair<std::string, std::string>> want = {
      {"Location", "l1"}, {"Organization", "o1"}, {"Practitioner", "p1"}};
  EXPECT_EQ(walked, want);
  EXPECT_EQ(scanned, want);
}

TEST_F(EverythingTest, WholePersonFromEitherPatient) {
  const std::vector<std::string> want = {"Patient/a",
                                         "Patient/b",
                                         "Person/p1",
                                         "Encounter/ea",
                                         "MedicationRequest/mb",
                                         "Observation/oa",
                                         "Observation/ob",
                                         "Organization/gp",
                                         "Organization/trust",
                                         "Practitioner/drx",
                                         "Location/ward",
                                         "Medication/med1"};
  auto a = Collect({"a"});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(Refs(*a), want);
  EXPECT_EQ(a->persons, (std::vector<std::string>{"Person/p1"}));
  EXPECT_EQ(a->patients, (std::vector<std::string>{"Patient/a", "Patient/b"}));

  auto b = Collect({"b"});
  ASSERT_TRUE(b.ok());
  std::vector<std::string> from_b = Refs(*b);
  EXPECT_EQ(from_b.front(), "Patient/b");  // the one asked about first
  std::vector<std::string> sorted_a = want, sorted_b = from_b;
  std::sort(sorted_a.begin(), sorted_a.end());
  std::sort(sorted_b.begin(), sorted_b.end());
  EXPECT_EQ(sorted_a, sorted_b);

  auto c = Collect({"c"});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(Refs(*c),
            (std::vector<std::string>{"Patient/c", "Person/p2", "Condition/cc", "Observation/oc"}));
}

TEST_F(EverythingTest, UnlinkedPatientIsItsOwnRecord) {
  Put("Patient", "lone", "");
  Put("Observation", "olone",
      R"("status":"final","code":{"text":"x"},"subject":{"reference":"Patient/lone"})");
  auto e = Collect({"lone"});
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(Refs(*e), (std::vector<std::string>{"Patient/lone", "Observation/olone"}));
  EXPECT_TRUE(e->persons.empty());
}

TEST_F(EverythingTest, TypeFilter) {
  EverythingRequest req{"a"};
  req.types = {"Observation"};
  auto e = Collect(req);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(Refs(*e), (std::vector<std::string>{"Observation/oa", "Observation/ob"}));
  // Referenced types are found through members of other types.
  req.types = {"Organization", "Medication"};
  e = Collect(req);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(Refs(*e),
            (std::vector<std::string>{"Organization/gp", "Organization/trust", "Medication/med1"}));
}

TEST_F(EverythingTest, SinceFilterAndDeletes) {
  clock_.Set(1'767'225'600'000);  // 2026-01-01
  Put("Observation", "ob",
      R"("status":"amended","code":{"text":"hr"},"subject":{"reference":"Patient/b"})");
  Put("Observation", "new",
      R"("status":"final","code":{"text":"t"},"subject":{"reference":"Patient/a"})");
  ASSERT_TRUE(record_.interactions().Delete(ctx_, "Observation", "oa", {}).ok());
  EverythingRequest req{"a"};
  req.since = 1'767'225'600'000;
  auto e = Collect(req);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(Refs(*e), (std::vector<std::string>{"Observation/ob", "Observation/new"}));
  // Without _since the deleted one is gone and Practitioner/drx (only it
  // referred to them) with it.
  e = Collect({"a"});
  ASSERT_TRUE(e.ok());
  auto refs = Refs(*e);
  EXPECT_EQ(std::count(refs.begin(), refs.end(), "Observation/oa"), 0);
  EXPECT_EQ(std::count(refs.begin(), refs.end(), "Practitioner/drx"), 0);
  EXPECT_EQ(refs.size(), 11u);
}

TEST_F(EverythingTest, UnknownAndDeletedPatient) {
  auto e = Collect({"nobody"});
  EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(record_.interactions().Delete(ctx_, "Patient", "c", {}).ok());
  e = Collect({"c"});
  EXPECT_EQ(e.status().code(), StatusCode::kGone);
}

TEST(EverythingParametersTest, ParsesAndRejects) {
  const auto& reg = *fhir::SearchParamRegistry::R4();
  auto p = ParseEverythingParameters("x", R"({"resourceType":"Parameters","parameter":[
      {"name":"_since","valueInstant":"2025-03-04T05:06:07Z"},
      {"name":"_type","valueString":"Observation,Condition"},{"name":"_type","valueCode":"Observation"},
      {"name":"_count","valueInteger":7}]})",
                                     reg);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->patient_id, "x");
  EXPECT_EQ(p->since, 1'741'064'767'000);
  EXPECT_EQ(p->types, (std::vector<std::string>{"Observation", "Condition"}));
  EXPECT_EQ(p->count, 7);
  EXPECT_TRUE(ParseEverythingParameters("x", "", reg).ok());

  auto code = [&](const std::string& params) {
    return ParseEverythingParameters(
               "x", R"({"resourceType":"Parameters","parameter":[)" + params + "]}", reg)
        .status()
        .code();
  };
  EXPECT_EQ(code(R"({"name":"_since","valueString":"2025-03-04"})"), StatusCode::kIncorrect);
  EXPECT_EQ(code(R"({"name":"_type","valueString":"Observation,Nonsense"})"),
            StatusCode::kIncorrect);
  EXPECT_EQ(code(R"({"name":"_count","valueString":"-1"})"), StatusCode::kIncorrect);
  EXPECT_EQ(code(R"({"name":"_count","valueString":"ten"})"), StatusCode::kIncorrect);
  EXPECT_EQ(code(R"({"name":"frobnicate","valueString":"1"})"), StatusCode::kIncorrect);
  EXPECT_EQ(code(R"({"name":"start","valueDate":"2020-01-01"})"), StatusCode::kUnsupported);
  EXPECT_EQ(ParseEverythingParameters("x", R"({"resourceType":"Patient"})", reg).status().code(),
            StatusCode::kIncorrect);
}

}  // namespace
}  // namespace lhcr::compartment
