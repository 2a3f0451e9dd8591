#include "store/read_replica_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "store/sqlite/sqlite_store.h"

namespace lhcr::store {
namespace {

ResourceVersion Patient(const std::string& id) {
  ResourceVersion v;
  v.type = "Patient";
  v.id = id;
  v.version = 1;
  v.last_updated = 1700000000000;
  v.json = R"({"resourceType":"Patient","id":")" + id + R"("})";
  return v;
}

class ReadReplicaStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "lhcr-replica-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto primary = Open("primary.db");
    auto replica = Open("replica.db");
    ASSERT_TRUE(primary.ok() && replica.ok());
    replica_ = replica->get();
    store_ = std::make_unique<ReadReplicaStore>(std::move(*primary), std::move(*replica));
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  Result<std::unique_ptr<Store>> Open(const std::string& name) {
    SqliteOptions o;
    o.path = dir_ + "/" + name;
    o.synchronous_full = false;
    return OpenSqliteStore(o);
  }

  std::string dir_;
  Store* replica_ = nullptr;  // owned by store_
  std::unique_ptr<ReadReplicaStore> store_;
};

TEST_F(ReadReplicaStoreTest, WritesGoToThePrimaryReadsToTheReplica) {
  ResourceVersion a = Patient("a");
  ASSERT_TRUE(store_->Write([&](WriteTxn& txn) { return txn.Put(a, {}, {}); }).ok());
  EXPECT_EQ(store_->Stats().write_batches, 1) << "stats are the primary's";
  // Not replicated (two independent files): reads do not see it.
  auto cur = store_->ReadCurrent("Patient", "a");
  ASSERT_TRUE(cur.ok());
  EXPECT_FALSE(cur->has_value());

  ResourceVersion copy = Patient("a");
  ASSERT_TRUE(replica_->Write([&](WriteTxn& txn) { return txn.Put(copy, {}, {}); }).ok());
  cur = store_->ReadCurrent("Patient", "a");
  ASSERT_TRUE(cur.ok() && cur->has_value());
  EXPECT_EQ(**cur, *replica_->ReadCurrent("Patient", "a").value());
  auto old = store_->ReadVersion("Patient", "a", 1);
  ASSERT_TRUE(old.ok() && old->has_value());
  auto view = store_->View();
  ASSERT_TRUE(view.ok());
  EXPECT_EQ((*view)->Seq(), 1);
  store_->Close();
  store_->Close();  // idempotent
}

}  // namespace
}  // namespace lhcr::store
