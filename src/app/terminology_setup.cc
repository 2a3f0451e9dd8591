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
    std::cerr << "lhcr: no terminology folder at " << folder << " (give one with --terminology)"
              << std::endl;
  } else {
    Status s = builder.LoadDirectory(folder);
    if (!s.ok()) return Status(s.code(), "--terminology: " + s.message());
  }
  if (registry != nullptr) {
    // Each source's local code map, as the ConceptMap it declares.
    for (const ingest::Source& src : registry->sources()) {
      if (src.local_code_map_csv.empty() || src.local_code_systems.empty()) continue;
      Status s =
          builder.AddLocalCodeMap(src.local_code_map_csv, src.local_code_systems.begin()->second,
                                  ingest::LocalCodeMapUrl(src));
      if (!s.ok()) {
        return Status(s.code(),
                      "source " + src.id + ": " + src.local_code_map + ": " + s.message());
      }
    }
  }
  std::shared_ptr<const terminology::Terminology> t = std::move(builder).Build();
  if (registry != nullptr) {
    for (const ingest::Source& src : registry->sources()) {
      for (const std::string& url : src.concept_maps) {
        if (t->FindConceptMap(url) == nullptr) {
          return Status::NotFound("source " + src.id + " declares concept map " + url +
                                  ", which is not loaded");
        }
      }
    }
  }
  return t;
}

}  // namespace lhcr
