#include "terminology/terminology.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace lhcr::terminology {
namespace {

constexpr const char* kCodeSystem = R"({
  "resourceType": "CodeSystem", "url": "http://example.org/cs", "version": "1",
  "name": "Example", "content": "complete",
  "concept": [
    {"code": "A", "display": "Alpha", "concept": [
      {"code": "A1", "display": "Alpha one",
       "designation": [{"value": "First alpha"}],
       "property": [{"code": "unit", "valueString": "mmol/L"}]},
      {"code": "A2", "display": "Alpha two",
       "property": [{"code": "inactive", "valueBoolean": true}]}]},
    {"code": "B", "display": "Beta", "property": [{"code": "parent", "valueCode": "A1"}]}
  ]})";

constexpr const char* kValueSets = R"({
  "resourceType": "Bundle", "type": "collection", "entry": [
   {"resource": {"resourceType": "ValueSet", "url": "http://example.org/vs/listed",
     "compose": {"include": [{"system": "http://example.org/cs",
                              "concept": [{"code": "A"}, {"code": "B"}]}]}}},
   {"resource": {"resourceType": "ValueSet", "url": "http://example.org/vs/below-a",
     "version": "2",
     "compose": {"include": [{"system": "http://example.org/cs",
                              "filter": [{"property": "concept", "op": "is-a", "value": "A"}]}],
                 "exclude": [{"system": "http://example.org/cs", "concept": [{"code": "A2"}]}]}}},
   {"resource": {"resourceType": "ValueSet", "url": "http://example.org/vs/both",
     "compose": {"include": [{"valueSet": ["http://example.org/vs/listed",
                                           "http://example.org/vs/below-a"]}]}}},
   {"resource": {"resourceType": "ValueSet", "url": "http://example.org/vs/loop",
     "compose": {"include": [{"valueSet": ["http://example.org/vs/loop"]}]}}},
   {"resource": {"resourceType": "ConceptMap", "url": "http://example.org/cm",
     "group": [{"source": "http://example.org/cs", "target": "http://snomed.info/sct",
                "element": [{"code": "A1", "target": [{"code": "44054006",
                             "display": "Type 2 diabetes mellitus",
                             "equivalence": "equivalent"}]},
                            {"code": "B", "target": [{"equivalence": "unmatched"}]}]}]}}
  ]})";

std::shared_ptr<const Terminology> Example() {
  TerminologyBuilder b;
  Status s = b.AddFhirJson(kCodeSystem);
  EXPECT_TRUE(s.ok()) << s.message();
  s = b.AddFhirJson(kValueSets);
  EXPECT_TRUE(s.ok()) << s.message();
  return std::move(b).Build();
}

TEST(Terminology, LookupGivesTheConceptAndItsNeighbours) {
  auto t = Example();
  auto a1 = t->Lookup("http://example.org/cs", "A1");
  ASSERT_TRUE(a1.ok());
  EXPECT_EQ(a1->display, "Alpha one");
  EXPECT_EQ(a1->version, "1");
  EXPECT_EQ(a1->designations, std::vector<std::string>{"First alpha"});
  EXPECT_EQ(a1->parents, std::vector<std::string>{"A"});
  EXPECT_EQ(a1->children, std::vector<std::string>{"B"});
  EXPECT_EQ(a1->properties.at("unit"), "mmol/L");
  EXPECT_FALSE(t->Lookup("http://example.org/cs", "A2")->active);
  EXPECT_EQ(t->Lookup("http://example.org/cs", "Z").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(t->Lookup("http://example.org/none", "A").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(t->Subsumes("http://example.org/cs", "A", "B"));
  EXPECT_FALSE(t->Subsumes("http://example.org/cs", "B", "A"));
}

TEST(Terminology, ExpandsExtensionalIntensionalAndNestedValueSets) {
  auto t = Example();
  auto listed = t->Expand("http://example.org/vs/listed", "", 0, 100);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->total, 2);
  EXPECT_EQ(listed->items[0], (ExpansionItem{"http://example.org/cs", "A", "Alpha"}));
  auto below = t->Expand("http://example.org/vs/below-a", "", 0, 100);
  ASSERT_TRUE(below.ok());
  std::vector<std::string> codes;
  for (const auto& i : below->items) codes.push_back(i.code);
  EXPECT_EQ(codes, (std::vector<std::string>{"A", "B", "A1"}));  // A2 excluded; by length
  EXPECT_EQ(below->version, "2");
  auto both = t->Expand("http://example.org/vs/both", "", 0, 100);  // intersection
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->total, 2);
  auto filtered = t->Expand("http://example.org/vs/below-a", "ONE", 0, 100);
  ASSERT_TRUE(filtered.ok());
  ASSERT_EQ(filtered->total, 1);
  EXPECT_EQ(filtered->items[0].code, "A1");
  auto paged = t->Expand("http://example.org/vs/below-a", "", 1, 1);
  ASSERT_TRUE(paged.ok());
  EXPECT_EQ(paged->total, 3);
  ASSERT_EQ(paged->items.size(), 1u);
  EXPECT_EQ(paged->items[0].code, "B");
  EXPECT_EQ(t->Expand("http://example.org/vs/nope", "", 0, 10).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(t->Expand("http://example.org/vs/loop", "", 0, 10).status().code(),
            StatusCode::kIncorrect);
}

TEST(Terminology, ValidatesCodesAndDisplays) {
  auto t = Example();
  auto v = t->ValidateCode("http://example.org/vs/below-a", "http://example.org/cs", "B", "");
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->result);
  EXPECT_EQ(v->display, "Beta");
  v = t->ValidateCode("http://example.org/vs/below-a", "http://example.org/cs", "A2", "");
  EXPECT_FALSE(v->result);  // excluded
  v = t->ValidateCode("http://example.org/vs/below-a", "http://other", "B", "");
  EXPECT_FALSE(v->result);
  v = t->ValidateCode("http://example.org/vs/below-a|2", "http://example.org/cs", "A1",
                      "first ALPHA");
  EXPECT_TRUE(v->result) << v->message;  // a designation, case-insensitive
  v = t->ValidateCode("http://example.org/vs/below-a", "http://example.org/cs", "A1", "Gamma");
  EXPECT_FALSE(v->result);
  EXPECT_NE(v->message.find("expected 'Alpha one'"), std::string::npos) << v->message;
  EXPECT_EQ(t->ValidateCode("http://x", "s", "c", "").status().code(), StatusCode::kNotFound);
}

TEST(Terminology, TranslatesThroughConceptMaps) {
  auto t = Example();
  auto tr = t->Translate("http://example.org/cm", "http://example.org/cs", "A1", "");
  ASSERT_TRUE(tr.ok());
  ASSERT_EQ(tr->size(), 1u);
  EXPECT_EQ((*tr)[0], (Translation{std::string(kSnomed), "44054006", "Type 2 diabetes mellitus",
                                   "equivalent", "http://example.org/cm"}));
  auto any = t->Translate("", "http://example.org/cs", "A1", std::string(kSnomed));
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(any->size(), 1u);
  EXPECT_TRUE(t->Translate("", "http://example.org/cs", "A1", std::string(kLoinc))->empty());
  EXPECT_TRUE(t->Translate("", "http://example.org/cs", "B", "")->empty());  // unmatched
  EXPECT_EQ(t->Translate("http://nope", "s", "c", "").status().code(), StatusCode::kNotFound);
}

TEST(Terminology, RejectsBadResources) {
  TerminologyBuilder b;
  EXPECT_EQ(b.AddFhirJson("{").code(), StatusCode::kIncorrect);
  EXPECT_EQ(b.AddFhirJson(R"({"resourceType":"Patient"})").code(), StatusCode::kIncorrect);
  EXPECT_EQ(b.AddFhirJson(R"({"resourceType":"CodeSystem"})").code(), StatusCode::kIncorrect);
  EXPECT_EQ(
      b.AddFhirJson(R"({"resourceType":"ConceptMap","url":"u","group":[{"source":"s"}]})").code(),
      StatusCode::kIncorrect);
  EXPECT_EQ(
      b.AddFhirJson(R"({"resourceType":"ValueSet","url":"u","compose":{"include":[{}]}})").code(),
      StatusCode::kIncorrect);
}

TEST(Terminology, LocalCodeMapBecomesACodeSystemAndAConceptMap) {
  TerminologyBuilder b;
  ASSERT_TRUE(b.AddLocalCodeMap("local_code,display,unit,loinc,snomed\n"
                                "HBA1C,HbA1c (IFCC),mmol/mol,59261-8,999791000000106\n"
                                "WBC,White cell count,10*9/L,6690-2,\n"
                                "GENE,Gene studied,,48018-6,\n",
                                "https://example.org/R9A/lab", "https://example.org/R9A/map")
                  .ok());
  auto t = std::move(b).Build();
  auto hb = t->Lookup("https://example.org/R9A/lab", "HBA1C");
  ASSERT_TRUE(hb.ok());
  EXPECT_EQ(hb->properties.at("unit"), "mmol/mol");
  auto tr = t->Translate("https://example.org/R9A/map", "https://example.org/R9A/lab", "HBA1C", "");
  ASSERT_TRUE(tr.ok());
  ASSERT_EQ(tr->size(), 2u);
  EXPECT_EQ((*tr)[0].system, kLoinc);
  EXPECT_EQ((*tr)[0].code, "59261-8");
  EXPECT_EQ((*tr)[1].code, "999791000000106");
  EXPECT_EQ(t->Translate("", "https://example.org/R9A/lab", "WBC", "")->size(), 1u);
  TerminologyBuilder bad;
  EXPECT_EQ(bad.AddLocalCodeMap("a,b\n1,2\n", "s", "m").code(), StatusCode::kIncorrect);
}

// The shipped subset (data/terminology, tools/make_terminology_subset.py).
TEST(Terminology, LoadsTheShippedSubset) {
  TerminologyBuilder b;
  Status s = b.LoadDirectory(std::string(LHCR_SOURCE_DIR) + "/data/terminology");
  ASSERT_TRUE(s.ok()) << s.message();
  auto t = std::move(b).Build();
  TerminologyStats st = t->stats();
  EXPECT_GT(st.concepts, 4000);
  EXPECT_GT(st.is_a_edges, 1000);
  EXPECT_GT(st.value_sets, 68);
  auto t2 = t->Lookup(kSnomed, "44054006");
  ASSERT_TRUE(t2.ok());
  EXPECT_NE(t2->display.find("diabetes"), std::string::npos) << t2->display;
  EXPECT_TRUE(t->Subsumes(kSnomed, "73211009", "44054006"));
  // dm+d: a VMP under its VTM, an AMP under its VMP.
  auto vmp = t->Lookup(kSnomed, "325278007");
  ASSERT_TRUE(vmp.ok());
  EXPECT_EQ(vmp->display, "Metformin 500mg tablets");
  EXPECT_EQ(vmp->properties.at("dmd-level"), "VMP");
  EXPECT_EQ(vmp->parents, std::vector<std::string>{"109081006"});
  bool amp_found = false;
  for (const std::string& child : vmp->children) {
    auto amp = t->Lookup(kSnomed, child);
    ASSERT_TRUE(amp.ok());
    amp_found = amp_found || amp->properties.at("dmd-level") == "AMP";
  }
  EXPECT_TRUE(amp_found);
  // An intensional (is-a) value set over the loaded hierarchy.
  auto e = t->Expand("https://lhcr.example.org/fhir/ValueSet/isa-conditions-diabetes-type-ii", "",
                     0, 1000);
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_GT(e->total, 10);
  auto in = t->ValidateCode("https://lhcr.example.org/fhir/ValueSet/isa-conditions-diabetes",
                            kSnomed, "44054006", "");
  ASSERT_TRUE(in.ok());
  EXPECT_TRUE(in->result) << in->message;
  // dm+d value sets: by level (a property filter) and by moiety (is-a).
  auto vmps = t->Expand("https://lhcr.example.org/fhir/ValueSet/dmd-vmp", "", 0, 0);
  ASSERT_TRUE(vmps.ok()) << vmps.status().message();
  EXPECT_EQ(vmps->total, 67);
  auto metformin =
      t->Expand("https://lhcr.example.org/fhir/ValueSet/dmd-vtm-metformin", "", 0, 1000);
  ASSERT_TRUE(metformin.ok());
  bool has_vmp = false;
  for (const auto& i : metformin->items) has_vmp = has_vmp || i.code == "325278007";
  EXPECT_TRUE(has_vmp);
  EXPECT_GT(metformin->total, 5);
  auto loinc = t->Lookup(kLoinc, "718-7");
  ASSERT_TRUE(loinc.ok());
  EXPECT_EQ(loinc->display, "Hemoglobin [Mass/volume] in Blood");
}

}  // namespace
}  // namespace lhcr::terminology
