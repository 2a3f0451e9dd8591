#include "app/token_command.h"

#include <iostream>

#include "auth/auth.h"
#include "base/time.h"

namespace lhcr {

CLI::App* AddTokenCommand(CLI::App& app, TokenArgs& args) {
  CLI::App* t = app.add_subcommand(
      "token", "Print a bearer token of the development issuer (lhcr serve --dev-issuer)");
  t->add_option("--data", args.data, "Data directory (holds the issuer's key)")
      ->capture_default_str();
  auto* sys = t->add_flag("--system", args.system, "A system (client credentials) token");
  auto* pro = t->add_option("--professional", args.professional,
                            "A professional's token for this user id (CIS2 style)");
  auto* pat = t->add_option("--patient", args.patient,
                            "A patient's token for this NHS number (NHS login style)");
  sys->excludes(pro)->excludes(pat);
  pro->excludes(pat);
  t->add_option("--org", args.org, "ODS code of the organisation the professional acts for")
      ->needs(pro);
  t->add_option("--role", args.roles, "RBAC role code of the professional (repeatable)")
      ->needs(pro);
  t->add_option("--proofing", args.proofing, "The patient's identity proofing level")
      ->check(CLI::IsMember({"P0", "P5", "P9"}))
      ->capture_default_str()
      ->needs(pat);
  t->add_option("--client", args.client, "Client id (the app or system)")->capture_default_str();
  t->add_option("--scope", args.scope,
                "SMART v1 scopes (default: system/*.read system/*.write, user/*.read "
                "user/*.write, or patient/*.read)");
  t->add_option("--ttl", args.ttl_seconds, "Lifetime in seconds")
      ->check(CLI::Range(1, 86400 * 30))
      ->capture_default_str();
  return t;
}

int RunToken(const TokenArgs& args) {
  auth::TokenRequest r;
  if (args.system) {
    r.kind = auth::PrincipalKind::kSystem;
  } else if (!args.professional.empty()) {
    r.kind = auth::PrincipalKind::kProfessional;
    r.user_id = args.professional;
    r.org_ods = args.org;
    r.roles = args.roles;
  } else if (!args.patient.empty()) {
    r.kind = auth::PrincipalKind::kPatient;
    r.nhs_number = args.patient;
    r.proofing_level = args.proofing;
  } else {
    std::cerr << "lhcr token: say which: --system, --professional USER or --patient NHS_NUMBER\n";
    return 2;
  }
  r.client_id = args.client;
  r.scope = args.scope;
  r.lifetime_ms = static_cast<Millis>(args.ttl_seconds) * 1000;
  auto issuer = auth::DevIssuer::Open(args.data, SystemClock());
  if (!issuer.ok()) {
    std::cerr << "lhcr token: " << issuer.status().message() << "\n";
    return issuer.status().code() == StatusCode::kIncorrect ? 2 : 1;
  }
  auto token = (*issuer)->Issue(r);
  if (!token.ok()) {
    std::cerr << "lhcr token: " << token.status().message() << "\n";
    return 2;
  }
  std::cout << *token << "\n";
  return 0;
}

}  // namespace lhcr
