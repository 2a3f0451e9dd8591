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
#include "testing/test_server.h"

namespace lhcr {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string LhcrBinary() {
  const char* env = std::getenv("LHCR_BINARY");
  return env != nullptr && *env != '\0' ? env : LHCR_BINARY;
}

// `lhcr serve --listen 127.0.0.1:0 --mllp 127.0.0.1:0` as a child; killed
// and reaped on destruction. Reads the two start lines for the ports.
class Lhcr {
 public:
  Lhcr(const std::string& data_dir, const std::string& sources) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    std::vector<std::string> args = {
        LhcrBinary(),  "serve",     "--data", data_dir,     "--listen",  "127.0.0.1:0", "--mllp",
        "127.0.0.1:0", "--workers", "4",      "--no-fsync", "--sources", sources};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      dup2(fds[1], STDOUT_FILENO);
      for (int fd = 3; fd < 4096; ++fd) close(fd);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(fds[1]);
    fd_ = fds[0];
    const std::string http = ReadLine(30s);
    const std::string mllp = ReadLine(10s);
    const std::string http_prefix = "lhcr serving http://127.0.0.1:";
    const std::string mllp_prefix = "lhcr mllp listening on 127.0.0.1:";
    if (http.rfind(http_prefix, 0) == 0) http_port_ = std::atoi(http.c_str() + http_prefix.size());
    if (mllp.rfind(mllp_prefix, 0) == 0) mllp_port_ = std::atoi(mllp.c_str() + mllp_prefix.size());
    if (http_port_ == 0 || mllp_port_ == 0) {
      ADD_FAILURE() << "lhcr did not start; its output: " << http << "\n" << mllp;
    }
  }
  ~Lhcr() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    if (fd_ >= 0) close(fd_);
  }
  uint16_t http_port() const { return static_cast<uint16_t>(http_port_); }
  uint16_t mllp_port() const { return static_cast<uint16_t>(mllp_port_); }

 private:
  std::string ReadLine(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      pollfd p{fd_, POLLIN, 0};
      int left = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
      if (left <= 0 || poll(&p, 1, left) <= 0) return "";
      char b[1024];
      ssize_t n = read(fd_, b, sizeof b);
      if (n <= 0) return "";
      buf_.append(b, static_cast<size_t>(n));
    }
  }
  pid_t pid_ = -1;
  int fd_ = -1;
  int http_port_ = 0;
  int mllp_port_ = 0;
  std::string buf_;
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
