#include "fhir/fhirpath.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "fhir/search_param.h"

namespace lhcr::fhir {
namespace {

JsonDoc Parse(std::string_view text) {
  auto doc = ParseJson(text);
  EXPECT_TRUE(doc.ok()) << doc.status().ToString();
  return std::move(doc).value();
}

// Each result as "<compact json>" or "<compact json>:<type>" when typed.
std::vector<std::string> Eval(std::string_view expr, const Json& resource,
                              const FhirPathOptions& options = {}) {
  auto path = FhirPath::Compile(expr, options);
  EXPECT_TRUE(path.ok()) << expr << ": " << path.status().ToString();
  if (!path.ok()) return {};
  std::vector<PathValue> out;
  path->Evaluate(resource, &out);
  std::vector<std::string> s;
  for (const PathValue& v : out) {
    std::string item = ToJson(*v.node);
    if (!v.type.empty()) item += ":" + std::string(v.type);
    s.push_back(item);
  }
  return s;
}

using V = std::vector<std::string>;

constexpr std::string_view kObservation = R"({
  "resourceType": "Observation", "id": "o1", "status": "final",
  "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"},
                      {"system": "http://snomed.info/sct", "code": "271649006"}], "text": "SBP"},
  "subject": {"reference": "Patient/p1"},
  "performer": [{"reference": "http://other/fhir/Practitioner/x/_history/3"},
                {"reference": "urn:uuid:1234"}, {"reference": "#c1"}],
  "contained": [{"resourceType": "Organization", "id": "c1"}],
  "effectiveDateTime": "2020-01-02T03:04:05Z",
  "valueQuantity": {"value": 120, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
  "extension": [{"url": "http://e/a", "valueString": "A"}, {"url": "http://e/b", "valueBoolean": true}],
  "component": [
    {"code": {"text": "c1"}, "valueString": "s"},
    {"code": {"text": "c2"}, "valueCodeableConcept": {"text": "cc"}},
    {"code": {"text": "c3"}, "valueQuantity": {"value": 1}}
  ]
})";

TEST(FhirPathTest, NavigatesWithLeadingTypeAndFlattensArrays) {
  JsonDoc r = Parse(kObservation);
  EXPECT_EQ(Eval("Observation.status", r), V({"\"final\""}));
  EXPECT_EQ(Eval("status", r), V({"\"final\""}));
  EXPECT_EQ(Eval("Observation.code.coding.code", r), V({"\"8480-6\"", "\"271649006\""}));
  EXPECT_EQ(Eval("Patient.status", r), V({}));  // other resource type
  EXPECT_EQ(Eval("Resource.id", r), V({"\"o1\""}));
  EXPECT_EQ(Eval("DomainResource.id", r), V({"\"o1\""}));
  EXPECT_EQ(Eval("Observation.nothing.here", r), V({}));
  EXPECT_EQ(Eval("Observation", r).size(), 1u);
  EXPECT_EQ(Eval("Observation", r)[0].substr(0, 30), R"({"resourceType":"Observation",)");
}

TEST(FhirPathTest, ChoiceTypesCarryTheirType) {
  JsonDoc r = Parse(kObservation);
  EXPECT_EQ(Eval("Observation.effective", r), V({"\"2020-01-02T03:04:05Z\":dateTime"}));
  EXPECT_EQ(
      Eval("Observation.value", r),
      V({R"({"value":120,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}:Quantity)"}));
  EXPECT_EQ(Eval("Observation.component.value", r),
            V({"\"s\":string", R"({"text":"cc"}:CodeableConcept)", R"({"value":1}:Quantity)"}));
  // "valueFoo" is not a FHIR type: not the choice element "value".
  JsonDoc odd = Parse(R"({"resourceType": "Basic", "valueFoo": 1, "codeX": 2})");
  EXPECT_EQ(Eval("Basic.value", odd), V({}));
}

TEST(FhirPathTest, AsFunctionAndOperatorKeepOnlyThatType) {
  JsonDoc r = Parse(kObservation);
  EXPECT_EQ(Eval("Observation.component.value.as(Quantity)", r), V({R"({"value":1}:Quantity)"}));
  EXPECT_EQ(Eval("(Observation.component.value as CodeableConcept)", r),
            V({R"({"text":"cc"}:CodeableConcept)"}));
  EXPECT_EQ(Eval("(Observation.component.value as CodeableConcept).text", r), V({"\"cc\""}));
  EXPECT_EQ(Eval("Observation.component.value.as(string)", r), V({"\"s\":string"}));
  EXPECT_EQ(Eval("Observation.component.value.as(String)", r), V({"\"s\":string"}));
  EXPECT_EQ(Eval("Observation.effective.as(DateTime)", r),
            V({"\"2020-01-02T03:04:05Z\":dateTime"}));
  EXPECT_EQ(Eval("(Observation.effective as dateTime)", r),
            V({"\"2020-01-02T03:04:05Z\":dateTime"}));
  EXPECT_EQ(Eval("Observation.effective.as(Period)", r), V({}));
  EXPECT_EQ(Eval("Observation.component.value.ofType(CodeableConcept).text", r), V({"\"cc\""}));
  EXPECT_EQ(Eval("Observation.value.as(FHIR.Quantity).value", r), V({"120"}));
  // Age is a Quantity.
  JsonDoc c = Parse(R"({"resourceType": "Condition", "onsetAge": {"value": 3}})");
  EXPECT_EQ(Eval("Condition.onset.as(Quantity)", c), V({R"({"value":3}:Age)"}));
  EXPECT_EQ(Eval("Condition.onset.as(Age)", c), V({R"({"value":3}:Age)"}));
  EXPECT_EQ(Eval("Condition.onset.as(Range)", c), V({}));
}

TEST(FhirPathTest, IsOperatorAndFunction) {
  JsonDoc r = Parse(kObservation);
  EXPECT_EQ(Eval("Observation.value is Quantity", r), V({"true:boolean"}));
  EXPECT_EQ(Eval("Observation.value.is(Range)", r), V({"false:boolean"}));
}

TEST(FhirPathTest, WhereWithEqualityAndAnd) {
  JsonDoc r = Parse(kObservation);
  EXPECT_EQ(Eval("Observation.code.coding.where(system='http://loinc.org').code", r),
            V({"\"8480-6\""}));
  EXPECT_EQ(Eval("Observation.code.coding.where(system != 'http://loinc.org').code", r),
            V({"\"271649006\""}));
  EXPECT_EQ(Eval("Observation.code.coding.where(system='http://loinc.org' and code='x').code", r),
            V({}));
  EXPECT_EQ(
      Eval("Observation.code.coding.where(system='http://loinc.org' or code='271649006').code", r),
      V({"\"8480-6\"", "\"271649006\""}));
  EXPECT_EQ(Eval("Observation.code.coding.where(missing='x')", r), V({}));
  EXPECT_EQ(Eval("Observation.code.coding.where($this.code='8480-6').system", r),
            V({"\"http://loinc.org\""}));
}

TEST(FhirPathTest, ResolveIsDecidedFromTheReference) {
  JsonDoc r = Parse(kObservation);
  EXPECT_EQ(Eval("Observation.subject.where(resolve() is Patient)", r),
            V({R"({"reference":"Patient/p1"})"}));
  EXPECT_EQ(Eval("Observation.subject.where(resolve() is Group)", r), V({}));
  // Absolute with _history; urn:uuid has no type; #c1 is a contained Organization.
  EXPECT_EQ(Eval("Observation.performer.where(resolve() is Practitioner)", r),
            V({R"({"reference":"http://other/fhir/Practitioner/x/_history/3"})"}));
  EXPECT_EQ(Eval("Observation.performer.where(resolve() is Organization)", r),
            V({R"({"reference":"#c1"})"}));
  FhirPathOptions single_target;
  single_target.unresolved_reference_type = "Device";
  EXPECT_EQ(Eval("Observation.performer.where(resolve() is Device)", r, single_target),
            V({R"({"reference":"urn:uuid:1234"})"}));
  EXPECT_EQ(Eval("Observation.subject.resolve()", r), V({R"({"reference":"Patient/p1"}:Patient)"}));
  // Reference.type when the reference string does not tell.
  JsonDoc t =
      Parse(R"({"resourceType": "Task", "for": {"reference": "urn:uuid:9", "type": "Patient"}})");
  EXPECT_EQ(Eval("Task.for.where(resolve() is Patient)", t).size(), 1u);
}

TEST(FhirPathTest, Extensions) {
  JsonDoc r = Parse(kObservation);
  EXPECT_EQ(Eval("Observation.extension('http://e/a')", r),
            V({R"({"url":"http://e/a","valueString":"A"}:Extension)"}));
  EXPECT_EQ(Eval("Observation.extension('http://e/a').value", r), V({"\"A\":string"}));
  EXPECT_EQ(Eval("Observation.extension('http://e/none')", r), V({}));
  EXPECT_EQ(Eval("Observation.where(hasExtension('http://e/b')).id", r), V({"\"o1\""}));
  EXPECT_EQ(Eval("Observation.where(hasExtension('http://e/c')).id", r), V({}));
  EXPECT_EQ(Eval("Observation.extension.url", r), V({"\"http://e/a\"", "\"http://e/b\""}));
}

TEST(FhirPathTest, ExistsNotEqualsAndBooleans) {
  const char* kExpr = "Patient.deceased.exists() and Patient.deceased != false";
  JsonDoc alive = Parse(R"({"resourceType": "Patient", "deceasedBoolean": false})");
  JsonDoc dead = Parse(R"({"resourceType": "Patient", "deceasedBoolean": true})");
  JsonDoc dated = Parse(R"({"resourceType": "Patient", "deceasedDateTime": "2001"})");
  JsonDoc unknown = Parse(R"({"resourceType": "Patient"})");
  EXPECT_EQ(Eval(kExpr, alive), V({"false:boolean"}));
  EXPECT_EQ(Eval(kExpr, dead), V({"true:boolean"}));
  EXPECT_EQ(Eval(kExpr, dated), V({"true:boolean"}));
  EXPECT_EQ(Eval(kExpr, unknown), V({"false:boolean"}));
  EXPECT_EQ(Eval("Patient.deceased.empty()", unknown), V({"true:boolean"}));
  EXPECT_EQ(Eval("Patient.deceased.exists().not()", unknown), V({"true:boolean"}));
  EXPECT_EQ(Eval("Patient.deceased.exists(true)", dead), V({"true:boolean"}));
}

TEST(FhirPathTest, FirstLastIndexAndUnion) {
  JsonDoc r = Parse(kObservation);
  EXPECT_EQ(Eval("Observation.code.coding.code.first()", r), V({"\"8480-6\""}));
  EXPECT_EQ(Eval("Observation.code.coding.code.last()", r), V({"\"271649006\""}));
  EXPECT_EQ(Eval("Observation.code.coding[1].code", r), V({"\"271649006\""}));
  EXPECT_EQ(Eval("Observation.code.coding[5].code", r), V({}));
  EXPECT_EQ(Eval("Observation.status | Observation.id", r), V({"\"final\"", "\"o1\""}));
  // Union removes duplicates.
  EXPECT_EQ(Eval("Observation.status | Observation.status | status", r), V({"\"final\""}));
  EXPECT_EQ(Eval("(Observation.code | Observation.component.code).text", r),
            V({"\"SBP\"", "\"c1\"", "\"c2\"", "\"c3\""}));
}

TEST(FhirPathTest, EvaluateOnAFocusWithResourceVariable) {
  JsonDoc r = Parse(kObservation);
  auto components = FhirPath::Compile("Observation.component");
  ASSERT_TRUE(components.ok());
  std::vector<PathValue> elements;
  components->Evaluate(r, &elements);
  ASSERT_EQ(elements.size(), 3u);
  auto rel = FhirPath::Compile("code.text | %resource.id");
  ASSERT_TRUE(rel.ok());
  std::vector<PathValue> out;
  rel->EvaluateOn(r, elements[1], &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(ToJson(*out[0].node), "\"c2\"");
  EXPECT_EQ(ToJson(*out[1].node), "\"o1\"");
}

TEST(FhirPathTest, LiteralsAndEscapes) {
  JsonDoc r = Parse(R"({"resourceType": "Basic", "id": "it's"})");
  EXPECT_EQ(Eval("Basic.where(id = 'it\\'s').id", r), V({"\"it's\""}));
  EXPECT_EQ(Eval("Basic.where(id = 'other').id", r), V({}));
}

TEST(FhirPathTest, LeadingTypeAndSplitUnion) {
  auto lead = [](std::string_view e) {
    auto p = FhirPath::Compile(e);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? std::string(p->LeadingType()) : std::string("?");
  };
  EXPECT_EQ(lead("Observation.code"), "Observation");
  EXPECT_EQ(lead("(ActivityDefinition.useContext.value as Quantity)"), "ActivityDefinition");
  EXPECT_EQ(lead("Patient.deceased.exists() and Patient.deceased != false"), "Patient");
  EXPECT_EQ(lead("Observation | Observation.component"), "Observation");
  EXPECT_EQ(lead("Observation.code | Condition.code"), "");
  EXPECT_EQ(lead("name"), "");
  EXPECT_EQ(lead("%resource.id"), "");
  EXPECT_EQ(FhirPath::SplitUnion("A.b | (C.d | E.f).g | H.where(x='|').i"),
            std::vector<std::string_view>({"A.b", "(C.d | E.f).g", "H.where(x='|').i"}));
  EXPECT_EQ(FhirPath::SplitUnion("A.b"), std::vector<std::string_view>({"A.b"}));
}

TEST(FhirPathTest, CompileErrors) {
  auto syntax = FhirPath::Compile("Observation.code.");
  EXPECT_EQ(syntax.status().code(), StatusCode::kIncorrect);
  auto unbalanced = FhirPath::Compile("(Observation.code");
  EXPECT_EQ(unbalanced.status().code(), StatusCode::kIncorrect);
  auto unknown_fn = FhirPath::Compile("Observation.code.descendants()");
  EXPECT_EQ(unknown_fn.status().code(), StatusCode::kUnsupported);
  auto op = FhirPath::Compile("Observation.value > 5");
  EXPECT_EQ(op.status().code(), StatusCode::kUnsupported);
  auto var = FhirPath::Compile("%ucum");
  EXPECT_EQ(var.status().code(), StatusCode::kUnsupported);
}

TEST(FhirPathTest, ReferenceType) {
  EXPECT_EQ(ReferenceType("Patient/1"), "Patient");
  EXPECT_EQ(ReferenceType("Patient/1/_history/2"), "Patient");
  EXPECT_EQ(ReferenceType("http://x/fhir/Patient/1"), "Patient");
  EXPECT_EQ(ReferenceType("http://x/fhir/Patient/1/_history/7"), "Patient");
  EXPECT_EQ(ReferenceType("Patient?identifier=a|b"), "Patient");
  EXPECT_EQ(ReferenceType("urn:uuid:abc"), "");
  EXPECT_EQ(ReferenceType("#c1"), "");
  EXPECT_EQ(ReferenceType("Patient/"), "");
  EXPECT_EQ(ReferenceType("patient/1"), "");
  EXPECT_EQ(ReferenceType(""), "");
}

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every expression (and composite component expression) of the 1,400
// SearchParameters in the official package compiles.
TEST(FhirPathTest, AllR4SearchParameterExpressionsCompile) {
  std::filesystem::path dir(LHCR_FHIR_PACKAGE);
  if (!std::filesystem::exists(dir / "SearchParameter-Patient-name.json")) {
    GTEST_SKIP() << "FHIR package not found at " << dir << " (run scripts/install-deps.sh)";
  }
  int params = 0;
  int expressions = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("SearchParameter-", 0) != 0 || entry.path().extension() != ".json") continue;
    ++params;
    JsonDoc sp = Parse(ReadFile(entry.path()));
    std::vector<std::string> exprs;
    if (std::string_view e = StringMember(sp, "expression"); !e.empty()) exprs.emplace_back(e);
    if (const Json* comps = Member(sp, "component"); comps != nullptr && comps->IsArray()) {
      for (const Json& c : comps->GetArray()) exprs.emplace_back(StringMember(c, "expression"));
    }
    for (const std::string& e : exprs) {
      ++expressions;
      auto whole = FhirPath::Compile(e);
      EXPECT_TRUE(whole.ok()) << name << ": " << whole.status().ToString();
      for (std::string_view branch : FhirPath::SplitUnion(e)) {
        auto b = FhirPath::Compile(branch);
        EXPECT_TRUE(b.ok()) << name << ": " << b.status().ToString();
      }
    }
  }
  EXPECT_EQ(params, 1400);
  EXPECT_GT(expressions, 1400);
}

}  // namespace
}  // namespace lhcr::fhir
