// `lhcr ingest`: feeds from files into a data directory, offline.
//
//   lhcr ingest --data DIR --source ID FILE...   files of one registered source
//   lhcr ingest --data DIR REGION_DIR            a whole region from `lhcr synth`
//                                                (its sources.json is copied to
//                                                DIR/sources.json first)
//   lhcr ingest --data DIR --replay              every held quarantined item
//
// The registry is --sources FILE, else DIR/sources.json. Prints one line per
// file and a total line:
//   ingest: N items (A accepted, R rejected), W resources written, U unchanged,
//     F findings in T s (X resources/s)
// Exit 0 when every item was taken, 3 when some were rejected (quarantined;
// the rest is stored), 2 for bad arguments, 1 when the store fails.
#pragma once

#include <string>
#include <vector>

#include "ingest/source_registry.h"
#include "interaction/interaction.h"

namespace lhcr {

struct IngestArgs {
  std::string data = "lhcr-data";
  std::string store;    // empty: SQLite in `data`
  std::string sources;  // registry file; default DATA/sources.json
  std::string source;   // --source ID: the files are this source's
  std::vector<std::string> paths;
  int threads = 4;
  bool fsync = true;
  bool replay = false;
  bool link = true;  // match each new Patient to a Person at ingest (the MPI)
  std::string terminology;  // --terminology DIR; empty: the shipped subset
  bool translate = true;    // translate codes and units at ingest (docs/TERMINOLOGY.md)
};

// Checks the arguments and prepares the registry (copying a region's
// sources.json into the data directory). kIncorrect for bad arguments.
Result<ingest::SourceRegistry> PrepareIngest(const IngestArgs& args);

// Runs the ingest; returns the exit code.
int RunIngest(const IngestArgs& args, const ingest::SourceRegistry& registry,
              interaction::Interactions& interactions);

}  // namespace lhcr
