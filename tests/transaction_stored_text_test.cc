// A transaction's creates are serialised before the store's writer runs,
// with the time spliced in by the writer (Interactions::SerialiseAhead): the
// stored text is what serialising inside the transaction gives.
#include <gtest/gtest.h>

#include <filesystem>

#include "base/ids.h"
#include "base/time.h"
#include "fhir/json.h"
#include "fhir/validator.h"
#include "interaction/interaction.h"
#include "store/sqlite/sqlite_store.h"

namespace lhcr {
namespace {

class FixedTime : public Clock {
 public:
  explicit FixedTime(Millis t) : t_(t) {}
  Millis Now() override { return t_; }

 private:
  Millis t_;
};

TEST(TransactionStoredTextTest, CreatesCarryIdVersionAndTheirTime) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("lhcr_txn_text_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  store::SqliteOptions so;
  so.path = (dir / "store.db").string();
  auto store = store::OpenSqliteStore(so);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  FixedTime clock(1700000000123);
  interaction::Interactions in(**store, fhir::SearchParamRegistry::R4(), fhir::Validator::R4(),
                               clock, UuidGenerator());
  interaction::RequestContext ctx;
  ctx.base_url = "http://h/fhir";
  // An Observation keeps the text of its numbers ("1.50"); a Patient with
  // meta already present has its versionId and lastUpdated replaced.
  const std::string bundle = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient","id":"ignored",
      "meta":{"versionId":"7","lastUpdated":"2001-01-01T00:00:00Z","source":"s"},
      "name":[{"family":"A"}]},"request":{"method":"POST","url":"Patient"}},
    {"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},
      "subject":{"reference":"urn:uuid:1"},"valueQuantity":{"value":1.50}},
      "request":{"method":"POST","url":"Observation"}}]})";
  auto r = in.Bundle(ctx, bundle);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto resp = fhir::ParseJson(r->body);
  ASSERT_TRUE(resp.ok());
  int checked = 0;
  for (const fhir::Json& e : (*resp)["entry"].GetArray()) {
    std::string loc(fhir::StringMember(e["response"], "location"));
    std::string type = loc.substr(0, loc.find('/'));
    std::string id = loc.substr(type.size() + 1, loc.find("/_history") - type.size() - 1);
    auto v = (*store)->ReadCurrent(type, id);
    ASSERT_TRUE(v.ok() && v->has_value());
    const std::string& json = (*v)->json;
    EXPECT_EQ(json.find("pending"), std::string::npos) << json;
    auto doc = fhir::ParseJson(json);
    ASSERT_TRUE(doc.ok());
    EXPECT_EQ(fhir::StringMember(*doc, "id"), id);
    EXPECT_EQ(fhir::StringMember((*doc)["meta"], "versionId"), "1");
    EXPECT_EQ(fhir::StringMember((*doc)["meta"], "lastUpdated"), "2023-11-14T22:13:20.123Z");
    EXPECT_EQ(fhir::StringMember(e["response"], "lastModified"), "2023-11-14T22:13:20.123Z");
    if (type == "Observation") {
      EXPECT_NE(json.find("\"value\":1.50"), std::string::npos) << json;
      EXPECT_NE(json.find("\"reference\":\"Patient/"), std::string::npos) << json;
    } else {
      EXPECT_EQ(fhir::StringMember((*doc)["meta"], "source"), "s");
    }
    // The response carries the same text.
    EXPECT_EQ(fhir::ToJson(e["resource"]), fhir::ToJson(*doc));
    ++checked;
  }
  EXPECT_EQ(checked, 2);
  (*store)->Close();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace lhcr
