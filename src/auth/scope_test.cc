#include <gtest/gtest.h>

#include "auth/auth.h"

namespace lhcr::auth {
namespace {

TEST(ScopeTest, ParsesSmartV1ResourceScopesAndSkipsOthers) {
  auto s = ParseScopes(
      "openid fhirUser launch/patient patient/*.read  user/Observation.read "
      "system/*.write user/Patient.* offline_access");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  std::vector<Scope> want = {{Scope::Context::kPatient, "*", true, false},
                             {Scope::Context::kUser, "Observation", true, false},
                             {Scope::Context::kSystem, "*", false, true},
                             {Scope::Context::kUser, "Patient", true, true}};
  EXPECT_EQ(*s, want);
  std::vector<std::string> printed;
  for (const Scope& sc : *s) printed.push_back(FormatScope(sc));
  EXPECT_EQ(printed, (std::vector<std::string>{"patient/*.read", "user/Observation.read",
                                               "system/*.write", "user/Patient.*"}));
}

TEST(ScopeTest, RejectsMalformedResourceScopes) {
  for (const char* bad : {"patient/Observation", "user/.read", "user/*.delete",
                          "system/observation.read", "user/Obs-x.read", "patient/*."}) {
    auto s = ParseScopes(bad);
    EXPECT_FALSE(s.ok()) << bad;
    if (!s.ok()) EXPECT_EQ(s.status().code(), StatusCode::kIncorrect) << bad;
  }
  EXPECT_TRUE(ParseScopes("").ok());
}

TEST(ScopeTest, DescribesAPrincipal) {
  Principal p;
  p.kind = PrincipalKind::kProfessional;
  p.user_id = "555";
  p.org_ods = "RX1";
  p.roles = {"R8000"};
  p.scopes = {{Scope::Context::kUser, "*", true, false}};
  EXPECT_EQ(DescribePrincipal(p), "professional uid=555 org=RX1 roles=R8000 scopes=user/*.read");
}

}  // namespace
}  // namespace lhcr::auth
