// SQLite-specific behaviour of the store: schema migrations. What every
// store must do is in tests/store_conformance_test.cc.
#include "store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <string>

namespace lhcr::store {
namespace {

std::string Query(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  std::string out;
  sqlite3_exec(
      db, sql.c_str(),
      [](void* o, int n, char** v, char**) {
        for (int i = 0; i < n; ++i)
          *static_cast<std::string*>(o) += (v[i] ? v[i] : "NULL") + std::string(";");
        return 0;
      },
      &out, nullptr);
  sqlite3_close(db);
  return out;
}

TEST(SqliteStoreTest, MigratesAVersionOneFileToTheCurrentSchema) {
  std::string dir =
      std::filesystem::temp_directory_path() / ("lhcr-migrate-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string path = dir + "/lhcr.db";
  {
    auto store = OpenSqliteStore({.path = path});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    (*store)->Close();
  }
  EXPECT_EQ(Query(path, "SELECT value FROM lhcr_meta WHERE key='schema_version'"), "2;");
  // Make it look like a file written by a version-1 lhcr.
  Query(path,
        "DROP INDEX idx_date_rid; DROP INDEX idx_string_rid; DROP INDEX idx_quantity_rid; "
        "DROP INDEX idx_number_rid; UPDATE lhcr_meta SET value='1' WHERE key='schema_version'");
  EXPECT_EQ(Query(path, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'idx_%_rid'"), "0;");
  {
    auto store = OpenSqliteStore({.path = path});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    (*store)->Close();
  }
  EXPECT_EQ(Query(path, "SELECT value FROM lhcr_meta WHERE key='schema_version'"), "2;");
  EXPECT_EQ(Query(path, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'idx_%_rid'"), "4;");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace lhcr::store

namespace lhcr::store {
namespace {

TEST(SqliteStoreTest, ReadCurrentAndReadVersionSeeCommittedWrites) {
  std::string dir =
      std::filesystem::temp_directory_path() / ("lhcr-readcurrent-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto store = OpenSqliteStore({.path = dir + "/lhcr.db"});
  ASSERT_TRUE(store.ok());
  auto put = [&](int64_t version, Method method, std::string json) {
    return (*store)->Write([&](WriteTxn& txn) {
      ResourceVersion v{.type = "Patient",
                        .id = "p1",
                        .version = version,
                        .last_updated = 1000 * version,
                        .method = method,
                        .json = std::move(json)};
      return txn.Put(v, {}, {});
    });
  };
  EXPECT_EQ(*(*store)->ReadCurrent("Patient", "p1"), std::nullopt);
  ASSERT_TRUE(put(1, Method::kCreate, R"({"v":1})").ok());
  ASSERT_TRUE(put(2, Method::kUpdate, R"({"v":2})").ok());
  auto cur = (*store)->ReadCurrent("Patient", "p1");
  ASSERT_TRUE(cur.ok() && cur->has_value());
  EXPECT_EQ((*cur)->version, 2);
  EXPECT_EQ((*cur)->json, R"({"v":2})");
  auto v1 = (*store)->ReadVersion("Patient", "p1", 1);
  ASSERT_TRUE(v1.ok() && v1->has_value());
  EXPECT_EQ((*v1)->json, R"({"v":1})");
  EXPECT_EQ(*(*store)->ReadVersion("Patient", "p1", 9), std::nullopt);
  ASSERT_TRUE(put(3, Method::kDelete, "").ok());
  cur = (*store)->ReadCurrent("Patient", "p1");
  ASSERT_TRUE(cur.ok() && cur->has_value());
  EXPECT_TRUE((*cur)->deleted);
  (*store)->Close();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace lhcr::store
