// What only the PostgreSQL store has: a server that goes away and comes
// back, a connection lost inside a group commit, failover to a standby.
// The Store contract itself is tests/store_conformance_test.cc, on both
// stores.
#include "store/postgres/postgres_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

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

TEST_F(PostgresStoreTest, AHotStandbyOpensReadOnly) {
  ASSERT_TRUE(Put(Version("a", 1)).ok());
  auto standby = testing::PostgresServer::StartStandby(*server_);
  ASSERT_TRUE(standby.ok()) << standby.status().ToString();
  ASSERT_TRUE(Put(Version("b", 1)).ok());
  ASSERT_TRUE(server_->WaitForStandby().ok());

  PostgresOptions o;
  o.conninfo = (*standby)->conninfo();  // no read_only: pg_is_in_recovery() decides
  auto replica = OpenPostgresStore(o);
  ASSERT_TRUE(replica.ok()) << replica.status().ToString();
  EXPECT_TRUE(Read(**replica, "a").has_value());
  // A standby shows a commit once it has replayed it. WaitForStandby
  // compares with the primary's WAL write position, which can lag the
  // commit under synchronous_commit=off: allow the standby a moment more.
  auto b = (*replica)->ReadCurrent("Patient", "b");
  for (int i = 0; i < 200 && b.ok() && !b->has_value(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    b = (*replica)->ReadCurrent("Patient", "b");
  }
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_TRUE(b->has_value()) << "streamed after the base backup";
  EXPECT_EQ((*b)->seq, 2);
  ResourceVersion c = Version("c", 1);
  Status w = (*replica)->Write([&](WriteTxn& txn) { return txn.Put(c, {}, {}); });
  EXPECT_EQ(w.code(), StatusCode::kUnavailable) << w.ToString();
  EXPECT_NE(w.message().find("read-only"), std::string::npos) << w.message();
  (*replica)->Close();
}

TEST_F(PostgresStoreTest, ReadOnlyNeverCreatesTheSchema) {
  auto empty = server_->CreateDatabase("empty_read_only");
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  PostgresOptions o;
  o.conninfo = *empty;
  o.read_only = true;
  auto st = OpenPostgresStore(o);
  EXPECT_EQ(st.status().code(), StatusCode::kUnavailable) << st.status().ToString();
  EXPECT_NE(st.status().message().find("has no lhcr schema"), std::string::npos)
      << st.status().message();
  EXPECT_TRUE(server_->Exec("empty_read_only", "SELECT 1/(count(*) = 0)::int FROM pg_tables "
                                               "WHERE tablename = 'lhcr_meta'")
                  .ok())
      << "nothing was created";
}

TEST(RedactPostgresUrl, DropsPasswordsOnly) {
  EXPECT_EQ(RedactPostgresUrl("postgres://127.0.0.1:5432/lhcr"), "postgres://127.0.0.1:5432/lhcr");
  EXPECT_EQ(RedactPostgresUrl("postgres://u:secret@db:5432/lhcr"), "postgres://u@db:5432/lhcr");
  EXPECT_EQ(RedactPostgresUrl("postgresql://u:p@ss@db/lhcr?sslmode=require&password=x"),
            "postgresql://u@db/lhcr?sslmode=require");
  EXPECT_EQ(RedactPostgresUrl("postgres://db?password=x"), "postgres://db");
  EXPECT_EQ(RedactPostgresUrl("postgres://u@db"), "postgres://u@db");
}

}  // namespace
}  // namespace lhcr::store
