#include "fhir/search_index.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <thread>

#include "fhir/resource_types.h"

namespace lhcr::fhir {

namespace {

using store::IndexRow;
using store::IndexType;

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

JsonDoc Parse(std::string_view text) {
  auto doc = ParseJson(text);
  EXPECT_TRUE(doc.ok()) << doc.status().ToString();
  return std::move(doc).value();
}

const SearchParamRegistry& R4() {
  static const std::shared_ptr<const SearchParamRegistry> kReg = SearchParamRegistry::R4();
  return *kReg;
}

std::vector<IndexRow> Sorted(std::vector<IndexRow> rows) {
  std::sort(rows.begin(), rows.end());
  return rows;
}

// The rows of `rows` whose param is one of `params`.
std::vector<IndexRow> Only(const std::vector<IndexRow>& rows, std::set<std::string> params) {
  std::vector<IndexRow> out;
  for (const IndexRow& r : rows) {
    if (params.count(r.param)) out.push_back(r);
  }
  return out;
}

std::vector<IndexRow> Param(const Json& resource, std::string_view code) {
  std::string_view type = StringMember(resource, "resourceType");
  const SearchParam* p = R4().Find(type, code);
  EXPECT_NE(p, nullptr) << type << "." << code;
  if (p == nullptr) return {};
  return ExtractParam(resource, *p);
}

// The rows of parameter `b` as a search reads them: from its sources in
// `stored` (ExtractIndexRows), named by its own key.
std::vector<IndexRow> AsSearched(const std::vector<IndexRow>& stored, const BoundSearchParam& b) {
  std::vector<IndexRow> out;
  for (const IndexSource& s : b.sources) {
    for (const IndexRow& r : stored) {
      const bool own = r.param == s.key;
      const bool ident = r.param == s.key + ":identifier";
      if (!own && !ident) continue;
      if (!s.target_type.empty() &&
          (ident || r.type != IndexType::kReference || r.s1 != s.target_type)) {
        continue;
      }
      IndexRow c = r;
      c.param = ident ? b.key + ":identifier" : b.key;
      out.push_back(std::move(c));
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Every parameter of `resource`'s type reads back, from the rows stored,
// exactly the rows ExtractParam gives it; returns the parameters that do not.
std::vector<std::string> SharedRowMismatches(const Json& resource) {
  std::string_view type = StringMember(resource, "resourceType");
  const std::vector<IndexRow> stored = ExtractIndexRows(resource, R4());
  std::vector<std::string> bad;
  for (const BoundSearchParam& b : R4().BoundForType(type)) {
    const SearchParam& p = *b.param;
    if (p.type == SearchParamType::kComposite || p.type == SearchParamType::kSpecial ||
        p.code == "_id" || p.code == "_lastUpdated") {
      continue;
    }
    if (AsSearched(stored, b) != ExtractParam(resource, p)) bad.push_back(b.key);
  }
  return bad;
}

// Milliseconds since the epoch of a UTC date-time, computed independently of
// the code under test with timegm.
int64_t Ms(int y, int mo, int d, int h = 0, int mi = 0, int s = 0, int ms = 0) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

}  // namespace

void PrintTo(const IndexRow& r, std::ostream* os) {
  *os << "{" << static_cast<int>(r.type) << " " << r.param << " s1=\"" << r.s1 << "\" s2=\"" << r.s2
      << "\" num=" << r.num << " lo=" << r.lo << " hi=" << r.hi << "}";
}

namespace {

// --- dates -----------------------------------------------------------------

TEST(ParseFhirDateRangeTest, RangeByPrecision) {
  EXPECT_EQ(ParseFhirDateRange("2013").value(), (DateRange{Ms(2013, 1, 1), Ms(2014, 1, 1) - 1}));
  EXPECT_EQ(ParseFhirDateRange("2013").value().hi, Ms(2013, 12, 31, 23, 59, 59, 999));
  EXPECT_EQ(ParseFhirDateRange("2012-02").value(), (DateRange{Ms(2012, 2, 1), Ms(2012, 3, 1) - 1}));
  EXPECT_EQ(ParseFhirDateRange("2013-12").value(),
            (DateRange{Ms(2013, 12, 1), Ms(2014, 1, 1) - 1}));
  EXPECT_EQ(ParseFhirDateRange("2012-02-29").value(),
            (DateRange{Ms(2012, 2, 29), Ms(2012, 3, 1) - 1}));
  EXPECT_EQ(ParseFhirDateRange("2013-05-06T10:20").value(),
            (DateRange{Ms(2013, 5, 6, 10, 20), Ms(2013, 5, 6, 10, 20, 59, 999)}));
  EXPECT_EQ(ParseFhirDateRange("2013-05-06T10:20:30Z").value(),
            (DateRange{Ms(2013, 5, 6, 10, 20, 30), Ms(2013, 5, 6, 10, 20, 30, 999)}));
  EXPECT_EQ(ParseFhirDateRange("2013-05-06T10:20:30.2Z").value(),
            (DateRange{Ms(2013, 5, 6, 10, 20, 30, 200), Ms(2013, 5, 6, 10, 20, 30, 299)}));
  EXPECT_EQ(ParseFhirDateRange("2013-05-06T10:20:30.25Z").value(),
            (DateRange{Ms(2013, 5, 6, 10, 20, 30, 250), Ms(2013, 5, 6, 10, 20, 30, 259)}));
  EXPECT_EQ(ParseFhirDateRange("2013-05-06T10:20:30.123Z").value(),
            (DateRange{Ms(2013, 5, 6, 10, 20, 30, 123), Ms(2013, 5, 6, 10, 20, 30, 123)}));
  EXPECT_EQ(ParseFhirDateRange("2013-05-06T10:20:30.123456Z").value(),
            (DateRange{Ms(2013, 5, 6, 10, 20, 30, 123), Ms(2013, 5, 6, 10, 20, 30, 123)}));
}

TEST(ParseFhirDateRangeTest, TimezonesAndNoZoneIsUtc) {
  EXPECT_EQ(ParseFhirDateRange("2013-05-06T10:20:30+02:00").value().lo, Ms(2013, 5, 6, 8, 20, 30));
  EXPECT_EQ(ParseFhirDateRange("2013-05-06T10:20:30-05:30").value().lo, Ms(2013, 5, 6, 15, 50, 30));
  EXPECT_EQ(ParseFhirDateRange("2013-05-06T23:20:30-05:00").value().lo, Ms(2013, 5, 7, 4, 20, 30));
  EXPECT_EQ(ParseFhirDateRange("2013-05-06T10:20:30").value().lo, Ms(2013, 5, 6, 10, 20, 30));
  EXPECT_EQ(ParseFhirDateRange("1974-12-25T14:35:45-05:00").value(),
            (DateRange{Ms(1974, 12, 25, 19, 35, 45), Ms(1974, 12, 25, 19, 35, 45, 999)}));
}

TEST(ParseFhirDateRangeTest, BeforeTheEpoch) {
  EXPECT_EQ(ParseFhirDateRange("1969-12-31").value(), (DateRange{-86400000, -1}));
  EXPECT_EQ(ParseFhirDateRange("1900").value(), (DateRange{-2208988800000, -2177452800001}));
  EXPECT_EQ(ParseFhirDateRange("1600-02-29").value().lo, -11670998400000);
  EXPECT_EQ(ParseFhirDateRange("0001-01-01").value().lo, -62135596800000);
  EXPECT_EQ(ParseFhirDateRange("1969-12-31T23:59:59.5Z").value(), (DateRange{-500, -401}));
}

TEST(ParseFhirDateRangeTest, RejectsMalformed) {
  for (const char* bad :
       {"", "13", "2013-", "2013-13", "2013-00", "2013-02-29", "2013-04-31", "2013-05-06T",
        "2013-05-06T25:00", "2013-05-06T10:60", "2013-05-06T10:20:61", "2013-05-06T10:20:30.",
        "2013-05-06T10:20:30+2", "2013-05-06T10:20:30X", "2013-05-06 10:20", "10:20:30", "abcd",
        "2013-05-06T10:20:30Z "}) {
    auto r = ParseFhirDateRange(bad);
    EXPECT_EQ(r.status().code(), StatusCode::kIncorrect) << "'" << bad << "'";
  }
}

// --- strings ---------------------------------------------------------------

TEST(NormaliseStringTest, FoldsCaseAccentsAndPunctuation) {
  EXPECT_EQ(NormaliseString("Chalmers"), "chalmers");
  EXPECT_EQ(NormaliseString("  Bénédicte  du Marché "), "benedicte du marche");
  EXPECT_EQ(NormaliseString("O'Brien-Smith"), "o brien smith");
  EXPECT_EQ(NormaliseString("Straße ÆØÅ æøå Ñ"), "strasse aeoa aeoa n");
  EXPECT_EQ(NormaliseString("Łódź Dvořák Škoda"), "lodz dvorak skoda");
  EXPECT_EQ(NormaliseString("(03) 5555\t6473"), "03 5555 6473");
  EXPECT_EQ(NormaliseString("a\u00a0b\u2013c\u2019d"), "a b c d");  // nbsp, en dash, ’
  EXPECT_EQ(NormaliseString("...!!"), "");
  EXPECT_EQ(NormaliseString(""), "");
  EXPECT_EQ(NormaliseString("日本 Test"), "日本 test");  // other scripts pass through
}

// --- the registry ----------------------------------------------------------

TEST(SearchParamRegistryTest, R4HasEveryPackageParameter) {
  EXPECT_EQ(R4().size(), 1397u);  // 1,400 less the three illustrative examples
  const SearchParam* code = R4().Find("Observation", "code");
  ASSERT_NE(code, nullptr);
  EXPECT_EQ(code->url, "http://hl7.org/fhir/SearchParameter/clinical-code");
  EXPECT_EQ(code->type, SearchParamType::kToken);
  // Only the Observation branch of the shared clinical-code expression.
  ASSERT_EQ(code->PathsFor("Observation").size(), 1u);
  EXPECT_EQ(code->PathsFor("Observation")[0].expression(), "Observation.code");
  EXPECT_TRUE(code->PathsFor("Patient").empty());

  for (const char* base : {"_id", "_lastUpdated", "_tag", "_profile", "_security", "_source"}) {
    const SearchParam* p = R4().Find("Observation", base);
    ASSERT_NE(p, nullptr) << base;
    EXPECT_EQ(p->base, std::vector<std::string>({"Resource"}));
    EXPECT_EQ(R4().Find("Bundle", base), p);
  }
  EXPECT_NE(R4().Find("Patient", "_text"), nullptr);
  EXPECT_EQ(R4().Find("Bundle", "_text"), nullptr);  // Bundle is not a DomainResource
  EXPECT_EQ(R4().Find("Observation", "nope"), nullptr);
  EXPECT_EQ(R4().Find("Nope", "_id"), nullptr);
  EXPECT_EQ(R4().Find("Condition", "subject")->url,
            "http://hl7.org/fhir/SearchParameter/Condition-subject");

  const auto& obs = R4().ForType("Observation");
  EXPECT_GT(obs.size(), 40u);
  EXPECT_TRUE(
      std::is_sorted(obs.begin(), obs.end(),
                     [](const SearchParam* a, const SearchParam* b) { return a->code < b->code; }));
  EXPECT_TRUE(R4().ForType("Nope").empty());
  EXPECT_TRUE(R4().IsResourceType("Patient"));
  EXPECT_TRUE(R4().IsResourceType("Binary"));
  EXPECT_FALSE(R4().IsResourceType("DomainResource"));
  EXPECT_FALSE(R4().IsResourceType("Quantity"));

  const SearchParam* combo = R4().Find("Observation", "combo-code-value-quantity");
  ASSERT_NE(combo, nullptr);
  EXPECT_EQ(combo->type, SearchParamType::kComposite);
  ASSERT_EQ(combo->components.size(), 2u);
  ASSERT_NE(combo->components[0].param, nullptr);
  EXPECT_EQ(combo->components[0].param->code, "combo-code");
  EXPECT_EQ(combo->components[1].param->type, SearchParamType::kQuantity);
  EXPECT_EQ(SearchParamTypeName(SearchParamType::kReference), "reference");
  EXPECT_EQ(ParseSearchParamType("quantity").value(), SearchParamType::kQuantity);
  EXPECT_FALSE(ParseSearchParamType("blob").ok());
}

TEST(SearchParamRegistryTest, FromJsonRejectsBadInput) {
  EXPECT_FALSE(SearchParamRegistry::FromJson("{").ok());
  EXPECT_FALSE(SearchParamRegistry::FromJson("{}").ok());
  auto bad_expr = SearchParamRegistry::FromJson(
      R"j([{"url":"u","code":"c","type":"token","base":["Patient"],"expression":"Patient.x.foo()"}])j");
  EXPECT_EQ(bad_expr.status().code(), StatusCode::kIncorrect);
  auto ok = SearchParamRegistry::FromJson(
      R"([{"url":"u","code":"c","type":"token","base":["Patient"],"expression":"Patient.gender","target":[],"component":[]}])");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_NE((*ok)->Find("Patient", "c"), nullptr);
}

// --- rows by value type ----------------------------------------------------

TEST(ExtractTest, Tokens) {
  JsonDoc r = Parse(R"({"resourceType": "Patient", "id": "p",
    "active": true, "gender": "female",
    "identifier": [{"system": "urn:s", "value": "v1"}, {"value": "v2"}, {"system": "urn:s"}],
    "telecom": [{"system": "phone", "value": "123"}, {"system": "email", "value": "a@b.c"}, {"use": "home"}],
    "meta": {"tag": [{"system": "urn:t", "code": "x"}, {"display": "no code"}],
             "security": [{"system": "urn:sec", "code": "R"}]},
    "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "en"},
                                               {"code": "nl"}], "text": "English"}}]})");
  EXPECT_EQ(Param(r, "active"),
            (std::vector<IndexRow>{IndexRow::Token("Patient.active", "", "true")}));
  EXPECT_EQ(Param(r, "gender"),
            (std::vector<IndexRow>{IndexRow::Token("Patient.gender", "", "female")}));
  EXPECT_EQ(Param(r, "identifier"), Sorted({IndexRow::Token("Patient.identifier", "urn:s", "v1"),
                                            IndexRow::Token("Patient.identifier", "", "v2")}));
  EXPECT_EQ(Param(r, "telecom"), Sorted({IndexRow::Token("Patient.telecom", "", "123"),
                                         IndexRow::Token("Patient.telecom", "", "a@b.c")}));
  EXPECT_EQ(Param(r, "phone"),
            (std::vector<IndexRow>{IndexRow::Token("Patient.phone", "", "123")}));
  EXPECT_EQ(Param(r, "email"),
            (std::vector<IndexRow>{IndexRow::Token("Patient.email", "", "a@b.c")}));
  EXPECT_EQ(Param(r, "_tag"),
            (std::vector<IndexRow>{IndexRow::Token("Patient._tag", "urn:t", "x")}));
  EXPECT_EQ(Param(r, "_security"),
            (std::vector<IndexRow>{IndexRow::Token("Patient._security", "urn:sec", "R")}));
  EXPECT_EQ(Param(r, "language"),
            Sorted({IndexRow::Token("Patient.language", "urn:ietf:bcp:47", "en"),
                    IndexRow::Token("Patient.language", "", "nl")}));
  // Patient.deceased: a computed boolean.
  EXPECT_EQ(Param(r, "deceased"),
            (std::vector<IndexRow>{IndexRow::Token("Patient.deceased", "", "false")}));
  // A Quantity is not a token: Observation.value-concept only takes CodeableConcept.
  JsonDoc o =
      Parse(R"({"resourceType": "Observation", "valueQuantity": {"value": 1, "code": "mg"}})");
  EXPECT_TRUE(Param(o, "value-concept").empty());
}

TEST(ExtractTest, Strings) {
  JsonDoc r = Parse(R"({"resourceType": "Patient",
    "name": [{"family": "Du Marché", "given": ["Bénédicte", "Ann-Marie"], "prefix": ["Dr."],
              "suffix": ["III"], "text": "Dr. Bénédicte Du Marché"}],
    "address": [{"line": ["1 High St", "Flat 2"], "city": "Leeds", "district": "West Yorks",
                 "state": "England", "postalCode": "LS1 1AA", "country": "UK", "text": "x"}]})");
  EXPECT_EQ(Param(r, "name"),
            Sorted({IndexRow::String("Patient.name", "du marche"),
                    IndexRow::String("Patient.name", "benedicte"),
                    IndexRow::String("Patient.name", "ann marie"),
                    IndexRow::String("Patient.name", "dr"), IndexRow::String("Patient.name", "iii"),
                    IndexRow::String("Patient.name", "dr benedicte du marche")}));
  EXPECT_EQ(Param(r, "family"),
            (std::vector<IndexRow>{IndexRow::String("Patient.family", "du marche")}));
  EXPECT_EQ(Param(r, "address"), Sorted({IndexRow::String("Patient.address", "1 high st"),
                                         IndexRow::String("Patient.address", "flat 2"),
                                         IndexRow::String("Patient.address", "leeds"),
                                         IndexRow::String("Patient.address", "west yorks"),
                                         IndexRow::String("Patient.address", "england"),
                                         IndexRow::String("Patient.address", "ls1 1aa"),
                                         IndexRow::String("Patient.address", "uk"),
                                         IndexRow::String("Patient.address", "x")}));
  EXPECT_EQ(Param(r, "address-postalcode"),
            (std::vector<IndexRow>{IndexRow::String("Patient.address-postalcode", "ls1 1aa")}));
}

TEST(ExtractTest, Dates) {
  JsonDoc r = Parse(R"({"resourceType": "Encounter",
    "period": {"start": "2020-01-01T10:00:00Z"}})");
  EXPECT_EQ(Param(r, "date"),
            (std::vector<IndexRow>{IndexRow::Date("Encounter.date", Ms(2020, 1, 1, 10), kMax)}));
  JsonDoc e = Parse(R"({"resourceType": "Encounter", "period": {"end": "2020-01"}})");
  EXPECT_EQ(Param(e, "date"),
            (std::vector<IndexRow>{IndexRow::Date("Encounter.date", kMin, Ms(2020, 2, 1) - 1)}));
  JsonDoc p = Parse(R"({"resourceType": "Patient", "birthDate": "1950-06"})");
  EXPECT_EQ(Param(p, "birthdate"), (std::vector<IndexRow>{IndexRow::Date(
                                       "Patient.birthdate", Ms(1950, 6, 1), Ms(1950, 7, 1) - 1)}));
  JsonDoc bad = Parse(R"({"resourceType": "Patient", "birthDate": "June 1950"})");
  EXPECT_TRUE(Param(bad, "birthdate").empty());
  // Choice: Observation.effective[x] as dateTime, Period, instant, Timing.
  JsonDoc o1 = Parse(R"({"resourceType": "Observation", "effectiveDateTime": "2021-03-04"})");
  EXPECT_EQ(Param(o1, "date"), (std::vector<IndexRow>{IndexRow::Date(
                                   "Observation.date", Ms(2021, 3, 4), Ms(2021, 3, 5) - 1)}));
  JsonDoc o2 = Parse(R"({"resourceType": "Observation",
    "effectivePeriod": {"start": "2021-03-04", "end": "2021-03-06"}})");
  EXPECT_EQ(Param(o2, "date"), (std::vector<IndexRow>{IndexRow::Date(
                                   "Observation.date", Ms(2021, 3, 4), Ms(2021, 3, 7) - 1)}));
  JsonDoc o3 = Parse(R"({"resourceType": "Observation",
    "effectiveTiming": {"event": ["2021-03-04", "2021-03-05T10:00:00Z"]}})");
  EXPECT_EQ(Param(o3, "date"),
            Sorted({IndexRow::Date("Observation.date", Ms(2021, 3, 4), Ms(2021, 3, 5) - 1),
                    IndexRow::Date("Observation.date", Ms(2021, 3, 5, 10),
                                   Ms(2021, 3, 5, 10, 0, 0, 999))}));
}

TEST(ExtractTest, References) {
  JsonDoc r = Parse(R"({"resourceType": "Observation",
    "subject": {"reference": "Patient/p1/_history/3", "identifier": {"system": "urn:nhs", "value": "943"}},
    "performer": [{"reference": "http://other.org/fhir/Practitioner/x/_history/2"}, {"reference": "#c1"},
                  {"reference": "urn:uuid:5"}, {"display": "just a name"}, {"reference": "junk"}],
    "basedOn": [{"identifier": {"system": "urn:o", "value": "9"}}],
    "contained": [{"resourceType": "Practitioner", "id": "c1"}]})");
  EXPECT_EQ(Param(r, "subject"),
            Sorted({IndexRow::Reference("Observation.subject", "Patient", "p1"),
                    IndexRow::Token("Observation.subject:identifier", "urn:nhs", "943")}));
  EXPECT_EQ(Param(r, "patient"),
            Sorted({IndexRow::Reference("Observation.patient", "Patient", "p1"),
                    IndexRow::Token("Observation.patient:identifier", "urn:nhs", "943")}));
  EXPECT_EQ(Param(r, "performer"),
            Sorted({IndexRow::Reference("Observation.performer", "",
                                        "http://other.org/fhir/Practitioner/x"),
                    IndexRow::Reference("Observation.performer", "", "urn:uuid:5")}));
  EXPECT_EQ(
      Param(r, "based-on"),
      (std::vector<IndexRow>{IndexRow::Token("Observation.based-on:identifier", "urn:o", "9")}));
  // A Group subject is not a patient.
  JsonDoc g = Parse(R"({"resourceType": "Observation", "subject": {"reference": "Group/g"}})");
  EXPECT_TRUE(Param(g, "patient").empty());
  EXPECT_EQ(Param(g, "subject"),
            (std::vector<IndexRow>{IndexRow::Reference("Observation.subject", "Group", "g")}));
  // Single-target parameter: an untyped reference is taken as that target.
  JsonDoc u = Parse(R"({"resourceType": "Account", "subject": [{"reference": "urn:uuid:7"}]})");
  EXPECT_EQ(Param(u, "patient"),
            (std::vector<IndexRow>{IndexRow::Reference("Account.patient", "", "urn:uuid:7")}));
  // Canonical: "|version" dropped.
  JsonDoc c = Parse(R"({"resourceType": "QuestionnaireResponse",
    "questionnaire": "http://x.org/Questionnaire/q|2.0"})");
  EXPECT_EQ(Param(c, "questionnaire"),
            (std::vector<IndexRow>{IndexRow::Reference("QuestionnaireResponse.questionnaire", "",
                                                       "http://x.org/Questionnaire/q")}));
  // Bundle.entry[0].resource: the resource itself.
  JsonDoc b = Parse(R"({"resourceType": "Bundle", "type": "document",
    "entry": [{"resource": {"resourceType": "Composition", "id": "c9"}},
              {"resource": {"resourceType": "Patient", "id": "p9"}}]})");
  EXPECT_EQ(
      Param(b, "composition"),
      (std::vector<IndexRow>{IndexRow::Reference("Bundle.composition", "Composition", "c9")}));
}

TEST(ExtractTest, QuantitiesNumbersUris) {
  JsonDoc o = Parse(R"({"resourceType": "Observation",
    "valueQuantity": {"value": 5.5, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"},
    "component": [{"valueQuantity": {"value": 7, "unit": "beats"}}]})");
  EXPECT_EQ(Param(o, "value-quantity"),
            (std::vector<IndexRow>{IndexRow::Quantity("Observation.value-quantity", 5.5,
                                                      "http://unitsofmeasure.org", "mg")}));
  EXPECT_EQ(Param(o, "component-value-quantity"),
            (std::vector<IndexRow>{
                IndexRow::Quantity("Observation.component-value-quantity", 7, "", "beats")}));
  JsonDoc m = Parse(
      R"({"resourceType": "ChargeItem", "priceOverride": {"value": 12.5, "currency": "EUR"}})");
  EXPECT_EQ(Param(m, "price-override"),
            (std::vector<IndexRow>{IndexRow::Quantity("ChargeItem.price-override", 12.5,
                                                      "urn:iso:std:iso:4217", "EUR")}));
  JsonDoc ra = Parse(R"({"resourceType": "RiskAssessment",
    "prediction": [{"probabilityDecimal": 0.25}, {"probabilityRange": {"low": {"value": 1}}}]})");
  EXPECT_EQ(Param(ra, "probability"),
            (std::vector<IndexRow>{IndexRow::Number("RiskAssessment.probability", 0.25)}));
  JsonDoc vs = Parse(R"({"resourceType": "ValueSet", "url": "http://x.org/vs",
    "meta": {"profile": ["http://p.org/a"]}})");
  EXPECT_EQ(Param(vs, "url"),
            (std::vector<IndexRow>{IndexRow::Uri("ValueSet.url", "http://x.org/vs")}));
  EXPECT_EQ(Param(vs, "_profile"),
            (std::vector<IndexRow>{IndexRow::Uri("ValueSet._profile", "http://p.org/a")}));
}

TEST(ExtractTest, ExtensionParametersUseTheExtensionValue) {
  JsonDoc p = Parse(R"({"resourceType": "Patient", "extension": [
    {"url": "http://hl7.org/fhir/StructureDefinition/patient-extensions-Patient-mothersMaidenName",
     "valueString": "Smith-Jones"}]})");
  EXPECT_EQ(Param(p, "mothersMaidenName"),
            (std::vector<IndexRow>{IndexRow::String("Patient.mothersMaidenName", "smith jones")}));
}

TEST(ExtractTest, IndexRowsSkipIdLastUpdatedAndDeduplicate) {
  JsonDoc r = Parse(
      R"({"resourceType": "Patient", "id": "p", "meta": {"lastUpdated": "2020-01-01T00:00:00Z"},
    "name": [{"family": "Smith"}, {"family": "SMITH"}]})");
  std::vector<IndexRow> rows = ExtractIndexRows(r, R4());
  // phonetic (Patient.name) reads the rows of name.
  EXPECT_EQ(rows, Sorted({IndexRow::String("Patient.family", "smith"),
                          IndexRow::String("Patient.name", "smith"),
                          IndexRow::Token("Patient.deceased", "", "false")}));
  JsonDoc none = Parse(R"({"id": "x"})");
  EXPECT_TRUE(ExtractIndexRows(none, R4()).empty());
  JsonDoc unknown = Parse(R"({"resourceType": "Nope", "id": "x"})");
  EXPECT_TRUE(ExtractIndexRows(unknown, R4()).empty());
}

TEST(ExtractTest, RowsAreWrittenOncePerExpression) {
  // combo-code is code | component-code, combo-value-quantity likewise;
  // patient is subject.where(resolve() is Patient).
  const BoundSearchParam* combo = R4().Bound("Observation", "combo-code");
  ASSERT_NE(combo, nullptr);
  EXPECT_FALSE(combo->stored);
  ASSERT_EQ(combo->sources.size(), 2u);
  EXPECT_EQ(combo->sources[0].key, "Observation.code");
  EXPECT_EQ(combo->sources[1].key, "Observation.component-code");
  const BoundSearchParam* patient = R4().Bound("Observation", "patient");
  ASSERT_NE(patient, nullptr);
  EXPECT_TRUE(patient->stored);
  ASSERT_EQ(patient->sources.size(), 2u);
  EXPECT_EQ(patient->sources[1].key, "Observation.subject");
  EXPECT_EQ(patient->sources[1].target_type, "Patient");
  EXPECT_TRUE(R4().Bound("Observation", "code")->stored);
  EXPECT_EQ(R4().Bound("Observation", "nope"), nullptr);

  JsonDoc r = Parse(R"({"resourceType": "Observation", "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "1"}]},
    "subject": {"reference": "Patient/p"}, "valueQuantity": {"value": 2, "code": "mg"},
    "focus": [{"reference": "http://x.org/fhir/Patient/q"}],
    "component": [{"code": {"text": "x", "coding": [{"code": "c"}]},
                   "valueQuantity": {"value": 3}}]})");
  std::vector<IndexRow> rows = ExtractIndexRows(r, R4());
  EXPECT_TRUE(Only(rows, {"Observation.combo-code", "Observation.combo-value-quantity",
                          "Observation.patient"})
                  .empty());
  EXPECT_EQ(Only(rows, {"Observation.code", "Observation.component-code"}),
            Sorted({IndexRow::Token("Observation.code", "http://loinc.org", "1"),
                    IndexRow::Token("Observation.component-code", "", "c")}));
  EXPECT_EQ(SharedRowMismatches(r), std::vector<std::string>());
  // What a store written with every parameter's rows holds: all of them.
  std::vector<IndexRow> all = ExtractIndexRowsAnyLayout(r, R4());
  EXPECT_EQ(Only(all, {"Observation.patient", "Observation.combo-code"}),
            Sorted({IndexRow::Reference("Observation.patient", "Patient", "p"),
                    IndexRow::Token("Observation.combo-code", "http://loinc.org", "1"),
                    IndexRow::Token("Observation.combo-code", "", "c")}));
  EXPECT_TRUE(std::includes(all.begin(), all.end(), rows.begin(), rows.end()));

  // A reference resolve() types from something else than its own text is
  // still written under patient.
  JsonDoc e = Parse(R"({"resourceType": "Encounter", "status": "finished",
    "class": {"code": "AMB"},
    "subject": {"reference": "http://x.org/fhir/Patient/q",
                "identifier": {"system": "s", "value": "v"}}})");
  EXPECT_EQ(Only(ExtractIndexRows(e, R4()), {"Encounter.patient", "Encounter.patient:identifier"}),
            Sorted({IndexRow::Reference("Encounter.patient", "", "http://x.org/fhir/Patient/q"),
                    IndexRow::Token("Encounter.patient:identifier", "s", "v")}));
  EXPECT_EQ(SharedRowMismatches(e), std::vector<std::string>());
}

TEST(ExtractTest, ConcurrentExtractionAgrees) {
  JsonDoc r = Parse(R"({"resourceType": "Observation", "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "1"}]},
    "subject": {"reference": "Patient/p"}, "effectiveDateTime": "2020",
    "component": [{"code": {"text": "x"}, "valueQuantity": {"value": 2}}]})");
  const std::vector<IndexRow> expected = ExtractIndexRows(r, *SearchParamRegistry::R4());
  ASSERT_FALSE(expected.empty());
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto reg = SearchParamRegistry::R4();
      for (int i = 0; i < 200; ++i) {
        if (ExtractIndexRows(r, *reg) != expected) ++mismatches[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
  EXPECT_EQ(SearchParamRegistry::R4().get(), SearchParamRegistry::R4().get());
}

// --- the official examples ---------------------------------------------------

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::filesystem::path PackageDir() { return std::filesystem::path(LHCR_FHIR_PACKAGE); }

bool HavePackage() { return std::filesystem::exists(PackageDir() / "Patient-example.json"); }

TEST(ExtractExamplesTest, PatientExample) {
  if (!HavePackage()) GTEST_SKIP() << "FHIR package not found at " << PackageDir();
  JsonDoc r = Parse(ReadFile(PackageDir() / "Patient-example.json"));
  std::vector<IndexRow> rows = ExtractIndexRows(r, R4());
  EXPECT_EQ(Only(rows, {"Patient.name"}), Sorted({IndexRow::String("Patient.name", "chalmers"),
                                                  IndexRow::String("Patient.name", "peter"),
                                                  IndexRow::String("Patient.name", "james"),
                                                  IndexRow::String("Patient.name", "jim"),
                                                  IndexRow::String("Patient.name", "windsor")}));
  EXPECT_EQ(Only(rows, {"Patient.birthdate"}),
            (std::vector<IndexRow>{
                IndexRow::Date("Patient.birthdate", Ms(1974, 12, 25), Ms(1974, 12, 26) - 1)}));
  EXPECT_EQ(Only(rows, {"Patient.gender"}),
            (std::vector<IndexRow>{IndexRow::Token("Patient.gender", "", "male")}));
  EXPECT_EQ(Only(rows, {"Patient.identifier"}),
            (std::vector<IndexRow>{
                IndexRow::Token("Patient.identifier", "urn:oid:1.2.36.146.595.217.0.1", "12345")}));
  EXPECT_EQ(
      Only(rows, {"Patient.organization"}),
      (std::vector<IndexRow>{IndexRow::Reference("Patient.organization", "Organization", "1")}));
  EXPECT_EQ(Only(rows, {"Patient.phone"}),
            Sorted({IndexRow::Token("Patient.phone", "", "(03) 5555 6473"),
                    IndexRow::Token("Patient.phone", "", "(03) 3410 5613"),
                    IndexRow::Token("Patient.phone", "", "(03) 5555 8834")}));
  EXPECT_EQ(Only(rows, {"Patient.address-city", "Patient.active", "Patient.deceased"}),
            Sorted({IndexRow::String("Patient.address-city", "pleasantville"),
                    IndexRow::Token("Patient.active", "", "true"),
                    IndexRow::Token("Patient.deceased", "", "false")}));
  EXPECT_EQ(rows.size(), 32u);  // 37 before phonetic shared name's rows
}

TEST(ExtractExamplesTest, BloodPressureCompositeTuples) {
  if (!HavePackage()) GTEST_SKIP() << "FHIR package not found at " << PackageDir();
  JsonDoc r = Parse(ReadFile(PackageDir() / "Observation-blood-pressure.json"));
  const SearchParam* p = R4().Find("Observation", "component-code-value-quantity");
  ASSERT_NE(p, nullptr);
  auto tuples = ExtractCompositeTuples(r, *p, R4());
  ASSERT_EQ(tuples.size(), 2u);
  EXPECT_EQ(
      tuples[0][0],
      Sorted({IndexRow::Token("Observation.component-code", "http://loinc.org", "8480-6"),
              IndexRow::Token("Observation.component-code", "http://snomed.info/sct", "271649006"),
              IndexRow::Token("Observation.component-code",
                              "http://acme.org/devices/clinical-codes", "bp-s")}));
  EXPECT_EQ(tuples[0][1],
            (std::vector<IndexRow>{IndexRow::Quantity("Observation.component-value-quantity", 107,
                                                      "http://unitsofmeasure.org", "mm[Hg]")}));
  EXPECT_EQ(tuples[1][0], (std::vector<IndexRow>{IndexRow::Token("Observation.component-code",
                                                                 "http://loinc.org", "8462-4")}));
  EXPECT_EQ(tuples[1][1],
            (std::vector<IndexRow>{IndexRow::Quantity("Observation.component-value-quantity", 60,
                                                      "http://unitsofmeasure.org", "mm[Hg]")}));
  // "Observation | Observation.component": the resource itself is one element.
  const SearchParam* combo = R4().Find("Observation", "combo-code-value-quantity");
  ASSERT_NE(combo, nullptr);
  auto combo_tuples = ExtractCompositeTuples(r, *combo, R4());
  ASSERT_EQ(combo_tuples.size(), 3u);
  EXPECT_EQ(combo_tuples[0][0], (std::vector<IndexRow>{IndexRow::Token(
                                    "Observation.combo-code", "http://loinc.org", "85354-9")}));
  EXPECT_TRUE(combo_tuples[0][1].empty());
  EXPECT_EQ(combo_tuples[2][1].size(), 1u);
  // MolecularSequence components using %resource.
  const SearchParam* ms = R4().Find("MolecularSequence", "chromosome-variant-coordinate");
  ASSERT_NE(ms, nullptr);
  JsonDoc seq = Parse(R"({"resourceType": "MolecularSequence",
    "referenceSeq": {"chromosome": {"coding": [{"system": "urn:c", "code": "1"}]}},
    "variant": [{"start": 10, "end": 20}]})");
  auto seq_tuples = ExtractCompositeTuples(seq, *ms, R4());
  ASSERT_EQ(seq_tuples.size(), 1u);
  EXPECT_EQ(seq_tuples[0][0],
            (std::vector<IndexRow>{IndexRow::Token("MolecularSequence.chromosome", "urn:c", "1")}));
  EXPECT_EQ(seq_tuples[0][1],
            (std::vector<IndexRow>{IndexRow::Number("MolecularSequence.variant-start", 10)}));
  EXPECT_EQ(seq_tuples[0][2],
            (std::vector<IndexRow>{IndexRow::Number("MolecularSequence.variant-end", 20)}));
}

// Extraction runs over every example resource of the package (other than
// the conformance resources that define FHIR itself) and yields well-formed
// rows.
TEST(ExtractExamplesTest, EveryExampleResource) {
  if (!HavePackage()) GTEST_SKIP() << "FHIR package not found at " << PackageDir();
  int resources = 0;
  size_t rows_total = 0;
  std::set<std::string> types;
  for (const auto& entry : std::filesystem::directory_iterator(PackageDir())) {
    if (entry.path().extension() != ".json") continue;
    std::string name = entry.path().filename().string();
    if (name == "package.json" || name == ".index.json") continue;
    auto doc = ParseJson(ReadFile(entry.path()));
    ASSERT_TRUE(doc.ok()) << name << ": " << doc.status().ToString();
    std::string type(StringMember(*doc, "resourceType"));
    if (type.empty() || IsConformanceType(type)) continue;
    ++resources;
    types.insert(type);
    std::vector<IndexRow> rows = ExtractIndexRows(*doc, R4());
    rows_total += rows.size();
    // Rows shared between parameters read back exactly.
    EXPECT_EQ(SharedRowMismatches(*doc), std::vector<std::string>()) << name;
    EXPECT_TRUE(std::is_sorted(rows.begin(), rows.end())) << name;
    EXPECT_TRUE(std::adjacent_find(rows.begin(), rows.end()) == rows.end()) << name;
    for (const IndexRow& row : rows) {
      EXPECT_EQ(row.param.rfind(type + ".", 0), 0u) << name << ": " << row.param;
      switch (row.type) {
        case IndexType::kToken:
          EXPECT_FALSE(row.s2.empty()) << name << " " << row.param;
          break;
        case IndexType::kString:
          EXPECT_FALSE(row.s1.empty()) << name << " " << row.param;
          break;
        case IndexType::kDate:
          EXPECT_LE(row.lo, row.hi) << name << " " << row.param;
          break;
        case IndexType::kReference:
          EXPECT_FALSE(row.s2.empty()) << name << " " << row.param;
          break;
        case IndexType::kUri:
          EXPECT_FALSE(row.s1.empty()) << name << " " << row.param;
          break;
        default:
          break;
      }
    }
    // Composites too.
    for (const SearchParam* p : R4().ForType(type)) {
      if (p->type != SearchParamType::kComposite) continue;
      for (const auto& tuple : ExtractCompositeTuples(*doc, *p, R4())) {
        EXPECT_EQ(tuple.size(), p->components.size()) << name << " " << p->code;
      }
    }
  }
  EXPECT_GT(resources, 700);
  EXPECT_GT(types.size(), 100u);
  EXPECT_GT(rows_total, 5500u);  // 6,000 before rows were shared
}

}  // namespace
}  // namespace lhcr::fhir
