// Structural validation of FHIR R4 JSON resources against the base R4
// definitions (resources, complex types and primitive types of the official
// package hl7.fhir.r4.examples@4.0.1, compacted at build time by
// tools/gen_structure_defs.py and embedded in lhcr_fhir).
//
// What is checked (docs/VALIDATION.md has the full list and the reasons):
//   * resourceType is present and names a concrete resource type;
//   * every property is a known element of its type (choice elements as
//     valueQuantity etc., one choice per element), "fhir_comments" tolerated;
//   * the JSON kind matches the element type, arrays exactly where max != "1";
//   * min cardinality;
//   * primitive lexical forms per the R4 regexes (hand-written equivalents),
//     integer ranges, no empty strings;
//   * primitive extension siblings "_name" (object, or array aligned with the
//     value array; null only where the other side has content);
//   * no empty objects or arrays, no null outside primitive arrays;
//   * nested resources (contained[], Bundle.entry.resource,
//     Parameters.parameter.resource) validated as their own type;
//     complex data types and contentReference followed recursively.
// Not checked: invariants (FHIRPath constraints), terminology bindings,
// reference targets, profiles.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "fhir/json.h"

namespace lhcr::fhir {

struct ValidatorTables;  // opaque: the element tables, defined in validator.cc

// One problem found in a resource. A value: comparable and printable.
struct ValidationIssue {
  enum class Severity { kError, kWarning };
  Severity severity = Severity::kError;
  // FHIR IssueType code (http://hl7.org/fhir/issue-type):
  //   "invalid"   the document is not a resource of a known concrete type;
  //   "structure" unknown element, wrong JSON kind, array vs single, empty
  //               object/array, misplaced null, several choices, nesting;
  //   "required"  an element with min >= 1 is absent;
  //   "value"     a primitive value is not a valid lexical form / in range.
  std::string code;
  // FHIRPath-style location using JSON property names, e.g.
  // "Patient.name[0].given[1]", "Observation.valueQuantity.value",
  // "Bundle.entry[2].resource.birthDate". A problem with resourceType itself is
  // located at "resourceType" (or "<parent>.resourceType" when nested).
  std::string location;
  std::string message;

  bool operator==(const ValidationIssue&) const = default;
};

// "error structure at Patient.foo: unknown element 'foo' in Patient".
std::string ToString(const ValidationIssue& issue);
std::ostream& operator<<(std::ostream& os, const ValidationIssue& issue);

// An immutable set of element tables built from compacted definitions.
// All const member functions are safe to call concurrently from any number
// of threads without external synchronisation.
class Validator {
 public:
  // The R4 validator over the embedded definitions. Built once on first use
  // (thread-safe); every caller shares the same instance. The embedded
  // definitions are produced by the build, so failing to load them is a
  // programmer error and aborts with a message.
  static std::shared_ptr<const Validator> R4();

  // Builds a validator from the JSON written by tools/gen_structure_defs.py.
  // kIncorrect when the text is not such a document.
  static Result<std::shared_ptr<const Validator>> FromDefinitions(std::string_view json);

  ~Validator();
  Validator(const Validator&) = delete;
  Validator& operator=(const Validator&) = delete;

  // Validates one resource (the root JSON value of a document). Returns every
  // problem found, in document order (required-element problems of an object
  // after those of its properties); empty means structurally valid.
  std::vector<ValidationIssue> Validate(const Json& resource) const;

  // True for a concrete (non-abstract) resource type, e.g. "Patient";
  // false for "Resource", "DomainResource", data types and unknown names.
  bool IsResourceType(std::string_view name) const;

  // The top-level elements of `type` marked isSummary in its base definition
  // (choice elements as "value[x]"), for _summary=true. Empty if unknown.
  const std::vector<std::string>& SummaryElements(std::string_view type) const;

  // Whether `text` is a valid lexical form of the primitive type `type`
  // (e.g. "date", "id", "boolean", "integer") per the R4 definitions'
  // regexes, including the integer ranges and the rule that strings are not
  // empty. False for unknown types. Validate() applies the same checks.
  static bool IsValidPrimitive(std::string_view type, std::string_view text);

 private:
  explicit Validator(std::unique_ptr<const ValidatorTables> tables);
  std::unique_ptr<const ValidatorTables> tables_;
};

}  // namespace lhcr::fhir
