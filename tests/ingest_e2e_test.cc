// Ingest end to end with the real binary: `lhcr synth` writes a region,
// `lhcr ingest --data DIR REGION` takes every source (FHIR NDJSON, HL7 v2
// files, the CSV extract) and a second run stores nothing new; `lhcr serve`
// then shows the registry with counts and each source's data-quality
// feedback (JSON and CSV) over HTTP, takes HL7 v2 and CSV bodies on
// POST /ingest/{source}, quarantines bad input and replays it.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "fhir/json.h"
#include "hl7v2/message.h"
#include "testing/lhcr_process.h"
#include "testing/test_server.h"

namespace lhcr {
namespace {

using namespace std::chrono_literals;

// Runs `lhcr args...` to the end: exit code and output.
std::pair<int, std::string> RunLhcr(const std::vector<std::string>& args) {
  std::string error;
  auto p = testing::LhcrProcess::Start(args, &error, /*with_stderr=*/true);
  if (p == nullptr) return {-1, error};
  auto status = p->WaitExit(300s);
  if (!status) return {-2, p->Output()};
  return {WIFEXITED(*status) ? WEXITSTATUS(*status) : -3, p->Output()};
}

// The numbers of the total line "ingest: N items (A accepted, R rejected),
// W resources written, U unchanged, F findings in ...".
struct Totals {
  long items = -1, accepted = -1, rejected = -1, written = -1, unchanged = -1;
};
Totals TotalsOf(const std::string& out) {
  std::smatch m;
  static const std::regex re(
      R"(ingest: (\d+) items \((\d+) accepted, (\d+) rejected\), (\d+) resources written, (\d+) unchanged)");
  Totals t;
  if (std::regex_search(out, m, re)) {
    t = {std::stol(m[1]), std::stol(m[2]), std::stol(m[3]), std::stol(m[4]), std::stol(m[5])};
  }
  return t;
}

class IngestE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    region_ = dir_->path() + "/region";
    data_ = dir_->path() + "/data";
    auto [code, out] = RunLhcr({"synth", "--people", "300", "--seed", "7", "--out", region_,
                            "--noise", "0.5", "--codelists", "/nonexistent"});
    ASSERT_EQ(code, 0) << out;
    auto [icode, iout] = RunLhcr({"ingest", "--data", data_, "--no-fsync", region_});
    first_ = iout;
    first_code_ = icode;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static testing::TempDir* dir_;
  static std::string region_, data_, first_;
  static int first_code_;
};
testing::TempDir* IngestE2eTest::dir_ = nullptr;
std::string IngestE2eTest::region_, IngestE2eTest::data_, IngestE2eTest::first_;
int IngestE2eTest::first_code_ = -1;

TEST_F(IngestE2eTest, ARegionIngestsWholeAndASecondRunStoresNothing) {
  ASSERT_EQ(first_code_, 0) << first_;
  Totals t = TotalsOf(first_);
  EXPECT_GT(t.items, 300) << first_;
  EXPECT_EQ(t.rejected, 0) << first_;
  EXPECT_GT(t.written, 3000) << first_;
  // Every source's files were taken, the CSV extract too.
  for (const char* f : {"gp/Y90001/bundles.ndjson", "acute/R9A/adt.hl7", "acute/R9A/oru.hl7",
                        "mental-health/R9M/adt.hl7", "social-care/X99/extract.csv",
                        "community/R9C/bundles.ndjson"}) {
    EXPECT_NE(first_.find(f), std::string::npos) << f << "\n" << first_;
  }
  EXPECT_TRUE(std::filesystem::exists(data_ + "/sources.json"));
  // Again: every item is accepted and nothing is written.
  auto [code, again] = RunLhcr({"ingest", "--data", data_, "--no-fsync", "--threads", "2", region_});
  ASSERT_EQ(code, 0) << again;
  Totals t2 = TotalsOf(again);
  EXPECT_EQ(t2.items, t.items) << again;
  EXPECT_EQ(t2.accepted, t.items) << again;
  EXPECT_EQ(t2.written, 0) << again;
}

TEST_F(IngestE2eTest, BadArgumentsGetAClearMessage) {
  auto [code, out] = RunLhcr({"ingest", "--data", data_, "--source", "no-such", region_ + "/x"});
  EXPECT_EQ(code, 2);
  EXPECT_NE(out.find("no registered source 'no-such'"), std::string::npos) << out;
  auto [code2, out2] = RunLhcr({"ingest", "--data", dir_->path() + "/empty", dir_->path()});
  EXPECT_EQ(code2, 2);
  EXPECT_NE(out2.find("is not a region directory"), std::string::npos) << out2;
}

TEST_F(IngestE2eTest, OneSourcesFileWithBadLinesIsTakenAndTheBadLinesHeld) {
  const std::string file = dir_->path() + "/gp-extra.ndjson";
  {
    std::ifstream in(region_ + "/gp/Y90002/bundles.ndjson");
    std::string line;
    std::getline(in, line);
    std::ofstream out(file);
    out << line << "\n{not json\n"
        << R"({"resourceType":"Bundle","type":"batch","entry":[]})" << "\n";
  }
  auto [code, out] = RunLhcr({"ingest", "--data", data_, "--no-fsync", "--source", "gp-y90002", file});
  EXPECT_EQ(code, 3) << out;  // some rejected: quarantined, the rest stored
  Totals t = TotalsOf(out);
  EXPECT_EQ(t.items, 3) << out;
  EXPECT_EQ(t.accepted, 1) << out;
  EXPECT_EQ(t.rejected, 2) << out;
  EXPECT_NE(out.find("line 2"), std::string::npos) << out;
}

// Terminology at ingest (docs/TERMINOLOGY.md): the acute trust's lab codes
// carry the LOINC and SNOMED CT codings of its declared local code map
// beside the local one, quantities are UCUM coded, and local codes the map
// lacks (the region's order panel codes) are findings for the source.
TEST_F(IngestE2eTest, LocalCodesAreTranslatedBesideTheOriginalAndUnitsAreUcum) {
  ASSERT_EQ(first_code_, 0) << first_;
  std::string error;
  auto server = testing::LhcrProcess::Serve({"--data", data_, "--no-fsync"}, &error);
  ASSERT_NE(server, nullptr) << error;
  testing::HttpClient http(server->port());
  // Found by the LOINC code, which the trust never sent.
  auto hb = http.Get("/fhir/Observation?code=http://loinc.org|718-7&_count=20");
  ASSERT_EQ(hb.status, 200) << hb.body;
  auto d = fhir::ParseJson(hb.body);
  ASSERT_TRUE(d.ok());
  ASSERT_GT((*d)["total"].GetInt64(), 0) << hb.body;
  for (const fhir::Json& e : (*d)["entry"].GetArray()) {
    const fhir::Json& ob = e["resource"];
    const fhir::Json& codings = ob["code"]["coding"];
    ASSERT_EQ(codings.Size(), 3u) << fhir::ToJson(ob);
    EXPECT_EQ(std::string(codings[0]["code"].GetString()), "HB");  // the original, first
    EXPECT_EQ(std::string(codings[1]["system"].GetString()), "http://loinc.org");
    EXPECT_EQ(std::string(codings[2]["system"].GetString()), "http://snomed.info/sct");
    EXPECT_EQ(std::string(codings[2]["code"].GetString()), "1022431000000105");
    EXPECT_EQ(std::string(ob["valueQuantity"]["system"].GetString()),
              "http://unitsofmeasure.org");
    EXPECT_EQ(std::string(ob["valueQuantity"]["code"].GetString()), "g/L");
  }
  // By SNOMED CT too (the HbA1c observable entity).
  auto hba1c = http.Get("/fhir/Observation?code=http://snomed.info/sct|999791000000106&_summary=count");
  auto h = fhir::ParseJson(hba1c.body);
  ASSERT_TRUE(h.ok()) << hba1c.body;
  EXPECT_GT((*h)["total"].GetInt64(), 0) << hba1c.body;
  auto quality = http.Get("/sources/acute-r9a/quality");
  ASSERT_EQ(quality.status, 200);
  EXPECT_NE(quality.body.find("\"code\":\"unmapped-code\""), std::string::npos) << quality.body;
  // The GP feeds declare no map: nothing unmapped there.
  auto gp = http.Get("/sources/gp-y90001/quality");
  EXPECT_EQ(gp.body.find("has no mapping"), std::string::npos) << gp.body;
}

TEST_F(IngestE2eTest, ServeShowsSourcesQualityAndTakesFeedsOverHttp) {
  ASSERT_EQ(first_code_, 0) << first_;
  std::string error;
  auto server = testing::LhcrProcess::Serve({"--data", data_, "--no-fsync"}, &error);
  ASSERT_NE(server, nullptr) << error;
  testing::HttpClient http(server->port());

  // The registry, with counts.
  auto sources = http.Get("/sources");
  ASSERT_EQ(sources.status, 200) << sources.body;
  auto doc = fhir::ParseJson(sources.body);
  ASSERT_TRUE(doc.ok());
  ASSERT_EQ((*doc)["sources"].Size(), 17u) << sources.body;  // 16 and the acute EPMA
  auto acute = http.Get("/sources/acute-r9a");
  ASSERT_EQ(acute.status, 200);
  auto a = fhir::ParseJson(acute.body);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(fhir::StringMember(*a, "format"), "hl7v2");
  EXPECT_GT((*a)["counts"]["received"].GetInt64(), 100) << acute.body;
  EXPECT_EQ(http.Get("/sources/nobody").status, 404);

  // Quality feedback: noise 0.5 gives the acute trust invalid NHS numbers
  // and conflicts with the GPs.
  auto quality = http.Get("/sources/acute-r9a/quality");
  ASSERT_EQ(quality.status, 200) << quality.body;
  auto q = fhir::ParseJson(quality.body);
  ASSERT_TRUE(q.ok());
  EXPECT_GT((*q)["findings"].GetInt64(), 0) << quality.body;
  EXPECT_NE(quality.body.find("\"code\":\"conflicting-demographics\""), std::string::npos)
      << quality.body;
  auto csv = http.Call("GET", "/sources/acute-r9a/quality", "", {{"Accept", "text/csv"}});
  ASSERT_EQ(csv.status, 200);
  EXPECT_EQ(csv.body.rfind("source,record,code,location,message,received\r\n", 0), 0u);
  EXPECT_NE(csv.body.find("acute-r9a,"), std::string::npos);

  // HL7 v2 over HTTP: the ACK comes back; the patient is then in the record.
  const std::string adt =
      "MSH|^~\\&|PAS|R9A|LHCR|LHCR|20250101093000||ADT^A04|HTTP0001|P|2.4\r"
      "EVN|A04|20250101093000\r"
      "PID|1||HTTPMRN1^^^R9A^MR||HOLMES^SHERLOCK||19540106|M\r"
      "PV1|1|O|OPD||||||||||||||||HTTPV1^^^R9A^VN\r";
  auto ack = http.Call("POST", "/ingest/acute-r9a", adt,
                       {{"Content-Type", "x-application/hl7-v2+er7"}});
  ASSERT_EQ(ack.status, 200) << ack.body;
  auto parsed = hl7v2::ParseMessage(ack.body);
  ASSERT_TRUE(parsed.ok()) << ack.body;
  EXPECT_EQ(parsed->Get("MSA-1"), "AA") << ack.body;
  EXPECT_EQ(parsed->Get("MSA-2"), "HTTP0001");
  auto found = http.Get("/fhir/Patient?family=HOLMES");
  EXPECT_NE(found.body.find("SHERLOCK"), std::string::npos) << found.body;

  // A message from another sender posted as this source: AR, held.
  std::string other = adt;
  other.replace(other.find("|PAS|R9A|"), 9, "|PAS|XYZ|");
  auto rejected = http.Call("POST", "/ingest/acute-r9a", other);
  ASSERT_EQ(rejected.status, 200);
  auto rack = hl7v2::ParseMessage(rejected.body);
  ASSERT_TRUE(rack.ok());
  EXPECT_EQ(rack->Get("MSA-1"), "AR");
  auto held = http.Get("/quarantine?source=acute-r9a");
  ASSERT_EQ(held.status, 200);
  auto h = fhir::ParseJson(held.body);
  ASSERT_TRUE(h.ok());
  ASSERT_GE((*h)["items"].Size(), 1u) << held.body;
  const int64_t id = (*h)["items"][(*h)["items"].Size() - 1]["id"].GetInt64();
  auto item = http.Get("/quarantine/" + std::to_string(id));
  ASSERT_EQ(item.status, 200);
  EXPECT_NE(item.body.find("XYZ"), std::string::npos) << item.body;
  // Replaying it fails the same way while the cause stands: still held.
  auto replay = http.Call("POST", "/quarantine/" + std::to_string(id) + "/$replay");
  EXPECT_EQ(replay.status, 422) << replay.body;

  // CSV over HTTP: a social care record with one bad date.
  const std::string csv_body =
      "PersonRef,Forename,Surname,DOB,Gender,NHSNo,Address1,Town,PostCode,EventRef,EventType,"
      "ServiceCode,ServiceDesc,StartDate,EndDate,HoursPerWeek\r\n"
      "ASCHTTP1,Irene,Adler,31/02/1960,Female,,1 Baker Street,Manchester,M1 1AA,ASCHTTP1-1,"
      "ASSESS,ASM01,Care Act needs assessment,01/03/2024,02/03/2024,\r\n";
  auto report = http.Call("POST", "/ingest/la-x99", csv_body, {{"Content-Type", "text/csv"}});
  ASSERT_EQ(report.status, 200) << report.body;
  auto r = fhir::ParseJson(report.body);
  ASSERT_TRUE(r.ok()) << report.body;
  EXPECT_EQ((*r)["accepted"].GetInt64(), 1) << report.body;
  EXPECT_GE((*r)["findings"].GetInt64(), 1) << report.body;
  auto adler = http.Get("/fhir/Patient?family=Adler");
  EXPECT_NE(adler.body.find("Irene"), std::string::npos) << adler.body;
  // The MPI over HTTP: Irene Adler, just posted, is found by $match, which
  // the CapabilityStatement declares; she has a Person (linked at ingest).
  auto match = http.Call(
      "POST", "/fhir/Patient/$match",
      R"({"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient","name":[{"family":"Adler","given":["Irene"]}],"gender":"female","address":[{"postalCode":"M1 1AA"}]}}]})",
      {{"Content-Type", "application/fhir+json"}});
  ASSERT_EQ(match.status, 200) << match.body;
  EXPECT_NE(match.body.find("\"mode\":\"match\""), std::string::npos) << match.body;
  EXPECT_NE(match.body.find("Irene"), std::string::npos) << match.body;
  auto metadata = http.Get("/fhir/metadata");
  EXPECT_NE(metadata.body.find("OperationDefinition/Patient-match"), std::string::npos);
  auto persons = http.Get("/fhir/Person?_count=1");
  EXPECT_NE(persons.body.find("\"resourceType\":\"Person\""), std::string::npos)
      << persons.body;

  // Link management over HTTP: move Irene's record into another Person,
  // then undo it.
  auto irene = http.Get("/fhir/Patient?family=Adler");
  auto ib = fhir::ParseJson(irene.body);
  ASSERT_TRUE(ib.ok());
  const std::string irene_ref =
      "Patient/" + std::string(fhir::StringMember((*ib)["entry"][0]["resource"], "id"));
  auto some_person = fhir::ParseJson(persons.body);
  ASSERT_TRUE(some_person.ok());
  const std::string other_ref =
      "Person/" + std::string(fhir::StringMember((*some_person)["entry"][0]["resource"], "id"));
  auto linked = http.Call("POST", "/mpi/link",
                          R"({"patient":")" + irene_ref + R"(","person":")" + other_ref +
                              R"(","reason":"test"})",
                          {{"Content-Type", "application/json"}, {"X-Lhcr-User", "dr.who"}});
  ASSERT_EQ(linked.status, 200) << linked.body;
  auto lj = fhir::ParseJson(linked.body);
  ASSERT_TRUE(lj.ok()) << linked.body;
  const std::string prov(fhir::StringMember(*lj, "provenance"));
  auto in_other = http.Get("/fhir/Person?link=" + irene_ref);
  EXPECT_NE(in_other.body.find(other_ref.substr(7)), std::string::npos) << in_other.body;
  auto undo = http.Call("POST", "/mpi/changes/" + prov.substr(11) + "/undo");
  EXPECT_EQ(undo.status, 200) << undo.body;
  EXPECT_EQ(http.Call("POST", "/mpi/changes/" + prov.substr(11) + "/undo").status, 409);
  EXPECT_EQ(http.Call("POST", "/mpi/link", "{not json").status, 400);
  EXPECT_EQ(http.Call("POST", "/mpi/review/no-such-task/accept").status, 404);

  // A body for an unknown source, and one that is not CSV at all.
  EXPECT_EQ(http.Call("POST", "/ingest/nobody", csv_body).status, 404);
  auto garbage = http.Call("POST", "/ingest/la-x99", "\"unterminated\r\n");
  EXPECT_EQ(garbage.status, 400) << garbage.body;
  EXPECT_NE(garbage.body.find("OperationOutcome"), std::string::npos);
}

}  // namespace
}  // namespace lhcr
