// PatientLinker: how the master patient index takes part in ingest. Before
// an item's transaction is written, the linker is shown the Bundle and
// returns entries to add to it — the Person each new Patient is linked to
// (and a review Task when the match is uncertain) — so that a record and
// its link are committed together, or not at all. Implemented by the MPI
// (mpi/match_service.h); ingest knows only this interface.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace lhcr::ingest {

class PatientLinker {
 public:
  virtual ~PatientLinker() = default;
  // Bundle entries (each a JSON object with fullUrl, resource and request)
  // to append to the transaction `bundle_json`. A Person PUT carries an
  // If-Match on the version it was read at: a concurrent change makes the
  // transaction fail with kPrecondition/kConflict, and the item is tried
  // again. Must be thread-safe.
  virtual Result<std::vector<std::string>> LinkEntries(const std::string& bundle_json) = 0;
};

}  // namespace lhcr::ingest
