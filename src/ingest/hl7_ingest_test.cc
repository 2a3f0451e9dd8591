#include "ingest/hl7_ingest.h"

#include <gtest/gtest.h>

#include <memory>

#include "fhir/search_param.h"
#include "fhir/validator.h"
#include "hl7v2/message.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/test_server.h"

namespace lhcr::ingest {
namespace {

class FixedClock : public Clock {
 public:
  Millis Now() override { return 1'735'689'600'000; }  // 2025-01-01T00:00:00Z
};

class CountingIds : public IdGenerator {
 public:
  std::string Next() override { return "ACK" + std::to_string(++n_); }

 private:
  int n_ = 0;
};

constexpr const char* kAdtA01 =
    "MSH|^~\\&|PAS|RXX|LHCR|LHCR|20250101093000||ADT^A01|ADT0001|P|2.4\r"
    "EVN|A01|20250101093000\r"
    "PID|1||RXX1234567^^^RXX^MR~9434765919^^^NHS^NH||SMITH^JANE^ANN^^MRS||19580312|F|||"
    "12 HIGH STREET^^NORTHTOWN^^NT1 2AB||01632960001\r"
    "PV1|1|I|WARD7^BED3^^RXX||||C1234567^JONES^DAVID^^^DR|||MED||||||||V0001^^^RXX^VN|||||||||||"
    "||||||||||||20250101093000\r";

constexpr const char* kOruR01 =
    "MSH|^~\\&|LAB|RXX|LHCR|LHCR|20250101120000||ORU^R01|ORU0001|P|2.4\r"
    "PID|1||RXX1234567^^^RXX^MR~9434765919^^^NHS^NH||SMITH^JANE^ANN^^MRS||19580312|F\r"
    "OBR|1|ORD1001|FIL2001|UE^Urea and electrolytes^99R9AL|||20250101110000|||||||"
    "20250101111500||||||||20250101120000|||F\r"
    "OBX|1|NM|NA^Sodium^99R9AL||138|mmol/L|133-146||||F|||20250101110000\r"
    "OBX|2|NM|K^Potassium^99R9AL||4.2|mmol/L|3.5-5.3||||F|||20250101110000\r";

class Hl7IngestorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::SqliteOptions so;
    so.path = dir_.path() + "/lhcr.db";
    so.synchronous_full = false;
    auto s = store::OpenSqliteStore(so);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    interactions_ = std::make_unique<interaction::Interactions>(
        *store_, fhir::SearchParamRegistry::R4(), fhir::Validator::R4(), clock_, UuidGenerator());
    registry_ = SourceRegistry({Source{.id = "acute-rxx",
                                       .name = "Northtown Hospitals",
                                       .kind = "acute",
                                       .ods_code = "RXX",
                                       .format = "hl7v2"}});
  }
  void TearDown() override {
    if (store_) store_->Close();
  }

  // MSA-1 and MSA-2 of an ACK.
  static std::pair<std::string, std::string> Msa(const std::string& ack) {
    auto m = hl7v2::ParseMessage(ack);
    if (!m.ok()) return {"unparsable: " + m.status().ToString(), ""};
    return {m->Get("MSA-1"), m->Get("MSA-2")};
  }

  int Count(const std::string& type) {
    auto r = interactions_->Search({}, type, {{"_summary", "count"}});
    if (!r.ok()) return -1;
    auto doc = fhir::ParseJson(r->body);
    if (!doc.ok()) return -1;
    const fhir::Json* total = fhir::Member(*doc, "total");
    return total != nullptr && total->IsInt() ? total->GetInt() : -1;
  }

  testing::TempDir dir_;
  FixedClock clock_;
  CountingIds ids_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<interaction::Interactions> interactions_;
  SourceRegistry registry_;
};

TEST_F(Hl7IngestorTest, AdtAndOruAreWrittenAndAcceptedOnceOnly) {
  Hl7Ingestor ingestor(*interactions_, &registry_, clock_, ids_);
  EXPECT_EQ(Msa(ingestor.Handle(kAdtA01)),
            std::make_pair(std::string("AA"), std::string("ADT0001")));
  EXPECT_EQ(Msa(ingestor.Handle(kOruR01)),
            std::make_pair(std::string("AA"), std::string("ORU0001")));
  EXPECT_EQ(Count("Patient"), 1);
  EXPECT_EQ(Count("Observation"), 2);
  EXPECT_EQ(Count("DiagnosticReport"), 1);
  // A resend is accepted and changes nothing.
  EXPECT_EQ(Msa(ingestor.Handle(kOruR01)).first, "AA");
  EXPECT_EQ(Count("Patient"), 1);
  EXPECT_EQ(Count("Observation"), 2);

  auto nhs = interactions_->Search(
      {}, "Patient", {{"identifier", "https://fhir.nhs.uk/Id/nhs-number|9434765919"}});
  ASSERT_TRUE(nhs.ok());
  EXPECT_NE(nhs->body.find("\"family\":\"SMITH\""), std::string::npos) << nhs->body;
}

TEST_F(Hl7IngestorTest, GarbageIsRejected) {
  Hl7Ingestor ingestor(*interactions_, &registry_, clock_, ids_);
  const std::string ack = ingestor.Handle("this is not HL7");
  EXPECT_EQ(Msa(ack), std::make_pair(std::string("AR"), std::string("")));
  EXPECT_EQ(Count("Patient"), 0);
}

TEST_F(Hl7IngestorTest, UnknownSenderIsRejectedWithAClearError) {
  Hl7Ingestor ingestor(*interactions_, &registry_, clock_, ids_);
  std::string adt = kAdtA01;
  adt.replace(adt.find("|PAS|RXX|"), 9, "|PAS|ZZZ|");
  const std::string ack = ingestor.Handle(adt);
  EXPECT_EQ(Msa(ack), std::make_pair(std::string("AR"), std::string("ADT0001")));
  EXPECT_NE(ack.find("unknown sender: sending application (MSH-3) 'PAS' and sending facility "
                     "(MSH-4) 'ZZZ' match no registered source"),
            std::string::npos)
      << ack;
  EXPECT_EQ(Count("Patient"), 0);
  // Without a registry every sender is taken.
  Hl7Ingestor open(*interactions_, nullptr, clock_, ids_);
  EXPECT_EQ(Msa(open.Handle(adt)).first, "AA");
  EXPECT_EQ(Count("Patient"), 1);
}

TEST_F(Hl7IngestorTest, UnsupportedEventIsRejected) {
  Hl7Ingestor ingestor(*interactions_, &registry_, clock_, ids_);
  const std::string ack = ingestor.Handle(
      "MSH|^~\\&|PAS|RXX|LHCR|LHCR|20250101093000||MFN^M02|MFN0001|P|2.4\rMFI|PRA\r");
  EXPECT_EQ(Msa(ack), std::make_pair(std::string("AR"), std::string("MFN0001")));
  EXPECT_NE(ack.find("|200"), std::string::npos) << ack;
}

}  // namespace
}  // namespace lhcr::ingest
