#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "auth/auth.h"

namespace lhcr::auth {
namespace {

class FixedClock : public Clock {
 public:
  Millis Now() override { return now; }
  Millis now = 1'800'000'000'000;
};

class DevIssuerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("lhcr_dev_issuer_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  FixedClock clock_;
};

TEST_F(DevIssuerTest, KeyIsMadeOnceWithOwnerOnlyPermissionsAndKept) {
  auto a = DevIssuer::Open(dir_.string(), clock_);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  struct stat st;
  ASSERT_EQ(::stat((dir_ / "dev-issuer" / "key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto b = DevIssuer::Open(dir_.string(), clock_);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ((*a)->Jwks(), (*b)->Jwks());  // the same key on the second start
}

TEST_F(DevIssuerTest, RefusesAKeyOthersCanRead) {
  ASSERT_TRUE(DevIssuer::Open(dir_.string(), clock_).ok());
  ::chmod((dir_ / "dev-issuer" / "key.pem").c_str(), 0644);
  auto r = DevIssuer::Open(dir_.string(), clock_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIncorrect);
}

TEST_F(DevIssuerTest, TokensOfEachKindVerify) {
  auto issuer = DevIssuer::Open(dir_.string(), clock_);
  ASSERT_TRUE(issuer.ok());
  auto verifier = TokenVerifier::Create({(*issuer)->Config()}, clock_);
  ASSERT_TRUE(verifier.ok()) << verifier.status().ToString();

  TokenRequest pro;
  pro.kind = PrincipalKind::kProfessional;
  pro.user_id = "555021";
  pro.org_ods = "RX1";
  pro.roles = {"R8000", "B0264"};
  auto p = (*verifier)->Verify(*(*issuer)->Issue(pro));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->kind, PrincipalKind::kProfessional);
  EXPECT_EQ(p->user_id, "555021");
  EXPECT_EQ(p->org_ods, "RX1");
  EXPECT_EQ(p->roles, (std::vector<std::string>{"R8000", "B0264"}));
  EXPECT_EQ(p->issuer, DevIssuer::kIssuer);
  EXPECT_EQ(p->expires_at, clock_.now + 3'600'000);
  EXPECT_EQ(p->scopes.size(), 2u);
  EXPECT_FALSE(p->token_id.empty());

  TokenRequest patient;
  patient.kind = PrincipalKind::kPatient;
  patient.nhs_number = "9990001112";
  auto q = (*verifier)->Verify(*(*issuer)->Issue(patient));
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->kind, PrincipalKind::kPatient);
  EXPECT_EQ(q->nhs_number, "9990001112");
  EXPECT_EQ(q->proofing_level, "P9");

  TokenRequest system;
  system.scope = "system/Patient.read";
  auto s = (*verifier)->Verify(*(*issuer)->Issue(system));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->kind, PrincipalKind::kSystem);
  EXPECT_EQ(s->client_id, "lhcr-dev-client");
  ASSERT_EQ(s->scopes.size(), 1u);
  EXPECT_EQ(FormatScope(s->scopes[0]), "system/Patient.read");

  // A token made now is rejected by a verifier two hours later.
  std::string token = *(*issuer)->Issue(system);
  clock_.now += 2 * 3'600'000;
  EXPECT_EQ((*verifier)->Verify(token).status().code(), StatusCode::kUnauthenticated);
}

TEST_F(DevIssuerTest, RefusesIncompleteRequests) {
  auto issuer = DevIssuer::Open(dir_.string(), clock_);
  ASSERT_TRUE(issuer.ok());
  TokenRequest pro;
  pro.kind = PrincipalKind::kProfessional;
  pro.user_id = "1";
  EXPECT_EQ((*issuer)->Issue(pro).status().code(), StatusCode::kIncorrect);  // no org, no role
  TokenRequest patient;
  patient.kind = PrincipalKind::kPatient;
  patient.nhs_number = "12345";
  EXPECT_EQ((*issuer)->Issue(patient).status().code(), StatusCode::kIncorrect);
  patient.nhs_number = "9990001112";
  patient.proofing_level = "P7";
  EXPECT_EQ((*issuer)->Issue(patient).status().code(), StatusCode::kIncorrect);
  TokenRequest bad_scope;
  bad_scope.scope = "system/*.delete";
  EXPECT_EQ((*issuer)->Issue(bad_scope).status().code(), StatusCode::kIncorrect);
}

}  // namespace
}  // namespace lhcr::auth
