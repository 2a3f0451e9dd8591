// AuditMiddleware's reading of a request: the interaction, action, target,
// Patients and caller it records (the HTTP round trip is in
// tests/audit_http_test.cc).
#include "api/audit_middleware.h"

#include <gtest/gtest.h>

namespace lhcr::api {
namespace {

HttpRequest Req(std::string method, std::string target,
                std::vector<std::pair<std::string, std::string>> headers = {}) {
  HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.headers = std::move(headers);
  r.remote = "[::1]:5555";
  return r;
}

TEST(AuditMiddlewareTest, DescribesEachInteraction) {
  struct Case {
    std::string method, target, subtype;
    char action;
    std::vector<audit::EntityRef> entities;
    std::vector<std::string> patients;
  };
  const std::vector<Case> cases = {
      {"GET", "/fhir/Observation/o1", "read", 'R', {{"Observation", "o1"}}, {}},
      {"GET", "/fhir/Patient/p1", "read", 'R', {{"Patient", "p1"}}, {"p1"}},
      {"HEAD", "/fhir/Patient/p1/_history/2", "vread", 'R', {{"Patient", "p1"}}, {"p1"}},
      {"GET", "/fhir/Patient/p1/_history", "history-instance", 'R', {{"Patient", "p1"}}, {"p1"}},
      {"GET",
       "/fhir/Observation?subject=Patient/p2,Group/g,http://x/fhir/Patient/p3",
       "search-type",
       'R',
       {{"Observation", ""}},
       {"p2", "p3"}},
      {"GET", "/fhir/Patient?_id=p4", "search-type", 'R', {{"Patient", ""}}, {"p4"}},
      {"POST", "/fhir/Condition/_search", "search-type", 'R', {{"Condition", ""}}, {}},
      {"POST", "/fhir/Observation", "create", 'C', {{"Observation", ""}}, {}},
      {"PUT", "/fhir/Observation/o1", "update", 'U', {{"Observation", "o1"}}, {}},
      {"PATCH", "/fhir/Observation/o1", "patch", 'U', {{"Observation", "o1"}}, {}},
      {"DELETE", "/fhir/Observation/o1", "delete", 'D', {{"Observation", "o1"}}, {}},
      {"POST", "/fhir", "transaction", 'E', {}, {}},
      {"GET", "/fhir/metadata", "capabilities", 'R', {}, {}},
      {"GET", "/fhir/_history", "history-system", 'R', {}, {}},
      {"GET", "/fhir/Observation/_history", "history-type", 'R', {{"Observation", ""}}, {}},
      {"GET", "/fhir/Patient/p5/$everything", "operation", 'R', {{"Patient", "p5"}}, {"p5"}},
      {"POST", "/fhir/Patient/$match", "operation", 'E', {{"Patient", ""}}, {}},
      {"POST", "/ingest/gp-1", "operation", 'E', {}, {}},
  };
  for (const Case& c : cases) {
    audit::Event e = AuditMiddleware::Describe(Req(c.method, c.target), 42);
    EXPECT_EQ(e.subtype, c.subtype) << c.method << " " << c.target;
    EXPECT_EQ(e.action, c.action) << c.method << " " << c.target;
    EXPECT_EQ(e.entities, c.entities) << c.method << " " << c.target;
    EXPECT_EQ(e.patients, c.patients) << c.method << " " << c.target;
    EXPECT_EQ(e.recorded, 42);
    EXPECT_EQ(e.address, "::1");
  }
}

TEST(AuditMiddlewareTest, CallerFromHeadersAndFromAPrincipal) {
  HttpRequest r = Req("GET", "/fhir/Patient/p1",
                      {{"X-Lhcr-User", "u1"},
                       {"X-Lhcr-Org", "RX1"},
                       {"X-Lhcr-Role", "R8000"},
                       {"X-Lhcr-Break-Glass", "unconscious"}});
  audit::Actor h = AuditMiddleware::ActorOf(r);
  EXPECT_EQ(h, (audit::Actor{audit::ActorKind::kProfessional, "u1", "RX1", "R8000", "",
                             "unconscious", ""}));
  EXPECT_EQ(AuditMiddleware::ActorOf(Req("GET", "/fhir/metadata")).kind,
            audit::ActorKind::kAnonymous);

  auth::Principal p;
  p.kind = auth::PrincipalKind::kProfessional;
  p.subject = "sub-9";
  p.user_id = "555";
  p.org_ods = "RX2";
  p.roles = {"R8003", "R8000"};
  audit::RequestScope scope(AuditMiddleware::Describe(r, 1));
  AuditMiddleware::NameCaller(p);
  EXPECT_EQ(scope.event().actor, (audit::Actor{audit::ActorKind::kProfessional, "555", "RX2",
                                               "R8003", "", "unconscious", ""}));

  auth::Principal patient;
  patient.kind = auth::PrincipalKind::kPatient;
  patient.subject = "nhs-login-sub";
  patient.nhs_number = "9999999999";
  audit::Actor a = AuditMiddleware::ActorOf(patient, {});
  EXPECT_EQ(a.kind, audit::ActorKind::kPatient);
  EXPECT_EQ(a.user, "9999999999");
  EXPECT_EQ(a.purpose_of_use, "PATRQT");
}

}  // namespace
}  // namespace lhcr::api
