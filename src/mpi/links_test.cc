#include "mpi/links.h"

#include <gtest/gtest.h>

#include <set>

#include "fhir/json.h"
#include "mpi/resources.h"
#include "testing/local_record.h"

namespace lhcr::mpi {
namespace {

using fhir::Json;

class LinksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Three records: A and B one Person (P1), C its own (P2).
    a_ = Patient("Fairweather", "Jane", "1958-03-12");
    b_ = Patient("Fairweather", "Jane", "1958-03-12");
    c_ = Patient("Holmes", "Sherlock", "1954-01-06");
    Put("Person", "p1", {a_, b_});
    Put("Person", "p2", {c_});
  }
  std::string Patient(const std::string& family, const std::string& given,
                      const std::string& birth) {
    auto r = interactions_->Create(
        {}, "Patient",
        R"({"resourceType":"Patient","name":[{"family":")" + family + R"(","given":[")" + given +
            R"("]}],"birthDate":")" + birth + R"("})",
        {});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return "Patient/" + std::string(fhir::StringMember(*fhir::ParseJson(r->body), "id"));
  }
  void Put(const std::string& type, const std::string& id, const std::vector<std::string>& refs) {
    std::string links;
    for (const std::string& r : refs) {
      if (!links.empty()) links += ",";
      links += R"({"target":{"reference":")" + r + R"("},"assurance":"level3"})";
    }
    auto r = interactions_->Update({}, type, id,
                                   R"({"resourceType":"Person","id":")" + id +
                                       R"(","active":true,"link":[)" + links + "]}",
                                   {});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  // Patient refs linked from a Person, and whether it is active.
  std::pair<std::set<std::string>, bool> Links(const std::string& person) {
    auto r = interactions_->Read({}, "Person", person.substr(person.find('/') + 1), {});
    EXPECT_TRUE(r.ok()) << person;
    auto d = fhir::ParseJson(r->body);
    std::set<std::string> out;
    if (const Json* l = fhir::Member(*d, "link")) {
      for (const Json& x : l->GetArray()) out.insert(std::string(x["target"]["reference"].GetString()));
    }
    const Json* active = fhir::Member(*d, "active");
    return {out, active == nullptr || active->GetBool()};
  }

  testing::FixedClock clock_;
  testing::LocalRecord record_{clock_};
  interaction::Interactions* const interactions_ = &record_.interactions();
  LinkManager links_{*interactions_, nullptr, clock_};
  std::string a_, b_, c_;
};

TEST_F(LinksTest, LinkMovesARecordAndUndoPutsItBack) {
  auto moved = links_.Link(b_, "Person/p2", "dr.who", "same NHS number, checked by phone");
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(Links("Person/p1").first, std::set<std::string>({a_}));
  EXPECT_EQ(Links("Person/p2").first, std::set<std::string>({b_, c_}));
  // Confirmed by a person: level4, and the Provenance says who and why.
  auto p2 = interactions_->Read({}, "Person", "p2", {});
  EXPECT_NE(p2->body.find("\"assurance\":\"level4\""), std::string::npos) << p2->body;
  EXPECT_NE(p2->body.find("dr.who"), std::string::npos);
  EXPECT_NE(p2->body.find("Holmes"), std::string::npos) << "demographics by survivorship";
  auto prov = interactions_->Read({}, "Provenance", moved->provenance.substr(11), {});
  ASSERT_TRUE(prov.ok());
  EXPECT_NE(prov->body.find("checked by phone"), std::string::npos) << prov->body;
  EXPECT_NE(prov->body.find("Person/p1/_history/1"), std::string::npos) << prov->body;

  auto undone = links_.Undo(moved->provenance, "dr.who");
  ASSERT_TRUE(undone.ok()) << undone.status().ToString();
  EXPECT_EQ(Links("Person/p1").first, std::set<std::string>({a_, b_}));
  EXPECT_EQ(Links("Person/p2").first, std::set<std::string>({c_}));
  // Undoing twice: the Persons have changed since (by the undo itself).
  EXPECT_EQ(links_.Undo(moved->provenance, "x").status().code(), StatusCode::kConflict);
  // The undo can itself be undone.
  ASSERT_TRUE(links_.Undo(undone->provenance, "x").ok());
  EXPECT_EQ(Links("Person/p2").first, std::set<std::string>({b_, c_}));
}

TEST_F(LinksTest, UnlinkMergeAndSplit) {
  auto un = links_.Unlink(b_, "dr.who", "different date of birth on the notes");
  ASSERT_TRUE(un.ok()) << un.status().ToString();
  ASSERT_EQ(un->persons.size(), 2u);
  EXPECT_EQ(Links("Person/p1").first, std::set<std::string>({a_}));
  const std::string fresh = un->persons[1];
  EXPECT_EQ(Links(fresh).first, std::set<std::string>({b_}));
  EXPECT_EQ(links_.Unlink(a_, "x", "").status().code(), StatusCode::kConflict)
      << "the only record of a Person cannot be unlinked";

  auto merged = links_.Merge(fresh, "Person/p2", "dr.who", "");
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_EQ(Links("Person/p2").first, std::set<std::string>({b_, c_}));
  EXPECT_FALSE(Links(fresh).second) << "a merged-away Person is inactive";

  auto split = links_.Split("Person/p2", {b_}, "dr.who", "");
  ASSERT_TRUE(split.ok()) << split.status().ToString();
  EXPECT_EQ(Links("Person/p2").first, std::set<std::string>({c_}));
  EXPECT_EQ(Links(split->persons[1]).first, std::set<std::string>({b_}));
  EXPECT_EQ(links_.Split("Person/p2", {c_}, "x", "").status().code(), StatusCode::kIncorrect);
  EXPECT_EQ(links_.Split("Person/p2", {a_}, "x", "").status().code(), StatusCode::kIncorrect);
  EXPECT_EQ(links_.Link("Patient/nope", "Person/p2", "x", "").status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(links_.Link(a_, "Person/nope", "x", "").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(links_.Link("p1", "Person/p2", "x", "").status().code(), StatusCode::kIncorrect);
}

TEST_F(LinksTest, ReviewAcceptMergesAndRejectRecordsTheDecision) {
  const std::string task = ReviewTaskId(a_, c_);
  auto put = interactions_->Update(
      {}, "Task", task, ReviewTaskJson(task, a_, c_, 0.5, "given=1(-2.0)", "", "requested"), {});
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  auto accepted = links_.AcceptReview(task, "dr.who");
  ASSERT_TRUE(accepted.ok()) << accepted.status().ToString();
  EXPECT_EQ(Links("Person/p1").first, std::set<std::string>({a_, b_, c_}));
  EXPECT_FALSE(Links("Person/p2").second);
  auto t = interactions_->Read({}, "Task", task, {});
  EXPECT_NE(t->body.find("\"status\":\"completed\""), std::string::npos) << t->body;
  EXPECT_EQ(links_.AcceptReview(task, "x").status().code(), StatusCode::kConflict);
  // Undo restores the Persons and the Task.
  ASSERT_TRUE(links_.Undo(accepted->provenance, "x").ok());
  EXPECT_EQ(Links("Person/p2").first, std::set<std::string>({c_}));
  t = interactions_->Read({}, "Task", task, {});
  EXPECT_NE(t->body.find("\"status\":\"requested\""), std::string::npos) << t->body;
  // Reject: nothing moves.
  ASSERT_TRUE(links_.RejectReview(task, "dr.who").ok());
  EXPECT_EQ(Links("Person/p2").first, std::set<std::string>({c_}));
  t = interactions_->Read({}, "Task", task, {});
  EXPECT_NE(t->body.find("\"status\":\"rejected\""), std::string::npos) << t->body;
}

}  // namespace
}  // namespace lhcr::mpi
