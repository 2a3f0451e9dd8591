#include "app/terminology_setup.h"

#include <filesystem>
#include <iostream>

namespace lhcr {

Result<std::shared_ptr<const terminology::Terminology>> LoadTerminology(
    const std::string& dir, const ingest::SourceRegistry* registry) {
  terminology::TerminologyBuilder builder;
  std::string folder = dir.empty() ? LHCR_DEFAULT_TERMINOLOGY : dir;
  std::error_code ec;
  if (dir.empty() && !std::filesystem::is_directory(folder, ec)) {
    std::cerr << "lhcr: no terminology folder at " << folder
              << " (give one with --terminology)" << std::endl;
  } else {
    Status s = builder.LoadDirectory(folder);
    if (!s.ok()) return Status(s.code(), "--terminology: " + s.message());
  }
  (void)registry;
  return std::move(builder).Build();
}

}  // namespace lhcr
