// FhirPath: a compiled evaluator for the subset of FHIRPath that the R4
// SearchParameter expressions use, over RapidJSON values.
//
// Supported (every construct found in the 1,400 SearchParameter expressions
// of hl7.fhir.r4.examples@4.0.1, see fhirpath_test.cc):
//   - path navigation, a leading resource type name ("Observation.code"; the
//     base names "Resource" and "DomainResource" match any resource), arrays
//     flattened, choice types ("value" finds valueQuantity, valueString, ...:
//     a key that is the name followed by a FHIR type name);
//   - `|` union, `=` / `!=` equality, `and` / `or`, parentheses;
//   - `X as T`, `X is T`, `.as(T)`, `.is(T)`, `.ofType(T)`;
//   - `.where(expr)`, `.exists()`, `.empty()`, `.not()`, `.first()`,
//     `.last()`, `[n]`;
//   - `.extension('url')`, `.hasExtension('url')`;
//   - `.resolve()`, decided without a store from the reference itself (see
//     Evaluate), so `where(resolve() is Patient)` works at ingest;
//   - string, boolean and integer literals, `$this`, `%resource`.
// Anything else is rejected by Compile with kUnsupported.
//
// Results are PathValues: a pointer into the evaluated resource plus the FHIR
// type name when it is known (from a choice suffix: valueDateTime ->
// "dateTime", valueQuantity -> "Quantity"; from as()/ofType(); "boolean" for
// computed booleans). Pointers stay valid while the resource and the FhirPath
// live.
//
// A FhirPath is immutable after Compile, cheap to copy (shared program), and
// safe to evaluate from several threads at once.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "fhir/json.h"

namespace lhcr::fhir {

// One item of a FHIRPath result collection.
struct PathValue {
  const Json* node = nullptr;
  // FHIR type name when known ("dateTime", "Quantity", "boolean", or for
  // resolve() the referenced resource type), else empty.
  std::string_view type;
};

struct FhirPathOptions {
  // The resource type `resolve()` assumes for a Reference whose type cannot
  // be told from its reference string or its `type` element (e.g.
  // "urn:uuid:..."). A search parameter with a single target passes it here.
  // Empty: such a reference resolves to nothing.
  std::string unresolved_reference_type;
};

class FhirPath {
 public:
  // Compiles `expression`. kIncorrect on a syntax error, kUnsupported for a
  // FHIRPath construct outside the subset above.
  static Result<FhirPath> Compile(std::string_view expression, const FhirPathOptions& options = {});

  // Evaluates against `resource` (the focus and %resource) and APPENDS the
  // result collection to *out. Never fails: data that does not fit the path
  // simply yields nothing.
  void Evaluate(const Json& resource, std::vector<PathValue>* out) const;
  // As Evaluate, with focus `focus` (an element inside `resource`), as
  // SearchParameter.component expressions are evaluated.
  void EvaluateOn(const Json& resource, const PathValue& focus, std::vector<PathValue>* out) const;

  const std::string& expression() const;
  // The resource type the whole expression starts with ("Observation" for
  // "Observation.code", "Patient" for "(Patient.x as T)"), or empty when it
  // starts elsewhere or its branches disagree.
  std::string_view LeadingType() const;

  // Splits `expression` at its top-level `|` operators (outside parentheses,
  // brackets and string literals), trimming each branch. One branch when
  // there is no top-level union.
  static std::vector<std::string_view> SplitUnion(std::string_view expression);

  struct Program;  // implementation detail, defined in fhirpath.cc

 private:
  explicit FhirPath(std::shared_ptr<const Program> program) : program_(std::move(program)) {}
  std::shared_ptr<const Program> program_;
};

// The resource type a reference string names: "Patient/1", "Patient/1/_history/2",
// "http://x/fhir/Patient/1" -> "Patient"; empty when it names none
// ("urn:uuid:...", "#contained"). The view points into `reference`.
std::string_view ReferenceType(std::string_view reference);

}  // namespace lhcr::fhir
