// MatchService: `Patient/$match` (FHIR R4 operation,
// http://hl7.org/fhir/R4/patient-operation-match.html) over the stored
// Patients.
//
// It keeps an index of every stored Patient in memory — the prepared record
// and its blocking keys — with a matcher trained on them (the same
// unsupervised pipeline and fixed configuration as relink). The index
// catches up with the store before each request: Patients updated since
// the last one seen (by _lastUpdated) are (re)indexed; the model is trained
// again when the index has doubled since it was last trained, on a sample of
// at most kMaxTrainingRecords records.
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
// It is also the ingest's PatientLinker (ingest/linker.h): each Patient an
// ingest transaction writes that is not linked yet gets, in the same
// transaction, a link to the Person of its best candidate when that pair
// auto-links (the region's own prior, as relink decides), else a new Person
// of its own — plus a review Task when the best candidate is uncertain. No
// auto-link is made while fewer than kMinRecordsToLink records are indexed
// (the model is not yet worth trusting): those records get Persons of their
// own, and `lhcr mpi relink` joins them later. Two records of one person
// ingested at the same moment through different sources may both get new
// Persons (a missed link, never a false one); relink joins them.
// An update of a linked Patient is re-evaluated against the other records
// of its Person: when it no longer matches any of them even at the review
// bar, it moves out to a Person of its own with a review Task (a link a
// person confirmed, level4, never moves).
//
// Thread-safe (one mutex: catching up, matching and linking are serialised).
#pragma once

#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "fhir/json.h"
#include "identity/matcher.h"
#include "ingest/linker.h"
#include "ingest/source_registry.h"
#include "interaction/interaction.h"

namespace lhcr::mpi {

inline constexpr std::string_view kMatchGradeSpecExtension =
    "http://hl7.org/fhir/StructureDefinition/match-grade";

class MatchService : public ingest::PatientLinker {
 public:
  static constexpr size_t kMinRecordsToLink = 1000;
  // Training looks at a uniform sample of at most this many records
  // (identity::Matcher::TrainOnSample): the candidate pairs of a whole
  // region of millions would cost minutes and gigabytes for the same m, u
  // and prior.
  static constexpr size_t kMaxTrainingRecords = 200000;

  // Borrows `interactions`; it must outlive this object.
  MatchService(interaction::Interactions& interactions, identity::MatcherOptions options = {},
               const ingest::SourceRegistry* registry = nullptr,
               size_t min_records_to_link = kMinRecordsToLink,
               size_t max_training_records = kMaxTrainingRecords);

  Result<interaction::Response> Match(const interaction::RequestContext& ctx,
                                      const std::string& parameters_json);

  // ingest::PatientLinker
  Result<std::vector<std::string>> LinkEntries(const std::string& bundle_json) override;

  size_t indexed() const;

 private:
  Status CatchUp();
  // The status of the review Task of the pair (a, b) when a person has
  // decided it ("rejected": two people; "completed": one), else "".
  Result<std::string> HumanDecision(const std::string& a, const std::string& b);
  Result<std::optional<std::string>> Reevaluate(const fhir::Json& patient,
                                                const std::string& target,
                                                std::vector<std::string>& out);
  void Train();

  interaction::Interactions& interactions_;
  const identity::MatcherOptions options_;
  const ingest::SourceRegistry* const registry_;
  const size_t min_records_to_link_;
  const size_t max_training_records_;
  mutable std::mutex mu_;
  std::vector<identity::PreparedRecord> records_;       // guarded by mu_
  std::vector<std::string> refs_;                       // "Patient/<id>", by record
  std::unordered_map<std::string, uint32_t> by_ref_;    // ref -> record
  std::unordered_map<std::string, std::vector<uint32_t>> blocks_;  // key -> records
  std::unordered_map<std::string, std::string> person_of_;  // Patient ref -> Person id
  std::unordered_map<std::string, std::vector<std::string>> members_of_;  // Person -> refs
  std::set<std::string> confirmed_;  // Patient refs whose link is level4
  std::string last_updated_;                            // newest Patient meta.lastUpdated seen
  std::string last_person_updated_;                     // newest Person meta.lastUpdated seen
  std::unique_ptr<identity::Matcher> matcher_;
  size_t trained_on_ = 0;
};

}  // namespace lhcr::mpi
