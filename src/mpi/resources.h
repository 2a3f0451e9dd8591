// The FHIR resources the MPI writes (docs/MPI.md): Person (the golden
// record, with graded links) and Task (a review-match pair), built the same
// way by relink and by matching at ingest. Pure functions.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fhir/json.h"
#include "identity/matcher.h"

namespace lhcr::mpi {

inline constexpr std::string_view kMatchGradeExtension =
    "https://lhcr.example/fhir/StructureDefinition/match-grade";
inline constexpr std::string_view kMatchScoreExtension =
    "https://lhcr.example/fhir/StructureDefinition/match-score";
inline constexpr std::string_view kMpiTaskSystem = "https://lhcr.example/fhir/CodeSystem/mpi-task";

// Probability at or above which a link is certain.
inline constexpr double kCertainProbability = 0.99999;

// Link grades: certain (one record, a merge by its source, or probability
// >= kCertainProbability), probable (>= the auto-link threshold), possible
// (in the cluster through others only). FHIR assurance level3/level2/level1.
enum class Grade { kCertain, kProbable, kPossible };
std::string_view GradeName(Grade g);
std::string_view AssuranceOf(Grade g);

// A Patient as a member of a Person.
struct Member {
  std::string ref;      // "Patient/<id>", or the urn:uuid of a Bundle entry
  std::string source;   // meta.source up to '#'
  double trust = 0.5;   // the source's identity_trust
  std::string updated;  // meta.lastUpdated
  std::string json;     // the Patient
};

// The Person `id` linking `members` (grades and scores by member), its
// demographics by survivorship: per item the value of the member whose
// source is most trusted, then the most recently updated.
std::string PersonJson(const std::string& id, const std::vector<const Member*>& members,
                       const std::vector<Grade>& grades, const std::vector<double>& scores);

// "given=4(+3.9) family=4(+6.2) ...; weight +9.3, probability 0.987".
std::string Evidence(const identity::FellegiSunterModel& model, const identity::ScoredPair& p);

// The review Task of a pair (the same id whichever order they come in).
std::string ReviewTaskId(const std::string& a, const std::string& b);
std::string ReviewTaskJson(const std::string& id, const std::string& a, const std::string& b,
                           double probability, const std::string& evidence,
                           const std::string& reason, const std::string& status);
// The two record references a review Task asks about (focus, candidate);
// empty strings where the Task lacks one.
std::pair<std::string, std::string> ReviewTaskPair(const fhir::Json& task);

}  // namespace lhcr::mpi
