#include "fhir/search_param.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>

extern "C" const char lhcr_r4_search_params[];
extern "C" const char lhcr_r4_search_params_end[];

namespace lhcr::fhir {
namespace {

// The concrete R4 resource types (StructureDefinitions of kind "resource",
// derivation "specialization", less the abstract DomainResource).
constexpr std::array<std::string_view, 146> kResourceTypes = {"Account",
                                                              "ActivityDefinition",
                                                              "AdverseEvent",
                                                              "AllergyIntolerance",
                                                              "Appointment",
                                                              "AppointmentResponse",
                                                              "AuditEvent",
                                                              "Basic",
                                                              "Binary",
                                                              "BiologicallyDerivedProduct",
                                                              "BodyStructure",
                                                              "Bundle",
                                                              "CapabilityStatement",
                                                              "CarePlan",
                                                              "CareTeam",
                                                              "CatalogEntry",
                                                              "ChargeItem",
                                                              "ChargeItemDefinition",
                                                              "Claim",
                                                              "ClaimResponse",
                                                              "ClinicalImpression",
                                                              "CodeSystem",
                                                              "Communication",
                                                              "CommunicationRequest",
                                                              "CompartmentDefinition",
                                                              "Composition",
                                                              "ConceptMap",
                                                              "Condition",
                                                              "Consent",
                                                              "Contract",
                                                              "Coverage",
                                                              "CoverageEligibilityRequest",
                                                              "CoverageEligibilityResponse",
                                                              "DetectedIssue",
                                                              "Device",
                                                              "DeviceDefinition",
                                                              "DeviceMetric",
                                                              "DeviceRequest",
                                                              "DeviceUseStatement",
                                                              "DiagnosticReport",
                                                              "DocumentManifest",
                                                              "DocumentReference",
                                                              "EffectEvidenceSynthesis",
                                                              "Encounter",
                                                              "Endpoint",
                                                              "EnrollmentRequest",
                                                              "EnrollmentResponse",
                                                              "EpisodeOfCare",
                                                              "EventDefinition",
                                                              "Evidence",
                                                              "EvidenceVariable",
                                                              "ExampleScenario",
                                                              "ExplanationOfBenefit",
                                                              "FamilyMemberHistory",
                                                              "Flag",
                                                              "Goal",
                                                              "GraphDefinition",
                                                              "Group",
                                                              "GuidanceResponse",
                                                              "HealthcareService",
                                                              "ImagingStudy",
                                                              "Immunization",
                                                              "ImmunizationEvaluation",
                                                              "ImmunizationRecommendation",
                                                              "ImplementationGuide",
                                                              "InsurancePlan",
                                                              "Invoice",
                                                              "Library",
                                                              "Linkage",
                                                              "List",
                                                              "Location",
                                                              "Measure",
                                                              "MeasureReport",
                                                              "Media",
                                                              "Medication",
                                                              "MedicationAdministration",
                                                              "MedicationDispense",
                                                              "MedicationKnowledge",
                                                              "MedicationRequest",
                                                              "MedicationStatement",
                                                              "MedicinalProduct",
                                                              "MedicinalProductAuthorization",
                                                              "MedicinalProductContraindication",
                                                              "MedicinalProductIndication",
                                                              "MedicinalProductIngredient",
                                                              "MedicinalProductInteraction",
                                                              "MedicinalProductManufactured",
                                                              "MedicinalProductPackaged",
                                                              "MedicinalProductPharmaceutical",
                                                              "MedicinalProductUndesirableEffect",
                                                              "MessageDefinition",
                                                              "MessageHeader",
                                                              "MolecularSequence",
                                                              "NamingSystem",
                                                              "NutritionOrder",
                                                              "Observation",
                                                              "ObservationDefinition",
                                                              "OperationDefinition",
                                                              "OperationOutcome",
                                                              "Organization",
                                                              "OrganizationAffiliation",
                                                              "Parameters",
                                                              "Patient",
                                                              "PaymentNotice",
                                                              "PaymentReconciliation",
                                                              "Person",
                                                              "PlanDefinition",
                                                              "Practitioner",
                                                              "PractitionerRole",
                                                              "Procedure",
                                                              "Provenance",
                                                              "Questionnaire",
                                                              "QuestionnaireResponse",
                                                              "RelatedPerson",
                                                              "RequestGroup",
                                                              "ResearchDefinition",
                                                              "ResearchElementDefinition",
                                                              "ResearchStudy",
                                                              "ResearchSubject",
                                                              "RiskAssessment",
                                                              "RiskEvidenceSynthesis",
                                                              "Schedule",
                                                              "SearchParameter",
                                                              "ServiceRequest",
                                                              "Slot",
                                                              "Specimen",
                                                              "SpecimenDefinition",
                                                              "StructureDefinition",
                                                              "StructureMap",
                                                              "Subscription",
                                                              "Substance",
                                                              "SubstanceNucleicAcid",
                                                              "SubstancePolymer",
                                                              "SubstanceProtein",
                                                              "SubstanceReferenceInformation",
                                                              "SubstanceSourceMaterial",
                                                              "SubstanceSpecification",
                                                              "SupplyDelivery",
                                                              "SupplyRequest",
                                                              "Task",
                                                              "TerminologyCapabilities",
                                                              "TestReport",
                                                              "TestScript",
                                                              "ValueSet",
                                                              "VerificationResult",
                                                              "VisionPrescription"};

// Resources that are not DomainResources (no text, contained, extension).
bool IsDomainResource(std::string_view type) {
  return type != "Bundle" && type != "Binary" && type != "Parameters";
}

bool IsBaseName(std::string_view t) { return t == "Resource" || t == "DomainResource"; }

std::vector<std::string> StringArray(const Json& obj, std::string_view name) {
  std::vector<std::string> out;
  const Json* a = Member(obj, name);
  if (a == nullptr || !a->IsArray()) return out;
  for (const Json& v : a->GetArray()) {
    if (v.IsString()) out.emplace_back(AsView(v));
  }
  return out;
}

FhirPathOptions OptionsFor(const std::vector<std::string>& targets) {
  FhirPathOptions o;
  if (targets.size() == 1) o.unresolved_reference_type = targets[0];
  return o;
}

// Whether rows of `p` are index rows at all (composite and special
// parameters have none; _id and _lastUpdated the store keeps natively).
bool HasIndexRows(const SearchParam& p) {
  return p.type != SearchParamType::kComposite && p.type != SearchParamType::kSpecial &&
         p.code != "_id" && p.code != "_lastUpdated";
}

// What one branch yields rows for: its text and, when it calls resolve(), the
// type resolve() assumes for a reference it cannot type (the only target).
std::string BranchIdentity(const SearchParam& p, const FhirPath& branch) {
  std::string_view text = branch.expression();
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  std::string id(text);
  if (id.find("resolve(") != std::string::npos) {
    id += '\x1f';
    if (p.targets.size() == 1) id += p.targets[0];
  }
  return id;
}

// "E.where(resolve() is T)" -> E and T; false for anything else.
bool SplitWhereResolveIs(std::string_view text, std::string_view* e, std::string_view* t) {
  constexpr std::string_view kWhere = ".where(resolve() is ";
  size_t w = text.rfind(kWhere);
  if (w == std::string_view::npos || w == 0 || text.back() != ')') return false;
  std::string_view type = text.substr(w + kWhere.size());
  type.remove_suffix(1);
  if (type.empty() || type[0] < 'A' || type[0] > 'Z') return false;
  for (char c : type) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return false;
  }
  *e = text.substr(0, w);
  *t = type;
  return true;
}

// Decides, for the parameters of one resource type, which write rows and
// where a search reads each one's rows (see BoundSearchParam).
void PlanIndexRows(std::vector<BoundSearchParam>& bound) {
  const size_t n = bound.size();
  std::vector<std::vector<std::string>> branches(n);  // sorted, unique
  std::vector<size_t> order;
  for (size_t i = 0; i < n; ++i) {
    const BoundSearchParam& b = bound[i];
    if (!HasIndexRows(*b.param) || b.paths->empty()) continue;
    for (const FhirPath& f : *b.paths) branches[i].push_back(BranchIdentity(*b.param, f));
    std::sort(branches[i].begin(), branches[i].end());
    branches[i].erase(std::unique(branches[i].begin(), branches[i].end()), branches[i].end());
    order.push_back(i);
  }
  // Fewest branches first (then by code, as `bound` is ordered): a parameter
  // can only be covered by ones that come before it.
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return branches[a].size() < branches[b].size(); });
  std::vector<size_t> stored;
  std::vector<std::vector<size_t>> covered_by(n);
  for (size_t i : order) {
    std::vector<std::string> covered;
    std::vector<size_t> from;
    for (size_t q : stored) {
      if (bound[q].param->type != bound[i].param->type) continue;
      if (!std::includes(branches[i].begin(), branches[i].end(), branches[q].begin(),
                         branches[q].end())) {
        continue;
      }
      covered.insert(covered.end(), branches[q].begin(), branches[q].end());
      from.push_back(q);
    }
    std::sort(covered.begin(), covered.end());
    covered.erase(std::unique(covered.begin(), covered.end()), covered.end());
    if (!from.empty() && covered == branches[i]) {
      bound[i].stored = false;
      covered_by[i] = std::move(from);
    } else {
      stored.push_back(i);
    }
  }
  // patient (subject.where(resolve() is Patient)) beside subject. A row
  // whose target type comes from elsewhere (an absolute URL, Reference.type,
  // an identifier) stays under the narrowed parameter's own key.
  for (size_t i : stored) {
    BoundSearchParam& b = bound[i];
    b.sources = {IndexSource{b.key, ""}};
    if (b.param->type != SearchParamType::kReference || b.paths->size() != 1) continue;
    std::string_view e, t;
    if (!SplitWhereResolveIs((*b.paths)[0].expression(), &e, &t)) continue;
    // Every reference row to T that E yields must be one the where() keeps:
    // resolve() types such a reference by its own text ("T/id") or by the
    // resourceType it contains, except on an Extension, which E must not
    // reach (ExtractIndexRows reads an extension's value; resolve() does not).
    if (std::find(b.param->targets.begin(), b.param->targets.end(), t) == b.param->targets.end()) {
      continue;
    }
    if (e.find("resolve(") != std::string_view::npos || e.find("extension") != std::string_view::npos) {
      continue;
    }
    for (size_t q : stored) {
      if (q == i || bound[q].param->type != SearchParamType::kReference) continue;
      if (branches[q].size() != 1 || branches[q][0] != e) continue;
      b.narrowed_by = static_cast<int>(q);
      b.narrowed_type = std::string(t);
      b.sources.push_back(IndexSource{bound[q].key, b.narrowed_type});
      break;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (bound[i].stored) continue;
    for (size_t q : covered_by[i]) {
      for (const IndexSource& s : bound[q].sources) {
        bool seen = false;
        for (const IndexSource& have : bound[i].sources) {
          seen = seen || (have.key == s.key && have.target_type == s.target_type);
        }
        if (!seen) bound[i].sources.push_back(s);
      }
    }
  }
}

}  // namespace

std::string_view SearchParamTypeName(SearchParamType type) {
  switch (type) {
    case SearchParamType::kNumber:
      return "number";
    case SearchParamType::kDate:
      return "date";
    case SearchParamType::kString:
      return "string";
    case SearchParamType::kToken:
      return "token";
    case SearchParamType::kReference:
      return "reference";
    case SearchParamType::kComposite:
      return "composite";
    case SearchParamType::kQuantity:
      return "quantity";
    case SearchParamType::kUri:
      return "uri";
    case SearchParamType::kSpecial:
      return "special";
  }
  return "?";
}

Result<SearchParamType> ParseSearchParamType(std::string_view name) {
  static constexpr std::array<SearchParamType, 9> kAll = {
      SearchParamType::kNumber,   SearchParamType::kDate,      SearchParamType::kString,
      SearchParamType::kToken,    SearchParamType::kReference, SearchParamType::kComposite,
      SearchParamType::kQuantity, SearchParamType::kUri,       SearchParamType::kSpecial};
  for (SearchParamType t : kAll) {
    if (SearchParamTypeName(t) == name) return t;
  }
  return Status::Incorrect("unknown search parameter type '" + std::string(name) + "'");
}

const std::vector<FhirPath>& SearchParam::PathsFor(std::string_view resource_type) const {
  static const std::vector<FhirPath> kNone;
  auto it = paths_by_base.find(resource_type);
  if (it != paths_by_base.end()) return it->second;
  it = paths_by_base.find("Resource");
  if (it != paths_by_base.end()) return it->second;
  if (IsDomainResource(resource_type)) {
    it = paths_by_base.find("DomainResource");
    if (it != paths_by_base.end()) return it->second;
  }
  return kNone;
}

std::shared_ptr<const SearchParamRegistry> SearchParamRegistry::R4() {
  static const std::shared_ptr<const SearchParamRegistry> kR4 = [] {
    std::string_view json(lhcr_r4_search_params,
                          static_cast<size_t>(lhcr_r4_search_params_end - lhcr_r4_search_params));
    auto r = FromJson(json);
    if (!r.ok()) {
      std::fprintf(stderr, "lhcr: embedded R4 search parameters do not load: %s\n",
                   r.status().ToString().c_str());
      std::abort();
    }
    return std::move(r).value();
  }();
  return kR4;
}

Result<std::shared_ptr<const SearchParamRegistry>> SearchParamRegistry::FromJson(
    std::string_view json) {
  ASSIGN_OR_RETURN(JsonDoc doc, ParseJson(json));
  if (!doc.IsArray()) return Status::Incorrect("search parameters: expected a JSON array");
  std::shared_ptr<SearchParamRegistry> reg(new SearchParamRegistry());
  for (const Json& sp : doc.GetArray()) {
    if (!sp.IsObject()) return Status::Incorrect("search parameters: expected objects");
    auto p = std::make_unique<SearchParam>();
    p->url = std::string(StringMember(sp, "url"));
    p->code = std::string(StringMember(sp, "code"));
    ASSIGN_OR_RETURN(p->type, ParseSearchParamType(StringMember(sp, "type")));
    p->base = StringArray(sp, "base");
    p->expression = std::string(StringMember(sp, "expression"));
    p->targets = StringArray(sp, "target");
    if (const Json* comps = Member(sp, "component"); comps != nullptr && comps->IsArray()) {
      for (const Json& c : comps->GetArray()) {
        SearchParamComponent comp;
        comp.definition = std::string(StringMember(c, "definition"));
        comp.expression = std::string(StringMember(c, "expression"));
        p->components.push_back(std::move(comp));
      }
    }
    RETURN_IF_ERROR(reg->Add(std::move(p)));
  }
  RETURN_IF_ERROR(reg->Link());
  return std::shared_ptr<const SearchParamRegistry>(std::move(reg));
}

Status SearchParamRegistry::Add(std::unique_ptr<SearchParam> p) {
  if (p->url.empty() || p->code.empty()) {
    return Status::Incorrect("search parameter without url or code");
  }
  if (!p->expression.empty()) {
    std::vector<FhirPath> branches;
    FhirPathOptions options = OptionsFor(p->targets);
    for (std::string_view b : FhirPath::SplitUnion(p->expression)) {
      auto compiled = FhirPath::Compile(b, options);
      if (!compiled.ok()) {
        return Status::Incorrect("search parameter " + p->url + ": " + compiled.status().message());
      }
      branches.push_back(std::move(compiled).value());
    }
    for (const std::string& base : p->base) {
      std::vector<FhirPath>& paths = p->paths_by_base[base];
      for (const FhirPath& b : branches) {
        std::string_view lead = b.LeadingType();
        if (lead.empty() || lead == base || IsBaseName(lead)) paths.push_back(b);
      }
    }
  }
  if (!by_url_.emplace(p->url, p.get()).second) {
    return Status::Incorrect("duplicate search parameter " + p->url);
  }
  params_.push_back(std::move(p));
  return Status::Ok();
}

Status SearchParamRegistry::Link() {
  for (auto& p : params_) {
    for (SearchParamComponent& c : p->components) {
      auto it = by_url_.find(c.definition);
      c.param = it == by_url_.end() ? nullptr : it->second;
      if (c.expression.empty()) continue;
      auto compiled =
          FhirPath::Compile(c.expression, OptionsFor(c.param ? c.param->targets : p->targets));
      if (!compiled.ok()) {
        return Status::Incorrect("search parameter " + p->url +
                                 " component: " + compiled.status().message());
      }
      c.path = std::move(compiled).value();
    }
  }
  // Resource-specific parameters win over Resource / DomainResource ones with
  // the same code.
  for (std::string_view type : kResourceTypes) {
    auto& codes = by_type_code_[std::string(type)];
    for (const auto& p : params_) {
      if (std::find(p->base.begin(), p->base.end(), type) != p->base.end()) {
        codes.emplace(p->code, p.get());
      }
    }
    for (const auto& p : params_) {
      for (const std::string& b : p->base) {
        if (b == "Resource" || (b == "DomainResource" && IsDomainResource(type))) {
          codes.emplace(p->code, p.get());
        }
      }
    }
    auto& list = by_type_[std::string(type)];
    auto& bound = bound_by_type_[std::string(type)];
    for (const auto& [code, p] : codes) {
      list.push_back(p);
      BoundSearchParam b;
      b.param = p;
      b.paths = &p->PathsFor(type);
      b.key = std::string(type) + "." + p->code;
      bound.push_back(std::move(b));
    }
    PlanIndexRows(bound);
    auto& index = bound_index_[std::string(type)];
    for (const BoundSearchParam& b : bound) index.emplace(b.param->code, &b);
  }
  return Status::Ok();
}

const SearchParam* SearchParamRegistry::Find(std::string_view resource_type,
                                             std::string_view code) const {
  auto t = by_type_code_.find(resource_type);
  if (t == by_type_code_.end()) return nullptr;
  auto c = t->second.find(code);
  return c == t->second.end() ? nullptr : c->second;
}

const SearchParam* SearchParamRegistry::FindByUrl(std::string_view url) const {
  auto it = by_url_.find(std::string(url));
  return it == by_url_.end() ? nullptr : it->second;
}

const std::vector<const SearchParam*>& SearchParamRegistry::ForType(
    std::string_view resource_type) const {
  static const std::vector<const SearchParam*> kNone;
  auto it = by_type_.find(resource_type);
  return it == by_type_.end() ? kNone : it->second;
}

const std::vector<BoundSearchParam>& SearchParamRegistry::BoundForType(
    std::string_view resource_type) const {
  static const std::vector<BoundSearchParam> kNone;
  auto it = bound_by_type_.find(resource_type);
  return it == bound_by_type_.end() ? kNone : it->second;
}

const BoundSearchParam* SearchParamRegistry::Bound(std::string_view resource_type,
                                                   std::string_view code) const {
  auto t = bound_index_.find(resource_type);
  if (t == bound_index_.end()) return nullptr;
  auto c = t->second.find(code);
  return c == t->second.end() ? nullptr : c->second;
}

bool SearchParamRegistry::IsResourceType(std::string_view type) const {
  return std::find(kResourceTypes.begin(), kResourceTypes.end(), type) != kResourceTypes.end();
}

}  // namespace lhcr::fhir
