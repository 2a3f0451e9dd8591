#include "ingest/merge.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "fhir/json.h"
#include "fhir/search_param.h"
#include "fhir/validator.h"
#include "hl7v2/message.h"
#include "ingest/source_registry.h"
#include "store/sqlite/sqlite_store.h"
#include "synth/synth.h"
#include "testing/local_record.h"

namespace lhcr::ingest {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPatientSystem = "https://fhir.example.nhs.uk/RXX/Id/patient";

// MRN1 admitted (visit V0001), MRN1's results, MRN2 registered in A&E
// (visit V0002, the same person registered twice), then MRN1 merged into
// MRN2.
constexpr const char* kA01Mrn1 =
    "MSH|^~\\&|PAS|RXX|LHCR|LHCR|20250101093000||ADT^A01|ADT0001|P|2.4\r"
    "EVN|A01|20250101093000\r"
    "PID|1||MRN1^^^RXX^MR~9434765919^^^NHS^NH||SMITH^JANE^ANN^^MRS||19580312|F|||"
    "12 HIGH STREET^^NORTHTOWN^^NT1 2AB||01632960001\r"
    "PV1|1|I|WARD7^BED3^^RXX||||C1234567^JONES^DAVID^^^DR|||MED|||||||||V0001^^^RXX^VN||||||||||"
    "||||||||||||20250101093000\r";

constexpr const char* kOruMrn1 =
    "MSH|^~\\&|LAB|RXX|LHCR|LHCR|20250101120000||ORU^R01|ORU0001|P|2.4\r"
    "PID|1||MRN1^^^RXX^MR~9434765919^^^NHS^NH||SMITH^JANE^ANN^^MRS||19580312|F\r"
    "OBR|1|ORD1001|FIL2001|UE^Urea and electrolytes^99R9AL|||20250101110000|||||||"
    "20250101111500||||||||20250101120000|||F\r"
    "OBX|1|NM|NA^Sodium^99R9AL||138|mmol/L|133-146||||F|||20250101110000\r"
    "OBX|2|NM|K^Potassium^99R9AL||4.20|mmol/L|3.5-5.3||||F|||20250101110000\r";

constexpr const char* kA04Mrn2 =
    "MSH|^~\\&|PAS|RXX|LHCR|LHCR|20250102080000||ADT^A04|ADT0002|P|2.4\r"
    "EVN|A04|20250102080000\r"
    "PID|1||MRN2^^^RXX^MR||SMYTH^JANE||19580312|F|||12 HIGH ST^^NORTHTOWN^^NT1 2AB\r"
    "PV1|1|E|ED^^^RXX||||||||||||||||V0002^^^RXX^VN|||||||||||"
    "||||||||||||20250102080000\r";

constexpr const char* kA40 =
    "MSH|^~\\&|PAS|RXX|LHCR|LHCR|20250103090000||ADT^A40^ADT_A39|ADT0003|P|2.4\r"
    "EVN|A40|20250103090000\r"
    "PID|1||MRN2^^^RXX^MR~9434765919^^^NHS^NH||SMITH^JANE^ANN^^MRS||19580312|F\r"
    "MRG|MRN1^^^RXX^MR\r";

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A Store that runs a hook just before the next write: another writer that
// gets in between CarryOutMerge's reads and its transaction.
class RacingStore : public store::Store {
 public:
  explicit RacingStore(store::Store& inner) : inner_(inner) {}
  Result<std::unique_ptr<store::StoreView>> View() override { return inner_.View(); }
  Status Write(const std::function<Status(store::WriteTxn&)>& fn) override {
    if (before_next_write) {
      auto hook = std::move(before_next_write);
      before_next_write = nullptr;
      hook();
    }
    return inner_.Write(fn);
  }
  store::StoreStats Stats() override { return inner_.Stats(); }
  void Close() override {}
  std::function<void()> before_next_write;

 private:
  store::Store& inner_;
};

class MergeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source_ = ToHl7SourceInfo(Source{.id = "acute-rxx",
                                     .name = "Northtown Hospitals",
                                     .kind = "acute",
                                     .ods_code = "RXX",
                                     .format = "hl7v2"});
  }
  // What Hl7Ingestor::Apply does: map, drop stale entries, write the Bundle;
  // then (the step this file adds) carry out the merge, if any.
  struct Applied {
    hl7v2::MappedMessage mapped;
    std::optional<Result<MergeOutcome>> merge;
  };
  Result<Applied> Apply(std::string_view er7, const hl7v2::SourceInfo& source) {
    ASSIGN_OR_RETURN(hl7v2::Message message, hl7v2::ParseMessage(er7));
    ASSIGN_OR_RETURN(hl7v2::MappedMessage mapped, hl7v2::MapToFhir(message, source));
    hl7v2::CurrentResourceLookup lookup =
        [this](const std::string& type,
               const std::string& query) -> Result<std::optional<std::string>> {
      ASSIGN_OR_RETURN(search::QueryParams params, search::ParseQueryString(query));
      ASSIGN_OR_RETURN(interaction::Response r, interactions_->Search({}, type, params));
      ASSIGN_OR_RETURN(fhir::JsonDoc doc, fhir::ParseJson(r.body));
      const fhir::Json* entries = fhir::Member(doc, "entry");
      if (entries == nullptr || !entries->IsArray() || entries->Empty()) {
        return std::optional<std::string>();
      }
      const fhir::Json* res = fhir::Member((*entries)[0], "resource");
      if (res == nullptr) return std::optional<std::string>();
      return std::optional<std::string>(fhir::ToJson(*res));
    };
    ASSIGN_OR_RETURN(hl7v2::StaleCheck checked,
                     hl7v2::DropStaleEntries(mapped.bundle_json, lookup));
    if (checked.kept > 0) {
      RETURN_IF_ERROR(interactions_->Bundle({}, checked.bundle_json).status());
    }
    Applied out;
    if (mapped.merge) {
      out.merge = CarryOutMerge(*interactions_, *mapped.merge,
                                MergeContext::For(source.WithDefaults(), mapped, clock_.Now()));
    }
    out.mapped = std::move(mapped);
    return out;
  }

  // The resources a search finds (matches only), as JSON documents.
  std::vector<fhir::JsonDoc> Find(const std::string& type, const search::QueryParams& params) {
    std::vector<fhir::JsonDoc> out;
    auto r = interactions_->Search({}, type, params);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return out;
    auto doc = fhir::ParseJson(r->body);
    EXPECT_TRUE(doc.ok());
    const fhir::Json* entries = fhir::Member(*doc, "entry");
    if (entries == nullptr) return out;
    for (const fhir::Json& e : entries->GetArray()) {
      const fhir::Json* search = fhir::Member(e, "search");
      if (search == nullptr || fhir::StringMember(*search, "mode") != "match") continue;
      fhir::JsonDoc d;
      d.CopyFrom(*fhir::Member(e, "resource"), d.GetAllocator());
      out.push_back(std::move(d));
    }
    return out;
  }

  std::string PatientId(const std::string& mrn) {
    auto found = Find("Patient", {{"identifier", std::string(kPatientSystem) + "|" + mrn}});
    EXPECT_EQ(found.size(), 1u) << mrn;
    return found.empty() ? "" : std::string(fhir::StringMember(found[0], "id"));
  }

  std::vector<std::string> Ids(const std::string& type, const search::QueryParams& params) {
    std::vector<std::string> ids;
    for (const auto& d : Find(type, params)) ids.emplace_back(fhir::StringMember(d, "id"));
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  std::string Read(const std::string& type, const std::string& id) {
    auto r = interactions_->Read({}, type, id, {});
    EXPECT_TRUE(r.ok()) << type << "/" << id << ": " << r.status().ToString();
    return r.ok() ? r->body : "";
  }

  std::string Links(const std::string& patient_id) {
    auto doc = fhir::ParseJson(Read("Patient", patient_id));
    if (!doc.ok()) return "unparsable";
    const fhir::Json* link = fhir::Member(*doc, "link");
    return link == nullptr ? "" : fhir::ToJson(*link);
  }

  int64_t Versions() { return record_.store().Stats().versions; }

  void LoadFourMessages() {
    for (const char* m : {kA01Mrn1, kOruMrn1, kA04Mrn2}) {
      auto a = Apply(m, source_);
      ASSERT_TRUE(a.ok()) << a.status().ToString();
      ASSERT_FALSE(a->merge.has_value());
    }
  }

  testing::FixedClock clock_;
  testing::LocalRecord record_{clock_};
  interaction::Interactions* const interactions_ = &record_.interactions();
  hl7v2::SourceInfo source_;
};

TEST_F(MergeTest, A40MovesTheSourcesDataToTheSurvivorOnceOnly) {
  LoadFourMessages();
  const std::string mrn1 = PatientId("MRN1");
  const std::string mrn2 = PatientId("MRN2");
  ASSERT_NE(mrn1, mrn2);
  const search::QueryParams subj1 = {{"subject", "Patient/" + mrn1}};
  const search::QueryParams subj2 = {{"subject", "Patient/" + mrn2}};
  const std::vector<std::string> encounters1 = Ids("Encounter", subj1);
  const std::vector<std::string> observations1 = Ids("Observation", subj1);
  const std::vector<std::string> reports1 = Ids("DiagnosticReport", subj1);
  ASSERT_EQ(encounters1.size(), 1u);
  ASSERT_EQ(observations1.size(), 2u);
  ASSERT_EQ(reports1.size(), 1u);
  ASSERT_EQ(Ids("Encounter", subj2).size(), 1u);

  // Another source's records about the retired patient: a GP's Observation
  // and one with no meta.source at all. Neither is the acute trust's to move.
  const std::string gp_obs =
      R"({"resourceType":"Observation","meta":{"source":"gp-y90001#b1"},"status":"final",)"
      R"("code":{"text":"weight"},"subject":{"reference":"Patient/)" +
      mrn1 + R"("},"valueQuantity":{"value":70.50,"unit":"kg"}})";
  auto gp = interactions_->Create({}, "Observation", gp_obs, {});
  ASSERT_TRUE(gp.ok()) << gp.status().ToString();
  const std::string bare_obs =
      R"({"resourceType":"Observation","status":"final","code":{"text":"x"},)"
      R"("subject":{"reference":"Patient/)" +
      mrn1 + R"("}})";
  auto bare = interactions_->Create({}, "Observation", bare_obs, {});
  ASSERT_TRUE(bare.ok()) << bare.status().ToString();
  // A resource type the HL7 mapper never writes, from the same source: it
  // moves too.
  auto allergy = interactions_->Create(
      {}, "AllergyIntolerance",
      R"({"resourceType":"AllergyIntolerance","meta":{"source":"acute-rxx#EPR1"},)"
      R"("code":{"text":"penicillin"},"patient":{"reference":"Patient/)" +
          mrn1 + R"("}})",
      {});
  ASSERT_TRUE(allergy.ok()) << allergy.status().ToString();
  const std::string allergy_id(fhir::StringMember(*fhir::ParseJson(allergy->body), "id"));
  const std::string gp_before = gp->body;
  const std::string bare_before = bare->body;

  const int64_t before = Versions();
  auto a = Apply(kA40, source_);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(a->merge.has_value());
  ASSERT_TRUE(a->merge->ok()) << a->merge->status().ToString();
  const MergeOutcome& out = a->merge->value();
  EXPECT_EQ(out.kind, MergeOutcome::Kind::kMerged);
  EXPECT_EQ(out.survivor, "Patient/" + mrn2);
  EXPECT_EQ(out.retired, "Patient/" + mrn1);
  EXPECT_EQ(out.left_alone, 2);
  // Retired and survivor Patients, the four re-pointed resources (by type,
  // then id), then the Provenance. The ORU wrote the retired record's
  // version 2 and the A40's own Bundle the survivor's (its PID), so the merge
  // writes version 3 of both.
  std::vector<std::string> expected = {"Patient/" + mrn1 + "/_history/3",
                                       "Patient/" + mrn2 + "/_history/3"};
  std::vector<std::string> repointed = {
      "AllergyIntolerance/" + allergy_id, "DiagnosticReport/" + reports1[0],
      "Encounter/" + encounters1[0], "Observation/" + observations1[0],
      "Observation/" + observations1[1]};
  for (const std::string& r : repointed) expected.push_back(r + "/_history/2");
  ASSERT_EQ(out.written.size(), expected.size() + 1);
  EXPECT_EQ(std::vector<std::string>(out.written.begin(), out.written.end() - 1), expected);
  const std::string provenance = out.written.back();
  EXPECT_EQ(provenance.rfind("Provenance/", 0), 0u) << provenance;
  // The A40's Bundle wrote one version (the survivor) and its Provenance.
  EXPECT_EQ(Versions(), before + 2 + static_cast<int64_t>(out.written.size()));

  // The retired record: inactive, replaced by the survivor, all else kept.
  auto retired = fhir::ParseJson(Read("Patient", mrn1));
  ASSERT_TRUE(retired.ok());
  EXPECT_FALSE((*retired)["active"].GetBool());
  EXPECT_EQ(Links(mrn1),
            R"([{"other":{"reference":"Patient/)" + mrn2 + R"("},"type":"replaced-by"}])");
  const std::string retired_json = fhir::ToJson(*retired);
  EXPECT_NE(retired_json.find(R"("value":"MRN1")"), std::string::npos) << retired_json;
  EXPECT_NE(retired_json.find(R"("value":"9434765919")"), std::string::npos) << retired_json;
  EXPECT_NE(retired_json.find(R"("family":"SMITH")"), std::string::npos) << retired_json;
  EXPECT_NE(retired_json.find(R"("source":"acute-rxx#ADT0003")"), std::string::npos)
      << retired_json;
  EXPECT_NE(retired_json.find(R"("valueDateTime":"2025-01-03T09:00:00Z")"), std::string::npos)
      << retired_json;
  // The survivor replaces it.
  EXPECT_EQ(Links(mrn2),
            R"([{"other":{"reference":"Patient/)" + mrn1 + R"("},"type":"replaces"}])");

  // The source's data now hangs off the survivor; the other sources' does not.
  EXPECT_EQ(Ids("Encounter", subj1), std::vector<std::string>{});
  EXPECT_EQ(Ids("DiagnosticReport", subj1), std::vector<std::string>{});
  std::vector<std::string> left = {
      std::string(fhir::StringMember(*fhir::ParseJson(gp_before), "id")),
      std::string(fhir::StringMember(*fhir::ParseJson(bare_before), "id"))};
  std::sort(left.begin(), left.end());
  EXPECT_EQ(Ids("Observation", subj1), left);
  EXPECT_EQ(Ids("Encounter", subj2).size(), 2u);
  EXPECT_EQ(Ids("Observation", subj2), observations1);
  EXPECT_EQ(Ids("DiagnosticReport", subj2), reports1);
  EXPECT_EQ(Ids("Observation", {{"patient", "Patient/" + mrn2}}), observations1);
  EXPECT_EQ(Ids("AllergyIntolerance", {{"patient", "Patient/" + mrn2}}),
            std::vector<std::string>{allergy_id});
  EXPECT_EQ(Read("Observation", std::string(fhir::StringMember(*fhir::ParseJson(gp_before), "id"))),
            gp_before);
  EXPECT_EQ(
      Read("Observation", std::string(fhir::StringMember(*fhir::ParseJson(bare_before), "id"))),
      bare_before);
  // Decimal precision survives the rewrite (R4 2.1.0.4: 4.20 is not 4.2).
  bool seen_420 = false;
  for (const std::string& id : observations1) {
    if (Read("Observation", id).find(R"("value":4.20,)") != std::string::npos) seen_420 = true;
  }
  EXPECT_TRUE(seen_420);

  // The Provenance names the merge and every version written.
  auto prov =
      fhir::ParseJson(Read("Provenance", provenance.substr(11, provenance.find("/_history") - 11)));
  ASSERT_TRUE(prov.ok());
  EXPECT_EQ(fhir::StringMember((*prov)["activity"], "text"), "merge");
  EXPECT_EQ(
      fhir::ToJson((*prov)["activity"]["coding"]),
      R"([{"system":"http://terminology.hl7.org/CodeSystem/v3-DataOperation","code":"UPDATE",)"
      R"("display":"revise"},{"system":"http://terminology.hl7.org/CodeSystem/)"
      R"(iso-21089-lifecycle","code":"merge","display":"Merge Record Lifecycle Event"}])");
  std::vector<std::string> targets;
  for (const fhir::Json& t : (*prov)["target"].GetArray()) {
    targets.emplace_back(fhir::StringMember(t, "reference"));
  }
  EXPECT_EQ(targets, expected);
  EXPECT_EQ(fhir::StringMember(*prov, "recorded"), "2025-01-01T00:00:00.000Z");
  EXPECT_EQ(fhir::StringMember(*prov, "occurredDateTime"), "2025-01-03T09:00:00Z");
  EXPECT_EQ(fhir::ToJson((*prov)["entity"]),
            R"([{"role":"source","what":{"identifier":{"system":"urn:lhcr:hl7v2:acute-rxx",)"
            R"("value":"ADT0003"},"display":"HL7 v2 ADT^A40 message ADT0003"}}])");

  // Again: nothing to do, no new versions.
  const int64_t after = Versions();
  ASSERT_TRUE(a->mapped.merge.has_value());
  auto again = CarryOutMerge(*interactions_, *a->mapped.merge,
                             MergeContext::For(source_.WithDefaults(), a->mapped, clock_.Now()));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->kind, MergeOutcome::Kind::kAlreadyMerged);
  EXPECT_EQ(again->survivor, "Patient/" + mrn2);
  EXPECT_EQ(again->retired, "Patient/" + mrn1);
  EXPECT_EQ(again->written, std::vector<std::string>{});
  EXPECT_EQ(again->left_alone, 2);
  EXPECT_EQ(Versions(), after);
  // The whole A40 resent: its Bundle is stale, the merge is done.
  auto resent = Apply(kA40, source_);
  ASSERT_TRUE(resent.ok()) << resent.status().ToString();
  ASSERT_TRUE(resent->merge.has_value() && resent->merge->ok());
  EXPECT_EQ((*resent->merge)->kind, MergeOutcome::Kind::kAlreadyMerged);
  EXPECT_EQ(Versions(), after);
  // The old results resent: stale (the merge moved their message time on),
  // so they do not point back at the retired record.
  ASSERT_TRUE(Apply(kOruMrn1, source_).ok());
  EXPECT_EQ(Versions(), after);
  EXPECT_EQ(Ids("Observation", subj2), observations1);
}

TEST_F(MergeTest, AConcurrentChangeFailsTheMergeWhichARetryCarriesOut) {
  LoadFourMessages();
  const std::string mrn1 = PatientId("MRN1");
  const std::string encounter = Ids("Encounter", {{"subject", "Patient/" + mrn1}}).at(0);
  RacingStore racing(record_.store());
  interaction::Interactions racing_interactions(racing, fhir::SearchParamRegistry::R4(),
                                                fhir::Validator::R4(), clock_, UuidGenerator());
  // Someone updates the Encounter after the merge read it.
  racing.before_next_write = [&] {
    std::string body = Read("Encounter", encounter);
    body.replace(body.find(R"("status":"in-progress")"), 22, R"("status":"finished")");
    auto r = interactions_->Update({}, "Encounter", encounter, body, {});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  };
  MergeContext ctx;
  ctx.source_id = "acute-rxx";
  ctx.control_id = "ADT0003";
  const hl7v2::MergeInstruction merge{{kPatientSystem, "MRN2"}, {kPatientSystem, "MRN1"}};
  const int64_t before = Versions();
  auto r = CarryOutMerge(racing_interactions, merge, ctx);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPrecondition) << r.status().ToString();
  // Only the other writer's version: the merge wrote nothing.
  EXPECT_EQ(Versions(), before + 1);
  EXPECT_EQ(Links(mrn1), "");
  EXPECT_EQ(Ids("Encounter", {{"subject", "Patient/" + mrn1}}),
            std::vector<std::string>{encounter});
  // The retry sees the new version and merges.
  r = CarryOutMerge(racing_interactions, merge, ctx);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->kind, MergeOutcome::Kind::kMerged);
  EXPECT_EQ(Ids("Encounter", {{"subject", "Patient/" + mrn1}}), std::vector<std::string>{});
  EXPECT_NE(Read("Encounter", encounter).find(R"("status":"finished")"), std::string::npos);
}

TEST_F(MergeTest, MissingSurvivorIsAnErrorAndWritesNothing) {
  LoadFourMessages();
  const int64_t before = Versions();
  MergeContext ctx;
  ctx.source_id = "acute-rxx";
  ctx.control_id = "ADT0009";
  ctx.event = "ADT^A40";
  auto r = CarryOutMerge(*interactions_, {{kPatientSystem, "MRN9"}, {kPatientSystem, "MRN1"}}, ctx);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPrecondition);
  EXPECT_EQ(r.status().message(),
            "merge: the surviving patient https://fhir.example.nhs.uk/RXX/Id/patient|MRN9 does "
            "not exist at source acute-rxx");
  // The survivor exists, but at another source only.
  ctx.source_id = "acute-other";
  r = CarryOutMerge(*interactions_, {{kPatientSystem, "MRN2"}, {kPatientSystem, "MRN1"}}, ctx);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPrecondition);
  EXPECT_EQ(Versions(), before);
  EXPECT_EQ(Links(PatientId("MRN1")), "");
  EXPECT_EQ(Ids("Encounter", {{"subject", "Patient/" + PatientId("MRN1")}}).size(), 1u);
}

TEST_F(MergeTest, MissingRetiredRecordIsNothingToDo) {
  LoadFourMessages();
  const int64_t before = Versions();
  MergeContext ctx;
  ctx.source_id = "acute-rxx";
  ctx.control_id = "ADT0009";
  auto r = CarryOutMerge(*interactions_, {{kPatientSystem, "MRN2"}, {kPatientSystem, "MRN7"}}, ctx);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->kind, MergeOutcome::Kind::kRetiredNotFound);
  EXPECT_EQ(r->survivor, "Patient/" + PatientId("MRN2"));
  EXPECT_EQ(r->retired, "");
  EXPECT_EQ(Versions(), before);
  // The same identifier on both sides is not a merge.
  r = CarryOutMerge(*interactions_, {{kPatientSystem, "MRN2"}, {kPatientSystem, "MRN2"}}, ctx);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIncorrect);
  // A source that is not named may change nothing.
  r = CarryOutMerge(*interactions_, {{kPatientSystem, "MRN2"}, {kPatientSystem, "MRN1"}}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIncorrect);
  EXPECT_EQ(Versions(), before);
}

// A synthetic region's acute ADT feed, applied in order as the ingestor
// would: every A40 is carried out without error, and afterwards no Encounter
// of the trust references a record it retired.
TEST_F(MergeTest, SyntheticRegionsA40sAllCarryOut) {
  const fs::path dir = fs::path(record_.dir()) / "region";
  synth::SynthOptions o;
  o.people = 400;
  o.seed = 3;
  o.noise = 1.0;
  o.threads = 2;
  o.out = dir.string();
  auto region = synth::Synthesise(o, *synth::CodeBook::BuiltIn(), nullptr);
  ASSERT_TRUE(region.ok()) << region.status().ToString();
  auto registry = LoadSourceRegistry((dir / "sources.json").string());
  ASSERT_TRUE(registry.ok()) << registry.status().ToString();
  const Source* acute = nullptr;
  for (const Source& s : registry->sources()) {
    if (s.kind == "acute" && s.format == "hl7v2") acute = &s;  // the PAS, not the EPMA
  }
  ASSERT_NE(acute, nullptr);
  std::string adt_path;
  for (const std::string& f : acute->files) {
    if (f.size() >= 7 && f.compare(f.size() - 7, 7, "adt.hl7") == 0) adt_path = f;
  }
  ASSERT_FALSE(adt_path.empty());
  const std::string feed = Slurp(dir / adt_path);
  const hl7v2::SourceInfo info = ToHl7SourceInfo(*acute);

  int messages = 0, merged = 0, already = 0, not_found = 0;
  std::vector<std::string> retired;
  for (std::string_view text : hl7v2::SplitMessages(feed)) {
    auto a = Apply(text, info);
    ASSERT_TRUE(a.ok()) << a.status().ToString() << "\n" << text;
    ++messages;
    if (!a->merge) continue;
    ASSERT_TRUE(a->merge->ok()) << a->merge->status().ToString() << "\n" << text;
    switch ((*a->merge)->kind) {
      case MergeOutcome::Kind::kMerged:
        ++merged;
        retired.push_back((*a->merge)->retired);
        break;
      case MergeOutcome::Kind::kAlreadyMerged:
        ++already;
        break;
      case MergeOutcome::Kind::kRetiredNotFound:
        ++not_found;
        break;
    }
  }
  std::cout << messages << " ADT messages: " << merged << " merges carried out, " << already
            << " already done, " << not_found << " with no retired record\n";
  EXPECT_GT(merged, 3);
  for (const std::string& r : retired) {
    EXPECT_EQ(Ids("Encounter", {{"subject", r}}), std::vector<std::string>{}) << r;
    auto doc = fhir::ParseJson(Read("Patient", r.substr(8)));
    ASSERT_TRUE(doc.ok());
    EXPECT_FALSE((*doc)["active"].GetBool()) << r;
  }
}

}  // namespace
}  // namespace lhcr::ingest
