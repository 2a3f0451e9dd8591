// Link management: the changes people make to the MPI's decisions — link a
// Patient to a Person, unlink it (a Person of its own), merge two Persons,
// split records out of one, accept or reject a review pair — and undoing
// any of them.
//
// Every change is one transaction: the Persons it rewrites (each PUT with
// If-Match on the version it read, so a concurrent change fails it with
// kPrecondition instead of being overwritten) and a Provenance naming who
// did it, why, the activity, and — as entities with role "revision" — the
// version of each Person before the change. Undo reads that Provenance and
// restores those versions (refusing with kConflict when a Person has changed
// since), recorded by a Provenance of its own; an undo can be undone.
//
// A link a person made or confirmed has assurance level4 (grade certain,
// the extension kConfirmedByExtension naming who); `lhcr mpi relink` keeps
// level4 links where they are and matches only the other records.
// Persons' demographics are recomputed by survivorship after each change.
#pragma once

#include <string>
#include <vector>

#include "base/ids.h"
#include "base/status.h"
#include "base/time.h"
#include "ingest/source_registry.h"
#include "interaction/interaction.h"

namespace lhcr::mpi {

inline constexpr std::string_view kConfirmedByExtension =
    "https://lhcr.example/fhir/StructureDefinition/link-confirmed-by";

struct LinkChange {
  std::string provenance;            // "Provenance/<id>"
  std::vector<std::string> persons;  // "Person/<id>" written
};

class LinkManager {
 public:
  // Borrows everything; `registry` (may be null) gives source trust for
  // survivorship.
  LinkManager(interaction::Interactions& interactions, const ingest::SourceRegistry* registry,
              Clock& clock = SystemClock(), IdGenerator& ids = UuidGenerator());

  // `who` and `reason` go into the Provenance. References are "Type/id".
  // Moves `patient` into `person` (from the Person that holds it now).
  Result<LinkChange> Link(const std::string& patient, const std::string& person,
                          const std::string& who, const std::string& reason);
  // Moves `patient` out of its Person into a new Person of its own.
  Result<LinkChange> Unlink(const std::string& patient, const std::string& who,
                            const std::string& reason);
  // Every link of `from` moves into `into`; `from` becomes inactive.
  Result<LinkChange> Merge(const std::string& from, const std::string& into,
                           const std::string& who, const std::string& reason);
  // `patients` (all in `person`) move into a new Person.
  Result<LinkChange> Split(const std::string& person, const std::vector<std::string>& patients,
                           const std::string& who, const std::string& reason);
  // A review-match Task: accept merges the two records' Persons (both links
  // confirmed) and completes the Task; reject records the decision (Task
  // rejected) and moves nothing. kConflict when the Task is not requested.
  Result<LinkChange> AcceptReview(const std::string& task_id, const std::string& who);
  Result<LinkChange> RejectReview(const std::string& task_id, const std::string& who);
  // Restores what the change recorded by `provenance` replaced.
  Result<LinkChange> Undo(const std::string& provenance, const std::string& who);

 private:
  struct Loaded;
  static Loaded NewPerson(const std::string& id);
  Result<std::string> PersonOf(const std::string& patient);
  Result<LinkChange> Write(const std::vector<Loaded>& persons, const std::string& activity,
                           const std::string& who, const std::string& reason,
                           const std::string& extra_entries = "");

  interaction::Interactions& interactions_;
  const ingest::SourceRegistry* const registry_;
  Clock& clock_;
  IdGenerator& ids_;
};

}  // namespace lhcr::mpi
