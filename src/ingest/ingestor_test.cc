#include "ingest/ingestor.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "fhir/search_param.h"
#include "fhir/validator.h"
#include "hl7v2/message.h"
#include "testing/local_record.h"

namespace lhcr::ingest {
namespace {

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

class IngestorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto j = IngestJournal::Open(record_.dir() + "/ingest.db");
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    journal_ = std::move(*j);
    registry_ = SourceRegistry({Source{.id = "acute-rxx",
                                       .name = "Northtown Hospitals",
                                       .kind = "acute",
                                       .ods_code = "RXX",
                                       .format = "hl7v2"},
                                Source{.id = "gp-y1",
                                       .name = "Y1 Surgery",
                                       .kind = "gp",
                                       .ods_code = "Y1",
                                       .format = "fhir"}});
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

  testing::FixedClock clock_;
  CountingIds ids_;
  testing::LocalRecord record_{clock_};
  interaction::Interactions* const interactions_ = &record_.interactions();
  std::unique_ptr<IngestJournal> journal_;
  SourceRegistry registry_;
};

TEST_F(IngestorTest, AdtAndOruAreWrittenAndAcceptedOnceOnly) {
  Ingestor ingestor(*interactions_, &registry_, journal_.get(), clock_, ids_);
  EXPECT_EQ(Msa(ingestor.HandleHl7(kAdtA01)),
            std::make_pair(std::string("AA"), std::string("ADT0001")));
  EXPECT_EQ(Msa(ingestor.HandleHl7(kOruR01)),
            std::make_pair(std::string("AA"), std::string("ORU0001")));
  EXPECT_EQ(Count("Patient"), 1);
  EXPECT_EQ(Count("Observation"), 2);
  EXPECT_EQ(Count("DiagnosticReport"), 1);
  // A resend is accepted and changes nothing.
  EXPECT_EQ(Msa(ingestor.HandleHl7(kOruR01)).first, "AA");
  EXPECT_EQ(Count("Patient"), 1);
  EXPECT_EQ(Count("Observation"), 2);

  auto nhs = interactions_->Search(
      {}, "Patient", {{"identifier", "https://fhir.nhs.uk/Id/nhs-number|9434765919"}});
  ASSERT_TRUE(nhs.ok());
  EXPECT_NE(nhs->body.find("\"family\":\"SMITH\""), std::string::npos) << nhs->body;
}

TEST_F(IngestorTest, GarbageIsRejected) {
  Ingestor ingestor(*interactions_, &registry_, journal_.get(), clock_, ids_);
  const std::string ack = ingestor.HandleHl7("this is not HL7");
  EXPECT_EQ(Msa(ack), std::make_pair(std::string("AR"), std::string("")));
  EXPECT_EQ(Count("Patient"), 0);
}

TEST_F(IngestorTest, UnknownSenderIsRejectedWithAClearError) {
  Ingestor ingestor(*interactions_, &registry_, journal_.get(), clock_, ids_);
  std::string adt = kAdtA01;
  adt.replace(adt.find("|PAS|RXX|"), 9, "|PAS|ZZZ|");
  const std::string ack = ingestor.HandleHl7(adt);
  EXPECT_EQ(Msa(ack), std::make_pair(std::string("AR"), std::string("ADT0001")));
  EXPECT_NE(ack.find("unknown sender: sending application (MSH-3) 'PAS' and sending facility "
                     "(MSH-4) 'ZZZ' match no registered source"),
            std::string::npos)
      << ack;
  EXPECT_EQ(Count("Patient"), 0);
  // Without a registry every sender is taken.
  Ingestor open(*interactions_, nullptr, nullptr, clock_, ids_);
  EXPECT_EQ(Msa(open.HandleHl7(adt)).first, "AA");
  EXPECT_EQ(Count("Patient"), 1);
}

TEST_F(IngestorTest, UnsupportedEventIsRejected) {
  Ingestor ingestor(*interactions_, &registry_, journal_.get(), clock_, ids_);
  const std::string ack = ingestor.HandleHl7(
      "MSH|^~\\&|PAS|RXX|LHCR|LHCR|20250101093000||MFN^M02|MFN0001|P|2.4\rMFI|PRA\r");
  EXPECT_EQ(Msa(ack), std::make_pair(std::string("AR"), std::string("MFN0001")));
  EXPECT_NE(ack.find("|200"), std::string::npos) << ack;
}

// A GP's transaction Bundle for one patient (NHS number, DOB as given).
std::string GpBundle(const std::string& local_id, const std::string& nhs,
                     const std::string& birth, const std::string& family) {
  return R"({"resourceType":"Bundle","type":"transaction","entry":[)"
         R"({"fullUrl":"urn:uuid:6f1f0f4e-0000-4000-8000-000000000001","resource":{"resourceType":"Organization","identifier":[{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"Y1"}],"name":"Y1 Surgery"},"request":{"method":"PUT","url":"Organization?identifier=https://fhir.nhs.uk/Id/ods-organization-code|Y1"}},)"
         R"({"fullUrl":"urn:uuid:6f1f0f4e-0000-4000-8000-0000000000a)" +
         local_id + R"(","resource":{"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":")" +
         nhs + R"("},{"system":"https://fhir.example.nhs.uk/Y1/Id/patient","value":")" + local_id +
         R"("}],"name":[{"family":")" + family + R"(","given":["Jane"]}],"gender":"female","birthDate":")" +
         birth +
         R"(","managingOrganization":{"reference":"urn:uuid:6f1f0f4e-0000-4000-8000-000000000001"}},"request":{"method":"PUT","url":"Patient?identifier=https://fhir.example.nhs.uk/Y1/Id/patient|)" +
         local_id + R"("}}]})";
}

TEST_F(IngestorTest, FindingsAndCountsGoToTheJournalOnce) {
  Ingestor ingestor(*interactions_, &registry_, journal_.get(), clock_, ids_);
  std::string adt = kAdtA01;
  adt.replace(adt.find("9434765919"), 10, "9434765918");  // fails modulus 11
  EXPECT_EQ(Msa(ingestor.HandleHl7(adt)).first, "AA");
  EXPECT_EQ(Msa(ingestor.HandleHl7(adt)).first, "AA");  // resent
  EXPECT_EQ(Msa(ingestor.HandleHl7("MSH|^~\\&|PAS|RXX|L|L|2025||ADT^A01|X1|P|2.4\rPID|1\r")).first,
            "AE");
  auto q = journal_->Quality("acute-rxx", 5);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->counts.received, 3);
  EXPECT_EQ(q->counts.accepted, 2);
  EXPECT_EQ(q->counts.rejected, 1);
  EXPECT_EQ(q->quarantined, 1);
  std::map<std::string, int64_t> by_code;
  for (const auto& c : q->codes) by_code[c.code] = c.count;
  EXPECT_EQ(by_code["invalid-nhs-number"], 1) << "a resend adds no second finding";
  EXPECT_EQ(by_code["rejected"], 1);
  auto held = journal_->ListQuarantine("acute-rxx", true, 10);
  ASSERT_TRUE(held.ok());
  ASSERT_EQ(held->size(), 1u);
  EXPECT_EQ((*held)[0].format, "hl7v2");
  EXPECT_NE((*held)[0].body.find("ADT^A01|X1"), std::string::npos);
  EXPECT_NE((*held)[0].reason.find("PID-3"), std::string::npos) << (*held)[0].reason;
}

TEST_F(IngestorTest, QuarantinedInputIsReplayedOnceItsCauseIsFixed) {
  std::string adt = kAdtA01;
  adt.replace(adt.find("|PAS|RXX|"), 9, "|PAS|RZZ|");
  {
    Ingestor ingestor(*interactions_, &registry_, journal_.get(), clock_, ids_);
    EXPECT_EQ(Msa(ingestor.HandleHl7(adt)).first, "AR");
  }
  EXPECT_EQ(Count("Patient"), 0);
  auto held = journal_->ListQuarantine("", true, 10);
  ASSERT_TRUE(held.ok());
  ASSERT_EQ(held->size(), 1u);
  // The sender is registered later; the held message goes in.
  std::vector<Source> more = registry_.sources();
  more.push_back(Source{.id = "acute-rzz", .name = "Z", .kind = "acute", .ods_code = "RZZ",
                        .format = "hl7v2"});
  SourceRegistry bigger(more);
  Ingestor later(*interactions_, &bigger, journal_.get(), clock_, ids_);
  auto replayed = later.Replay((*held)[0].id);
  ASSERT_TRUE(replayed.ok()) << replayed.status().ToString();
  EXPECT_EQ(replayed->accepted, 1);
  EXPECT_EQ(Count("Patient"), 1);
  auto item = journal_->GetQuarantine((*held)[0].id);
  ASSERT_TRUE(item.ok());
  EXPECT_EQ(item->status, "replayed");
  EXPECT_EQ(later.Replay((*held)[0].id).status().code(), StatusCode::kConflict);
  EXPECT_EQ(later.Replay(999).status().code(), StatusCode::kNotFound);
}

TEST_F(IngestorTest, FhirBundlesAreStampedAndUnchangedFactsStoreNothing) {
  Ingestor ingestor(*interactions_, &registry_, journal_.get(), clock_, ids_);
  const Source& gp = *registry_.FindById("gp-y1");
  const std::string ndjson = GpBundle("1", "9434765919", "1958-03-12", "Smith") + "\n" +
                             GpBundle("2", "4010232137", "1970-01-01", "Jones") + "\n";
  IngestOptions two;
  two.threads = 2;
  auto first = ingestor.IngestText(gp, ndjson, two);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->items, 2);
  EXPECT_EQ(first->accepted, 2) << (first->rejected_items.empty()
                                        ? ""
                                        : first->rejected_items[0].status.ToString());
  EXPECT_EQ(Count("Patient"), 2);
  EXPECT_EQ(Count("Organization"), 1);
  EXPECT_EQ(Count("Provenance"), 2);
  auto org = interactions_->Search({}, "Organization", {});
  ASSERT_TRUE(org.ok());
  EXPECT_NE(org->body.find("\"source\":\"gp-y1#"), std::string::npos) << org->body;
  // Again: nothing new (same Bundles), not even a version.
  auto again = ingestor.IngestText(gp, ndjson);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->written, 0);
  EXPECT_EQ(again->accepted, 2);
  auto history = interactions_->History({}, "Patient", "", {});
  ASSERT_TRUE(history.ok());
  auto h = fhir::ParseJson(history->body);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ((*h)["entry"].Size(), 2u);
  // A Bundle that is not a transaction is rejected and held.
  auto bad = ingestor.IngestText(gp, R"({"resourceType":"Bundle","type":"collection"})");
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->rejected, 1);
  EXPECT_NE(bad->rejected_items[0].status.message().find("transaction"), std::string::npos);
  EXPECT_GT(bad->rejected_items[0].quarantine_id, 0);
}

TEST_F(IngestorTest, DemographicsThatConflictAcrossSourcesAreFedBack) {
  Ingestor ingestor(*interactions_, &registry_, journal_.get(), clock_, ids_);
  const Source& gp = *registry_.FindById("gp-y1");
  // The GP has 9434765919 born 1958-12-03; the hospital says 1958-03-12.
  ASSERT_TRUE(ingestor.IngestText(gp, GpBundle("1", "9434765919", "1958-12-03", "Smith")).ok());
  EXPECT_EQ(Msa(ingestor.HandleHl7(kAdtA01)).first, "AA");
  auto q = journal_->Quality("acute-rxx", 5);
  ASSERT_TRUE(q.ok());
  ASSERT_FALSE(q->codes.empty());
  EXPECT_EQ(q->codes[0].code, "conflicting-demographics");
  EXPECT_NE(q->codes[0].examples[0].finding.message.find(
                "birthDate '1958-03-12' here, '1958-12-03' at gp-y1"),
            std::string::npos)
      << q->codes[0].examples[0].finding.message;
  // A second GP record with the same NHS number is a duplicate.
  ASSERT_TRUE(ingestor.IngestText(gp, GpBundle("2", "9434765919", "1958-12-03", "Smith")).ok());
  auto g = journal_->Quality("gp-y1", 5);
  ASSERT_TRUE(g.ok());
  bool duplicate = false;
  for (const auto& c : g->codes) duplicate |= c.code == "duplicate-record";
  EXPECT_TRUE(duplicate);
}

}  // namespace
}  // namespace lhcr::ingest
