#include "mpi/region_evaluation.h"

#include <chrono>
#include <cstdio>
#include <string>

#include "mpi/region_reader.h"

namespace lhcr::mpi {

using namespace ::lhcr::identity;  // the matching core this reads for

Status RunRegionMpiEval(const MpiEvalArgs& args, const MatcherOptions& options, std::ostream& out) {
  if (args.truth.empty()) return Status::Incorrect("give --truth REGION_DIR");
  if (!args.febrl.empty() || !args.link.empty() || !args.splink.empty()) {
    return Status::Incorrect("--truth cannot be combined with --febrl/--link/--splink");
  }
  auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(RegionLabelled region, LoadRegion(args.truth));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const RegionReadStats& st = region.stats;
  size_t read = region.data.records.size() + region.not_in_truth.size();
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "region %s: read %zu source records from %zu sources (%zu FHIR Bundles, %zu HL7 "
                "messages with %zu A40 merges not applied, %zu CSV rows) in %.2f s; truth rows "
                "%zu, not in truth %zu, in truth but not read %zu\n",
                args.truth.c_str(), read, st.records_per_source.size(), st.fhir_bundles,
                st.hl7_messages, st.hl7_merges, st.csv_rows, seconds, region.truth_rows,
                region.not_in_truth.size(), region.not_read.size());
  out << buf;
  out << "records per source:";
  for (const auto& [source, n] : st.records_per_source) out << " " << source << " " << n;
  out << "\n";
  for (size_t i = 0; i < region.not_in_truth.size() && i < 5; ++i) {
    out << "  not in truth: " << region.not_in_truth[i] << "\n";
  }
  for (size_t i = 0; i < region.not_read.size() && i < 5; ++i) {
    out << "  not read: " << region.not_read[i] << "\n";
  }
  EvaluateLabelled(region.data, options, args, out);
  return Status::Ok();
}

}  // namespace lhcr::mpi
