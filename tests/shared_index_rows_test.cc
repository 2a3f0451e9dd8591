// Index rows shared between parameters (fhir::BoundSearchParam): a store
// written by an lhcr that wrote every parameter's rows in full (before rows
// were shared) searches exactly as before, and sheds its extra rows as its
// resources change.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "base/ids.h"
#include "base/time.h"
#include "fhir/json.h"
#include "fhir/search_index.h"
#include "fhir/validator.h"
#include "interaction/interaction.h"
#include "search/search.h"
#include "store/sqlite/sqlite_store.h"

namespace lhcr {
namespace {

using Ids = std::vector<std::string>;

class SharedIndexRowsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("lhcr_shared_rows_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    store::SqliteOptions so;
    so.path = (dir_ / "store.db").string();
    auto s = store::OpenSqliteStore(so);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    in_ = std::make_unique<interaction::Interactions>(*store_, fhir::SearchParamRegistry::R4(),
                                                      fhir::Validator::R4(), SystemClock(), UuidGenerator());
  }
  void TearDown() override {
    in_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Stores `json` (with its id) as version 1 the way an lhcr without shared
  // rows did: every parameter's rows in full.
  void PutOldLayout(const std::string& type, const std::string& id, const std::string& json) {
    auto doc = fhir::ParseJson(json);
    ASSERT_TRUE(doc.ok());
    std::vector<store::IndexRow> rows =
        fhir::ExtractIndexRowsAnyLayout(*doc, *fhir::SearchParamRegistry::R4());
    Status s = store_->Write([&](store::WriteTxn& txn) -> Status {
      store::ResourceVersion v;
      v.type = type;
      v.id = id;
      v.version = 1;
      v.last_updated = 1;
      v.method = store::Method::kCreate;
      v.json = json;
      return txn.Put(v, rows, {});
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  Ids Search(const std::string& type, const std::string& query) {
    auto qp = search::ParseQueryString(query);
    EXPECT_TRUE(qp.ok());
    interaction::RequestContext ctx;
    ctx.base_url = "http://h/fhir";
    auto r = in_->Search(ctx, type, *qp);
    EXPECT_TRUE(r.ok()) << query << ": " << r.status().ToString();
    Ids out;
    if (!r.ok()) return out;
    auto doc = fhir::ParseJson(r->body);
    const fhir::Json* entries = fhir::Member(*doc, "entry");
    if (entries == nullptr) return out;
    for (const fhir::Json& e : entries->GetArray()) {
      const fhir::Json* res = fhir::Member(e, "resource");
      if (res != nullptr) out.emplace_back(fhir::StringMember(*res, "id"));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // How many rows of parameter key `param` the store holds (any value).
  size_t RowsOf(const std::string& param, store::IndexType type) {
    auto view = store_->View();
    EXPECT_TRUE(view.ok());
    store::IndexQuery q;
    q.type = type;
    q.param = param;
    q.op = store::IndexQuery::Op::kPresent;
    auto m = (*view)->Match(q, nullptr);
    EXPECT_TRUE(m.ok());
    return m.ok() ? m->size() : 0;
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<interaction::Interactions> in_;
};

std::string Obs(const std::string& id, const std::string& patient, const std::string& code) {
  return R"({"resourceType":"Observation","id":")" + id +
         R"(","status":"final","code":{"coding":[{"system":"http://loinc.org","code":")" + code +
         R"("}]},"subject":{"reference":"Patient/)" + patient +
         R"("},"valueQuantity":{"value":5,"system":"http://unitsofmeasure.org","code":"mg"},)" +
         R"("component":[{"code":{"coding":[{"code":"c1"}]},"valueQuantity":{"value":7}}]})";
}

TEST_F(SharedIndexRowsTest, OldAndNewLayoutsSearchAlikeAndOldRowsGoOnUpdate) {
  PutOldLayout("Observation", "old", Obs("old", "a", "1"));
  interaction::RequestContext ctx;
  auto created = in_->Update(ctx, "Observation", "new", Obs("new", "a", "1"), {});
  ASSERT_TRUE(created.ok()) << created.status().ToString();

  // The old layout holds combo-code and patient rows; the new one does not.
  EXPECT_EQ(RowsOf("Observation.combo-code", store::IndexType::kToken), 1u);
  EXPECT_EQ(RowsOf("Observation.patient", store::IndexType::kReference), 1u);

  for (const char* q : {"combo-code=1", "combo-code=c1", "combo-code=http://loinc.org|1",
                        "code=1", "component-code=c1", "patient=a", "patient=Patient/a",
                        "subject=Patient/a", "patient:missing=false",
                        "combo-value-quantity=5", "combo-value-quantity=7",
                        "combo-value-quantity=5|http://unitsofmeasure.org|mg",
                        "value-quantity=5"}) {
    EXPECT_EQ(Search("Observation", q), (Ids{"new", "old"})) << q;
  }
  for (const char* q : {"combo-code=2", "patient=b", "patient=Group/a", "patient:missing=true",
                        "combo-value-quantity=6", "code=c1"}) {
    EXPECT_EQ(Search("Observation", q), Ids{}) << q;
  }

  // Updating the old-layout resource removes its full rows, the shared ones
  // included: nothing stale is found afterwards.
  auto updated = in_->Update(ctx, "Observation", "old", Obs("old", "b", "2"), {});
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(RowsOf("Observation.combo-code", store::IndexType::kToken), 0u);
  EXPECT_EQ(RowsOf("Observation.patient", store::IndexType::kReference), 0u);
  EXPECT_EQ(Search("Observation", "patient=a"), Ids{"new"});
  EXPECT_EQ(Search("Observation", "patient=b"), Ids{"old"});
  EXPECT_EQ(Search("Observation", "combo-code=1"), Ids{"new"});
  EXPECT_EQ(Search("Observation", "combo-code=2"), Ids{"old"});

  // A delete removes them too.
  PutOldLayout("Observation", "gone", Obs("gone", "c", "3"));
  EXPECT_EQ(Search("Observation", "patient=c"), Ids{"gone"});
  ASSERT_TRUE(in_->Delete(ctx, "Observation", "gone", {}).ok());
  EXPECT_EQ(RowsOf("Observation.combo-code", store::IndexType::kToken), 0u);
  EXPECT_EQ(Search("Observation", "patient=c"), Ids{});
  EXPECT_EQ(Search("Observation", "combo-code=3"), Ids{});
}

// A patient row whose type is not in the reference text (an absolute URL)
// is kept under patient and found; a Group subject is not a patient.
TEST_F(SharedIndexRowsTest, PatientRowsNotHeldBySubject) {
  interaction::RequestContext ctx;
  auto put = [&](const std::string& id, const std::string& subject) {
    std::string json = R"({"resourceType":"Encounter","id":")" + id +
                       R"(","status":"finished","class":{"code":"AMB"},"subject":)" + subject + "}";
    auto r = in_->Update(ctx, "Encounter", id, json, {});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  };
  put("abs", R"({"reference":"http://x.org/fhir/Patient/p"})");
  put("rel", R"({"reference":"Patient/p"})");
  put("grp", R"({"reference":"Group/p"})");
  put("idf", R"({"type":"Patient","identifier":{"system":"s","value":"v"}})");
  EXPECT_EQ(Search("Encounter", "patient=http://x.org/fhir/Patient/p"), Ids{"abs"});
  EXPECT_EQ(Search("Encounter", "patient=p"), Ids{"rel"});
  EXPECT_EQ(Search("Encounter", "patient=Patient/p"), Ids{"rel"});
  EXPECT_EQ(Search("Encounter", "subject=p"), (Ids{"grp", "rel"}));
  EXPECT_EQ(Search("Encounter", "patient:identifier=s|v"), Ids{"idf"});
  // An identifier alone is not a reference row (as before rows were shared).
  EXPECT_EQ(Search("Encounter", "patient:missing=false"), (Ids{"abs", "rel"}));
  EXPECT_EQ(Search("Encounter", "patient:missing=true"), (Ids{"grp", "idf"}));
}

}  // namespace
}  // namespace lhcr
