// Store conformance: the contract of store/store.h, run against every Store
// implementation. Each implementation is one StoreFactory in Factories();
// adding PostgreSQL is one more line there (and a SetSchemaVersion hook).
//
// The tests talk only to the Store interface, so they pin down behaviour that
// callers (interactions, search) rely on: versions, tombstones, history and
// its paging, snapshot isolation, every index query, group commit and its
// per-call rollback, and durability across a reopen.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cctype>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"
#include "testing/postgres_server.h"
#include "testing/test_server.h"

namespace lhcr::store {

// Readable failures: gtest finds PrintTo by argument-dependent lookup.
void PrintTo(const ResourceVersion& v, std::ostream* os) {
  *os << v.type << "/" << v.id << " v" << v.version << " seq " << v.seq << " rid " << v.rid
      << " updated " << v.last_updated << " method " << static_cast<int>(v.method)
      << (v.deleted ? " deleted" : "") << " json " << v.json;
}

namespace {

using Op = IndexQuery::Op;

// How to make one kind of store. `location` is a fresh temporary directory
// owned by the test; opening the same location again reopens the same store.
struct StoreFactory {
  std::string name;
  std::function<Result<std::unique_ptr<Store>>(const std::string& location)> open;
  // Overwrites the recorded schema version of the (closed) store at
  // `location` behind the store's back, as an operator's tool would.
  std::function<bool(const std::string& location, const std::string& version)> set_schema_version;
  // Why this store cannot run here ("" when it can): the tests skip.
  std::function<std::string()> unavailable = [] { return std::string(); };
};

StoreFactory Sqlite() {
  auto path = [](const std::string& location) { return location + "/lhcr.db"; };
  return StoreFactory{"Sqlite",
                      [path](const std::string& location) {
                        SqliteOptions o;
                        o.path = path(location);
                        return OpenSqliteStore(o);
                      },
                      [path](const std::string& location, const std::string& version) {
                        std::string cmd = "sqlite3 '" + path(location) +
                                          "' \"UPDATE lhcr_meta SET value = '" + version +
                                          "' WHERE key = 'schema_version'\"";
                        int rc = std::system(cmd.c_str());
                        return rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
                      }};
}

// One PostgreSQL server per test binary, started on first use and stopped
// at exit; each location (a test's temp dir) is a database of its own.
struct SharedPostgres {
  std::unique_ptr<testing::PostgresServer> server;
  std::string error;
  static SharedPostgres& Get() {
    static SharedPostgres shared = [] {
      SharedPostgres s;
      auto started = testing::PostgresServer::Start();
      if (started.ok()) {
        s.server = std::move(*started);
      } else {
        s.error = started.status().ToString();
      }
      return s;
    }();
    return shared;
  }
};

StoreFactory Postgres() {
  auto database = [](const std::string& location) {
    std::string name = "t";
    for (char c : std::filesystem::path(location).filename().string()) {
      name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    }
    return name;
  };
  return StoreFactory{
      "Postgres",
      [database](const std::string& location) -> Result<std::unique_ptr<Store>> {
        SharedPostgres& pg = SharedPostgres::Get();
        if (pg.server == nullptr) return Status::Unavailable(pg.error);
        ASSIGN_OR_RETURN(std::string conninfo, pg.server->CreateDatabase(database(location)));
        PostgresOptions o;
        o.conninfo = conninfo;
        return OpenPostgresStore(o);
      },
      [database](const std::string& location, const std::string& version) {
        SharedPostgres& pg = SharedPostgres::Get();
        return pg.server != nullptr &&
               pg.server->Exec(database(location), "UPDATE lhcr_meta SET value = '" + version +
                                                       "' WHERE key = 'schema_version'").ok();
      },
      [] {
        SharedPostgres& pg = SharedPostgres::Get();
        return pg.server == nullptr ? "PostgreSQL test server: " + pg.error : std::string();
      }};
}

std::vector<StoreFactory> Factories() { return {Sqlite(), Postgres()}; }

void PrintTo(const StoreFactory& f, std::ostream* os) { *os << f.name; }

constexpr int64_t kT0 = 1700000000000;  // a fixed "now" (ms), 2023-11-14

ResourceVersion Version(std::string type, std::string id, int64_t version, int64_t last_updated,
                        Method method = Method::kCreate) {
  ResourceVersion v;
  v.type = std::move(type);
  v.id = std::move(id);
  v.version = version;
  v.last_updated = last_updated;
  v.method = method;
  v.deleted = method == Method::kDelete;
  if (!v.deleted) {
    v.json = R"({"resourceType":")" + v.type + R"(","id":")" + v.id + R"(","meta":{"versionId":")" +
             std::to_string(version) + R"("}})";
  }
  return v;
}


IndexQuery Query(IndexType type, std::string param, Op op) {
  IndexQuery q;
  q.type = type;
  q.param = std::move(param);
  q.op = op;
  return q;
}
IndexQuery TokenQ(std::string param, std::optional<std::string> system,
                  std::optional<std::string> code) {
  IndexQuery q = Query(IndexType::kToken, std::move(param), Op::kEq);
  q.s1 = std::move(system);
  q.s2 = std::move(code);
  return q;
}
IndexQuery DateQ(Op op, int64_t lo, int64_t hi) {
  IndexQuery q = Query(IndexType::kDate, "Observation.date", op);
  q.dlo = lo;
  q.dhi = hi;
  return q;
}

RidSet Sorted(RidSet r) {
  std::sort(r.begin(), r.end());
  return r;
}

// A "Type/id" label per resource, for readable failure messages.
std::string Label(const ResourceVersion& v) { return v.type + "/" + v.id; }

class StoreConformanceTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    if (std::string why = GetParam().unavailable(); !why.empty()) GTEST_SKIP() << why;
    Open();
  }
  void TearDown() override {
    if (store_ != nullptr) store_->Close();
  }

  void Open() {
    auto s = GetParam().open(dir_.path());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  void Reopen() {
    store_->Close();
    store_.reset();
    Open();
  }

  std::unique_ptr<StoreView> View() {
    auto v = store_->View();
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? std::move(*v) : nullptr;
  }

  // One Put in its own Write. Returns the stored version (seq filled).
  Result<ResourceVersion> Put(ResourceVersion v, std::vector<IndexRow> add = {},
                              std::vector<IndexRow> remove = {}) {
    Status s = store_->Write([&](WriteTxn& txn) { return txn.Put(v, add, remove); });
    if (!s.ok()) return s;
    return v;
  }
  // Creates type/id at version 1 with rows, asserting success.
  ResourceVersion Create(const std::string& type, const std::string& id,
                         std::vector<IndexRow> rows = {}, int64_t last_updated = kT0) {
    rows_[type + "/" + id] = rows;
    auto v = Put(Version(type, id, 1, last_updated), std::move(rows));
    EXPECT_TRUE(v.ok()) << type << "/" << id << ": " << v.status().ToString();
    return v.ok() ? *v : ResourceVersion{};
  }

  Rid RidOf(const std::string& type, const std::string& id) {
    auto view = View();
    auto r = view->RidOf(type, id);
    EXPECT_TRUE(r.ok() && r->has_value()) << type << "/" << id;
    return r.ok() && r->has_value() ? **r : -1;
  }

  // "Type/id" labels of rids, sorted.
  std::vector<std::string> Labels(StoreView& view, const RidSet& rids) {
    auto fetched = view.Fetch(rids, std::nullopt);
    EXPECT_TRUE(fetched.ok()) << fetched.status().ToString();
    std::vector<std::string> out;
    if (fetched.ok()) {
      for (const auto& v : *fetched) out.push_back(Label(v));
    }
    EXPECT_EQ(out.size(), rids.size()) << "some matched rids are not live";
    std::sort(out.begin(), out.end());
    return out;
  }

  // `filler` resources of `type` that have no index rows at all, so that a
  // `within` set can exceed the point-lookup limit (256) of a store.
  void AddFillers(const std::string& type, int n) {
    Status s = store_->Write([&](WriteTxn& txn) -> Status {
      for (int i = 0; i < n; ++i) {
        ResourceVersion v = Version(type, "filler-" + std::to_string(i), 1, kT0);
        RETURN_IF_ERROR(txn.Put(v, {}, {}));
      }
      return Status::Ok();
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
    fillers_[type] = n;
  }

  // Checks Match(q) without `within`, with a small `within` (point-lookup
  // path) and with a large one (scan path). `expected` are "Type/id" labels
  // of the whole answer; with `within` the answer is expected ∩ within.
  void ExpectMatch(const IndexQuery& q, std::vector<std::string> expected,
                   const std::string& what) {
    SCOPED_TRACE(what);
    std::string type = q.param.substr(0, q.param.find('.'));
    auto view = View();
    ASSERT_NE(view, nullptr);
    std::sort(expected.begin(), expected.end());

    auto all = view->Match(q, nullptr);
    ASSERT_TRUE(all.ok()) << all.status().ToString();
    ASSERT_TRUE(std::is_sorted(all->begin(), all->end()));
    ASSERT_EQ(std::adjacent_find(all->begin(), all->end()), all->end()) << "duplicate rids";
    EXPECT_EQ(Labels(*view, *all), expected) << "without within";

    // Every other live resource of the type (real ones, not fillers).
    auto live = view->AllOfType(type);
    ASSERT_TRUE(live.ok());
    auto live_versions = view->Fetch(*live, std::nullopt);
    ASSERT_TRUE(live_versions.ok());
    RidSet small;
    std::vector<std::string> small_expected;
    int k = 0;
    for (const ResourceVersion& v : *live_versions) {
      if (v.id.rfind("filler-", 0) == 0) continue;
      if (k++ % 2 != 0) continue;
      small.push_back(v.rid);
      if (std::binary_search(expected.begin(), expected.end(), Label(v))) {
        small_expected.push_back(Label(v));
      }
    }
    std::sort(small.begin(), small.end());
    std::sort(small_expected.begin(), small_expected.end());
    ASSERT_LE(small.size(), 256u);
    auto in_small = view->Match(q, &small);
    ASSERT_TRUE(in_small.ok()) << in_small.status().ToString();
    EXPECT_EQ(Labels(*view, *in_small), small_expected) << "within a small set";

    // The same plus every filler: larger than any point-lookup limit.
    RidSet big = small;
    std::vector<std::string> big_expected = small_expected;
    for (const ResourceVersion& v : *live_versions) {
      if (v.id.rfind("filler-", 0) != 0) continue;
      big.push_back(v.rid);
      if (std::binary_search(expected.begin(), expected.end(), Label(v))) {
        big_expected.push_back(Label(v));
      }
    }
    std::sort(big.begin(), big.end());
    std::sort(big_expected.begin(), big_expected.end());
    ASSERT_GT(big.size(), 256u) << "AddFillers(" << type << ") first";
    auto in_big = view->Match(q, &big);
    ASSERT_TRUE(in_big.ok()) << in_big.status().ToString();
    EXPECT_EQ(Labels(*view, *in_big), big_expected) << "within a large set";
  }

  std::vector<std::string> FillerLabels(const std::string& type) {
    std::vector<std::string> out;
    for (int i = 0; i < fillers_[type]; ++i) out.push_back(type + "/filler-" + std::to_string(i));
    return out;
  }

  // A small history: seq 1 P/a v1, 2 O/x v1, 3 P/b v1, 4 P/a v2,
  // 5 O/x v2 (delete), 6 P/a v3 (patch); last_updated = kT0 + seq seconds.
  void SeedHistory() {
    struct W {
      const char* type;
      const char* id;
      int64_t version;
      Method m;
    };
    const W writes[] = {
        {"Patient", "a", 1, Method::kCreate},     {"Observation", "x", 1, Method::kCreate},
        {"Patient", "b", 1, Method::kCreate},     {"Patient", "a", 2, Method::kUpdate},
        {"Observation", "x", 2, Method::kDelete}, {"Patient", "a", 3, Method::kPatch}};
    int64_t seq = 0;
    for (const W& w : writes) {
      ++seq;
      auto v = Put(Version(w.type, w.id, w.version, kT0 + seq * 1000, w.m));
      ASSERT_TRUE(v.ok()) << v.status().ToString();
      ASSERT_EQ(v->seq, seq);
      log_.push_back(*v);
    }
  }
  // The seeded versions with these seqs, in this order.
  std::vector<ResourceVersion> Log(std::initializer_list<int> seqs) {
    std::vector<ResourceVersion> out;
    for (int s : seqs) out.push_back(log_[static_cast<size_t>(s - 1)]);
    return out;
  }
  std::vector<ResourceVersion> History(StoreView& view, const HistoryQuery& q) {
    auto h = view.History(q);
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    return h.ok() ? *h : std::vector<ResourceVersion>{};
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::map<std::string, std::vector<IndexRow>> rows_;
  std::map<std::string, int> fillers_;
  std::vector<ResourceVersion> log_;  // SeedHistory()
};

// --- versions -------------------------------------------------------------

TEST_P(StoreConformanceTest, PutReadVRead) {
  auto empty = View();
  EXPECT_EQ(empty->Seq(), 0);
  auto none = empty->Read("Patient", "a");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, std::nullopt);
  empty.reset();

  auto v1 = Put(Version("Patient", "a", 1, kT0));
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  EXPECT_EQ(v1->seq, 1);
  auto v2 = Put(Version("Patient", "a", 2, kT0 + 1000, Method::kUpdate));
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  EXPECT_EQ(v2->seq, 2);

  auto view = View();
  EXPECT_EQ(view->Seq(), 2);
  auto cur = view->Read("Patient", "a");
  ASSERT_TRUE(cur.ok());
  ASSERT_TRUE(cur->has_value());
  EXPECT_EQ(**cur, *v2);
  for (const ResourceVersion& want : {*v1, *v2}) {
    auto got = view->VRead("Patient", "a", want.version);
    ASSERT_TRUE(got.ok());
    ASSERT_TRUE(got->has_value()) << "version " << want.version;
    EXPECT_EQ(**got, want);
  }
  for (int64_t missing : {int64_t{0}, int64_t{3}, int64_t{-1}}) {
    auto got = view->VRead("Patient", "a", missing);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(*got, std::nullopt) << "version " << missing;
  }
  // Neither another type nor another id shares the resource.
  EXPECT_EQ(*view->Read("Observation", "a"), std::nullopt);
  EXPECT_EQ(*view->Read("Patient", "b"), std::nullopt);
  EXPECT_EQ(*view->VRead("Observation", "a", 1), std::nullopt);
}

TEST_P(StoreConformanceTest, BinaryJsonBytesRoundTrip) {
  ResourceVersion v = Version("Binary", "b", 1, kT0);
  v.json = std::string("{\"x\":\"\0\xff\xc3\xa9\"}", 11);
  ASSERT_TRUE(Put(v).ok());
  auto got = View()->Read("Binary", "b");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->json, v.json);
}

TEST_P(StoreConformanceTest, VersionMustBeCurrentPlusOne) {
  auto skip = Put(Version("Patient", "a", 2, kT0));
  EXPECT_EQ(skip.status().code(), StatusCode::kConflict) << skip.status().ToString();
  auto zero = Put(Version("Patient", "a", 0, kT0));
  EXPECT_EQ(zero.status().code(), StatusCode::kConflict);
  {
    auto view = View();
    EXPECT_EQ(*view->Read("Patient", "a"), std::nullopt) << "a conflict writes nothing";
    EXPECT_EQ(view->Seq(), 0);
  }

  ASSERT_TRUE(Put(Version("Patient", "a", 1, kT0)).ok());
  for (int64_t bad : {1, 3, 7}) {
    auto r = Put(Version("Patient", "a", bad, kT0, Method::kUpdate));
    EXPECT_EQ(r.status().code(), StatusCode::kConflict) << "version " << bad;
  }
  ASSERT_TRUE(Put(Version("Patient", "a", 2, kT0, Method::kUpdate)).ok());

  auto view = View();
  auto cur = view->Read("Patient", "a");
  ASSERT_TRUE(cur.ok() && cur->has_value());
  EXPECT_EQ((*cur)->version, 2);
  EXPECT_EQ((*cur)->seq, 2) << "failed Puts consume no sequence numbers";
  EXPECT_EQ(*view->HistoryCount(HistoryQuery{"Patient", "a"}), 2);
  EXPECT_EQ(store_->Stats().versions, 2);

  // Two Puts of the same version in one Write: the second conflicts.
  Status s = store_->Write([&](WriteTxn& txn) -> Status {
    ResourceVersion a = Version("Patient", "a", 3, kT0, Method::kUpdate);
    RETURN_IF_ERROR(txn.Put(a, {}, {}));
    ResourceVersion b = Version("Patient", "a", 3, kT0, Method::kUpdate);
    return txn.Put(b, {}, {});
  });
  EXPECT_EQ(s.code(), StatusCode::kConflict);
  EXPECT_EQ((*View()->Read("Patient", "a"))->version, 2) << "the whole Write rolled back";
}

TEST_P(StoreConformanceTest, Tombstones) {
  ResourceVersion v1 = Create("Patient", "a", {IndexRow::Token("Patient.gender", "", "female")});
  auto del = Put(Version("Patient", "a", 2, kT0 + 1, Method::kDelete), {}, rows_["Patient/a"]);
  ASSERT_TRUE(del.ok()) << del.status().ToString();
  EXPECT_TRUE(del->deleted);

  auto view = View();
  auto cur = view->Read("Patient", "a");
  ASSERT_TRUE(cur.ok() && cur->has_value());
  EXPECT_EQ(**cur, *del);
  EXPECT_TRUE((*cur)->deleted);
  EXPECT_EQ((*cur)->method, Method::kDelete);
  EXPECT_EQ((*cur)->json, "");
  auto tomb = view->VRead("Patient", "a", 2);
  ASSERT_TRUE(tomb.ok() && tomb->has_value());
  EXPECT_EQ(**tomb, *del);
  auto old = view->VRead("Patient", "a", 1);
  ASSERT_TRUE(old.ok() && old->has_value());
  EXPECT_EQ(**old, v1);
  EXPECT_FALSE((*old)->deleted);

  // Gone from every search primitive, still known by rid.
  EXPECT_EQ(*view->AllOfType("Patient"), RidSet{});
  std::vector<std::string> ids = {"a"};
  EXPECT_EQ(*view->ByIds("Patient", ids), RidSet{});
  EXPECT_EQ(*view->ByLastUpdated("Patient", 0, kT0 * 2), RidSet{});
  EXPECT_EQ(*view->Match(TokenQ("Patient.gender", std::nullopt, "female"), nullptr), RidSet{});
  EXPECT_EQ(*view->Match(Query(IndexType::kToken, "Patient.gender", Op::kPresent), nullptr),
            RidSet{});
  EXPECT_EQ(*view->Match(Query(IndexType::kToken, "Patient.gender", Op::kMissing), nullptr),
            RidSet{});
  auto rid = view->RidOf("Patient", "a");
  ASSERT_TRUE(rid.ok() && rid->has_value());
  std::vector<Rid> rids = {**rid};
  EXPECT_TRUE(view->Fetch(rids, std::nullopt)->empty());
  view.reset();

  // Deleting again is a new tombstone version; a re-create follows it.
  ASSERT_TRUE(Put(Version("Patient", "a", 3, kT0 + 2, Method::kDelete)).ok());
  auto again = Put(Version("Patient", "a", 4, kT0 + 3, Method::kUpdate),
                   {IndexRow::Token("Patient.gender", "", "male")});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  view = View();
  EXPECT_FALSE((*view->Read("Patient", "a"))->deleted);
  EXPECT_EQ(*view->AllOfType("Patient"), RidSet{**rid});
  EXPECT_EQ(*view->Match(TokenQ("Patient.gender", std::nullopt, "male"), nullptr), RidSet{**rid});
  EXPECT_EQ(*view->RidOf("Patient", "a"), std::optional<Rid>(**rid))
      << "the rid survives delete and re-create";
}

// --- history --------------------------------------------------------------

TEST_P(StoreConformanceTest, HistoryInstanceTypeSystemNewestFirst) {
  ASSERT_NO_FATAL_FAILURE(SeedHistory());
  auto view = View();
  EXPECT_EQ(History(*view, {"Patient", "a"}), Log({6, 4, 1}));
  EXPECT_EQ(History(*view, {"Observation", "x"}), Log({5, 2}));
  EXPECT_TRUE(History(*view, {"Patient", "zzz"}).empty());
  EXPECT_EQ(History(*view, {"Patient", ""}), Log({6, 4, 3, 1}));
  EXPECT_EQ(History(*view, {"Observation", ""}), Log({5, 2}));
  EXPECT_EQ(History(*view, {}), Log({6, 5, 4, 3, 2, 1}));
  EXPECT_TRUE(History(*view, {})[1].deleted) << "tombstones are in the history";

  EXPECT_EQ(*view->HistoryCount({"Patient", "a"}), 3);
  EXPECT_EQ(*view->HistoryCount({"Patient", ""}), 4);
  EXPECT_EQ(*view->HistoryCount({}), 6);
  EXPECT_EQ(*view->HistoryCount({"Encounter", ""}), 0);
}

TEST_P(StoreConformanceTest, HistoryLimitAndSince) {
  ASSERT_NO_FATAL_FAILURE(SeedHistory());
  auto view = View();
  HistoryQuery q;
  q.limit = 2;
  EXPECT_EQ(History(*view, q), Log({6, 5}));
  EXPECT_EQ(*view->HistoryCount(q), 6) << "the count ignores the limit";

  q = HistoryQuery{};
  q.since = kT0 + 4000;  // inclusive
  EXPECT_EQ(History(*view, q), Log({6, 5, 4}));
  EXPECT_EQ(*view->HistoryCount(q), 3);
  q.type = "Patient";
  EXPECT_EQ(History(*view, q), Log({6, 4}));
  q.id = "a";
  EXPECT_EQ(History(*view, q), Log({6, 4}));
  EXPECT_EQ(*view->HistoryCount(q), 2);
  q.since = kT0 + 7000;
  EXPECT_TRUE(History(*view, q).empty());
  EXPECT_EQ(*view->HistoryCount(q), 0);
}

TEST_P(StoreConformanceTest, HistoryPagingAndPinning) {
  ASSERT_NO_FATAL_FAILURE(SeedHistory());
  // Page through the system history two at a time, pinned at the seq the
  // first page saw, while more writes arrive between the pages.
  auto first = View();
  const int64_t pin = first->Seq();
  ASSERT_EQ(pin, 6);
  first.reset();

  std::vector<ResourceVersion> seen;
  std::optional<int64_t> before;
  int pages = 0;
  for (;;) {
    auto later = Put(Version("Patient", "new-" + std::to_string(pages), 1, kT0 + 99000));
    ASSERT_TRUE(later.ok());
    auto view = View();
    HistoryQuery q;
    q.limit = 2;
    q.at_or_before_seq = pin;
    q.before_seq = before;
    auto page = History(*view, q);
    EXPECT_EQ(*view->HistoryCount(q), 6) << "the count ignores paging but honours the pin";
    if (page.empty()) break;
    ASSERT_LE(page.size(), 2u);
    seen.insert(seen.end(), page.begin(), page.end());
    before = page.back().seq;
    ASSERT_LT(++pages, 10);
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, Log({6, 5, 4, 3, 2, 1}));

  // Instance and type history honour before_seq and the pin too.
  auto view = View();
  HistoryQuery q{"Patient", "a"};
  q.before_seq = 6;
  EXPECT_EQ(History(*view, q), Log({4, 1}));
  q.at_or_before_seq = 3;
  q.before_seq.reset();
  EXPECT_EQ(History(*view, q), Log({1}));
  EXPECT_EQ(*view->HistoryCount(q), 1);
  HistoryQuery t{"Patient", ""};
  t.at_or_before_seq = pin;
  EXPECT_EQ(History(*view, t), Log({6, 4, 3, 1}));
  EXPECT_EQ(*view->HistoryCount(t), 4);
  t.at_or_before_seq.reset();
  EXPECT_EQ(*view->HistoryCount(t), 4 + pages + 1);
}

// --- snapshots ------------------------------------------------------------

TEST_P(StoreConformanceTest, SnapshotIsolation) {
  Create("Patient", "a", {IndexRow::Token("Patient.gender", "", "female")});
  auto before = View();
  const int64_t seq_before = before->Seq();
  EXPECT_EQ(seq_before, 1);

  Create("Patient", "b", {IndexRow::Token("Patient.gender", "", "female")});
  ASSERT_TRUE(Put(Version("Patient", "a", 2, kT0, Method::kDelete), {}, rows_["Patient/a"]).ok());

  // The old view sees neither the new resource nor the delete.
  EXPECT_EQ(before->Seq(), seq_before);
  EXPECT_EQ(*before->Read("Patient", "b"), std::nullopt);
  EXPECT_FALSE((*before->Read("Patient", "a"))->deleted);
  EXPECT_EQ(before->AllOfType("Patient")->size(), 1u);
  EXPECT_EQ(before->Match(TokenQ("Patient.gender", "", "female"), nullptr)->size(), 1u);
  EXPECT_EQ(*before->HistoryCount({}), 1);
  EXPECT_EQ(*before->RidOf("Patient", "b"), std::nullopt);

  auto after = View();
  EXPECT_EQ(after->Seq(), 3);
  EXPECT_TRUE((*after->Read("Patient", "b")).has_value());
  EXPECT_TRUE((*after->Read("Patient", "a"))->deleted);
  EXPECT_EQ(after->AllOfType("Patient")->size(), 1u);
  EXPECT_EQ(*after->HistoryCount({}), 3);

  // Seq() never goes backwards over a sequence of writes and views.
  int64_t last = after->Seq();
  for (int i = 0; i < 5; ++i) {
    Create("Patient", "m" + std::to_string(i));
    int64_t now = View()->Seq();
    EXPECT_EQ(now, last + 1);
    last = now;
  }
  EXPECT_EQ(before->Seq(), seq_before) << "still pinned";
}

TEST_P(StoreConformanceTest, WriteTxnSeesItsOwnWrites) {
  Status s = store_->Write([&](WriteTxn& txn) -> Status {
    const int64_t seq0 = txn.Seq();
    ResourceVersion v = Version("Patient", "a", 1, kT0);
    RETURN_IF_ERROR(txn.Put(v, std::vector<IndexRow>{IndexRow::Token("Patient.gender", "", "other")}, {}));
    EXPECT_EQ(txn.Seq(), seq0 + 1);
    auto r = txn.Read("Patient", "a");
    EXPECT_TRUE(r.ok() && r->has_value());
    EXPECT_EQ(txn.Match(TokenQ("Patient.gender", "", "other"), nullptr)->size(), 1u);
    ResourceVersion v2 = Version("Patient", "a", 2, kT0, Method::kUpdate);
    return txn.Put(v2, {}, std::vector<IndexRow>{IndexRow::Token("Patient.gender", "", "other")});
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto view = View();
  EXPECT_EQ((*view->Read("Patient", "a"))->version, 2);
  EXPECT_EQ(view->Match(TokenQ("Patient.gender", "", "other"), nullptr)->size(), 0u);
}

// --- index queries --------------------------------------------------------

TEST_P(StoreConformanceTest, MatchToken) {
  const std::string loinc = "http://loinc.org", sct = "http://snomed.info/sct";
  Create("Observation", "o1", {IndexRow::Token("Observation.code", loinc, "1234-5")});
  Create("Observation", "o2", {IndexRow::Token("Observation.code", sct, "1234-5")});
  Create("Observation", "o3", {IndexRow::Token("Observation.code", "", "1234-5")});
  Create(
      "Observation", "o4",
      {IndexRow::Token("Observation.code", loinc, "9999-9"), IndexRow::Token("Observation.category", loinc, "1234-5")});
  Create("Observation", "o5",
         {IndexRow::Token("Observation.code", loinc, "1234-5"), IndexRow::Token("Observation.code", sct, "777")});
  Create("Observation", "o6", {});
  AddFillers("Observation", 300);

  ExpectMatch(TokenQ("Observation.code", loinc, "1234-5"), {"Observation/o1", "Observation/o5"},
              "system|code");
  ExpectMatch(TokenQ("Observation.code", std::nullopt, "1234-5"),
              {"Observation/o1", "Observation/o2", "Observation/o3", "Observation/o5"}, "code");
  ExpectMatch(TokenQ("Observation.code", "", "1234-5"), {"Observation/o3"}, "|code (no system)");
  ExpectMatch(TokenQ("Observation.code", loinc, std::nullopt),
              {"Observation/o1", "Observation/o4", "Observation/o5"}, "system|");
  ExpectMatch(TokenQ("Observation.code", sct, "777"), {"Observation/o5"}, "second row");
  ExpectMatch(TokenQ("Observation.code", "1234-5", loinc), {}, "system and code swapped");
  ExpectMatch(TokenQ("Observation.category", std::nullopt, "1234-5"), {"Observation/o4"},
              "another parameter");
  ExpectMatch(TokenQ("Observation.code", std::nullopt, "1234"), {}, "no prefix matching");
  ExpectMatch(TokenQ("Observation.code", std::nullopt, "1234-5 "), {}, "exact");
  ExpectMatch(
      Query(IndexType::kToken, "Observation.code", Op::kPresent),
      {"Observation/o1", "Observation/o2", "Observation/o3", "Observation/o4", "Observation/o5"},
      "present");
  std::vector<std::string> missing = FillerLabels("Observation");
  missing.push_back("Observation/o6");
  ExpectMatch(Query(IndexType::kToken, "Observation.code", Op::kMissing), missing, "missing");
  missing.insert(missing.end(),
                 {"Observation/o1", "Observation/o2", "Observation/o3", "Observation/o5"});
  ExpectMatch(Query(IndexType::kToken, "Observation.category", Op::kMissing), missing,
              "missing (another parameter)");
  EXPECT_EQ(*View()->Match(TokenQ("Patient.code", std::nullopt, "1234-5"), nullptr), RidSet{})
      << "keys name the resource type";
}

TEST_P(StoreConformanceTest, MatchString) {
  Create("Patient", "p1", {IndexRow::String("Patient.name", "smith"), IndexRow::String("Patient.name", "john")});
  Create("Patient", "p2", {IndexRow::String("Patient.name", "smithson")});
  Create("Patient", "p3", {IndexRow::String("Patient.name", "goldsmith")});
  Create("Patient", "p4", {IndexRow::String("Patient.name", "jones"), IndexRow::String("Patient.family", "smith")});
  Create("Patient", "p5", {IndexRow::String("Patient.name", "o'neill 100%_x")});
  Create("Patient", "p6", {IndexRow::String("Patient.name", "\xc3\xa9mile")});  // UTF-8 é
  Create("Patient", "p7", {});
  AddFillers("Patient", 300);
  auto q = [](Op op, std::string s, std::string param = "Patient.name") {
    IndexQuery q = Query(IndexType::kString, std::move(param), op);
    q.s1 = std::move(s);
    return q;
  };
  ExpectMatch(q(Op::kEq, "smith"), {"Patient/p1"}, "exact");
  ExpectMatch(q(Op::kEq, "smit"), {}, "exact is not prefix");
  ExpectMatch(q(Op::kPrefix, "smith"), {"Patient/p1", "Patient/p2"}, "prefix");
  ExpectMatch(q(Op::kPrefix, "j"), {"Patient/p1", "Patient/p4"}, "prefix of a second row");
  ExpectMatch(q(Op::kPrefix, "x"), {}, "prefix, none");
  ExpectMatch(q(Op::kContains, "smith"), {"Patient/p1", "Patient/p2", "Patient/p3"}, "contains");
  ExpectMatch(q(Op::kContains, "mit"), {"Patient/p1", "Patient/p2", "Patient/p3"},
              "contains (inside)");
  ExpectMatch(q(Op::kContains, "100%_"), {"Patient/p5"}, "contains treats % and _ literally");
  ExpectMatch(q(Op::kPrefix, "o'"), {"Patient/p5"}, "prefix with punctuation");
  ExpectMatch(q(Op::kContains, "%"), {"Patient/p5"}, "contains % only");
  ExpectMatch(q(Op::kPrefix, "\xc3\xa9"), {"Patient/p6"}, "prefix of UTF-8");
  ExpectMatch(q(Op::kPrefix, "\xc3"), {"Patient/p6"}, "prefix of a partial UTF-8 sequence");
  ExpectMatch(q(Op::kEq, "smith", "Patient.family"), {"Patient/p4"}, "another parameter");
  std::vector<std::string> missing = FillerLabels("Patient");
  missing.push_back("Patient/p7");
  ExpectMatch(Query(IndexType::kString, "Patient.name", Op::kMissing), missing, "missing");
  ExpectMatch(Query(IndexType::kString, "Patient.name", Op::kPresent),
              {"Patient/p1", "Patient/p2", "Patient/p3", "Patient/p4", "Patient/p5", "Patient/p6"},
              "present");
}

TEST_P(StoreConformanceTest, MatchDateEveryRelation) {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  Create("Observation", "d1", {IndexRow::Date("Observation.date", 100, 199)});
  Create("Observation", "d2", {IndexRow::Date("Observation.date", 200, 299)});   // == the query range
  Create("Observation", "d3", {IndexRow::Date("Observation.date", 150, 250)});   // straddles its start
  Create("Observation", "d4", {IndexRow::Date("Observation.date", 250, kMax)});  // period, no end
  Create("Observation", "d5", {IndexRow::Date("Observation.date", kMin, 120)});  // period, no start
  Create("Observation", "d6", {IndexRow::Date("Observation.date", 400, 499)});
  Create("Observation", "d7", {IndexRow::Date("Observation.date", 220, 230)});    // inside
  Create("Observation", "d8", {IndexRow::Date("Observation.date", kMin, kMax)});  // period, no bounds
  Create("Observation", "d9", {IndexRow::Date("Observation.issued", 220, 230)});
  AddFillers("Observation", 300);
  auto L = [](std::initializer_list<const char*> ids) {
    std::vector<std::string> out;
    for (const char* id : ids) out.push_back(std::string("Observation/") + id);
    return out;
  };
  // The query range [200, 299] (say, one day).
  ExpectMatch(DateQ(Op::kRangeEq, 200, 299), L({"d2", "d7"}), "eq: within");
  ExpectMatch(DateQ(Op::kRangeNe, 200, 299), L({"d1", "d3", "d4", "d5", "d6", "d8"}), "ne");
  ExpectMatch(DateQ(Op::kGt, 200, 299), L({"d4", "d6", "d8"}), "gt: ends after");
  ExpectMatch(DateQ(Op::kLt, 200, 299), L({"d1", "d3", "d5", "d8"}), "lt: starts before");
  ExpectMatch(DateQ(Op::kGe, 200, 299), L({"d2", "d3", "d4", "d6", "d7", "d8"}), "ge");
  ExpectMatch(DateQ(Op::kLe, 200, 299), L({"d1", "d2", "d3", "d4", "d5", "d7", "d8"}), "le");
  ExpectMatch(DateQ(Op::kSa, 200, 299), L({"d6"}), "sa: starts after");
  ExpectMatch(DateQ(Op::kEb, 200, 299), L({"d1", "d5"}), "eb: ends before");
  ExpectMatch(DateQ(Op::kAp, 200, 299), L({"d2", "d3", "d4", "d7", "d8"}), "ap: overlaps");
  // Boundaries are inclusive.
  ExpectMatch(DateQ(Op::kAp, 199, 199), L({"d1", "d3", "d8"}), "ap at a single instant");
  ExpectMatch(DateQ(Op::kEb, 200, 200), L({"d1", "d5"}), "eb at the boundary");
  ExpectMatch(DateQ(Op::kSa, 499, 499), L({}), "sa at the boundary");
  // Open-ended query ranges.
  ExpectMatch(DateQ(Op::kAp, 450, kMax), L({"d4", "d6", "d8"}), "ap from 450 on");
  ExpectMatch(DateQ(Op::kAp, kMin, 110), L({"d1", "d5", "d8"}), "ap up to 110");
  ExpectMatch(DateQ(Op::kRangeEq, kMin, kMax), L({"d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8"}),
              "eq over all time");
  ExpectMatch(Query(IndexType::kDate, "Observation.date", Op::kPresent),
              L({"d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8"}), "present");
  std::vector<std::string> missing = FillerLabels("Observation");
  missing.push_back("Observation/d9");
  ExpectMatch(Query(IndexType::kDate, "Observation.date", Op::kMissing), missing, "missing");

  auto view = View();
  auto eq = view->Match(Query(IndexType::kDate, "Observation.date", Op::kEq), nullptr);
  EXPECT_EQ(eq.status().code(), StatusCode::kIncorrect) << "kEq is not a date relation";
}

TEST_P(StoreConformanceTest, MatchReference) {
  const std::string abs = "http://other.example.org/fhir/Patient/p1";
  Create("Observation", "r1", {IndexRow::Reference("Observation.subject", "Patient", "p1")});
  Create("Observation", "r2", {IndexRow::Reference("Observation.subject", "Group", "p1")});
  Create("Observation", "r3", {IndexRow::Reference("Observation.subject", "Patient", "p2")});
  Create("Observation", "r4", {IndexRow::Reference("Observation.subject", "", abs)});
  Create("Observation", "r5", {IndexRow::Reference("Observation.performer", "Patient", "p1")});
  AddFillers("Observation", 300);
  auto q = [](std::optional<std::string> type, std::optional<std::string> id,
              std::string param = "Observation.subject") {
    IndexQuery q = Query(IndexType::kReference, std::move(param), Op::kEq);
    q.s1 = std::move(type);
    q.s2 = std::move(id);
    return q;
  };
  ExpectMatch(q("Patient", "p1"), {"Observation/r1"}, "type and id");
  ExpectMatch(q(std::nullopt, "p1"), {"Observation/r1", "Observation/r2"}, "id only");
  ExpectMatch(q("Group", "p1"), {"Observation/r2"}, "another type");
  ExpectMatch(q("", abs), {"Observation/r4"}, "absolute url");
  ExpectMatch(q(std::nullopt, abs), {"Observation/r4"}, "absolute url, any type");
  ExpectMatch(q("Patient", abs), {}, "absolute url is not a local reference");
  ExpectMatch(q("Patient", "p1", "Observation.performer"), {"Observation/r5"}, "another parameter");
  ExpectMatch(q("Patient", "p"), {}, "no prefix matching");
  ExpectMatch(Query(IndexType::kReference, "Observation.subject", Op::kPresent),
              {"Observation/r1", "Observation/r2", "Observation/r3", "Observation/r4"}, "present");
  std::vector<std::string> missing = FillerLabels("Observation");
  missing.push_back("Observation/r5");
  ExpectMatch(Query(IndexType::kReference, "Observation.subject", Op::kMissing), missing,
              "missing");
}

TEST_P(StoreConformanceTest, MatchQuantityAndNumber) {
  const std::string ucum = "http://unitsofmeasure.org";
  Create("Observation", "q1", {IndexRow::Quantity("Observation.value-quantity", 5.4, ucum, "mg")});
  Create("Observation", "q2", {IndexRow::Quantity("Observation.value-quantity", 5.4, ucum, "g")});
  Create("Observation", "q3", {IndexRow::Quantity("Observation.value-quantity", 10, "", "mg")});
  Create("Observation", "q4", {IndexRow::Quantity("Observation.value-quantity", 3, ucum, "mg")});
  Create("Observation", "q5", {IndexRow::Quantity("Observation.value-quantity", -2.5, "", "")});
  Create("Observation", "n1", {IndexRow::Number("Observation.n", 1)});
  Create("Observation", "n2", {IndexRow::Number("Observation.n", 2.5)});
  Create("Observation", "n3", {IndexRow::Number("Observation.n", 100)});
  Create("Observation", "n4", {IndexRow::Number("Observation.n", -7)});
  AddFillers("Observation", 300);
  auto qty = [](Op op, double lo, double hi, std::optional<std::string> system = std::nullopt,
                std::optional<std::string> code = std::nullopt) {
    IndexQuery q = Query(IndexType::kQuantity, "Observation.value-quantity", op);
    q.qlo = lo;
    q.qhi = hi;
    q.s1 = std::move(system);
    q.s2 = std::move(code);
    return q;
  };
  auto L = [](std::initializer_list<const char*> ids) {
    std::vector<std::string> out;
    for (const char* id : ids) out.push_back(std::string("Observation/") + id);
    return out;
  };
  // 5.4 with implicit precision: [5.35, 5.45].
  ExpectMatch(qty(Op::kRangeEq, 5.35, 5.45, ucum, "mg"), L({"q1"}), "eq with system and code");
  ExpectMatch(qty(Op::kRangeEq, 5.35, 5.45), L({"q1", "q2"}), "eq without unit");
  ExpectMatch(qty(Op::kRangeEq, 5.35, 5.45, std::nullopt, "g"), L({"q2"}), "eq with code only");
  ExpectMatch(qty(Op::kRangeEq, 9.5, 10.5, ucum, "mg"), L({}), "system must match");
  ExpectMatch(qty(Op::kRangeEq, 9.5, 10.5, std::nullopt, "mg"), L({"q3"}), "unit text");
  ExpectMatch(qty(Op::kRangeNe, 5.35, 5.45), L({"q3", "q4", "q5"}), "ne");
  ExpectMatch(qty(Op::kGt, 5.4, 5.4), L({"q3"}), "gt");
  ExpectMatch(qty(Op::kGt, 5.4, 5.4, ucum, "mg"), L({}), "gt with unit");
  ExpectMatch(qty(Op::kLt, 5.4, 5.4), L({"q4", "q5"}), "lt");
  ExpectMatch(qty(Op::kGe, 5.4, 5.4), L({"q1", "q2", "q3"}), "ge");
  ExpectMatch(qty(Op::kLe, 5.4, 5.4, ucum, "mg"), L({"q1", "q4"}), "le with unit");
  ExpectMatch(qty(Op::kSa, 3, 5.4), L({"q3"}), "sa");
  ExpectMatch(qty(Op::kEb, 3, 5.4), L({"q5"}), "eb");
  ExpectMatch(qty(Op::kAp, 2.7, 5.94), L({"q1", "q2", "q4"}), "ap");

  auto num = [](Op op, double lo, double hi) {
    IndexQuery q = Query(IndexType::kNumber, "Observation.n", op);
    q.qlo = lo;
    q.qhi = hi;
    return q;
  };
  ExpectMatch(num(Op::kRangeEq, 2.45, 2.55), L({"n2"}), "number eq");
  ExpectMatch(num(Op::kRangeEq, 100, 100), L({"n3"}), "number eq, exact");
  ExpectMatch(num(Op::kRangeNe, 2.45, 2.55), L({"n1", "n3", "n4"}), "number ne");
  ExpectMatch(num(Op::kGt, 1, 1), L({"n2", "n3"}), "number gt");
  ExpectMatch(num(Op::kLt, 1, 1), L({"n4"}), "number lt");
  ExpectMatch(num(Op::kGe, 1, 1), L({"n1", "n2", "n3"}), "number ge");
  ExpectMatch(num(Op::kLe, 1, 1), L({"n1", "n4"}), "number le");
  ExpectMatch(num(Op::kSa, 0, 2.5), L({"n3"}), "number sa");
  ExpectMatch(num(Op::kEb, 1, 2.5), L({"n4"}), "number eb");
  ExpectMatch(num(Op::kAp, 0.9, 110), L({"n1", "n2", "n3"}), "number ap");
  ExpectMatch(Query(IndexType::kNumber, "Observation.n", Op::kPresent), L({"n1", "n2", "n3", "n4"}),
              "number present");
  std::vector<std::string> missing = FillerLabels("Observation");
  for (const char* id : {"q1", "q2", "q3", "q4", "q5"}) {
    missing.push_back(std::string("Observation/") + id);
  }
  ExpectMatch(Query(IndexType::kNumber, "Observation.n", Op::kMissing), missing, "number missing");
}

TEST_P(StoreConformanceTest, MatchUri) {
  Create("ValueSet", "u1", {IndexRow::Uri("ValueSet.url", "http://acme.org/fhir/ValueSet/123")});
  Create("ValueSet", "u2", {IndexRow::Uri("ValueSet.url", "http://acme.org/fhir/ValueSet/123/_history/5")});
  Create("ValueSet", "u3", {IndexRow::Uri("ValueSet.url", "http://acme.org/fhir/other")});
  Create("ValueSet", "u4", {IndexRow::Uri("ValueSet.url", "http://acme.org")});
  Create("ValueSet", "u5", {IndexRow::Uri("ValueSet.url", "urn:oid:1.2.3")});
  Create("ValueSet", "u6", {});
  AddFillers("ValueSet", 300);
  auto q = [](Op op, std::string s) {
    IndexQuery q = Query(IndexType::kUri, "ValueSet.url", op);
    q.s1 = std::move(s);
    return q;
  };
  ExpectMatch(q(Op::kEq, "http://acme.org/fhir/ValueSet/123"), {"ValueSet/u1"}, "eq");
  ExpectMatch(q(Op::kEq, "http://acme.org/fhir/ValueSet/12"), {}, "eq is exact");
  ExpectMatch(q(Op::kEq, "urn:oid:1.2.3"), {"ValueSet/u5"}, "eq urn");
  ExpectMatch(q(Op::kPrefix, "http://acme.org/fhir/ValueSet/123"), {"ValueSet/u1", "ValueSet/u2"},
              "below");
  ExpectMatch(q(Op::kPrefix, "http://acme.org/fhir/"),
              {"ValueSet/u1", "ValueSet/u2", "ValueSet/u3"}, "below a folder");
  ExpectMatch(q(Op::kAbove, "http://acme.org/fhir/ValueSet/123/_history/5"),
              {"ValueSet/u1", "ValueSet/u2", "ValueSet/u4"}, "above");
  ExpectMatch(q(Op::kAbove, "http://acme.org/fhir/ValueSet/1"), {"ValueSet/u4"},
              "above: a longer stored value is not above");
  ExpectMatch(Query(IndexType::kUri, "ValueSet.url", Op::kPresent),
              {"ValueSet/u1", "ValueSet/u2", "ValueSet/u3", "ValueSet/u4", "ValueSet/u5"},
              "present");
  std::vector<std::string> missing = FillerLabels("ValueSet");
  missing.push_back("ValueSet/u6");
  ExpectMatch(Query(IndexType::kUri, "ValueSet.url", Op::kMissing), missing, "missing");
}

TEST_P(StoreConformanceTest, IndexRowsReplacedOnUpdateAndRemovedOnDelete) {
  const std::vector<IndexRow> v1_rows = {
      IndexRow::Token("Observation.code", "s", "A"), IndexRow::Token("Observation.code", "s", "keep"),
      IndexRow::String("Observation.note", "first"), IndexRow::Date("Observation.date", 10, 20)};
  const std::vector<IndexRow> v2_rows = {
      IndexRow::Token("Observation.code", "s", "B"), IndexRow::Token("Observation.code", "s", "keep"),
      IndexRow::Date("Observation.date", 30, 40), IndexRow::Number("Observation.n", 5)};
  Create("Observation", "x", v1_rows);
  Create("Observation", "y", {IndexRow::Token("Observation.code", "s", "A")});
  ASSERT_TRUE(Put(Version("Observation", "x", 2, kT0, Method::kUpdate), v2_rows, v1_rows).ok());
  const Rid x = RidOf("Observation", "x"), y = RidOf("Observation", "y");

  auto view = View();
  auto m = [&](const IndexQuery& q) { return *view->Match(q, nullptr); };
  EXPECT_EQ(m(TokenQ("Observation.code", "s", "A")), RidSet{y}) << "old row gone, other kept";
  EXPECT_EQ(m(TokenQ("Observation.code", "s", "B")), RidSet{x});
  EXPECT_EQ(m(TokenQ("Observation.code", "s", "keep")), RidSet{x}) << "unchanged row kept";
  EXPECT_EQ(m(Query(IndexType::kString, "Observation.note", Op::kPresent)), RidSet{});
  EXPECT_EQ(m(DateQ(Op::kAp, 10, 20)), RidSet{});
  EXPECT_EQ(m(DateQ(Op::kAp, 30, 40)), RidSet{x});
  EXPECT_EQ(m(Query(IndexType::kNumber, "Observation.n", Op::kPresent)), RidSet{x});
  view.reset();

  ASSERT_TRUE(Put(Version("Observation", "x", 3, kT0, Method::kDelete), {}, v2_rows).ok());
  view = View();
  for (IndexType t : {IndexType::kToken, IndexType::kDate, IndexType::kNumber}) {
    const char* param = t == IndexType::kToken  ? "Observation.code"
                        : t == IndexType::kDate ? "Observation.date"
                                                : "Observation.n";
    EXPECT_EQ(m(Query(t, param, Op::kPresent)), t == IndexType::kToken ? RidSet{y} : RidSet{})
        << param;
  }
  EXPECT_EQ(m(TokenQ("Observation.code", "s", "keep")), RidSet{});

  // The same row given twice in one version is stored once and removed once.
  const std::vector<IndexRow> twice = {IndexRow::Token("Observation.code", "s", "C"),
                                       IndexRow::Token("Observation.code", "s", "C")};
  ASSERT_TRUE(Put(Version("Observation", "x", 4, kT0, Method::kUpdate), twice).ok());
  view = View();
  EXPECT_EQ(m(TokenQ("Observation.code", "s", "C")), RidSet{x});
  view.reset();
  ASSERT_TRUE(Put(Version("Observation", "x", 5, kT0, Method::kDelete), {}, twice).ok());
  view = View();
  EXPECT_EQ(m(TokenQ("Observation.code", "s", "C")), RidSet{});
}

// --- the other search primitives -----------------------------------------

TEST_P(StoreConformanceTest, AllOfTypeByIdsByLastUpdated) {
  Create("Patient", "a", {}, kT0 + 1000);
  Create("Patient", "b", {}, kT0 + 2000);
  Create("Patient", "c", {}, kT0 + 3000);
  Create("Patient", "d", {}, kT0 + 4000);
  Create("Observation", "a", {}, kT0 + 2000);
  ASSERT_TRUE(Put(Version("Patient", "c", 2, kT0 + 5000, Method::kDelete)).ok());
  ASSERT_TRUE(Put(Version("Patient", "d", 2, kT0 + 6000, Method::kUpdate)).ok());
  const Rid a = RidOf("Patient", "a"), b = RidOf("Patient", "b"), d = RidOf("Patient", "d");
  RidSet abd = {a, b, d};
  std::sort(abd.begin(), abd.end());

  auto view = View();
  EXPECT_EQ(*view->AllOfType("Patient"), abd);
  EXPECT_EQ(view->AllOfType("Observation")->size(), 1u);
  EXPECT_EQ(*view->AllOfType("Encounter"), RidSet{});

  std::vector<std::string> ids = {"d", "zzz", "a", "c", "a"};
  RidSet ad = {a, d};
  std::sort(ad.begin(), ad.end());
  EXPECT_EQ(*view->ByIds("Patient", ids), ad) << "sorted, unique, live, known";
  EXPECT_EQ(*view->ByIds("Patient", {}), RidSet{});
  std::vector<std::string> obs = {"a"};
  EXPECT_EQ(*view->ByIds("Observation", obs), RidSet{RidOf("Observation", "a")})
      << "ids are per type";

  // Inclusive on both ends, by the current version's lastUpdated.
  EXPECT_EQ(*view->ByLastUpdated("Patient", kT0 + 1000, kT0 + 2000), Sorted({a, b}));
  EXPECT_EQ(*view->ByLastUpdated("Patient", kT0 + 1001, kT0 + 1999), RidSet{});
  EXPECT_EQ(*view->ByLastUpdated("Patient", kT0 + 3000, kT0 + 5000), RidSet{})
      << "d moved on to 6000; c is deleted";
  EXPECT_EQ(*view->ByLastUpdated("Patient", kT0 + 6000, kT0 + 6000), RidSet{d});
  EXPECT_EQ(*view->ByLastUpdated("Patient", std::numeric_limits<int64_t>::min(),
                                 std::numeric_limits<int64_t>::max()),
            abd);
}

TEST_P(StoreConformanceTest, FetchInOrderSkippingDeletedAndAsOfSeq) {
  ResourceVersion a1 = Create("Patient", "a");
  ResourceVersion b1 = Create("Patient", "b");
  ResourceVersion c1 = Create("Patient", "c");
  auto a2 = Put(Version("Patient", "a", 2, kT0 + 1, Method::kUpdate));
  auto b2 = Put(Version("Patient", "b", 2, kT0 + 1, Method::kDelete));
  auto a3 = Put(Version("Patient", "a", 3, kT0 + 2, Method::kUpdate));
  ASSERT_TRUE(a2.ok() && b2.ok() && a3.ok());
  const Rid a = RidOf("Patient", "a"), b = RidOf("Patient", "b"), c = RidOf("Patient", "c");
  auto with_rid = [](ResourceVersion v, Rid rid) {
    v.rid = rid;
    return v;
  };

  auto view = View();
  std::vector<Rid> order = {c, 999999, b, a, c};
  auto now = view->Fetch(order, std::nullopt);
  ASSERT_TRUE(now.ok()) << now.status().ToString();
  EXPECT_EQ(*now,
            (std::vector<ResourceVersion>{with_rid(c1, c), with_rid(*a3, a), with_rid(c1, c)}))
      << "in the given order, unknown and deleted skipped";

  // As of each seq: the version current then.
  std::vector<Rid> abc = {a, b, c};
  EXPECT_EQ(*view->Fetch(abc, a1.seq), (std::vector<ResourceVersion>{with_rid(a1, a)}));
  EXPECT_EQ(*view->Fetch(abc, c1.seq),
            (std::vector<ResourceVersion>{with_rid(a1, a), with_rid(b1, b), with_rid(c1, c)}));
  EXPECT_EQ(*view->Fetch(abc, a2->seq),
            (std::vector<ResourceVersion>{with_rid(*a2, a), with_rid(b1, b), with_rid(c1, c)}));
  EXPECT_EQ(*view->Fetch(abc, b2->seq),
            (std::vector<ResourceVersion>{with_rid(*a2, a), with_rid(c1, c)}));
  EXPECT_EQ(*view->Fetch(abc, a3->seq),
            (std::vector<ResourceVersion>{with_rid(*a3, a), with_rid(c1, c)}));
  EXPECT_TRUE(view->Fetch(abc, 0)->empty());
  EXPECT_TRUE(view->Fetch({}, std::nullopt)->empty());
}

// --- writes: group commit, rollback, concurrency ------------------------

TEST_P(StoreConformanceTest, FailingWriteRollsBackAloneInAGroupCommit) {
  // Hold the writer inside one Write so that the next ones queue up and go
  // into one group commit together.
  std::mutex mu;
  std::condition_variable cv;
  bool holding = false, release = false;
  std::thread holder([&] {
    Status s = store_->Write([&](WriteTxn& txn) -> Status {
      ResourceVersion v = Version("Patient", "holder", 1, kT0);
      RETURN_IF_ERROR(txn.Put(v, std::vector<IndexRow>{IndexRow::Token("Patient.tag", "", "holder")}, {}));
      std::unique_lock<std::mutex> lock(mu);
      holding = true;
      cv.notify_all();
      cv.wait(lock, [&] { return release; });
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return holding; });
  }
  const int64_t commits_before = store_->Stats().commits;

  constexpr int kWriters = 12;
  std::vector<Status> results(kWriters);
  std::vector<std::thread> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      const bool fail = i % 3 == 1;
      const bool throws = i % 3 == 2 && i % 2 == 0;
      results[static_cast<size_t>(i)] = store_->Write([&](WriteTxn& txn) -> Status {
        // Every call writes two resources and an index row, then maybe fails.
        for (const char* type : {"Patient", "Observation"}) {
          ResourceVersion v = Version(type, "w" + std::to_string(i), 1, kT0);
          RETURN_IF_ERROR(
              txn.Put(v, std::vector<IndexRow>{IndexRow::Token(std::string(type) + ".tag", "", "w")}, {}));
        }
        if (throws) throw std::runtime_error("boom " + std::to_string(i));
        if (fail) return Status::Incorrect("refused " + std::to_string(i));
        return Status::Ok();
      });
    });
  }
  // Give every writer time to queue behind the holder.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  holder.join();
  for (auto& t : writers) t.join();

  auto view = View();
  int ok = 0;
  std::set<int64_t> seqs;
  for (int i = 0; i < kWriters; ++i) {
    const bool fail = i % 3 == 1;
    const bool throws = i % 3 == 2 && i % 2 == 0;
    const Status& s = results[static_cast<size_t>(i)];
    if (fail) {
      EXPECT_EQ(s.code(), StatusCode::kIncorrect) << i;
      EXPECT_EQ(s.message(), "refused " + std::to_string(i));
    } else if (throws) {
      EXPECT_EQ(s.code(), StatusCode::kFault) << i << ": " << s.ToString();
    } else {
      EXPECT_TRUE(s.ok()) << i << ": " << s.ToString();
      ++ok;
    }
    for (const char* type : {"Patient", "Observation"}) {
      auto r = view->Read(type, "w" + std::to_string(i));
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(r->has_value(), s.ok()) << type << "/w" << i;
      if (r->has_value()) seqs.insert((*r)->seq);
    }
  }
  EXPECT_EQ(ok, 6);
  EXPECT_EQ(view->AllOfType("Patient")->size(), static_cast<size_t>(ok) + 1);
  EXPECT_EQ(view->Match(TokenQ("Patient.tag", "", "w"), nullptr)->size(), static_cast<size_t>(ok));
  EXPECT_EQ(view->Match(TokenQ("Observation.tag", "", "w"), nullptr)->size(),
            static_cast<size_t>(ok));
  // The writes that failed left no gap in the change sequence.
  EXPECT_EQ(view->Seq(), 1 + 2 * ok);
  EXPECT_EQ(*view->HistoryCount({}), 1 + 2 * ok);
  EXPECT_EQ(seqs.size(), static_cast<size_t>(2 * ok));
  EXPECT_EQ(*seqs.begin(), 2);
  EXPECT_EQ(*seqs.rbegin(), 1 + 2 * ok);
  EXPECT_EQ(store_->Stats().versions, 1 + 2 * ok);
  EXPECT_LT(store_->Stats().commits - commits_before, kWriters)
      << "the queued writes shared commits";

  // The store is fine afterwards, including for parameters first seen in a
  // rolled-back write.
  Status s = store_->Write([&](WriteTxn& txn) {
    ResourceVersion v = Version("Patient", "after", 1, kT0);
    return txn.Put(v, std::vector<IndexRow>{IndexRow::Token("Patient.tag", "", "after")}, {});
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_P(StoreConformanceTest, ConcurrentWritersGroupCommit) {
  constexpr int kThreads = 8, kWrites = 200;
  const int64_t commits_before = store_->Stats().commits;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string id = "t" + std::to_string(t);
      for (int i = 1; i <= kWrites; ++i) {
        ResourceVersion v =
            Version("Patient", id, i, kT0 + i, i == 1 ? Method::kCreate : Method::kUpdate);
        std::vector<IndexRow> add = {IndexRow::Token("Patient.tag", id, std::to_string(i))};
        std::vector<IndexRow> remove;
        if (i > 1) remove = {IndexRow::Token("Patient.tag", id, std::to_string(i - 1))};
        Status s = store_->Write([&](WriteTxn& txn) { return txn.Put(v, add, remove); });
        if (!s.ok()) {
          ADD_FAILURE() << id << " v" << i << ": " << s.ToString();
          failures++;
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);

  auto view = View();
  EXPECT_EQ(view->Seq(), kThreads * kWrites);
  EXPECT_EQ(*view->HistoryCount({}), kThreads * kWrites);
  for (int t = 0; t < kThreads; ++t) {
    const std::string id = "t" + std::to_string(t);
    auto cur = view->Read("Patient", id);
    ASSERT_TRUE(cur.ok() && cur->has_value());
    EXPECT_EQ((*cur)->version, kWrites);
    HistoryQuery q{"Patient", id};
    q.limit = kWrites + 10;
    auto h = view->History(q);
    ASSERT_TRUE(h.ok());
    ASSERT_EQ(h->size(), static_cast<size_t>(kWrites));
    for (int i = 0; i < kWrites; ++i) {
      const ResourceVersion& v = (*h)[static_cast<size_t>(i)];
      EXPECT_EQ(v.version, kWrites - i);
      if (i > 0) {
        EXPECT_LT(v.seq, (*h)[static_cast<size_t>(i - 1)].seq);
      }
    }
    EXPECT_EQ(view->Match(TokenQ("Patient.tag", id, std::nullopt), nullptr)->size(), 1u)
        << "only the newest version's row";
  }
  const StoreStats stats = store_->Stats();
  EXPECT_EQ(stats.versions, kThreads * kWrites);
  EXPECT_EQ(stats.write_batches, kThreads * kWrites);
  EXPECT_LT(stats.commits - commits_before, kThreads * kWrites) << "no group commit happened";
}

TEST_P(StoreConformanceTest, OptimisticConcurrencyRace) {
  constexpr int kThreads = 6, kRounds = 30;
  Create("Patient", "hot");
  std::barrier sync(kThreads);
  // read_version[round][thread], result[round][thread]
  std::vector<std::vector<int64_t>> read_version(kRounds, std::vector<int64_t>(kThreads));
  std::vector<std::vector<Status>> result(kRounds, std::vector<Status>(kThreads));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        int64_t v = -1;
        {
          auto view = store_->View();
          if (view.ok()) {
            auto cur = (*view)->Read("Patient", "hot");
            if (cur.ok() && cur->has_value()) v = (*cur)->version;
          }
        }
        read_version[static_cast<size_t>(r)][static_cast<size_t>(t)] = v;
        sync.arrive_and_wait();  // everyone has read before anyone writes
        ResourceVersion next = Version("Patient", "hot", v + 1, kT0, Method::kUpdate);
        result[static_cast<size_t>(r)][static_cast<size_t>(t)] =
            store_->Write([&](WriteTxn& txn) { return txn.Put(next, {}, {}); });
        sync.arrive_and_wait();  // everyone has written before the next read
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int r = 0; r < kRounds; ++r) {
    int winners = 0;
    for (int t = 0; t < kThreads; ++t) {
      EXPECT_EQ(read_version[static_cast<size_t>(r)][static_cast<size_t>(t)], r + 1)
          << "round " << r << " thread " << t;
      const Status& s = result[static_cast<size_t>(r)][static_cast<size_t>(t)];
      if (s.ok()) {
        ++winners;
      } else {
        EXPECT_EQ(s.code(), StatusCode::kConflict) << s.ToString();
      }
    }
    EXPECT_EQ(winners, 1) << "round " << r;
  }
  auto view = View();
  EXPECT_EQ((*view->Read("Patient", "hot"))->version, kRounds + 1);
  EXPECT_EQ(*view->HistoryCount({"Patient", "hot"}), kRounds + 1);
}

// --- lifecycle ------------------------------------------------------------

TEST_P(StoreConformanceTest, ReopenSeesEverything) {
  Create("Patient", "a", {IndexRow::Token("Patient.gender", "", "female"), IndexRow::String("Patient.name", "smith")});
  ASSERT_TRUE(Put(Version("Patient", "a", 2, kT0 + 1, Method::kUpdate),
                  {IndexRow::Token("Patient.gender", "", "male")}, rows_["Patient/a"])
                  .ok());
  Create("Patient", "b", {IndexRow::Token("Patient.gender", "", "female")});
  ASSERT_TRUE(
      Put(Version("Patient", "b", 2, kT0 + 2, Method::kDelete), {}, rows_["Patient/b"]).ok());
  std::vector<ResourceVersion> history_before;
  {
    auto view = View();
    history_before = *view->History({});
  }
  const Rid a = RidOf("Patient", "a");

  Reopen();
  auto view = View();
  EXPECT_EQ(view->Seq(), 4);
  EXPECT_EQ(*view->History({}), history_before);
  EXPECT_EQ(*view->RidOf("Patient", "a"), std::optional<Rid>(a));
  EXPECT_EQ(*view->AllOfType("Patient"), RidSet{a});
  EXPECT_EQ(*view->Match(TokenQ("Patient.gender", "", "male"), nullptr), RidSet{a});
  EXPECT_EQ(*view->Match(TokenQ("Patient.gender", "", "female"), nullptr), RidSet{});
  IndexQuery name = Query(IndexType::kString, "Patient.name", Op::kPresent);
  EXPECT_EQ(*view->Match(name, nullptr), RidSet{});
  EXPECT_TRUE((*view->Read("Patient", "b"))->deleted);
  view.reset();

  // Writing goes on from where it was.
  auto c = Put(Version("Patient", "c", 1, kT0 + 3));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->seq, 5);
  auto a3 = Put(Version("Patient", "a", 3, kT0 + 4, Method::kUpdate), {},
                {IndexRow::Token("Patient.gender", "", "male")});
  ASSERT_TRUE(a3.ok()) << a3.status().ToString();
  EXPECT_EQ(View()->Match(TokenQ("Patient.gender", "", "male"), nullptr)->size(), 0u);
  EXPECT_EQ(store_->Stats().versions, 6);
}

TEST_P(StoreConformanceTest, WriteAfterCloseIsUnavailable) {
  store_->Close();
  store_->Close();  // idempotent
  Status s = store_->Write([](WriteTxn&) { return Status::Ok(); });
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
}

TEST_P(StoreConformanceTest, RefusesANewerSchema) {
  Create("Patient", "a");
  store_->Close();
  store_.reset();
  ASSERT_TRUE(GetParam().set_schema_version(dir_.path(), "999"));
  auto s = GetParam().open(dir_.path());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnsupported) << s.status().ToString();
  EXPECT_NE(s.status().message().find("schema version 999"), std::string::npos)
      << s.status().message();

  // A garbled version is an error too, not a crash.
  ASSERT_TRUE(GetParam().set_schema_version(dir_.path(), "not-a-number"));
  auto g = GetParam().open(dir_.path());
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("not-a-number"), std::string::npos) << g.status().message();

  // Put back, it opens again with the data intact.
  ASSERT_TRUE(GetParam().set_schema_version(dir_.path(), "1"));
  Open();
  EXPECT_TRUE((*View()->Read("Patient", "a")).has_value());
}

INSTANTIATE_TEST_SUITE_P(Stores, StoreConformanceTest, ::testing::ValuesIn(Factories()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace lhcr::store
