// `lhcr audit verify --data DIR [--store postgres://...]`: walks the audit
// chain (audit/audit.h) and the signed checkpoints in DIR. Prints
//   ok N entries (C signed checkpoints)
// and exits 0; or
//   bad entry S: WHAT IS WRONG
// and exits 1; 2 when the store cannot be opened or read.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace lhcr {

struct AuditArgs {
  std::string data = "lhcr-data";
  std::string store;  // empty: SQLite in `data`
};

// Adds `audit verify` to `app`; returns the verify subcommand.
CLI::App* AddAuditCommand(CLI::App& app, AuditArgs& args);
int RunAuditVerify(const AuditArgs& args);

}  // namespace lhcr
