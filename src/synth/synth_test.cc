#include "synth/synth.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "fhir/json.h"
#include "fhir/validator.h"
#include "synth/nhs_number.h"
#include "synth/population.h"

namespace lhcr::synth {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

class SynthTest : public ::testing::Test {
 protected:
  fs::path Run(const std::string& name, int64_t people, uint64_t seed, double noise, int threads) {
    fs::path dir =
        fs::temp_directory_path() / ("lhcr_synth_test_" + std::to_string(::getpid())) / name;
    fs::remove_all(dir);
    SynthOptions o;
    o.people = people;
    o.seed = seed;
    o.noise = noise;
    o.threads = threads;
    o.chunk = 97;
    o.out = dir.string();
    auto r = Synthesise(o, *CodeBook::BuiltIn(), nullptr);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok()) last_ = *r;
    return dir;
  }
  static void TearDownTestSuite() {
    fs::remove_all(fs::temp_directory_path() / ("lhcr_synth_test_" + std::to_string(::getpid())));
  }
  SynthSummary last_;
};

std::string AllFiles(const fs::path& dir) {
  std::string all = Slurp(dir / "sources.json") + Slurp(dir / "truth.csv");
  for (int f = 0; f < kFeedFileCount; ++f) all += Slurp(dir / FeedPath(f));
  return all;
}

TEST_F(SynthTest, DeterministicAcrossThreadCountsAndSeedsDiffer) {
  fs::path a = Run("a", 600, 7, 0.3, 1);
  fs::path b = Run("b", 600, 7, 0.3, 2);
  fs::path c = Run("c", 600, 8, 0.3, 2);
  for (int f = 0; f < kFeedFileCount; ++f) {
    EXPECT_EQ(Slurp(a / FeedPath(f)), Slurp(b / FeedPath(f))) << FeedPath(f);
  }
  EXPECT_EQ(Slurp(a / "truth.csv"), Slurp(b / "truth.csv"));
  EXPECT_NE(AllFiles(a), AllFiles(c));
}

TEST_F(SynthTest, EveryBundleIsValidR4AndConditional) {
  fs::path dir = Run("fhir", 400, 3, 0.5, 2);
  auto validator = fhir::Validator::R4();
  int bundles = 0;
  for (int f : {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, static_cast<int>(kCommunityFhir),
                static_cast<int>(kAcuteMedicines)}) {
    std::ifstream in(dir / FeedPath(f));
    std::string line;
    while (std::getline(in, line)) {
      auto doc = fhir::ParseJson(line);
      ASSERT_TRUE(doc.ok()) << doc.status().ToString();
      auto issues = validator->Validate(*doc);
      ASSERT_TRUE(issues.empty()) << ToString(issues[0]) << "\n" << line.substr(0, 2000);
      ASSERT_EQ(fhir::StringMember(*doc, "type"), "transaction");
      for (const auto& e : (*doc)["entry"].GetArray()) {
        const auto& req = e["request"];
        std::string method = req["method"].GetString();
        std::string url = req["url"].GetString();
        ASSERT_EQ(method, "PUT");
        ASSERT_NE(url.find("?identifier="), std::string::npos) << url;
        std::string type = e["resource"]["resourceType"].GetString();
        ASSERT_EQ(e["resource"]["meta"]["profile"][0].GetString(),
                  "https://fhir.hl7.org.uk/StructureDefinition/UKCore-" + type);
        if (type == "Patient" && e["resource"].HasMember("identifier")) {
          for (const auto& id : e["resource"]["identifier"].GetArray()) {
            if (std::string(id["system"].GetString()) == "https://fhir.nhs.uk/Id/nhs-number") {
              ASSERT_TRUE(id.HasMember("extension"));
            }
          }
        }
      }
      ++bundles;
    }
  }
  EXPECT_GT(bundles, 400);
}

TEST_F(SynthTest, Hl7FilesAreWellFormed) {
  fs::path dir = Run("hl7", 800, 5, 0.5, 2);
  for (int f : {static_cast<int>(kAcuteAdt), static_cast<int>(kAcuteOru),
                static_cast<int>(kMentalHealthAdt)}) {
    std::string text = Slurp(dir / FeedPath(f));
    ASSERT_FALSE(text.empty()) << FeedPath(f);
    EXPECT_EQ(text.find('\n'), std::string::npos);
    ASSERT_EQ(text.back(), '\r');
    std::set<std::string> ids;
    int messages = 0;
    for (const std::string& seg : Split(text.substr(0, text.size() - 1), '\r')) {
      ASSERT_GE(seg.size(), 4u);
      ASSERT_EQ(seg[3], '|') << seg;
      if (seg.rfind("MSH", 0) != 0) continue;
      std::vector<std::string> fields = Split(seg, '|');
      ASSERT_EQ(fields.size(), 12u) << seg;
      EXPECT_EQ(fields[1], "^~\\&");
      EXPECT_EQ(fields[11], "2.4");
      EXPECT_TRUE(ids.insert(fields[9]).second) << "duplicate control id " << fields[9];
      ++messages;
    }
    EXPECT_GT(messages, 10);
  }
  std::string adt = Slurp(dir / FeedPath(kAcuteAdt));
  for (const char* ev : {"ADT^A01", "ADT^A02", "ADT^A03", "ADT^A04", "ADT^A08", "ADT^A40"}) {
    EXPECT_NE(adt.find(ev), std::string::npos) << ev;
  }
  EXPECT_NE(Slurp(dir / FeedPath(kAcuteOru)).find("OBX|1|NM|HB^Haemoglobin^99R9AL"),
            std::string::npos);
}

// The acute trust's EPMA: discharge MedicationRequests for admissions, each
// referring to a Patient of the trust's PAS by its MRN (a record in truth);
// some coded as AMPs, some stopped, some with a changed dose, and
// omeprazole started in hospital.
TEST_F(SynthTest, AcuteMedicinesReferToTheTrustsPatients) {
  fs::path dir = Run("epma", 1500, 5, 0.2, 2);
  std::set<std::string> mrns;
  for (const std::string& line : Split(Slurp(dir / "truth.csv"), '\n')) {
    if (line.rfind("acute-r9a,", 0) == 0) mrns.insert(Split(line, ',')[1]);
  }
  ASSERT_FALSE(mrns.empty());
  std::map<std::string, int> status, codes, doses;
  std::ifstream in(dir / FeedPath(kAcuteMedicines));
  std::string line;
  int bundles = 0;
  while (std::getline(in, line)) {
    auto doc = fhir::ParseJson(line);
    ASSERT_TRUE(doc.ok());
    ++bundles;
    for (const auto& e : (*doc)["entry"].GetArray()) {
      const auto& r = e["resource"];
      ASSERT_EQ(std::string(r["resourceType"].GetString()), "MedicationRequest");
      std::string subject = r["subject"]["reference"].GetString();
      const std::string prefix = "Patient?identifier=https://fhir.example.nhs.uk/R9A/Id/patient|";
      ASSERT_EQ(subject.rfind(prefix, 0), 0u) << subject;
      EXPECT_TRUE(mrns.count(subject.substr(prefix.size()))) << subject;
      status[r["status"].GetString()]++;
      codes[r["medicationCodeableConcept"]["coding"][0]["code"].GetString()]++;
      doses[r["dosageInstruction"][0]["text"].GetString()]++;
    }
  }
  EXPECT_GT(bundles, 20);
  EXPECT_GT(status["active"], 0);
  EXPECT_GT(status["stopped"], 0);
  EXPECT_GT(codes["378911000001109"] + codes["42084911000001109"], 0);  // AMPs
  EXPECT_GT(codes["376701008"], 0);  // metformin 1g: a dose changed in hospital
  EXPECT_GT(codes["317335006"] + codes["42356411000001102"], 0);  // omeprazole
  EXPECT_GT(doses["1g twice a day"], 0);
  auto reg = fhir::ParseJson(Slurp(dir / "sources.json"));
  ASSERT_TRUE(reg.ok());
  const auto& sources = (*reg)["sources"];
  EXPECT_EQ(std::string(sources[12]["id"].GetString()), "acute-r9a");
  EXPECT_EQ(std::string(sources[13]["id"].GetString()), "acute-r9a-epma");
  EXPECT_EQ(std::string(sources[13]["kind"].GetString()), "acute");
  EXPECT_EQ(std::string(sources[13]["format"].GetString()), "fhir");
}

TEST_F(SynthTest, CsvHasRegistryColumnsAndTruthCoversEveryRecord) {
  fs::path dir = Run("csv", 2000, 9, 0.3, 2);
  auto reg = fhir::ParseJson(Slurp(dir / "sources.json"));
  ASSERT_TRUE(reg.ok());
  std::string header;
  std::set<std::string> source_ids;
  for (const auto& s : (*reg)["sources"].GetArray()) {
    source_ids.insert(s["id"].GetString());
    if (std::string(s["format"].GetString()) != "csv") continue;
    for (const auto& c : s["csv"]["columns"].GetArray()) {
      header += (header.empty() ? "" : ",") + std::string(c["name"].GetString());
    }
  }
  EXPECT_EQ(source_ids.size(), 17u);  // 16 with person records, and the acute trust's EPMA
  std::string csv = Slurp(dir / FeedPath(kSocialCareCsv));
  ASSERT_EQ(csv.substr(0, csv.find("\r\n")), header);
  // Truth: every record id that appears in a feed is in truth.csv, and back.
  std::map<std::string, std::string> truth;  // source|record -> person
  std::vector<std::string> lines = Split(Slurp(dir / "truth.csv"), '\n');
  ASSERT_EQ(lines[0], "source_id,record_id,person_id,noise");
  for (size_t i = 1; i + 1 < lines.size(); ++i) {
    std::vector<std::string> f = Split(lines[i], ',');
    ASSERT_EQ(f.size(), 4u) << lines[i];
    ASSERT_TRUE(source_ids.count(f[0])) << f[0];
    ASSERT_TRUE(truth.emplace(f[0] + "|" + f[1], f[2]).second) << lines[i];
  }
  int64_t total = 0;
  for (int64_t n : last_.stats.records) total += n;
  EXPECT_EQ(static_cast<int64_t>(truth.size()), total);
  std::set<std::string> csv_refs;
  for (const std::string& row : Split(csv, '\n')) {
    if (row.empty() || row.rfind("PersonRef", 0) == 0) continue;
    std::string ref = row.substr(0, row.find(','));
    ASSERT_TRUE(truth.count("la-x99|" + ref)) << ref;
    csv_refs.insert(ref);
  }
  // Each acute MRN in PID-3 is in truth.
  std::string adt = Slurp(dir / FeedPath(kAcuteAdt));
  for (size_t p = adt.find("PID|1||"); p != std::string::npos; p = adt.find("PID|1||", p + 1)) {
    std::string mrn = adt.substr(p + 7, adt.find('^', p) - p - 7);
    ASSERT_TRUE(truth.count("acute-r9a|" + mrn)) << mrn;
  }
  int la_truth = 0;
  for (const auto& [k, v] : truth) la_truth += k.rfind("la-x99|", 0) == 0;
  EXPECT_EQ(la_truth, static_cast<int>(csv_refs.size()));
}

TEST(Population, NhsNumbersAgePyramidAndPrevalence) {
  auto codes = CodeBook::BuiltIn();
  const int n = 10000;
  std::set<std::string> nhs;
  int under18 = 0, over65 = 0, over85 = 0, adults = 0, adults_ht = 0, adults_dm = 0;
  int old_frail = 0, old = 0, dm_hba1c_high = 0, dm_hba1c = 0, ckd_egfr_low = 0, ckd_egfr = 0;
  int dm_on_metformin = 0, dm = 0, nondm_hba1c_high = 0, nondm_hba1c = 0;
  for (int i = 0; i < n; ++i) {
    Person p = GeneratePerson(*codes, 11, i);
    ASSERT_TRUE(HasValidNhsCheckDigit(p.nhs));
    ASSERT_FALSE(IsPlaceholderOrTestNhsNumber(p.nhs));
    ASSERT_TRUE(nhs.insert(p.nhs).second);
    int age = p.AgeAt(ReferenceDay());
    under18 += age < 18;
    over65 += age >= 65;
    over85 += age >= 85;
    if (age >= 18) {
      ++adults;
      adults_ht += p.Has(Cond::kHypertension);
      adults_dm += p.Has(Cond::kDiabetes);
    }
    if (age >= 80) {
      ++old;
      old_frail += p.deficits.size() >= 2;
    }
    if (p.Has(Cond::kDiabetes)) {
      ++dm;
      for (const MedRec& m : p.meds) {
        if (m.kind == Med::kMetformin) {
          ++dm_on_metformin;
          break;
        }
      }
    }
    for (const LabRec& l : p.gp_labs) {
      if (l.kind == Lab::kHba1c) {
        (p.Has(Cond::kDiabetes) ? dm_hba1c : nondm_hba1c)++;
        if (l.value >= 48) (p.Has(Cond::kDiabetes) ? dm_hba1c_high : nondm_hba1c_high)++;
      }
      if (l.kind == Lab::kEgfr && p.Has(Cond::kCkd)) {
        ++ckd_egfr;
        ckd_egfr_low += l.value < 60;
      }
    }
  }
  // Census 2021: ~21% under 18, ~18.5% 65+, ~2.5% 85+.
  EXPECT_NEAR(under18 / double(n), 0.21, 0.03);
  EXPECT_NEAR(over65 / double(n), 0.185, 0.03);
  EXPECT_NEAR(over85 / double(n), 0.026, 0.012);
  // QOF: hypertension ~14% of all ages (~18% of adults), diabetes ~7.5% of 17+.
  EXPECT_NEAR(adults_ht / double(adults), 0.18, 0.05);
  EXPECT_NEAR(adults_dm / double(adults), 0.075, 0.03);
  EXPECT_GT(old_frail / double(old), 0.5);
  EXPECT_GT(dm_hba1c_high / double(dm_hba1c), 0.75);
  EXPECT_LT(nondm_hba1c_high / double(nondm_hba1c), 0.05);
  EXPECT_GT(ckd_egfr_low / double(ckd_egfr), 0.9);
  EXPECT_GT(dm_on_metformin / double(dm), 0.9);
}

TEST_F(SynthTest, NoiseFollowsTheRequestedLevel) {
  Run("clean", 1500, 4, 0.0, 2);
  EXPECT_EQ(last_.stats.noisy_records, 0);
  int64_t total0 = 0;
  for (int64_t n : last_.stats.records) total0 += n;
  fs::path dir = Run("dirty", 1500, 4, 0.6, 2);
  int64_t total = 0;
  for (int64_t n : last_.stats.records) total += n;
  double share = last_.stats.noisy_records / double(total);
  EXPECT_GT(share, 0.2);
  EXPECT_LT(share, 0.9);
  EXPECT_GT(total, total0);  // duplicate registrations
  std::string truth = Slurp(dir / "truth.csv");
  for (const char* kind :
       {"typo-family", "nickname", "dob-day-month-swapped", "nhs-missing", "nhs-wrong",
        "duplicate-registration", "old-address", "out-of-order", "late"}) {
    EXPECT_NE(truth.find(kind), std::string::npos) << kind;
  }
  Run("low", 1500, 4, 0.1, 2);
  int64_t total_low = 0;
  for (int64_t n : last_.stats.records) total_low += n;
  EXPECT_LT(last_.stats.noisy_records / double(total_low), share / 2);
}

TEST(CodeBook, LoadsSharedListsWithFallback) {
  EXPECT_FALSE(CodeBook::Load("/nonexistent/codelists").ok());
  std::string dir = std::string(LHCR_SHARED_DATA) + "/codelists";
  if (!fs::is_directory(dir)) GTEST_SKIP() << "shared code lists absent: " << dir;
  auto book = CodeBook::Load(dir);
  ASSERT_TRUE(book.ok());
  EXPECT_EQ((*book)->lists_from_files(), kCondCount + kMedCount + kDeficitCount);
  EXPECT_EQ((*book)->Condition(Cond::kDiabetes)[0].code, "44054006");
  EXPECT_GT((*book)->Condition(Cond::kDiabetes).size(), 5u);
}

}  // namespace
}  // namespace lhcr::synth
