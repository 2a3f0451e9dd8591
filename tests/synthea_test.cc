// Synthea patient records (smart-on-fhir/generated-sample-data R4/SYNTHEA,
// in the shared data) load as FHIR transactions over HTTP, every reference
// in every stored resource resolves to the resource it meant, and the counts
// per type match the bundles. See docs/REAL_WORLD.md.
//
// The data: a hospital Bundle (102 Organizations) and a practitioner Bundle
// (102 Practitioners), then 20 patient Bundles. All are transactions of
// POST entries with urn:uuid fullUrls and no ifNoneExist; every reference is
// to a urn:uuid of the same Bundle (or "#x" to a contained resource), none is
// conditional. Each patient Bundle re-posts the Organizations and
// Practitioners it uses, so a plain POST creates a duplicate each time: this
// is FHIR-correct (a POST without ifNoneExist always creates) and the test
// asserts it, then shows why a conditional reference by identifier to such a
// duplicated organisation is correctly refused with 412.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fhir/json.h"
#include "testing/test_server.h"

namespace lhcr {
namespace {

using fhir::Json;
using fhir::JsonDoc;
using testing::ClientResponse;
using testing::HttpClient;
using testing::TestServer;

std::string Dir() { return testing::SharedDataDir() + "/synthea-r4"; }

// The Bundle files, reference data (hospital, practitioner) first.
std::vector<std::string> BundleFiles() {
  std::vector<std::string> shared, patients;
  for (const auto& e : std::filesystem::directory_iterator(Dir())) {
    if (e.path().extension() != ".json") continue;
    std::string name = e.path().filename().string();
    (name.starts_with("hospitalInformation") || name.starts_with("practitionerInformation")
         ? shared
         : patients)
        .push_back(name);
  }
  std::sort(shared.begin(), shared.end());
  std::sort(patients.begin(), patients.end());
  shared.insert(shared.end(), patients.begin(), patients.end());
  return shared;
}

// Every Reference.reference string under `node`, in document order.
void CollectReferences(const Json& node, std::vector<std::string>* out) {
  if (node.IsArray()) {
    for (const Json& e : node.GetArray()) CollectReferences(e, out);
  } else if (node.IsObject()) {
    for (const auto& m : node.GetObject()) {
      if (m.value.IsString() && fhir::AsView(m.name) == "reference") {
        out->emplace_back(fhir::AsView(m.value));
      } else {
        CollectReferences(m.value, out);
      }
    }
  }
}

// The ids of a resource's contained resources.
std::set<std::string> ContainedIds(const Json& resource) {
  std::set<std::string> ids;
  const Json* contained = fhir::Member(resource, "contained");
  if (contained != nullptr && contained->IsArray()) {
    for (const Json& c : contained->GetArray())
      ids.insert(std::string(fhir::StringMember(c, "id")));
  }
  return ids;
}

std::optional<int64_t> Total(const ClientResponse& r) {
  auto doc = fhir::ParseJson(r.body);
  if (!doc.ok()) return std::nullopt;
  const Json* t = fhir::Member(*doc, "total");
  if (t == nullptr || !t->IsInt64()) return std::nullopt;
  return t->GetInt64();
}

// One stored resource and what its references must be: each original
// reference mapped through the Bundle's fullUrl -> "Type/id" table.
struct Stored {
  std::string location;  // "Type/id"
  std::vector<std::string> expected_refs;
};

class SyntheaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(Dir())) GTEST_SKIP() << "Synthea data not found at " << Dir();
    server_ = TestServer::Start();
    ASSERT_NE(server_, nullptr);
    client_ = std::make_unique<HttpClient>(server_->port());
  }

  // Posts every Bundle as a transaction; fills stored_ and expected_ counts.
  void LoadAll() {
    for (const std::string& name : BundleFiles()) {
      std::string text = testing::ReadFile(Dir() + "/" + name);
      auto doc = fhir::ParseJson(text);
      ASSERT_TRUE(doc.ok()) << name;
      ASSERT_EQ(fhir::StringMember(*doc, "type"), "transaction") << name;
      ClientResponse r = client_->Send("POST", "/fhir", text);
      ASSERT_EQ(r.status, 200) << name << ": " << r.body.substr(0, 1000);
      auto resp = fhir::ParseJson(r.body);
      ASSERT_TRUE(resp.ok()) << name;
      ASSERT_EQ(fhir::StringMember(*resp, "type"), "transaction-response") << name;
      const Json& in = (*doc)["entry"];
      const Json* out = fhir::Member(*resp, "entry");
      ASSERT_TRUE(out != nullptr && out->IsArray() && out->Size() == in.Size()) << name;
      ++bundles_;
      std::map<std::string, std::string> ids;  // fullUrl -> Type/id
      for (rapidjson::SizeType i = 0; i < in.Size(); ++i) {
        const Json* response = fhir::Member((*out)[i], "response");
        ASSERT_NE(response, nullptr) << name << " entry " << i;
        EXPECT_EQ(fhir::StringMember(*response, "status"), "201 Created") << name << " entry " << i;
        std::string loc(fhir::StringMember(*response, "location"));
        loc = loc.substr(0, loc.find("/_history/"));
        std::string type(fhir::StringMember(in[i]["resource"], "resourceType"));
        EXPECT_EQ(loc.substr(0, loc.find('/')), type) << name << " entry " << i;
        ids[std::string(fhir::StringMember(in[i], "fullUrl"))] = loc;
        ++expected_[type];
        ++entries_;
      }
      PatientRecord record;
      for (rapidjson::SizeType i = 0; i < in.Size(); ++i) {
        std::string type(fhir::StringMember(in[i]["resource"], "resourceType"));
        if (type == "Patient")
          record.patient = ids[std::string(fhir::StringMember(in[i], "fullUrl"))];
        else if (type != "Organization" && type != "Practitioner")
          ++record.counts[type];
      }
      if (!record.patient.empty()) patients_.push_back(std::move(record));
      for (rapidjson::SizeType i = 0; i < in.Size(); ++i) {
        Stored s;
        s.location = ids[std::string(fhir::StringMember(in[i], "fullUrl"))];
        std::vector<std::string> refs;
        CollectReferences(in[i]["resource"], &refs);
        for (std::string& ref : refs) {
          auto it = ids.find(ref);
          s.expected_refs.push_back(it != ids.end() ? it->second : ref);
        }
        stored_.push_back(std::move(s));
      }
    }
  }

  std::unique_ptr<TestServer> server_;
  std::unique_ptr<HttpClient> client_;
  // Per patient Bundle: the Patient's "Type/id" and how many resources of
  // each clinical type the Bundle held (all about that patient).
  struct PatientRecord {
    std::string patient;
    std::map<std::string, int64_t> counts;
  };
  std::vector<PatientRecord> patients_;
  std::vector<Stored> stored_;
  std::map<std::string, int64_t> expected_;
  int bundles_ = 0;
  int entries_ = 0;
};

TEST_F(SyntheaTest, TransactionsLoadAndEveryReferenceResolves) {
  ASSERT_NO_FATAL_FAILURE(LoadAll());
  ASSERT_EQ(bundles_, 22);

  // Counts per type: _summary=count over HTTP equals what the bundles held.
  for (const auto& [type, n] : expected_) {
    ClientResponse r = client_->Get("/fhir/" + type + "?_summary=count");
    ASSERT_EQ(r.status, 200) << type;
    EXPECT_EQ(Total(r), n) << type;
  }

  // Per patient: Type?patient=Patient/id finds exactly that Bundle's
  // resources of the type (the index holds the rewritten references).
  ASSERT_EQ(patients_.size(), 20u);
  int patient_searches = 0;
  for (const PatientRecord& p : patients_) {
    for (const auto& [type, n] : p.counts) {
      ClientResponse r =
          client_->Get("/fhir/" + type + "?patient=" + p.patient + "&_summary=count");
      ASSERT_EQ(r.status, 200) << type << " " << r.body;
      EXPECT_EQ(Total(r), n) << type << "?patient=" << p.patient;
      ++patient_searches;
    }
  }

  // Read every stored resource; its references are exactly the originals
  // rewritten to the new ids, and each resolves (a read of the target, or a
  // contained resource for "#x").
  std::mutex mu;
  std::set<std::string> targets;
  std::atomic<size_t> next{0};
  std::atomic<int> refs{0}, contained_refs{0}, bad{0};
  auto read_all = [&] {
    HttpClient c(server_->port());
    for (size_t i = next++; i < stored_.size(); i = next++) {
      const Stored& s = stored_[i];
      ClientResponse r = c.Get("/fhir/" + s.location);
      if (r.status != 200) {
        ++bad;
        ADD_FAILURE() << "read " << s.location << ": HTTP " << r.status;
        continue;
      }
      auto doc = fhir::ParseJson(r.body);
      std::vector<std::string> got;
      CollectReferences(*doc, &got);
      if (got != s.expected_refs) {
        ++bad;
        ADD_FAILURE() << s.location << ": references differ from the bundle's";
      }
      std::set<std::string> contained = ContainedIds(*doc);
      for (const std::string& ref : got) {
        ++refs;
        if (ref.starts_with("#")) {
          ++contained_refs;
          if (!contained.contains(ref.substr(1))) {
            ++bad;
            ADD_FAILURE() << s.location << ": " << ref << " names no contained resource";
          }
          continue;
        }
        std::lock_guard lock(mu);
        targets.insert(ref);
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < 4; ++t) pool.emplace_back(read_all);
  for (auto& t : pool) t.join();

  std::vector<std::string> target_list(targets.begin(), targets.end());
  next = 0;
  auto resolve = [&] {
    HttpClient c(server_->port());
    for (size_t i = next++; i < target_list.size(); i = next++) {
      const std::string& ref = target_list[i];
      ClientResponse r = c.Get("/fhir/" + ref);
      if (ref.find("://") != std::string::npos || ref.starts_with("urn:") || r.status != 200) {
        ++bad;
        ADD_FAILURE() << "reference " << ref << " does not resolve: HTTP " << r.status;
      }
    }
  };
  pool.clear();
  for (int t = 0; t < 4; ++t) pool.emplace_back(resolve);
  for (auto& t : pool) t.join();

  std::cout << "Synthea: " << bundles_ << " transaction Bundles, " << entries_
            << " entries stored; " << refs << " references (" << contained_refs
            << " to contained resources), " << target_list.size() << " distinct targets, " << bad
            << " problems; " << patient_searches << " Type?patient= searches\n  per type:";
  for (const auto& [type, n] : expected_) std::cout << " " << type << "=" << n;
  std::cout << "\n";
  EXPECT_EQ(bad, 0);
}

// Each patient Bundle re-posts its Organizations and Practitioners without
// ifNoneExist, so they are stored again under new ids. Searching by the
// identifier then finds several, and a conditional reference
// "Organization?identifier=..." to one of them is ambiguous: a conditional
// reference matching several resources fails the transaction (R4 http.html,
// transaction processing rules); lhcr answers 412 as for its other ambiguous
// conditional interactions. A unique one resolves to that resource.
TEST_F(SyntheaTest, DuplicatedOrganizationsMakeConditionalReferencesAmbiguous) {
  ASSERT_NO_FATAL_FAILURE(LoadAll());
  const std::string kSystem = "https://github.com/synthetichealth/synthea";
  // Count Organizations per identifier in what was posted.
  std::map<std::string, int> per_identifier;
  for (const std::string& name : BundleFiles()) {
    auto doc = fhir::ParseJson(testing::ReadFile(Dir() + "/" + name));
    for (const Json& e : (*doc)["entry"].GetArray()) {
      const Json& r = e["resource"];
      if (fhir::StringMember(r, "resourceType") != "Organization") continue;
      for (const Json& id : r["identifier"].GetArray()) {
        if (fhir::StringMember(id, "system") == kSystem)
          ++per_identifier[std::string(fhir::StringMember(id, "value"))];
      }
    }
  }
  std::string duplicated, unique;
  int duplicated_ids = 0, extra_copies = 0;
  for (const auto& [value, n] : per_identifier) {
    if (n > 1) {
      ++duplicated_ids;
      extra_copies += n - 1;
      if (duplicated.empty()) duplicated = value;
    } else if (unique.empty()) {
      unique = value;
    }
  }
  ASSERT_FALSE(duplicated.empty());
  ASSERT_FALSE(unique.empty());
  std::cout << "Synthea Organizations: " << per_identifier.size() << " identifiers, "
            << duplicated_ids << " posted more than once (" << extra_copies
            << " duplicate copies stored)\n";

  ClientResponse dup =
      client_->Get("/fhir/Organization?identifier=" + kSystem + "%7C" + duplicated);
  ASSERT_EQ(dup.status, 200);
  EXPECT_EQ(Total(dup), per_identifier[duplicated]);

  auto post_with_ref = [&](const std::string& value) {
    std::string bundle =
        R"({"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:7f0c3c1e-0000-4000-8000-000000000001","resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"performer":[{"reference":"Organization?identifier=)" +
        kSystem + "|" + value + R"("}]},"request":{"method":"POST","url":"Observation"}}]})";
    return client_->Send("POST", "/fhir", bundle);
  };
  ClientResponse ambiguous = post_with_ref(duplicated);
  EXPECT_EQ(ambiguous.status, 412) << ambiguous.body;
  ClientResponse ok = post_with_ref(unique);
  ASSERT_EQ(ok.status, 200) << ok.body;
  ClientResponse org = client_->Get("/fhir/Organization?identifier=" + kSystem + "%7C" + unique);
  auto org_doc = fhir::ParseJson(org.body);
  ASSERT_TRUE(org_doc.ok());
  std::string org_id(fhir::StringMember((*org_doc)["entry"][0]["resource"], "id"));
  auto resp = fhir::ParseJson(ok.body);
  ASSERT_TRUE(resp.ok());
  const Json& created = (*resp)["entry"][0]["resource"];
  EXPECT_EQ(fhir::StringMember(created["performer"][0], "reference"), "Organization/" + org_id);
}

}  // namespace
}  // namespace lhcr
