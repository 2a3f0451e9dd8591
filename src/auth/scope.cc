// SMART on FHIR v1 scopes (http://hl7.org/fhir/smart-app-launch/1.0.0/scopes-and-launch-context/).
#include "auth/auth.h"

namespace lhcr::auth {

std::string_view PrincipalKindName(PrincipalKind kind) {
  switch (kind) {
    case PrincipalKind::kProfessional:
      return "professional";
    case PrincipalKind::kPatient:
      return "patient";
    case PrincipalKind::kSystem:
      return "system";
  }
  return "system";
}

Result<std::vector<Scope>> ParseScopes(std::string_view scopes) {
  std::vector<Scope> out;
  size_t pos = 0;
  while (pos < scopes.size()) {
    size_t end = scopes.find(' ', pos);
    if (end == std::string_view::npos) end = scopes.size();
    std::string_view s = scopes.substr(pos, end - pos);
    pos = end + 1;
    if (s.empty()) continue;
    Scope scope;
    std::string_view rest;
    if (s.starts_with("patient/")) {
      scope.context = Scope::Context::kPatient;
      rest = s.substr(8);
    } else if (s.starts_with("user/")) {
      scope.context = Scope::Context::kUser;
      rest = s.substr(5);
    } else if (s.starts_with("system/")) {
      scope.context = Scope::Context::kSystem;
      rest = s.substr(7);
    } else {
      continue;  // openid, fhirUser, launch, launch/patient, offline_access, ...
    }
    size_t dot = rest.find('.');
    if (dot == std::string_view::npos || dot == 0) {
      return Status::Incorrect("scope \"" + std::string(s) + "\" is not context/type.access");
    }
    std::string_view type = rest.substr(0, dot);
    std::string_view access = rest.substr(dot + 1);
    if (type != "*") {
      bool ok = type[0] >= 'A' && type[0] <= 'Z';
      for (char c : type) {
        ok = ok && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
      }
      if (!ok) return Status::Incorrect("scope \"" + std::string(s) + "\" names no resource type");
    }
    if (access == "read") {
      scope.read = true;
    } else if (access == "write") {
      scope.write = true;
    } else if (access == "*") {
      scope.read = scope.write = true;
    } else {
      return Status::Incorrect("scope \"" + std::string(s) +
                               "\" has access other than read, write or *");
    }
    scope.resource_type = std::string(type);
    out.push_back(std::move(scope));
  }
  return out;
}

std::string FormatScope(const Scope& scope) {
  std::string s = scope.context == Scope::Context::kPatient ? "patient/"
                  : scope.context == Scope::Context::kUser  ? "user/"
                                                            : "system/";
  s += scope.resource_type;
  s += scope.read && scope.write ? ".*" : scope.read ? ".read" : ".write";
  return s;
}

std::string DescribePrincipal(const Principal& p) {
  std::string s(PrincipalKindName(p.kind));
  auto add = [&](std::string_view name, const std::string& v) {
    if (!v.empty()) s += " " + std::string(name) + "=" + v;
  };
  add("sub", p.subject);
  add("uid", p.user_id);
  add("org", p.org_ods);
  std::string roles;
  for (const auto& r : p.roles) roles += (roles.empty() ? "" : ",") + r;
  add("roles", roles);
  add("nhs_number", p.nhs_number);
  add("proofing", p.proofing_level);
  add("client", p.client_id);
  std::string scopes;
  for (const auto& sc : p.scopes) scopes += (scopes.empty() ? "" : ",") + FormatScope(sc);
  add("scopes", scopes);
  add("iss", p.issuer);
  add("jti", p.token_id);
  add("tls", p.tls_client_subject);
  return s;
}

}  // namespace lhcr::auth
