// `lhcr token`: prints a bearer token of the development issuer (auth.h
// DevIssuer, its key in DATA/dev-issuer/) on stdout, for the demo and tests.
//
//   lhcr token --data DIR --system [--client ID]
//   lhcr token --data DIR --professional USER --org ODS --role CODE [--role CODE...]
//   lhcr token --data DIR --patient NHS_NUMBER [--proofing P9]
//   ... [--scope "patient/*.read ..."] [--ttl SECONDS]
//
// The token is accepted by `lhcr serve --dev-issuer` on the same data
// directory. Exit 0 with the token and a newline on stdout; 2 for bad
// arguments; 1 when the key cannot be read or made.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace lhcr {

struct TokenArgs {
  std::string data = "lhcr-data";
  bool system = false;
  std::string professional;  // user id
  std::string org;
  std::vector<std::string> roles;
  std::string patient;  // NHS number
  std::string proofing = "P9";
  std::string client = "lhcr-dev-client";
  std::string scope;
  int ttl_seconds = 3600;
};

// Adds the `token` subcommand to `app`, parsing into `args`.
CLI::App* AddTokenCommand(CLI::App& app, TokenArgs& args);
// Runs it; returns the exit code.
int RunToken(const TokenArgs& args);

}  // namespace lhcr
