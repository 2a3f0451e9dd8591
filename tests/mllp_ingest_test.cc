// HL7 v2 over MLLP into the real `lhcr serve --mllp`: ADT and ORU messages
// sent over TCP are ACKed AA with the right MSA-2 and their Patient and
// Observations are then found through the FHIR API over HTTP; a resend
// changes nothing; garbage gets AR and the connection keeps working.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "api/mllp_frame.h"
#include "fhir/json.h"
#include "hl7v2/message.h"
#include "testing/lhcr_process.h"
#include "testing/test_server.h"

namespace lhcr {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// `lhcr serve --listen 127.0.0.1:0 --mllp 127.0.0.1:0` as a child (killed and
// reaped on destruction); the ports come from its two start lines.
class Lhcr {
 public:
  Lhcr(const std::string& data_dir, const std::string& sources) {
    std::string error;
    process_ = testing::LhcrProcess::Serve({"--data", data_dir, "--mllp", "127.0.0.1:0",
                                            "--workers", "4", "--no-fsync", "--sources", sources},
                                           &error);
    if (process_ == nullptr) {
      ADD_FAILURE() << error;
      return;
    }
    mllp_port_ = testing::PortAfter(process_->Line(1, 10s), "lhcr mllp listening on 127.0.0.1:");
    if (mllp_port_ == 0) ADD_FAILURE() << "no MLLP port; lhcr printed: " << process_->Output();
  }
  uint16_t http_port() const { return process_ == nullptr ? 0 : process_->port(); }
  uint16_t mllp_port() const { return mllp_port_; }

 private:
  std::unique_ptr<testing::LhcrProcess> process_;
  uint16_t mllp_port_ = 0;
};

// One MLLP connection: send a framed message, read one framed ACK.
class MllpClient {
 public:
  explicit MllpClient(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ADD_FAILURE() << "connect: " << std::strerror(errno);
    }
  }
  ~MllpClient() { close(fd_); }

  // The ACK for `message`, "" on a connection failure or after 30 s.
  std::string Send(const std::string& message) {
    const std::string frame = api::MllpFrame(message);
    size_t off = 0;
    while (off < frame.size()) {
      ssize_t n = write(fd_, frame.data() + off, frame.size() - off);
      if (n <= 0) return "";
      off += static_cast<size_t>(n);
    }
    const auto deadline = Clock::now() + 30s;
    while (!deframer_.has_frame()) {
      pollfd p{fd_, POLLIN, 0};
      if (Clock::now() > deadline || poll(&p, 1, 1000) < 0) return "";
      if ((p.revents & (POLLIN | POLLHUP)) == 0) continue;
      char b[4096];
      ssize_t n = read(fd_, b, sizeof b);
      if (n <= 0) return "";
      deframer_.Feed(std::string_view(b, static_cast<size_t>(n)));
    }
    return deframer_.Next()->message;
  }

 private:
  int fd_ = -1;
  api::MllpDeframer deframer_;
};

// MSA-1, MSA-2.
std::pair<std::string, std::string> Msa(const std::string& ack) {
  auto m = hl7v2::ParseMessage(ack);
  if (!m.ok()) return {"unparsable ACK: " + ack, ""};
  return {m->Get("MSA-1"), m->Get("MSA-2")};
}

std::pair<std::string, std::string> Expect(const char* code, const char* control_id) {
  return {code, control_id};
}

// An admission at the acute trust (v2.4, as its PAS sends them).
constexpr const char* kAdtA01 =
    "MSH|^~\\&|PAS|RXX|LHCR|LHCR|20250101093000||ADT^A01|ADT0001|P|2.4\r"
    "EVN|A01|20250101093000\r"
    "PID|1||RXX1234567^^^RXX^MR~9434765919^^^NHS^NH||SMITH^JANE^ANN^^MRS||19580312|F|||"
    "12 HIGH STREET^^NORTHTOWN^^NT1 2AB||01632960001\r"
    "PV1|1|I|WARD7^BED3^^RXX||||C1234567^JONES^DAVID^^^DR|||MED||||||||V0001^^^RXX^VN\r";

// Her U&E results from the lab.
constexpr const char* kOruR01 =
    "MSH|^~\\&|LAB|RXX|LHCR|LHCR|20250101120000||ORU^R01|ORU0001|P|2.4\r"
    "PID|1||RXX1234567^^^RXX^MR~9434765919^^^NHS^NH||SMITH^JANE^ANN^^MRS||19580312|F\r"
    "OBR|1|ORD1001|FIL2001|UE^Urea and electrolytes^99R9AL|||20250101110000|||||||"
    "20250101111500||||||||20250101120000|||F\r"
    "OBX|1|NM|NA^Sodium^99R9AL||138|mmol/L|133-146||||F|||20250101110000\r"
    "OBX|2|NM|K^Potassium^99R9AL||4.2|mmol/L|3.5-5.3||||F|||20250101110000\r";

// Resources a search returns (its entries with search.mode "match").
int Matches(testing::HttpClient& http, const std::string& target, std::string* body = nullptr) {
  auto r = http.Get(target);
  if (r.status != 200) return -1;
  if (body != nullptr) *body = r.body;
  auto doc = fhir::ParseJson(r.body);
  if (!doc.ok()) return -1;
  const fhir::Json* entries = fhir::Member(*doc, "entry");
  if (entries == nullptr || !entries->IsArray()) return 0;
  int n = 0;
  for (rapidjson::SizeType i = 0; i < entries->Size(); ++i) {
    const fhir::Json* search = fhir::Member((*entries)[i], "search");
    if (search != nullptr && fhir::StringMember(*search, "mode") == "match") ++n;
  }
  return n;
}

TEST(MllpIngestTest, AdtAndOruOverMllpReachTheFhirApi) {
  testing::TempDir dir;
  const std::string sources = dir.path() + "/sources.json";
  std::ofstream(sources) << R"({"generator": "test", "sources": [
      {"id": "acute-rxx", "name": "Northtown Hospitals NHS Trust", "kind": "acute",
       "ods_code": "RXX", "format": "hl7v2", "identity_trust": 0.9,
       "hl7v2": {"version": "2.4"},
       "local_code_systems": {"99R9AL": "https://fhir.example.nhs.uk/RXX/CodeSystem/lab"}}]})";
  Lhcr lhcr(dir.path() + "/data", sources);
  ASSERT_NE(lhcr.mllp_port(), 0);
  MllpClient mllp(lhcr.mllp_port());
  testing::HttpClient http(lhcr.http_port());

  EXPECT_EQ(Msa(mllp.Send(kAdtA01)), Expect("AA", "ADT0001"));
  EXPECT_EQ(Msa(mllp.Send(kOruR01)), Expect("AA", "ORU0001"));

  const std::string by_nhs =
      "/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number%7C9434765919";
  std::string patient;
  ASSERT_EQ(Matches(http, by_nhs, &patient), 1);
  EXPECT_NE(patient.find("\"family\":\"SMITH\""), std::string::npos) << patient;
  EXPECT_NE(patient.find("\"birthDate\":\"1958-03-12\""), std::string::npos) << patient;
  std::string observations;
  ASSERT_EQ(Matches(http, "/fhir/Observation?_count=100", &observations), 2);
  EXPECT_NE(observations.find("\"value\":138"), std::string::npos) << observations;
  EXPECT_EQ(Matches(http, "/fhir/DiagnosticReport"), 1);

  // A resend is accepted and changes nothing.
  EXPECT_EQ(Msa(mllp.Send(kAdtA01)), Expect("AA", "ADT0001"));
  EXPECT_EQ(Msa(mllp.Send(kOruR01)), Expect("AA", "ORU0001"));
  EXPECT_EQ(Matches(http, "/fhir/Patient"), 1);
  EXPECT_EQ(Matches(http, "/fhir/Observation?_count=100"), 2);

  // Garbage is rejected, and the same connection goes on working.
  EXPECT_EQ(Msa(mllp.Send("this is not an HL7 message")), Expect("AR", ""));
  std::string a08 = kAdtA01;
  a08.replace(a08.find("ADT^A01|ADT0001"), 15, "ADT^A08|ADT0002");
  EXPECT_EQ(Msa(mllp.Send(a08)), Expect("AA", "ADT0002"));
  EXPECT_EQ(Matches(http, "/fhir/Patient"), 1);
}

}  // namespace
}  // namespace lhcr
