// HL7 v2 end to end: the public corpus of ../shared/data/hl7v2/fhir-converter/
// (Microsoft FHIR-Converter sample messages, MIT licence, see LICENSE there:
// 139 files, 59 trigger events, v2.3 to v2.8, byte-order marks, "\n"
// terminators) parses; every ADT and ORU maps to a valid R4
// transaction Bundle that a real lhcr accepts over HTTP; a resend stores
// nothing new; and an older message arriving late does not overwrite a
// newer fact (hl7v2::DropStaleEntries).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>

#include "fhir/json.h"
#include "fhir/validator.h"
#include "hl7v2/message.h"
#include "hl7v2/to_fhir.h"
#include "testing/test_server.h"

namespace lhcr {
namespace {

namespace fs = std::filesystem;
using testing::HttpClient;
using testing::TestServer;

std::string Encode(const std::string& q) {
  std::string out;
  for (char c : q) {
    if (c == '|') {
      out += "%7C";
    } else if (c == ' ') {
      out += "%20";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// What is stored now for a conditional query, read over HTTP.
hl7v2::CurrentResourceLookup LookupOver(HttpClient& client) {
  return [&client](const std::string& type,
                   const std::string& query) -> Result<std::optional<std::string>> {
    auto r = client.Get("/fhir/" + type + "?" + Encode(query));
    if (r.status != 200) {
      return Status::Unavailable("GET " + type + "?" + query + ": " + std::to_string(r.status) +
                                 " " + r.body.substr(0, 300));
    }
    auto doc = fhir::ParseJson(r.body);
    if (!doc.ok()) return doc.status();
    const fhir::Json* entries = fhir::Member(*doc, "entry");
    if (entries == nullptr || !entries->IsArray() || entries->Empty())
      return std::optional<std::string>();
    const fhir::Json* res = fhir::Member((*entries)[0], "resource");
    if (res == nullptr) return std::optional<std::string>();
    return std::optional<std::string>(fhir::ToJson(*res));
  };
}

struct Ingested {
  int status = 0;  // HTTP status; 0 when nothing needed sending
  int kept = 0;
  int dropped = 0;
  std::string error;
};

// The ingest helper: drop stale entries, then POST the rest as a transaction.
Ingested Ingest(HttpClient& client, const hl7v2::MappedMessage& mapped) {
  Ingested out;
  auto checked = hl7v2::DropStaleEntries(mapped.bundle_json, LookupOver(client));
  if (!checked.ok()) {
    out.error = checked.status().ToString();
    return out;
  }
  out.kept = checked->kept;
  out.dropped = checked->dropped;
  if (checked->kept == 0) return out;
  auto r = client.Send("POST", "/fhir", checked->bundle_json);
  out.status = r.status;
  if (r.status != 200) out.error = r.body.substr(0, 600);
  return out;
}

std::vector<std::string> ValidationErrors(const std::string& json) {
  std::vector<std::string> errors;
  auto doc = fhir::ParseJson(json);
  if (!doc.ok()) return {doc.status().ToString()};
  for (const auto& issue : fhir::Validator::R4()->Validate(*doc)) {
    if (issue.severity == fhir::ValidationIssue::Severity::kError) {
      errors.push_back(fhir::ToString(issue));
    }
  }
  return errors;
}

std::map<std::string, int> Counts(HttpClient& client) {
  std::map<std::string, int> counts;
  for (const char* type :
       {"Patient", "Encounter", "Observation", "DiagnosticReport", "Provenance"}) {
    auto r = client.Get(std::string("/fhir/") + type + "?_summary=count");
    auto doc = fhir::ParseJson(r.body);
    const fhir::Json* total = doc.ok() ? fhir::Member(*doc, "total") : nullptr;
    counts[type] = total != nullptr && total->IsInt() ? total->GetInt() : -1;
  }
  return counts;
}

hl7v2::SourceInfo Source() {
  hl7v2::SourceInfo s;
  s.source_id = "fhir-converter";
  s.ods_code = "RXX";
  return s;
}

TEST(Hl7v2IngestTest, PublicCorpus) {
  const fs::path dir = fs::path(testing::SharedDataDir()) / "hl7v2" / "fhir-converter";
  if (!fs::is_directory(dir)) {
    GTEST_SKIP() << "no HL7 v2 corpus at " << dir << " (set LHCR_SHARED_DATA)";
  }
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".hl7") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  auto server = TestServer::Start();
  ASSERT_TRUE(server);
  HttpClient client(server->port());

  int messages = 0, parsed = 0, mapped_count = 0, valid = 0, ingested = 0, idempotent = 0;
  int unsupported = 0, findings = 0;
  std::vector<std::string> failures;
  std::map<std::string, int> events;
  std::map<std::string, int> finding_codes;
  for (const fs::path& file : files) {
    std::string text = testing::ReadFile(file.string());
    std::vector<std::string_view> pieces = hl7v2::SplitMessages(text);
    if (pieces.empty()) failures.push_back(file.filename().string() + ": no message");
    int n = 0;
    for (std::string_view piece : pieces) {
      ++messages;
      std::string name = file.filename().string() + "#" + std::to_string(++n);
      auto msg = hl7v2::ParseMessage(piece);
      if (!msg.ok()) {
        failures.push_back(name + ": parse: " + msg.status().ToString());
        continue;
      }
      ++parsed;
      ++events[msg->Event()];
      std::string type = msg->MessageType();
      if (type != "ADT" && type != "ORU") {
        auto m = hl7v2::MapToFhir(*msg, Source());
        if (m.ok() || m.status().code() != StatusCode::kUnsupported) {
          failures.push_back(name + ": " + msg->Event() + " should be kUnsupported");
        }
        ++unsupported;
        continue;
      }
      auto m = hl7v2::MapToFhir(*msg, Source());
      if (!m.ok()) {
        failures.push_back(name + ": map: " + m.status().ToString());
        continue;
      }
      ++mapped_count;
      findings += static_cast<int>(m->findings.size());
      for (const auto& f : m->findings) ++finding_codes[f.code];
      std::vector<std::string> errors = ValidationErrors(m->bundle_json);
      if (!errors.empty()) {
        failures.push_back(name + ": invalid R4: " + errors.front() + " (" +
                           std::to_string(errors.size()) + " errors)");
        continue;
      }
      ++valid;
      // The whole Bundle as mapped (corpus files are unrelated messages that
      // share patient ids; the stale check would drop some of them).
      auto first = client.Send("POST", "/fhir", m->bundle_json);
      if (first.status != 200) {
        failures.push_back(name + ": ingest: " + std::to_string(first.status) + " " +
                           first.body.substr(0, 600));
        continue;
      }
      ++ingested;
      auto before = Counts(client);
      Ingested again = Ingest(client, *m);
      auto after = Counts(client);
      if (again.kept != 0 || again.status != 0 || before != after) {
        failures.push_back(name + ": resend stored something (kept " + std::to_string(again.kept) +
                           ", status " + std::to_string(again.status) + ")");
        continue;
      }
      ++idempotent;
    }
  }
  std::cout << "[hl7v2 corpus] files " << files.size() << ", messages " << messages << ", parsed "
            << parsed << ", distinct events " << events.size() << ", ADT/ORU mapped "
            << mapped_count << ", valid R4 " << valid << ", ingested " << ingested
            << ", resend stored nothing " << idempotent << ", other types (AR 200) " << unsupported
            << ", data-quality findings " << findings << "\n";
  std::cout << "[hl7v2 corpus] findings:";
  for (const auto& [c, n] : finding_codes) std::cout << " " << c << "=" << n;
  std::cout << "\n";
  auto counts = Counts(client);
  std::cout << "[hl7v2 corpus] stored:";
  for (const auto& [t, c] : counts) std::cout << " " << t << "=" << c;
  std::cout << "\n";
  for (const std::string& f : failures) std::cout << "[hl7v2 corpus] FAILED " << f << "\n";
  EXPECT_EQ(files.size(), 139u);
  EXPECT_EQ(parsed, messages);
  // One message per file: ADT04-23.hl7 holds "MSH" three times, but twice as
  // field values (PID-19, PV1-39), not as segments.
  EXPECT_EQ(messages, 139);
  EXPECT_TRUE(failures.empty()) << failures.size() << " failures (listed above)";
  EXPECT_EQ(mapped_count, idempotent);
}

std::string Adt(const std::string& event, const std::string& control_id, const std::string& when,
                const std::string& family, const std::string& extra_pv1 = "") {
  return "MSH|^~\\&|PAS|RXX|LHCR|REGION|" + when + "||ADT^" + event + "^ADT_A01|" + control_id +
         "|P|2.4\r"
         "EVN|" +
         event + "|" + when +
         "\r"
         "PID|1||M123456^^^RXX^MR~9434765919^^^NHS^NH||" +
         family +
         "^JANE^^^MRS^^L||19700101|F|||1 HIGH STREET^^LEEDS^^ls14ap^GB^H||0113 496 0000\r"
         "PD1|||THE SURGERY^^^^^^^^^Y12345|G1234567^WHO^JOHN^^^DR\r"
         "PV1|1|I|WARD1^BAY2^BED3^RXX||||C1234567^JONES^ANNA^^^DR||||||||||||V9876|||||||||||||||||"
         "||||||||" +
         when + extra_pv1 + "\r";
}

std::string PatientFamily(HttpClient& client) {
  auto r = client.Get("/fhir/Patient?identifier=" +
                      Encode("https://fhir.acute.example/Id/patient|M123456"));
  auto doc = fhir::ParseJson(r.body);
  if (!doc.ok()) return "?";
  const fhir::Json* entries = fhir::Member(*doc, "entry");
  if (entries == nullptr || !entries->IsArray() || entries->Size() != 1) return "?";
  const fhir::Json& p = (*entries)[0]["resource"];
  return std::string(fhir::StringMember(p["name"][0], "family"));
}

TEST(Hl7v2IngestTest, UpdatesApplyAndOlderMessagesDoNotOverwriteNewerFacts) {
  auto server = TestServer::Start();
  ASSERT_TRUE(server);
  HttpClient client(server->port());
  hl7v2::SourceInfo source;
  source.source_id = "acute";
  source.ods_code = "RXX";
  auto send = [&](const std::string& er7) {
    auto msg = hl7v2::ParseMessage(er7);
    EXPECT_TRUE(msg.ok()) << msg.status().ToString();
    auto mapped = hl7v2::MapToFhir(*msg, source);
    EXPECT_TRUE(mapped.ok()) << mapped.status().ToString();
    EXPECT_EQ(ValidationErrors(mapped->bundle_json), std::vector<std::string>{});
    return Ingest(client, *mapped);
  };
  Ingested a01 = send(Adt("A01", "C1", "20240301090000+0000", "SMITH"));
  EXPECT_EQ(a01.status, 200) << a01.error;
  EXPECT_EQ(a01.kept, 3);  // Patient, Encounter, Provenance
  EXPECT_EQ(PatientFamily(client), "SMITH");

  Ingested a08 = send(Adt("A08", "C2", "20240302090000+0000", "JONES"));
  EXPECT_EQ(a08.status, 200) << a08.error;
  EXPECT_EQ(a08.kept, 3);
  EXPECT_EQ(PatientFamily(client), "JONES");

  // An A08 recorded between the two, arriving last: nothing of it is newer.
  auto counts = Counts(client);
  Ingested late = send(Adt("A08", "C3", "20240301120000+0000", "BROWN"));
  EXPECT_EQ(late.status, 0) << late.error;
  EXPECT_EQ(late.kept, 0);
  EXPECT_EQ(late.dropped, 3);
  EXPECT_EQ(PatientFamily(client), "JONES");
  EXPECT_EQ(Counts(client), counts);

  // A discharge after that finishes the same Encounter (one Encounter).
  Ingested a03 = send(Adt("A03", "C4", "20240303090000+0000", "JONES", "|20240303090000+0000"));
  EXPECT_EQ(a03.status, 200) << a03.error;
  auto r = client.Get("/fhir/Encounter?identifier=" +
                      Encode("https://fhir.acute.example/Id/visit-number|V9876"));
  auto doc = fhir::ParseJson(r.body);
  ASSERT_TRUE(doc.ok());
  ASSERT_EQ((*doc)["entry"].Size(), 1u);
  const fhir::Json& enc = (*doc)["entry"][0]["resource"];
  EXPECT_EQ(fhir::StringMember(enc, "status"), "finished");
  EXPECT_EQ(fhir::StringMember(enc["period"], "end"), "2024-03-03T09:00:00+00:00");
  EXPECT_EQ(fhir::StringMember(enc["meta"], "source"), "acute#C4");
}

}  // namespace
}  // namespace lhcr
