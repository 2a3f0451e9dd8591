// The audit chain: appends (group-committed and in a write's transaction),
// and `Verify` catching each kind of tampering, naming the first bad entry.
#include "audit/audit.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "audit/checkpoints.h"
#include "audit/entry.h"
#include "fhir/json.h"
#include "store/sqlite/sqlite_store.h"

namespace lhcr::audit {
namespace {

class FixedClock : public Clock {
 public:
  Millis Now() override { return now; }
  Millis now = 1767225600000;  // 2026-01-01T00:00:00Z
};

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lhcr_audit_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    OpenStore();
  }
  void TearDown() override {
    log_.reset();
    if (store_) store_->Close();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void OpenStore() {
    store::SqliteOptions so;
    so.path = dir_ + "/lhcr.db";
    so.synchronous_full = false;
    auto s = store::OpenSqliteStore(so);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  void OpenLog(int64_t every = 1000) {
    AuditOptions o;
    o.dir = dir_;
    o.checkpoint_every = every;
    o.wait_for_commit = true;
    auto l = AuditLog::Open(*store_, fhir::SearchParamRegistry::R4(), o, clock_);
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    log_ = std::move(*l);
  }
  static Event ReadEvent(int i) {
    Event e;
    e.actor = {
        ActorKind::kProfessional, "dr-" + std::to_string(i), "RX1", "R8000", "TREAT", "", ""};
    e.subtype = "read";
    e.action = 'R';
    e.recorded = 1767225600000 + i;
    e.entities = {{"Observation", "obs-" + std::to_string(i)}};
    e.patients = {"pat-" + std::to_string(i % 3)};
    e.address = "127.0.0.1";
    e.method_path = "GET /fhir/Observation/obs-" + std::to_string(i);
    return e;
  }
  // n entries through Record.
  void Append(int n) {
    for (int i = 0; i < n; ++i) ASSERT_TRUE(log_->Record(ReadEvent(i)).ok());
  }
  // Runs SQL on the store's file behind its back (as someone with access to
  // the database could).
  void Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ + "/lhcr.db").c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << err;
    sqlite3_free(err);
    sqlite3_close(db);
  }
  static std::string RidOf(int seq) {
    return "(SELECT rid FROM resource WHERE type = 'AuditEvent' AND id = '" + std::to_string(seq) +
           "')";
  }
  VerifyReport Check() {
    auto r = Verify(*store_, dir_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : VerifyReport{};
  }
  // Puts sealed entries straight into the store in the given storage order
  // (bypassing the audit log), as a forger with write access could.
  void PutEntries(const std::vector<std::pair<int64_t, std::string>>& entries) {
    Status s = store_->Write([&](store::WriteTxn& txn) -> Status {
      for (const auto& [seq, text] : entries) {
        store::ResourceVersion v;
        v.type = "AuditEvent";
        v.id = std::to_string(seq);
        v.version = 1;
        v.json = text;
        // A forged copy of an existing seq needs another id.
        if (txn.Read("AuditEvent", v.id).value()) v.id += "-forged";
        RETURN_IF_ERROR(txn.Put(v, {}, {}));
      }
      return Status::Ok();
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  // A consistent chain of n entries: text of entry i at [i-1].
  static std::vector<std::string> Chain(int n) {
    std::vector<std::string> out;
    std::string prev(kGenesisHash);
    for (int i = 1; i <= n; ++i) {
      std::string hash;
      out.push_back(
          SealEntry(PrepareEntry(ReadEvent(i), *fhir::SearchParamRegistry::R4()), i, prev, &hash));
      prev = hash;
    }
    return out;
  }

  std::string dir_;
  FixedClock clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<AuditLog> log_;
};

TEST_F(AuditTest, EntryIsAnAuditEventWithTheChainExtension) {
  OpenLog();
  Event e = ReadEvent(7);
  e.actor.break_glass_reason = "unconscious in ED";
  e.actor.purpose_of_use = "";
  ASSERT_TRUE(log_->Record(e).ok());
  auto v = store_->ReadCurrent("AuditEvent", "1");
  ASSERT_TRUE(v.ok() && *v);
  auto doc = fhir::ParseJson((*v)->json);
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(fhir::StringMember(*doc, "action"), "R");
  EXPECT_EQ(fhir::StringMember(*doc, "outcome"), "0");
  EXPECT_EQ(fhir::StringMember(*doc, "recorded"), "2026-01-01T00:00:00.007Z");
  EXPECT_EQ(fhir::StringMember((*doc)["subtype"][0], "code"), "read");
  const auto& agent = (*doc)["agent"][0];
  EXPECT_EQ(fhir::StringMember(agent["who"]["identifier"], "value"), "dr-7");
  EXPECT_EQ(fhir::StringMember(agent["role"][0]["coding"][0], "code"), "R8000");
  EXPECT_EQ(fhir::StringMember(agent["purposeOfUse"][0]["coding"][0], "code"), "ETREAT");
  EXPECT_EQ(fhir::StringMember(agent["extension"][0], "valueString"), "unconscious in ED");
  EXPECT_EQ(fhir::StringMember((*doc)["agent"][1]["who"]["identifier"], "value"), "RX1");
  EXPECT_EQ(fhir::StringMember((*doc)["entity"][0]["what"], "reference"), "Patient/pat-1");
  EXPECT_EQ(fhir::StringMember((*doc)["entity"][0]["role"], "code"), "1");
  EXPECT_EQ(fhir::StringMember((*doc)["entity"][1]["what"], "reference"), "Observation/obs-7");
  auto parsed = ParseEntry((*v)->json);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->seq, 1);
  EXPECT_EQ(parsed->prev, kGenesisHash);
  EXPECT_EQ(parsed->hash, parsed->recomputed);
}

TEST_F(AuditTest, GoodChainVerifies) {
  OpenLog(5);
  Append(12);
  log_->Close();
  VerifyReport r = Check();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.entries, 12);
  EXPECT_EQ(r.checkpoints, 3);  // at 5, 10 and at Close (12)
}

TEST_F(AuditTest, EmptyStoreVerifies) {
  VerifyReport r = Check();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.entries, 0);
}

TEST_F(AuditTest, ConcurrentRecordsFormOneChain) {
  OpenLog(50);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) EXPECT_TRUE(log_->Record(ReadEvent(t * 100 + i)).ok());
    });
  }
  for (auto& t : threads) t.join();
  VerifyReport r = Check();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.entries, 200);
  // Group commit: fewer store commits than entries.
  EXPECT_LT(store_->Stats().write_batches, 200 + 1);
}

TEST_F(AuditTest, QueuedRecordsAreCommittedByFlush) {
  AuditOptions o;
  o.dir = dir_;
  o.wait_for_commit = false;  // what serve does: a read does not wait for the commit
  auto l = AuditLog::Open(*store_, fhir::SearchParamRegistry::R4(), o, clock_);
  ASSERT_TRUE(l.ok());
  for (int i = 0; i < 300; ++i) ASSERT_TRUE((*l)->Record(ReadEvent(i)).ok());
  ASSERT_TRUE((*l)->Flush().ok());
  VerifyReport r = Check();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.entries, 300);
  (*l)->Close();
  EXPECT_EQ((*l)->Record(ReadEvent(1)).code(), StatusCode::kUnavailable);
}

TEST_F(AuditTest, AnotherWritersAppendsAreFollowed) {
  OpenLog();
  Append(3);
  // A second log on the same store (as a second lhcr on one PostgreSQL).
  AuditOptions o;
  o.dir = dir_ + "/other";
  o.wait_for_commit = true;
  auto other = AuditLog::Open(*store_, fhir::SearchParamRegistry::R4(), o, clock_);
  ASSERT_TRUE(other.ok());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE((*other)->Record(ReadEvent(10 + i)).ok());
  Append(2);
  (*other)->Close();
  VerifyReport r = Check();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.entries, 9);
}

TEST_F(AuditTest, ReopenedLogGoesOnFromItsLastCheckpoint) {
  OpenLog(2);
  Append(5);
  log_->Close();  // checkpoints at 2, 4 and 5
  log_.reset();
  OpenLog(2);
  Append(3);
  log_->Close();
  VerifyReport r = Check();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.entries, 8);
}

TEST_F(AuditTest, EditedEntryIsNamed) {
  OpenLog();
  Append(10);
  Sql("UPDATE history SET json = CAST(replace(CAST(json AS TEXT), 'dr-4', 'dr-9') AS BLOB) "
      "WHERE rid = " +
      RidOf(5));
  VerifyReport r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad, 5);
  EXPECT_EQ(r.problem, "entry 5 has been altered: its text does not match its hash");
}

TEST_F(AuditTest, EditedAndRehashedEntryBreaksTheLinkAfterIt) {
  OpenLog();
  Append(10);
  // Re-seal entry 5 with other content and a correct hash of its own.
  auto v = store_->ReadCurrent("AuditEvent", "4");
  auto four = ParseEntry((*v)->json);
  Event forged = ReadEvent(99);
  std::string hash;
  std::string text =
      SealEntry(PrepareEntry(forged, *fhir::SearchParamRegistry::R4()), 5, four->hash, &hash);
  std::string quoted;
  for (char c : text) quoted += c == '\'' ? std::string("''") : std::string(1, c);
  Sql("UPDATE history SET json = CAST('" + quoted + "' AS BLOB) WHERE rid = " + RidOf(5));
  VerifyReport r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad, 6);
  EXPECT_EQ(r.problem,
            "entry 6 does not follow entry 5: the previous-entry hash it carries is not entry "
            "5's hash (an entry before it was replaced)");
}

TEST_F(AuditTest, DeletedEntryIsNamed) {
  OpenLog();
  Append(10);
  Sql("DELETE FROM history WHERE rid = " + RidOf(4) +
      "; DELETE FROM resource WHERE rid = " + RidOf(4));
  VerifyReport r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad, 4);
  EXPECT_EQ(r.problem, "entry 4 is missing: entry 5 follows entry 3");
}

TEST_F(AuditTest, DeletedThroughTheStoreIsNamed) {
  OpenLog();
  Append(6);
  // A tombstone (what a FHIR delete would write, were it let through).
  Status s = store_->Write([&](store::WriteTxn& txn) -> Status {
    store::ResourceVersion v;
    v.type = "AuditEvent";
    v.id = "2";
    v.version = 2;
    v.method = store::Method::kDelete;
    v.deleted = true;
    return txn.Put(v, {}, {});
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  VerifyReport r = Check();
  EXPECT_EQ(r.first_bad, 2);
  EXPECT_EQ(r.problem, "entry 2 is missing: entry 3 follows entry 1");
}

TEST_F(AuditTest, InsertedEntryIsNamed) {
  std::vector<std::string> chain = Chain(6);
  // A forged entry 4 (valid hash, linked to entry 3) stored before the real 4.
  std::string hash;
  auto three = ParseEntry(chain[2]);
  std::string forged = SealEntry(PrepareEntry(ReadEvent(42), *fhir::SearchParamRegistry::R4()), 4,
                                 three->hash, &hash);
  PutEntries({{1, chain[0]},
              {2, chain[1]},
              {3, chain[2]},
              {4, forged},
              {4, chain[3]},
              {5, chain[4]},
              {6, chain[5]}});
  VerifyReport r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad, 4);
  EXPECT_EQ(r.problem,
            "entry 4 appears twice: a second entry 4 is stored after entry 4 (an inserted entry)");
}

TEST_F(AuditTest, InsertedForeignResourceIsNamed) {
  std::vector<std::string> chain = Chain(4);
  PutEntries({{1, chain[0]}, {2, chain[1]}});
  PutEntries({{9, "{\"resourceType\":\"AuditEvent\",\"id\":\"x\",\"action\":\"R\"}"}});
  PutEntries({{3, chain[2]}, {4, chain[3]}});
  VerifyReport r = Check();
  EXPECT_EQ(r.first_bad, 3);
  EXPECT_EQ(r.problem,
            "AuditEvent/9, stored where entry 3 should be, is not a chain entry: its id is not a "
            "sequence number");
}

TEST_F(AuditTest, ReorderedEntriesAreNamed) {
  std::vector<std::string> chain = Chain(6);
  PutEntries(
      {{1, chain[0]}, {2, chain[1]}, {4, chain[3]}, {3, chain[2]}, {5, chain[4]}, {6, chain[5]}});
  VerifyReport r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad, 3);
  EXPECT_EQ(r.problem, "entry 3 is out of order: entry 4 is stored where it should be");
}

TEST_F(AuditTest, SwappedContentIsNamed) {
  OpenLog();
  Append(6);
  // Swap the stored texts of entries 2 and 3 in place.
  Sql("CREATE TEMP TABLE t AS SELECT rid, json FROM history WHERE rid IN (" + RidOf(2) + ", " +
      RidOf(3) +
      "); UPDATE history SET json = (SELECT json FROM t WHERE t.rid = CASE "
      "history.rid WHEN " +
      RidOf(2) + " THEN " + RidOf(3) + " ELSE " + RidOf(2) + " END) WHERE rid IN (" + RidOf(2) +
      ", " + RidOf(3) + ")");
  VerifyReport r = Check();
  EXPECT_EQ(r.first_bad, 2);
  EXPECT_EQ(r.problem, "entry 2 is out of order: entry 3 is stored where it should be");
}

TEST_F(AuditTest, TruncatedTailIsCaughtByTheLastCheckpoint) {
  OpenLog(5);
  Append(12);
  log_->Close();  // checkpoints at 5, 10, 12
  for (int seq : {11, 12}) {
    Sql("DELETE FROM history WHERE rid = " + RidOf(seq) +
        "; DELETE FROM resource WHERE rid = " + RidOf(seq));
  }
  VerifyReport r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad, 11);
  EXPECT_EQ(
      r.problem,
      "the chain ends at entry 10 but entry 12 was signed in a checkpoint: entries from 11 on "
      "are missing (the chain was cut short)");
}

TEST_F(AuditTest, RewrittenChainIsCaughtByACheckpoint) {
  OpenLog(5);
  Append(7);
  log_->Close();  // checkpoints at 5 and 7
  // Replace the whole chain by a consistent one of other content.
  Sql("DELETE FROM history WHERE rid IN (SELECT rid FROM resource WHERE type = 'AuditEvent'); "
      "DELETE FROM resource WHERE type = 'AuditEvent'");
  std::vector<std::string> chain = Chain(7);
  std::vector<std::pair<int64_t, std::string>> all;
  for (int i = 0; i < 7; ++i) all.push_back({i + 1, chain[i]});
  PutEntries(all);
  VerifyReport r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad, 5);
  EXPECT_EQ(r.problem,
            "entry 5 does not match the signed checkpoint on line 1: the chain was rewritten up to "
            "here");
}

TEST_F(AuditTest, ForgedCheckpointIsCaught) {
  OpenLog(5);
  Append(5);
  log_->Close();
  std::string path = CheckpointFile(dir_);
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  in.close();
  line[0] = '4';  // claim entry 4 instead of 5
  std::ofstream(path, std::ios::trunc) << line << "\n";
  VerifyReport r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.problem, "checkpoint line 1 (entry 4) has a signature that does not verify");
}

TEST_F(AuditTest, RemovedCheckpointFileIsCaught) {
  OpenLog(5);
  Append(5);
  log_->Close();
  std::filesystem::remove(CheckpointFile(dir_));
  VerifyReport r = Check();
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.problem.find("checkpoint file"), std::string::npos) << r.problem;
}

TEST_F(AuditTest, SigningKeyIsPrivate) {
  OpenLog();
  auto perms = std::filesystem::status(SigningKeyFile(dir_)).permissions();
  EXPECT_EQ(perms & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST_F(AuditTest, AuditedStoreWritesTheEventInTheSameTransaction) {
  OpenLog();
  AuditedStore audited(*store_, *log_);
  Event base;
  base.actor = {ActorKind::kProfessional, "nurse-1", "RX1", "R8001", "TREAT", "", ""};
  base.subtype = "create";
  base.recorded = 1767225600000;
  RequestScope scope(base);
  store::ResourceVersion obs;
  obs.type = "Observation";
  obs.id = "o1";
  obs.version = 1;
  obs.json =
      "{\"resourceType\":\"Observation\",\"id\":\"o1\",\"subject\":{\"reference\":\"Patient/p9\"}}";
  ASSERT_TRUE(audited.Write([&](store::WriteTxn& txn) { return txn.Put(obs, {}, {}); }).ok());
  EXPECT_EQ(scope.audited_writes(), 1);
  auto v = store_->ReadCurrent("AuditEvent", "1");
  ASSERT_TRUE(v.ok() && *v);
  // The resource and its audit entry committed together (one write).
  EXPECT_EQ((*v)->seq, obs.seq + 1);
  auto doc = fhir::ParseJson((*v)->json);
  EXPECT_EQ(fhir::StringMember(*doc, "action"), "C");
  EXPECT_EQ(fhir::StringMember((*doc)["entity"][0]["what"], "reference"), "Patient/p9");
  EXPECT_EQ(fhir::StringMember((*doc)["entity"][1]["what"], "reference"), "Observation/o1");

  // A write that fails leaves neither the resource nor an entry.
  store::ResourceVersion bad = obs;
  bad.id = "o2";
  Status s = audited.Write([&](store::WriteTxn& txn) -> Status {
    RETURN_IF_ERROR(txn.Put(bad, {}, {}));
    return Status::Conflict("changed my mind");
  });
  EXPECT_EQ(s.code(), StatusCode::kConflict);
  EXPECT_FALSE(store_->ReadCurrent("AuditEvent", "2").value());
  EXPECT_FALSE(store_->ReadCurrent("Observation", "o2").value());

  // Nobody writes AuditEvents but the log.
  store::ResourceVersion ae;
  ae.type = "AuditEvent";
  ae.id = "2";
  ae.version = 1;
  ae.json = "{}";
  s = audited.Write([&](store::WriteTxn& txn) { return txn.Put(ae, {}, {}); });
  EXPECT_EQ(s.code(), StatusCode::kForbidden);
  EXPECT_TRUE(Check().ok);

  // The rolled-back entry 2 is not a gap: the next append finds the head.
  ASSERT_TRUE(log_->Record(ReadEvent(3)).ok());
  VerifyReport r = Check();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.entries, 2);
}

TEST_F(AuditTest, PatientOfFindsTheSubject) {
  EXPECT_EQ(PatientOf("Patient", "p1", "{}"), "p1");
  EXPECT_EQ(
      PatientOf("Observation", "o",
                "{\"resourceType\":\"Observation\",\"subject\":{\"reference\":\"Patient/p2\"}}"),
      "p2");
  EXPECT_EQ(PatientOf("AllergyIntolerance", "a",
                      "{\"patient\":{\"reference\":\"http://x/fhir/Patient/p3/_history/2\"}}"),
            "p3");
  EXPECT_EQ(PatientOf("Observation", "o", "{\"subject\":{\"reference\":\"Group/g\"}}"), "");
  EXPECT_EQ(PatientOf("Organization", "o", "{\"name\":\"x\"}"), "");
}

}  // namespace
}  // namespace lhcr::audit
