// Patient/{id}/$everything throughput and Patient/$gpc.getstructuredrecord
// latency, in process through the FHIR API (api::FhirApi::Handle: routing,
// operation, paging and encoding; no socket).
//
//   everything_bench --dir DIR [--sources 4] [--per-source 250]
//                    [--others 200] [--rounds 30] [--seed 1]
//
// Loads, through Interactions::Bundle into a fresh DIR/lhcr.db
// (synchronous=NORMAL), one person's records from --sources sources
// (synthetic_bundles.h, --per-source resources each, about 2.7 KB each),
// linked by one Person holding a verified NHS number, and --others other
// people's records (100 resources each) so that the index is not the
// person's alone. Then, in --rounds interleaved rounds (so that noise hits
// both alike):
//
//   everything  GET Patient/X/$everything?_count=1000, every page followed
//   baseline    the same resources by plain search, one
//               GET Type?_id=a,b,...&_count=1000 per resource type (the ids
//               as $everything returned them): the cheapest index lookup
//               of exactly that set
//   gpc         POST Patient/$gpc.getstructuredrecord with every include*
//
// and prints resources/s (median of rounds) of everything and baseline,
// their ratio, and gpc p50/p99 latency with its ratio to one $everything.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "api/everything_api.h"
#include "api/fhir_api.h"
#include "api/gpconnect_api.h"
#include "base/ids.h"
#include "base/time.h"
#include "fhir/json.h"
#include "fhir/search_param.h"
#include "fhir/validator.h"
#include "interaction/interaction.h"
#include "store/sqlite/sqlite_store.h"
#include "synthetic_bundles.h"
#include "testing/test_server.h"

namespace lhcr::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "everything_bench: " << what << "\n";
  std::exit(1);
}

struct Args {
  std::string dir;
  int sources = 4;
  int per_source = 250;
  int others = 200;
  int rounds = 30;
  uint64_t seed = 1;
};

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die("missing value for " + k);
      return argv[++i];
    };
    if (k == "--dir")
      a.dir = next();
    else if (k == "--sources")
      a.sources = std::atoi(next().c_str());
    else if (k == "--per-source")
      a.per_source = std::atoi(next().c_str());
    else if (k == "--others")
      a.others = std::atoi(next().c_str());
    else if (k == "--rounds")
      a.rounds = std::atoi(next().c_str());
    else if (k == "--seed")
      a.seed = std::strtoull(next().c_str(), nullptr, 10);
    else
      Die("unknown argument " + k);
  }
  if (a.dir.empty()) Die("--dir is required");
  return a;
}

api::HttpResponse Call(api::FhirApi& api, const std::string& method, const std::string& target,
                       const std::string& body = "") {
  api::HttpRequest r;
  r.method = method;
  r.target = target;
  r.body = body;
  r.headers = {{"Host", "bench"}, {"Content-Type", "application/fhir+json"}};
  return api.Handle(r);
}

// The (type, id) of each entry of a searchset, and its next link's target.
std::vector<std::pair<std::string, std::string>> Entries(const std::string& body,
                                                         std::string* next) {
  std::vector<std::pair<std::string, std::string>> out;
  auto d = fhir::ParseJson(body);
  if (!d.ok()) Die("not JSON: " + body.substr(0, 200));
  next->clear();
  if (const fhir::Json* links = fhir::Member(*d, "link")) {
    for (const fhir::Json& l : links->GetArray()) {
      if (fhir::StringMember(l, "relation") == "next") {
        std::string url(fhir::StringMember(l, "url"));
        *next = url.substr(url.find("/fhir"));
      }
    }
  }
  if (const fhir::Json* entries = fhir::Member(*d, "entry")) {
    for (const fhir::Json& e : entries->GetArray()) {
      const fhir::Json& r = e["resource"];
      out.emplace_back(fhir::StringMember(r, "resourceType"), fhir::StringMember(r, "id"));
    }
  }
  return out;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}
double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

int Main(int argc, char** argv) {
  Args args = ParseArgs(argc, argv);
  std::filesystem::create_directories(args.dir);
  std::filesystem::remove(args.dir + "/lhcr.db");
  std::filesystem::remove(args.dir + "/lhcr.db-wal");
  std::filesystem::remove(args.dir + "/lhcr.db-shm");
  store::SqliteOptions so;
  so.path = args.dir + "/lhcr.db";
  so.synchronous_full = false;
  auto st = store::OpenSqliteStore(so);
  if (!st.ok()) Die(st.status().ToString());
  interaction::Interactions in(**st, fhir::SearchParamRegistry::R4(), fhir::Validator::R4(),
                               SystemClock(), UuidGenerator());
  interaction::RequestContext ctx{"http://bench/fhir"};

  // The person's records (one Bundle per source) and the others'.
  auto t0 = SteadyClock::now();
  std::vector<std::string> patients;
  size_t loaded = 0;
  for (int s = 0; s < args.sources + args.others; ++s) {
    const bool person = s < args.sources;
    PatientRecord rec = MakePatientRecord(s, args.seed, person ? args.per_source : 100);
    auto resp = in.Bundle(ctx, rec.bundle);
    if (!resp.ok()) Die("load: " + resp.status().ToString());
    loaded += rec.resources.size();
    if (!person) continue;
    auto locs = testing::ResponseLocations(resp->body);
    if (!locs) Die("load: no locations");
    for (const auto& [type, id] : *locs) {
      if (type == "Patient") patients.push_back(id);
    }
  }
  // The GP's record with a verified NHS number, and the Person.
  const std::string nhs = "9990000018";
  auto put = [&](const std::string& type, const std::string& id, const std::string& json) {
    auto r = in.Update(ctx, type, id, json, {});
    if (!r.ok()) Die("put " + type + ": " + r.status().ToString());
  };
  put("Patient", "bench-gp",
      R"({"resourceType":"Patient","id":"bench-gp","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":")" +
          nhs +
          R"(","extension":[{"url":"https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus","valueCodeableConcept":{"coding":[{"system":"https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland","code":"01"}]}}]}],"name":[{"family":"Benchperson"}]})");
  std::string links = R"({"target":{"reference":"Patient/bench-gp"}})";
  for (const auto& p : patients) links += R"(,{"target":{"reference":"Patient/)" + p + "\"}}";
  put("Person", "bench-person",
      R"({"resourceType":"Person","id":"bench-person","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":")" +
          nhs + R"("}],"link":[)" + links + "]}");
  double load_s = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  std::printf("LOAD %zu resources (%d sources x %d for the person, %d others x 100) in %.1f s\n",
              loaded, args.sources, args.per_source, args.others, load_s);

  api::FhirApiOptions ao;
  auto compartment = compartment::PatientCompartment::R4();
  ao.operations.push_back(api::EverythingOperation(in, compartment));
  ao.operations.push_back(
      api::StructuredRecordOperation(in, compartment, SystemClock(), UuidGenerator()));
  api::FhirApi api(in, ao, nullptr);

  const std::string everything = "/fhir/Patient/" + patients.front() + "/$everything?_count=1000";
  const std::string gpc_body =
      R"({"resourceType":"Parameters","parameter":[{"name":"patientNHSNumber","valueIdentifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":")" +
      nhs +
      R"("}},{"name":"includeAllergies","part":[{"name":"includeResolvedAllergies","valueBoolean":true}]},{"name":"includeMedication","part":[{"name":"includePrescriptionIssues","valueBoolean":true}]},{"name":"includeConsultations"},{"name":"includeProblems"},{"name":"includeImmunisations"},{"name":"includeInvestigations"},{"name":"includeReferrals"},{"name":"includeUncategorisedData"}]})";

  // One $everything to learn the set the baseline fetches.
  std::map<std::string, std::vector<std::string>> by_type;
  size_t n_everything = 0;
  {
    std::string next = everything;
    while (!next.empty()) {
      auto r = Call(api, "GET", next);
      if (r.status != 200) Die("$everything: " + r.body.substr(0, 300));
      for (auto& [type, id] : Entries(r.body, &next)) {
        by_type[type].push_back(id);
        ++n_everything;
      }
    }
  }
  std::vector<std::string> baseline_targets;
  for (const auto& [type, ids] : by_type) {
    for (size_t i = 0; i < ids.size(); i += 1000) {
      std::string t = "/fhir/" + type + "?_count=1000&_id=";
      for (size_t j = i; j < std::min(ids.size(), i + 1000); ++j) t += (j > i ? "," : "") + ids[j];
      baseline_targets.push_back(t);
    }
  }
  std::printf("SET %zu resources of %zu types for the person\n", n_everything, by_type.size());

  std::vector<double> ev_rate, base_rate, ratio, gpc_ms, ev_ms;
  for (int round = 0; round < args.rounds; ++round) {
    auto a = SteadyClock::now();
    size_t got = 0;
    std::string next = everything;
    while (!next.empty()) {
      auto r = Call(api, "GET", next);
      if (r.status != 200) Die("$everything: " + r.body.substr(0, 300));
      got += Entries(r.body, &next).size();
    }
    double ev_s = std::chrono::duration<double>(SteadyClock::now() - a).count();
    if (got != n_everything) Die("$everything changed size");

    a = SteadyClock::now();
    size_t base_got = 0;
    for (const std::string& t : baseline_targets) {
      std::string next;
      auto r = Call(api, "GET", t);
      if (r.status != 200) Die("baseline: " + r.body.substr(0, 300));
      base_got += Entries(r.body, &next).size();
    }
    double base_s = std::chrono::duration<double>(SteadyClock::now() - a).count();
    if (base_got != n_everything) Die("baseline fetched " + std::to_string(base_got));

    a = SteadyClock::now();
    auto g = Call(api, "POST", "/fhir/Patient/$gpc.getstructuredrecord", gpc_body);
    double gpc_s = std::chrono::duration<double>(SteadyClock::now() - a).count();
    if (g.status != 200) Die("gpc: " + g.body.substr(0, 300));

    ev_rate.push_back(got / ev_s);
    base_rate.push_back(base_got / base_s);
    ratio.push_back(base_s / ev_s);
    gpc_ms.push_back(gpc_s * 1000);
    ev_ms.push_back(ev_s * 1000);
  }
  std::vector<double> gpc_ratio;
  for (size_t i = 0; i < gpc_ms.size(); ++i) gpc_ratio.push_back(gpc_ms[i] / ev_ms[i]);
  std::printf("EVERYTHING %.0f resources/s (median of %d rounds), %.1f ms per request\n",
              Median(ev_rate), args.rounds, Median(ev_ms));
  std::printf("BASELINE   %.0f resources/s (_id search per type)\n", Median(base_rate));
  std::printf("RATIO      %.2f (everything / baseline, median of per-round ratios)\n",
              Median(ratio));
  std::printf(
      "GPC        p50 %.1f ms, p99 %.1f ms (all include* parameters); %.2f x one "
      "$everything\n",
      Median(gpc_ms), Percentile(gpc_ms, 0.99), Median(gpc_ratio));
  (*st)->Close();
  return 0;
}

}  // namespace
}  // namespace lhcr::bench

int main(int argc, char** argv) { return lhcr::bench::Main(argc, argv); }
