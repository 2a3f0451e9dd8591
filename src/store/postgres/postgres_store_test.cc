// What only the PostgreSQL store has: a server that goes away and comes
// back, a connection lost inside a group commit, failover to a standby.
// The Store contract itself is tests/store_conformance_test.cc, on both
// stores.
#include "store/postgres/postgres_store.h"

#include <gtest/gtest.h>

#include <string>

#include "testing/postgres_server.h"

namespace lhcr::store {
namespace {

ResourceVersion Version(const std::string& id, int64_t version) {
  ResourceVersion v;
  v.type = "Patient";
  v.id = id;
  v.version = version;
  v.last_updated = 1700000000000;
  v.method = version == 1 ? Method::kCreate : Method::kUpdate;
  v.json = R"({"resourceType":"Patient","id":")" + id + R"("})";
  return v;
}

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = testing::PostgresServer::Start();
    if (!s.ok()) GTEST_SKIP() << s.status().ToString();
    server_ = std::move(*s);
    PostgresOptions o;
    o.conninfo = server_->conninfo();
    auto st = OpenPostgresStore(o);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    store_ = std::move(*st);
  }
  void TearDown() override {
    if (store_ != nullptr) store_->Close();
  }

  Status Put(ResourceVersion v) {
    return store_->Write([&](WriteTxn& txn) { return txn.Put(v, {}, {}); });
  }
  std::optional<ResourceVersion> Read(Store& store, const std::string& id) {
    auto view = store.View();
    EXPECT_TRUE(view.ok()) << view.status().ToString();
    if (!view.ok()) return std::nullopt;
    auto r = (*view)->Read("Patient", id);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::nullopt;
  }

  std::unique_ptr<testing::PostgresServer> server_;
  std::unique_ptr<Store> store_;
};

TEST_F(PostgresStoreTest, ServerDownIsUnavailableAndComesBack) {
  ASSERT_TRUE(Put(Version("a", 1)).ok());
  { auto keep_a_pooled_connection = store_->View(); }
  server_->Stop();

  Status w = Put(Version("b", 1));
  EXPECT_EQ(w.code(), StatusCode::kUnavailable) << w.ToString();
  EXPECT_NE(w.message().find("nothing of this write was stored"), std::string::npos)
      << w.message();
  auto v = store_->View();
  EXPECT_EQ(v.status().code(), StatusCode::kUnavailable) << v.status().ToString();

  ASSERT_TRUE(server_->Restart().ok());
  ASSERT_TRUE(Put(Version("b", 1)).ok()) << "the writer reconnects";
  auto b = Read(*store_, "b");
  ASSERT_TRUE(b.has_value()) << "readers reconnect";
  EXPECT_EQ(b->seq, 2) << "no seq was lost to the failed write";
  EXPECT_TRUE(Read(*store_, "a").has_value());
}

TEST_F(PostgresStoreTest, ConnectionLostInsideAGroupRunsItAgain) {
  int calls = 0;
  Status s = store_->Write([&](WriteTxn& txn) -> Status {
    ++calls;
    ResourceVersion a = Version("a", 1);
    RETURN_IF_ERROR(txn.Put(a, {}, {}));
    if (calls == 1) {
      // The writer's backend is the one idle inside a transaction.
      EXPECT_TRUE(server_->Exec("lhcr",
                                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE application_name = 'lhcr' AND state = 'idle in transaction'")
                      .ok());
    }
    ResourceVersion b = Version("b", 1);
    return txn.Put(b, {}, {});
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(calls, 2);
  auto view = store_->View();
  ASSERT_TRUE(view.ok());
  EXPECT_EQ((*view)->Seq(), 2) << "the first run left nothing behind";
  EXPECT_EQ(*(*view)->HistoryCount({}), 2);
  EXPECT_EQ(store_->Stats().commits, 1);
}

TEST_F(PostgresStoreTest, FailoverToAPromotedStandby) {
  ASSERT_TRUE(Put(Version("a", 1)).ok());
  auto standby = testing::PostgresServer::StartStandby(*server_);
  ASSERT_TRUE(standby.ok()) << standby.status().ToString();
  ASSERT_TRUE(Put(Version("a", 2)).ok());  // streamed, not in the base backup
  ASSERT_TRUE(Put(Version("b", 1)).ok());
  store_->Close();
  store_.reset();
  ASSERT_TRUE(server_->WaitForStandby().ok());
  server_->Stop();

  ASSERT_TRUE((*standby)->Promote().ok());
  PostgresOptions o;
  o.conninfo = (*standby)->conninfo();
  auto promoted = OpenPostgresStore(o);
  ASSERT_TRUE(promoted.ok()) << promoted.status().ToString();
  auto a = Read(**promoted, "a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->version, 2);
  EXPECT_TRUE(Read(**promoted, "b").has_value());
  // Writing goes on from where the primary was.
  ResourceVersion c = Version("c", 1);
  ASSERT_TRUE((*promoted)->Write([&](WriteTxn& txn) { return txn.Put(c, {}, {}); }).ok());
  EXPECT_EQ(c.seq, 4);
  (*promoted)->Close();
}

}  // namespace
}  // namespace lhcr::store
