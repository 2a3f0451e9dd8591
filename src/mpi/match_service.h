// MatchService: `Patient/$match` (FHIR R4 operation,
// http://hl7.org/fhir/R4/patient-operation-match.html) over the stored
// Patients.
//
// It keeps an index of every stored Patient in memory — the prepared record
// and its blocking keys — with a matcher trained on them (the same
// unsupervised pipeline and fixed configuration as relink). The index
// catches up with the store before each request: Patients updated since
// the last one seen (by _lastUpdated) are (re)indexed; the model is trained
// again when the index has doubled since it was last trained.
//
// A request's Patient is scored against the candidates its blocking keys
// find, with the prior that the query is one of the N indexed records (odds
// 1 : N) in place of the model's prior for two records of the region; the
// answer is a searchset Bundle of the stored Patients, best first,
// each with search.score (the match probability) and the match-grade
// extension: certain (>= 0.99999), probable (>= auto-link), possible
// (>= review); anything less is not returned. Parameters: resource (the
// Patient, required), onlyCertainMatches (boolean), count (integer, default
// 10). Errors: a Parameters without a Patient, or not a Parameters, are
// kIncorrect (400).
//
// Thread-safe (one mutex: catching up and matching are serialised).
#pragma once

#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "identity/matcher.h"
#include "ingest/source_registry.h"
#include "interaction/interaction.h"

namespace lhcr::mpi {

inline constexpr std::string_view kMatchGradeSpecExtension =
    "http://hl7.org/fhir/StructureDefinition/match-grade";

class MatchService {
 public:
  // Borrows `interactions`; it must outlive this object.
  MatchService(interaction::Interactions& interactions, identity::MatcherOptions options = {});

  Result<interaction::Response> Match(const interaction::RequestContext& ctx,
                                      const std::string& parameters_json);

  size_t indexed() const;

 private:
  Status CatchUp();
  void Train();

  interaction::Interactions& interactions_;
  const identity::MatcherOptions options_;
  mutable std::mutex mu_;
  std::vector<identity::PreparedRecord> records_;       // guarded by mu_
  std::vector<std::string> refs_;                       // "Patient/<id>", by record
  std::unordered_map<std::string, uint32_t> by_ref_;    // ref -> record
  std::unordered_map<std::string, std::vector<uint32_t>> blocks_;  // key -> records
  std::string last_updated_;                            // newest meta.lastUpdated seen
  std::unique_ptr<identity::Matcher> matcher_;
  size_t trained_on_ = 0;
};

}  // namespace lhcr::mpi
