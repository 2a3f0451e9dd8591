#include "app/audit_command.h"

#include <filesystem>
#include <iostream>

#include "audit/audit.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace lhcr {

CLI::App* AddAuditCommand(CLI::App& app, AuditArgs& args) {
  CLI::App* audit = app.add_subcommand("audit", "Audit trail tools");
  audit->require_subcommand(1);
  CLI::App* verify = audit->add_subcommand(
      "verify",
      "Check the audit chain and its signed checkpoints; print 'ok N entries' or the first bad "
      "entry (exit 1)");
  verify->add_option("--data", args.data, "Data directory (checkpoints and signing key)")
      ->capture_default_str();
  verify->add_option("--store", args.store, "Store URL (postgres://...); default SQLite in --data");
  return verify;
}

int RunAuditVerify(const AuditArgs& args) {
  Result<std::unique_ptr<store::Store>> store = Status::Incorrect("no store");
  if (!args.store.empty()) {
    if (!store::IsPostgresUrl(args.store)) {
      std::cerr << "lhcr audit verify: --store takes postgres://... or postgresql://..., got "
                << args.store << "\n";
      return 2;
    }
    store::PostgresOptions po;
    po.conninfo = args.store;
    po.read_only = true;
    store = store::OpenPostgresStore(po);
  } else {
    const std::string path = (std::filesystem::path(args.data) / "lhcr.db").string();
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      std::cerr << "lhcr audit verify: no store in " << args.data << " (" << path << ")\n";
      return 2;
    }
    store::SqliteOptions so;
    so.path = path;
    store = store::OpenSqliteStore(so);
  }
  if (!store.ok()) {
    std::cerr << "lhcr audit verify: " << store.status().ToString() << "\n";
    return 2;
  }
  Result<audit::VerifyReport> r = audit::Verify(**store, args.data);
  (*store)->Close();
  if (!r.ok()) {
    std::cerr << "lhcr audit verify: " << r.status().ToString() << "\n";
    return 2;
  }
  if (!r->ok) {
    std::cout << "bad entry " << r->first_bad << ": " << r->problem << std::endl;
    return 1;
  }
  std::cout << "ok " << r->entries << " entries (" << r->checkpoints << " signed checkpoints)"
            << std::endl;
  return 0;
}

}  // namespace lhcr
