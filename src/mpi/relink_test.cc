#include "mpi/relink.h"

#include "mpi/links.h"
#include "mpi/match_service.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "fhir/json.h"
#include "fhir/search_param.h"
#include "fhir/validator.h"
#include "ingest/ingestor.h"
#include "synth/synth.h"
#include "testing/local_record.h"

namespace lhcr::mpi {
namespace {

using fhir::Json;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A synthetic region of `people`, ingested whole into an in-process store.
class RelinkTest : public ::testing::Test {
 protected:
  void Ingest(int people, double noise, ingest::PatientLinker* linker = nullptr) {
    synth::SynthOptions o;
    o.people = people;
    o.seed = 11;
    o.noise = noise;
    o.threads = 2;
    o.out = record_.dir() + "/region";
    ASSERT_TRUE(synth::Synthesise(o, *synth::CodeBook::BuiltIn(), nullptr).ok());
    auto registry = ingest::LoadSourceRegistry(o.out + "/sources.json");
    ASSERT_TRUE(registry.ok()) << registry.status().ToString();
    registry_ = std::move(*registry);
    ingest::Ingestor ingestor(*interactions_, &registry_, nullptr, clock_);
    if (make_linker_) {
      linker_ = std::make_unique<MatchService>(*interactions_, identity::MatcherOptions{},
                                               &registry_, 200);
      ingestor.SetLinker(linker_.get());
    }
    for (const ingest::Source& src : registry_.sources()) {
      for (const std::string& f : src.files) {
        auto r = ingestor.IngestText(src, Slurp(o.out + "/" + f));
        ASSERT_TRUE(r.ok()) << src.id << ": " << r.status().ToString();
        ASSERT_EQ(r->rejected, 0) << src.id << ": " << r->rejected_items[0].status.ToString();
      }
    }
    // truth: (source, record id) -> person
    std::istringstream truth(Slurp(o.out + "/truth.csv"));
    std::string line;
    std::getline(truth, line);  // header
    while (std::getline(truth, line)) {
      std::vector<std::string> f;
      std::stringstream ls(line);
      std::string x;
      while (std::getline(ls, x, ',')) f.push_back(x);
      if (f.size() >= 3) truth_[f[0] + "|" + f[1]] = f[2];
    }
  }

  // Every resource of a type.
  std::vector<fhir::JsonDoc> All(const std::string& type, search::QueryParams params = {}) {
    params.emplace_back("_count", "1000");
    auto r = interactions_->Search({}, type, params);
    EXPECT_TRUE(r.ok());
    std::vector<fhir::JsonDoc> out;
    auto doc = fhir::ParseJson(r->body);
    const Json* entries = fhir::Member(*doc, "entry");
    if (entries == nullptr) return out;
    for (const Json& e : entries->GetArray()) {
      if (fhir::StringMember(e["resource"], "resourceType") != type) continue;
      fhir::JsonDoc d;
      d.CopyFrom(e["resource"], d.GetAllocator());
      out.push_back(std::move(d));
    }
    return out;
  }

  // The truth person of a stored Patient (by its source and local id).
  std::string TruthOf(const Json& patient) {
    std::string source(fhir::StringMember(patient["meta"], "source"));
    source = source.substr(0, source.find('#'));
    for (const Json& id : patient["identifier"].GetArray()) {
      if (fhir::StringMember(id, "system") == "https://fhir.nhs.uk/Id/nhs-number") continue;
      auto it = truth_.find(source + "|" + std::string(fhir::StringMember(id, "value")));
      if (it != truth_.end()) return it->second;
    }
    return "";
  }

  testing::FixedClock clock_;
  testing::LocalRecord record_{clock_};
  interaction::Interactions* const interactions_ = &record_.interactions();
  ingest::SourceRegistry registry_;
  std::map<std::string, std::string> truth_;
  bool make_linker_ = false;
  std::unique_ptr<MatchService> linker_;
};

TEST_F(RelinkTest, PersonsLinkOnlyOnePersonsRecordsAndASecondRunWritesNothing) {
  Ingest(150, 0.2);
  RelinkOptions options;
  auto first = Relink(*interactions_, &registry_, clock_, options);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_GT(first->patients, 150u);
  EXPECT_GT(first->multi_record_persons, 50u);

  std::map<std::string, std::string> patient_truth;
  for (const auto& p : All("Patient")) {
    patient_truth["Patient/" + std::string(fhir::StringMember(p, "id"))] = TruthOf(p);
  }
  size_t linked = 0;
  std::set<std::string> seen;
  std::map<std::string, std::set<std::string>> persons_of_truth;
  for (const auto& person : All("Person")) {
    if (!person["active"].GetBool()) continue;
    std::set<std::string> truths;
    for (const Json& l : person["link"].GetArray()) {
      std::string ref(fhir::StringMember(l["target"], "reference"));
      EXPECT_TRUE(seen.insert(ref).second) << ref << " is linked to two Persons";
      ASSERT_TRUE(patient_truth.count(ref)) << ref;
      truths.insert(patient_truth[ref]);
      std::string_view assurance = fhir::StringMember(l, "assurance");
      EXPECT_TRUE(assurance == "level1" || assurance == "level2" || assurance == "level3");
      ++linked;
    }
    // Never two different people in one Person.
    EXPECT_EQ(truths.size(), 1u) << fhir::ToJson(person);
    persons_of_truth[*truths.begin()].insert(std::string(fhir::StringMember(person, "id")));
  }
  EXPECT_EQ(linked, patient_truth.size()) << "every Patient is linked exactly once";
  // Most people are one Person (recall; noise may leave some apart).
  size_t whole = 0;
  for (const auto& [truth, persons] : persons_of_truth) whole += persons.size() == 1;
  EXPECT_GT(whole, persons_of_truth.size() * 9 / 10);

  // Again: nothing changes, Person ids are kept.
  auto second = Relink(*interactions_, &registry_, clock_, options);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->written, 0);
  EXPECT_EQ(second->persons, first->persons);
}

TEST_F(RelinkTest, ReviewTasksExplainTheScoreAndAHumanDecisionIsKept) {
  Ingest(200, 1.0);
  RelinkOptions options;
  auto first = Relink(*interactions_, &registry_, clock_, options);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto tasks = All("Task", {{"code", std::string(kMpiTaskSystem) + "|review-match"}});
  ASSERT_EQ(tasks.size(), first->review_pairs);
  if (tasks.empty()) GTEST_SKIP() << "no uncertain pairs in this region";
  const Json& t = tasks[0];
  EXPECT_EQ(fhir::StringMember(t, "status"), "requested");
  std::string evidence;
  for (const Json& in : t["input"].GetArray()) {
    if (fhir::StringMember(in["type"], "text") == "evidence") {
      evidence = fhir::StringMember(in, "valueString");
    }
  }
  EXPECT_NE(evidence.find("probability"), std::string::npos) << evidence;
  // A human rejects it; relink leaves that decision alone.
  fhir::JsonDoc done;
  done.CopyFrom(t, done.GetAllocator());
  done["status"].SetString("rejected");
  ASSERT_TRUE(interactions_
                  ->Update({}, "Task", std::string(fhir::StringMember(t, "id")),
                           fhir::ToJson(done), {})
                  .ok());
  auto second = Relink(*interactions_, &registry_, clock_, options);
  ASSERT_TRUE(second.ok());
  auto read = interactions_->Read({}, "Task", std::string(fhir::StringMember(t, "id")), {});
  ASSERT_TRUE(read.ok());
  EXPECT_NE(read->body.find("\"status\":\"rejected\""), std::string::npos);
  // The two records now never share a Person (they may have, through a third
  // record both match), and a further run changes nothing.
  auto [a, b] = ReviewTaskPair(t);
  std::map<std::string, std::string> person_of;
  for (const auto& p : All("Person")) {
    if (!p["active"].GetBool() || !p.HasMember("link")) continue;
    for (const Json& l : p["link"].GetArray()) {
      person_of[std::string(fhir::StringMember(l["target"], "reference"))] =
          fhir::StringMember(p, "id");
    }
  }
  EXPECT_NE(person_of[a], person_of[b]);
  auto third = Relink(*interactions_, &registry_, clock_, options);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->written, 0);
}

// A reviewer's "not the same person" outranks the scores: relink puts the
// two records in different Persons, and leaves them there.
TEST_F(RelinkTest, ARejectedPairIsNeverInOnePerson) {
  Ingest(100, 0.0);
  ASSERT_TRUE(Relink(*interactions_, &registry_, clock_, RelinkOptions{}).ok());
  std::string a, b;
  for (const auto& p : All("Person")) {
    if (p.HasMember("link") && p["link"].Size() > 1) {
      a = fhir::StringMember(p["link"][0]["target"], "reference");
      b = fhir::StringMember(p["link"][1]["target"], "reference");
      break;
    }
  }
  ASSERT_FALSE(a.empty());
  const std::string task = ReviewTaskId(a, b);
  ASSERT_TRUE(interactions_
                  ->Update({}, "Task", task,
                           ReviewTaskJson(task, a, b, 0.99, "by hand", "", "rejected"), {})
                  .ok());
  auto again = Relink(*interactions_, &registry_, clock_, RelinkOptions{});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  std::map<std::string, std::string> person_of;
  for (const auto& p : All("Person")) {
    if (!p["active"].GetBool() || !p.HasMember("link")) continue;
    for (const Json& l : p["link"].GetArray()) {
      person_of[std::string(fhir::StringMember(l["target"], "reference"))] =
          fhir::StringMember(p, "id");
    }
  }
  ASSERT_TRUE(person_of.count(a) && person_of.count(b));
  EXPECT_NE(person_of[a], person_of[b]);
  auto read = interactions_->Read({}, "Task", task, {});
  ASSERT_TRUE(read.ok());
  EXPECT_NE(read->body.find("\"status\":\"rejected\""), std::string::npos);
  auto third = Relink(*interactions_, &registry_, clock_, RelinkOptions{});
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->written, 0);
}

// A person's decision stands: relink does not undo an unlink.
TEST_F(RelinkTest, RelinkKeepsLinksAPersonMade) {
  Ingest(100, 0.2);
  ASSERT_TRUE(Relink(*interactions_, &registry_, clock_, RelinkOptions{}).ok());
  std::string person, patient;
  for (const auto& p : All("Person")) {
    if (p.HasMember("link") && p["link"].Size() > 1) {
      person = "Person/" + std::string(fhir::StringMember(p, "id"));
      patient = fhir::StringMember(p["link"][0]["target"], "reference");
      break;
    }
  }
  ASSERT_FALSE(person.empty());
  LinkManager links(*interactions_, &registry_, clock_);
  auto un = links.Unlink(patient, "dr.who", "not the same person");
  ASSERT_TRUE(un.ok()) << un.status().ToString();
  const std::string alone = un->persons[1];
  auto again = Relink(*interactions_, &registry_, clock_, RelinkOptions{});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  auto read = interactions_->Read({}, "Person", alone.substr(7), {});
  ASSERT_TRUE(read.ok());
  auto d = fhir::ParseJson(read->body);
  ASSERT_EQ((*d)["link"].Size(), 1u) << read->body;
  EXPECT_EQ(fhir::StringMember((*d)["link"][0]["target"], "reference"), patient);
  EXPECT_EQ(fhir::StringMember((*d)["link"][0], "assurance"), "level4");
  EXPECT_TRUE((*d)["active"].GetBool());
  // And a third run changes nothing.
  auto third = Relink(*interactions_, &registry_, clock_, RelinkOptions{});
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->written, 0);
}

// Matching at ingest: every Patient gets its Person in its own transaction.
TEST_F(RelinkTest, IngestLinksEachNewPatientToAPersonInItsTransaction) {
  make_linker_ = true;
  Ingest(200, 0.2);
  std::map<std::string, std::string> patient_truth;
  for (const auto& p : All("Patient")) {
    patient_truth["Patient/" + std::string(fhir::StringMember(p, "id"))] = TruthOf(p);
  }
  std::set<std::string> seen;
  size_t multi = 0;
  for (const auto& person : All("Person")) {
    std::set<std::string> truths;
    for (const Json& l : person["link"].GetArray()) {
      std::string ref(fhir::StringMember(l["target"], "reference"));
      EXPECT_TRUE(seen.insert(ref).second) << ref << " is linked to two Persons";
      truths.insert(patient_truth[ref]);
    }
    EXPECT_EQ(truths.size(), 1u) << "a Person with two people's records: " << fhir::ToJson(person);
    multi += person["link"].Size() > 1;
  }
  // Every Patient has a Person (the retired ones of A40 merges too).
  for (const auto& [ref, truth] : patient_truth) EXPECT_TRUE(seen.count(ref)) << ref;
  EXPECT_GT(multi, 10u) << "no record was linked to another at ingest";
  // A relink afterwards keeps every link it agrees with and may join more.
  auto r = Relink(*interactions_, &registry_, clock_, RelinkOptions{});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_GE(r->multi_record_persons, multi);
}

// A demographic update that no longer matches its Person's other records
// moves the record out (with a review Task) at ingest.
TEST_F(RelinkTest, AnUpdateThatNoLongerMatchesMovesTheRecordOut) {
  make_linker_ = true;
  Ingest(200, 0.0);
  // A GP record sharing a Person with another record.
  std::string patient_id, person_id, local_system, local_value, gp;
  for (const auto& person : All("Person")) {
    if (!person.HasMember("link") || person["link"].Size() < 2) continue;
    for (const Json& l : person["link"].GetArray()) {
      std::string ref(fhir::StringMember(l["target"], "reference"));
      auto r = interactions_->Read({}, "Patient", ref.substr(8), {});
      if (!r.ok()) continue;
      auto d = fhir::ParseJson(r->body);
      std::string src(fhir::StringMember((*d)["meta"], "source"));
      if (src.rfind("gp-", 0) != 0) continue;
      for (const Json& id : (*d)["identifier"].GetArray()) {
        if (fhir::StringMember(id, "system") != "https://fhir.nhs.uk/Id/nhs-number") {
          local_system = fhir::StringMember(id, "system");
          local_value = fhir::StringMember(id, "value");
        }
      }
      patient_id = ref;
      person_id = fhir::StringMember(person, "id");
      gp = src.substr(0, src.find('#'));
      break;
    }
    if (!patient_id.empty()) break;
  }
  ASSERT_FALSE(patient_id.empty());
  const std::string bundle =
      R"({"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:7f1f0f4e-0000-4000-8000-000000000001","resource":{"resourceType":"Patient","identifier":[{"system":")" +
      local_system + R"(","value":")" + local_value +
      R"("}],"name":[{"family":"Quixote","given":["Alonso"]}],"gender":"male","birthDate":"1905-05-05","address":[{"line":["1 La Mancha Way"],"postalCode":"ZE9 9ZZ"}]},"request":{"method":"PUT","url":"Patient?identifier=)" +
      local_system + "|" + local_value + R"("}}]})";
  ingest::Ingestor ingestor(*interactions_, &registry_, nullptr, clock_);
  ingestor.SetLinker(linker_.get());
  auto r = ingestor.IngestText(*registry_.FindById(gp), bundle);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->accepted, 1) << r->rejected_items[0].status.ToString();
  // Now in a Person of its own, and a human is asked.
  auto now = All("Person", {{"link", patient_id}});
  ASSERT_EQ(now.size(), 1u);
  EXPECT_NE(std::string(fhir::StringMember(now[0], "id")), person_id);
  EXPECT_EQ(now[0]["link"].Size(), 1u);
  auto tasks = All("Task", {{"focus", patient_id}});
  ASSERT_FALSE(tasks.empty());
  EXPECT_NE(fhir::ToJson(tasks[0]).find("after a demographic update"), std::string::npos);
}

// Patient/$match over the same ingested region.
TEST_F(RelinkTest, MatchFindsAPersonsRecordsFromAnotherSpellingAndNothingForAStranger) {
  Ingest(150, 0.2);
  MatchService service(*interactions_);
  interaction::RequestContext ctx;
  ctx.base_url = "http://x/fhir";
  // A GP's Patient as a new source would send it: no identifiers, a typo.
  std::vector<fhir::JsonDoc> patients = All("Patient");
  const Json* gp = nullptr;
  for (const auto& p : patients) {
    std::string src(fhir::StringMember(p["meta"], "source"));
    if (src.rfind("gp-", 0) == 0 && p.HasMember("address") && p.HasMember("birthDate")) {
      gp = &p;
      break;
    }
  }
  ASSERT_NE(gp, nullptr);
  const std::string truth = TruthOf(*gp);
  fhir::JsonDoc query;
  query.CopyFrom(*gp, query.GetAllocator());
  query.RemoveMember("identifier");
  query.RemoveMember("id");
  query.RemoveMember("meta");
  std::string family(fhir::StringMember(query["name"][0], "family"));
  family.insert(family.size() / 2, "e");  // a typo
  query["name"][0]["family"].SetString(family.c_str(), static_cast<rapidjson::SizeType>(family.size()),
                                       query.GetAllocator());
  const std::string params =
      R"({"resourceType":"Parameters","parameter":[{"name":"resource","resource":)" +
      fhir::ToJson(query) + "}]}";
  auto r = service.Match(ctx, params);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto b = fhir::ParseJson(r->body);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(fhir::StringMember(*b, "type"), "searchset");
  ASSERT_GE((*b)["entry"].Size(), 1u) << r->body;
  const Json& top = (*b)["entry"][0];
  EXPECT_EQ(TruthOf(top["resource"]), truth) << r->body;
  EXPECT_EQ(fhir::StringMember(top["search"], "mode"), "match");
  EXPECT_GT(top["search"]["score"].GetDouble(), 0.5);
  std::string_view grade = fhir::StringMember(top["search"]["extension"][0], "valueCode");
  EXPECT_TRUE(grade == "certain" || grade == "probable") << grade;
  // Every hit above review is that person (no stranger is offered).
  for (const Json& e : (*b)["entry"].GetArray()) {
    if (e["search"]["score"].GetDouble() >= 0.99) {
      EXPECT_EQ(TruthOf(e["resource"]), truth) << fhir::ToJson(e);
    }
  }
  // A stranger: nothing.
  auto none = service.Match(
      ctx, R"({"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient","name":[{"family":"Zebedee","given":["Quentin"]}],"gender":"male","birthDate":"2001-11-30","address":[{"postalCode":"ZE1 0AA"}]}}]})");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(fhir::ParseJson(none->body)->operator[]("total").GetUint(), 0u) << none->body;
  // A Patient stored after the index was built is found.
  auto created = interactions_->Create(
      ctx, "Patient",
      R"({"resourceType":"Patient","name":[{"family":"Zebedee","given":["Quentin"]}],"gender":"male","birthDate":"2001-11-30","address":[{"postalCode":"ZE1 0AA"}]})",
      {});
  ASSERT_TRUE(created.ok());
  auto later = service.Match(
      ctx, R"({"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient","name":[{"family":"Zebedee","given":["Quentin"]}],"gender":"male","birthDate":"2001-11-30","address":[{"postalCode":"ZE1 0AA"}]}}]})");
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(fhir::ParseJson(later->body)->operator[]("total").GetUint(), 1u) << later->body;
  // Bad input.
  EXPECT_EQ(service.Match(ctx, R"({"resourceType":"Patient"})").status().code(),
            StatusCode::kIncorrect);
  EXPECT_EQ(service.Match(ctx, R"({"resourceType":"Parameters"})").status().code(),
            StatusCode::kIncorrect);
  EXPECT_EQ(service.Match(ctx, "{").status().code(), StatusCode::kIncorrect);
}

}  // namespace
}  // namespace lhcr::mpi
