// `lhcr record report`: how the consolidated record collapses a region's
// source records (docs/RECORD.md "Report").
//
//   lhcr record report --data DIR [--truth REGION/truth.csv --seed S]
//
// For every active Person in the store: gather its linked records, apply the
// consolidation rules, and add up per category how many source records
// became how many consolidated items. Prints one line per category
//   "<category> <source items> -> <consolidated items> (<ratio>x)"
// after "record report: P persons, S source items in T s", then
//   "medications: A active, S stopped, H hospital-only; conflicts: D
//   dose-differs, C status-differs". With --truth
// (the truth.csv of the `lhcr synth` region that was ingested, and its
// --seed), also spot checks against the truth:
//   - items mixing people: consolidated items whose sources belong to more
//     than one true person (the MPI's false links show up here);
//   - truth medicines: for a sample of people, each medicine the synthetic
//     person truly has appears in exactly one medication entry of that
//     person's record (missing / duplicated counts, and how many of the
//     missing belong to people the MPI split over several Persons).
// Exit 0, 2 for bad arguments, 1 when the store fails.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <ostream>
#include <string>

#include "ingest/source_registry.h"
#include "store/store.h"
#include "terminology/terminology.h"

namespace lhcr {

struct RecordReportArgs {
  std::string truth;      // REGION/truth.csv; empty: no spot checks
  uint64_t seed = 1;      // the region's `lhcr synth --seed`
  std::string codelists;  // as given to `lhcr synth` (default ../shared/data/codelists)
  int sample = 200;       // people whose medicines are checked against truth
};

// The report over a store (what the verb runs once it has opened things).
int RunRecordReport(const RecordReportArgs& args, store::Store& store,
                    const ingest::SourceRegistry* registry,
                    const terminology::Terminology* terminology, std::ostream& out);

struct RecordCommandArgs {
  std::string data = "lhcr-data";  // SQLite store DIR/lhcr.db
  std::string sources;             // registry; default DATA/sources.json
  std::string terminology;         // default: the shipped subset
  RecordReportArgs report;
};

// Adds `lhcr record report` to `app`; returns the `report` subcommand.
CLI::App* AddRecordCommand(CLI::App& app, RecordCommandArgs& args);
// Opens the store, registry and terminology and runs the report.
int RunRecordCommand(const RecordCommandArgs& args);

}  // namespace lhcr
