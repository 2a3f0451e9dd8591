// Incremental matching against a large region: records per second that the
// MPI links inside their ingest transactions, and Patient/$match latency,
// with a region of N persons already in the store.
//
//   lhcr synth --people 1000000 --seed 7 --out /tmp/r1m
//   build/bench/mpi_incremental_bench --region /tmp/r1m --work /tmp/mpi1m [--hold-out 10000]
//
// 1. Reads the region's source records and truth (mpi::LoadRegion) and holds
//    out a random `--hold-out` of them.
// 2. Writes every other record into a fresh SQLite store as a Patient, and
//    one Person per true person linking them (the state a finished relink
//    leaves; truth stands in for the matcher so that loading costs minutes,
//    not hours).
// 3. Starts the MPI (mpi::MatchService) on the store: the cold start reads
//    and indexes every Patient and Person and trains the model (on a sample,
//    MatchService::kMaxTrainingRecords).
// 4. Ingests the held-out records one transaction each, as `lhcr ingest`
//    does: conditional PUT of the Patient, the linker's entries (Person
//    link or a new Person, review Task) appended, one Bundle. Reports
//    records/s, latency percentiles and what happened to each record
//    against truth (false links are the hazard).
// 5. Baseline, same run: the same transactions (other identifiers) written
//    without the linker. The ratio is the price of matching at ingest.
// 6. Patient/$match for held-out records: queries/s and latency.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/ids.h"
#include "base/time.h"
#include "fhir/json.h"
#include "fhir/search_param.h"
#include "fhir/validator.h"
#include "interaction/interaction.h"
#include "mpi/match_service.h"
#include "mpi/region_reader.h"
#include "mpi/resources.h"
#include "store/sqlite/sqlite_store.h"

namespace lhcr {
namespace {

using Steady = std::chrono::steady_clock;

double Since(Steady::time_point t0) {
  return std::chrono::duration<double>(Steady::now() - t0).count();
}

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

long PeakRssMb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "mpi_incremental_bench: %s\n", message.c_str());
  std::exit(1);
}

std::string Quote(std::string_view s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return buf.GetString();
}

std::string Date(const identity::PartialDate& d) {
  char buf[16];
  switch (d.precision) {
    case identity::DatePrecision::kDay:
      std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", d.year, d.month, d.day);
      return buf;
    case identity::DatePrecision::kMonth:
      std::snprintf(buf, sizeof buf, "%04d-%02d", d.year, d.month);
      return buf;
    case identity::DatePrecision::kYear:
      std::snprintf(buf, sizeof buf, "%04d", d.year);
      return buf;
    default:
      return "";
  }
}

// A source record as the Patient a source would send (what
// identity::PersonRecordFromPatient reads back).
std::string PatientJson(const identity::PersonRecord& r, const std::string& id,
                        const std::string& id_system) {
  std::string j = R"({"resourceType":"Patient")";
  if (!id.empty()) j += R"(,"id":)" + Quote(id);
  j += R"(,"meta":{"source":)" + Quote(r.source_id) + "}";
  j += R"(,"identifier":[{"system":)" + Quote(id_system) + R"(,"value":)" +
       Quote(r.source_id + "-" + r.record_id) + "}";
  if (!r.nhs_number.empty()) {
    j += R"(,{"system":"https://fhir.nhs.uk/Id/nhs-number","value":)" + Quote(r.nhs_number) + "}";
  }
  j += "]";
  j += R"(,"name":[{)";
  bool first = true;
  if (!r.family.empty()) {
    j += R"("family":)" + Quote(r.family);
    first = false;
  }
  if (!r.given.empty() || !r.other_names.empty()) {
    if (!first) j += ",";
    j += R"("given":[)";
    bool g1 = true;
    if (!r.given.empty()) {
      j += Quote(r.given);
      g1 = false;
    }
    for (const std::string& o : r.other_names) {
      if (!g1) j += ",";
      j += Quote(o);
      g1 = false;
    }
    j += "]";
  }
  j += "}]";
  switch (r.sex) {
    case identity::Sex::kFemale:
      j += R"(,"gender":"female")";
      break;
    case identity::Sex::kMale:
      j += R"(,"gender":"male")";
      break;
    case identity::Sex::kOther:
      j += R"(,"gender":"other")";
      break;
    default:
      break;
  }
  const std::string dob = Date(r.dob);
  // A keyed date outside the calendar (19971305) is kept by the matcher but
  // is not a FHIR date: such a record is sent without one.
  if (!dob.empty() && r.dob.month >= 1 && r.dob.month <= 12 && r.dob.day <= 31) {
    j += R"(,"birthDate":)" + Quote(dob);
  }
  std::vector<std::string> lines;
  std::string line1 = r.house_number;
  if (!r.address_lines.empty()) {
    line1 += (line1.empty() ? "" : " ") + r.address_lines[0];
  }
  if (!line1.empty()) lines.push_back(line1);
  for (size_t i = 1; i < r.address_lines.size(); ++i) lines.push_back(r.address_lines[i]);
  if (!lines.empty() || !r.town.empty() || !r.postcode.empty()) {
    j += R"(,"address":[{)";
    bool a1 = true;
    if (!lines.empty()) {
      j += R"("line":[)";
      for (size_t i = 0; i < lines.size(); ++i) j += (i ? "," : "") + Quote(lines[i]);
      j += "]";
      a1 = false;
    }
    if (!r.town.empty()) {
      j += std::string(a1 ? "" : ",") + R"("city":)" + Quote(r.town);
      a1 = false;
    }
    if (!r.postcode.empty()) {
      j += std::string(a1 ? "" : ",") + R"("postalCode":)" + Quote(r.postcode);
    }
    j += "}]";
  }
  j += "}";
  return j;
}

std::string FhirId(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-') ? c : '-';
  return out.substr(0, 64);
}

void Write(interaction::Interactions& in, const std::vector<std::string>& entries) {
  std::string b = R"({"resourceType":"Bundle","type":"transaction","entry":[)";
  for (size_t i = 0; i < entries.size(); ++i) b += (i ? "," : "") + entries[i];
  b += "]}";
  interaction::RequestContext ctx;
  auto r = in.Bundle(ctx, b);
  if (!r.ok()) Die("load: " + r.status().ToString());
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))];
}

struct Options {
  std::string region;
  std::string work;
  size_t hold_out = 10000;
  size_t match_queries = 2000;
  uint64_t seed = 1;
};

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die("missing value for " + a);
      return argv[++i];
    };
    if (a == "--region") {
      o.region = next();
    } else if (a == "--work") {
      o.work = next();
    } else if (a == "--hold-out") {
      o.hold_out = std::stoul(next());
    } else if (a == "--match-queries") {
      o.match_queries = std::stoul(next());
    } else if (a == "--seed") {
      o.seed = std::stoull(next());
    } else {
      Die("usage: mpi_incremental_bench --region DIR --work DIR [--hold-out N] "
          "[--match-queries N] [--seed S]");
    }
  }
  if (o.region.empty() || o.work.empty()) Die("--region and --work are required");
  return o;
}

int Run(const Options& o) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines appear as they are written
  const auto t_read = Steady::now();
  auto region = mpi::LoadRegion(o.region);
  if (!region.ok()) Die(region.status().ToString());
  const identity::LabelledRecords& data = region->data;
  const size_t n = data.records.size();
  std::map<std::string, int> people;
  for (const std::string& t : data.truth) people[t] = 0;
  std::printf("region %s: %zu records of %zu people, read in %.1f s\n", o.region.c_str(), n,
              people.size(), Since(t_read));
  if (o.hold_out * 2 > n) Die("--hold-out is more than half the records");

  std::vector<uint32_t> order(n);
  for (uint32_t i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 rng(o.seed);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<uint32_t> held(order.end() - static_cast<std::ptrdiff_t>(o.hold_out), order.end());
  std::vector<bool> is_held(n, false);
  for (uint32_t i : held) is_held[i] = true;

  std::filesystem::remove_all(o.work);
  std::filesystem::create_directories(o.work);
  store::SqliteOptions so;
  so.path = o.work + "/lhcr.db";
  so.synchronous_full = false;  // as `lhcr ingest --no-fsync`
  auto opened = store::OpenSqliteStore(so);
  if (!opened.ok()) Die(opened.status().ToString());
  std::unique_ptr<store::Store> store = std::move(*opened);
  interaction::Interactions in(*store, fhir::SearchParamRegistry::R4(), fhir::Validator::R4(),
                               SystemClock(), UuidGenerator());

  // 2. The region as a finished relink leaves it.
  const std::string kSystem = "https://lhcr.example/bench/record";
  const auto t_load = Steady::now();
  std::unordered_map<std::string, std::vector<uint32_t>> members;  // person -> loaded records
  std::vector<std::string> entries;
  size_t loaded = 0;
  for (uint32_t i = 0; i < n; ++i) {
    if (is_held[i]) continue;
    const identity::PersonRecord& r = data.records[i];
    const std::string id = "r" + std::to_string(i);
    entries.push_back(R"({"fullUrl":"Patient/)" + id + R"(","resource":)" +
                      PatientJson(r, id, kSystem) +
                      R"(,"request":{"method":"PUT","url":"Patient/)" + id + R"("}})");
    members[data.truth[i]].push_back(i);
    if (entries.size() == 1000) {
      Write(in, entries);
      entries.clear();
    }
    if (++loaded % 200000 == 0) {
      std::printf("  loaded %zu Patients (%.0f s)\n", loaded, Since(t_load));
      std::fflush(stdout);
    }
  }
  if (!entries.empty()) Write(in, entries);
  entries.clear();
  size_t persons = 0;
  for (const auto& [person, recs] : members) {
    std::vector<mpi::Member> ms(recs.size());
    std::vector<const mpi::Member*> ptrs;
    for (size_t k = 0; k < recs.size(); ++k) {
      ms[k].ref = "Patient/r" + std::to_string(recs[k]);
      ms[k].source = data.records[recs[k]].source_id;
      ms[k].json = PatientJson(data.records[recs[k]], "r" + std::to_string(recs[k]), kSystem);
      ptrs.push_back(&ms[k]);
    }
    const std::string pid = "p-" + FhirId(person);
    entries.push_back(R"({"fullUrl":"Person/)" + pid + R"(","resource":)" +
                      mpi::PersonJson(pid, ptrs,
                                      std::vector<mpi::Grade>(recs.size(), mpi::Grade::kCertain),
                                      std::vector<double>(recs.size(), 1.0)) +
                      R"(,"request":{"method":"PUT","url":"Person/)" + pid + R"("}})");
    if (entries.size() == 1000) {
      Write(in, entries);
      entries.clear();
    }
    ++persons;
  }
  if (!entries.empty()) Write(in, entries);
  entries.clear();
  std::printf("loaded %zu Patients and %zu Persons in %.0f s\n", loaded, persons, Since(t_load));

  // 3. Cold start.
  mpi::MatchService service(in);
  const auto t_cold = Steady::now();
  const double cpu_cold = CpuSeconds();
  {
    interaction::RequestContext ctx;
    auto warm = service.Match(
        ctx, R"({"resourceType":"Parameters","parameter":[{"name":"resource","resource":)" +
                 PatientJson(data.records[held[0]], "", kSystem) + "}]}");
    if (!warm.ok()) Die("cold start: " + warm.status().ToString());
  }
  std::printf("cold start (index %zu Patients, train): %.1f s wall, %.1f s CPU, peak RSS %ld MB\n",
              service.indexed(), Since(t_cold), CpuSeconds() - cpu_cold, PeakRssMb());
  std::fflush(stdout);

  // 4. Incremental: one transaction per held-out record, linked inside it.
  auto bundle_of = [&](uint32_t i, const std::string& system) {
    const identity::PersonRecord& r = data.records[i];
    const std::string value = r.source_id + "-" + r.record_id;
    return std::string(R"({"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":)") +
           Quote("urn:uuid:" + StableUuid(system + "|" + value)) + R"(,"resource":)" +
           PatientJson(r, "", system) + R"(,"request":{"method":"PUT","url":)" +
           Quote("Patient?identifier=" + system + "|" + value) + "}}]}";
  };
  std::vector<double> latency;
  latency.reserve(held.size());
  size_t linked_right = 0, linked_wrong = 0, new_person_missed = 0, new_person_right = 0,
         reviews = 0;
  const auto t_inc = Steady::now();
  const double cpu_inc = CpuSeconds();
  for (uint32_t i : held) {
    const auto t0 = Steady::now();
    std::string b = bundle_of(i, kSystem);
    auto links = service.LinkEntries(b);
    if (!links.ok()) Die("link: " + links.status().ToString());
    std::string person;
    if (!links->empty()) {
      b.resize(b.size() - 2);
      for (const std::string& e : *links) {
        b += "," + e;
        if (person.empty() && e.find(R"("url":"Person/)") != std::string::npos) {
          const size_t at = e.find(R"("url":"Person/)") + 14;
          person = e.substr(at, e.find('"', at) - at);
        }
        if (e.find(R"("url":"Task/)") != std::string::npos) ++reviews;
      }
      b += "]}";
    }
    interaction::RequestContext ctx;
    auto written = in.Bundle(ctx, b);
    if (!written.ok()) Die("write: " + written.status().ToString());
    latency.push_back(std::chrono::duration<double, std::milli>(Steady::now() - t0).count());
    const std::string truth_person = "p-" + FhirId(data.truth[i]);
    const bool person_exists = members.count(data.truth[i]) > 0;
    if (person.rfind("p-", 0) == 0) {
      (person == truth_person ? linked_right : linked_wrong) += 1;
    } else {
      (person_exists ? new_person_missed : new_person_right) += 1;
    }
  }
  const double inc_wall = Since(t_inc), inc_cpu = CpuSeconds() - cpu_inc;
  std::printf(
      "incremental: %zu records in %.1f s wall, %.1f s CPU: %.0f records/s (CPU %.0f/s); "
      "latency p50 %.2f ms p95 %.2f ms p99 %.2f ms\n",
      held.size(), inc_wall, inc_cpu, held.size() / inc_wall, held.size() / inc_cpu,
      Percentile(latency, 0.5), Percentile(latency, 0.95), Percentile(latency, 0.99));
  std::printf(
      "  linked into their person's Person %zu, into ANOTHER person's %zu; new Person while "
      "their person had one %zu, new Person rightly (first record of a person) %zu; review "
      "Tasks %zu\n",
      linked_right, linked_wrong, new_person_missed, new_person_right, reviews);

  // 5. Baseline: the same transactions without the linker.
  const std::string kBaseline = "https://lhcr.example/bench/baseline";
  const auto t_base = Steady::now();
  const double cpu_base = CpuSeconds();
  for (uint32_t i : held) {
    interaction::RequestContext ctx;
    auto written = in.Bundle(ctx, bundle_of(i, kBaseline));
    if (!written.ok()) Die("baseline: " + written.status().ToString());
  }
  const double base_wall = Since(t_base), base_cpu = CpuSeconds() - cpu_base;
  std::printf(
      "baseline (same transactions, no linker): %.0f records/s (CPU %.0f/s); "
      "ratio matched/baseline wall %.2f, CPU %.2f\n",
      held.size() / base_wall, held.size() / base_cpu, base_wall / inc_wall, base_cpu / inc_cpu);

  // 6. $match.
  std::vector<double> match_ms;
  const size_t queries = std::min(o.match_queries, held.size());
  const auto t_match = Steady::now();
  for (size_t k = 0; k < queries; ++k) {
    const std::string params =
        R"({"resourceType":"Parameters","parameter":[{"name":"resource","resource":)" +
        PatientJson(data.records[held[k]], "", kSystem) + "}]}";
    const auto t0 = Steady::now();
    interaction::RequestContext ctx;
    auto r = service.Match(ctx, params);
    if (!r.ok()) Die("match: " + r.status().ToString());
    match_ms.push_back(std::chrono::duration<double, std::milli>(Steady::now() - t0).count());
  }
  std::printf("$match: %zu queries, %.0f/s; latency p50 %.2f ms p95 %.2f ms p99 %.2f ms\n", queries,
              queries / Since(t_match), Percentile(match_ms, 0.5), Percentile(match_ms, 0.95),
              Percentile(match_ms, 0.99));
  std::printf("peak RSS %ld MB\n", PeakRssMb());
  return 0;
}

}  // namespace
}  // namespace lhcr

int main(int argc, char** argv) { return lhcr::Run(lhcr::Parse(argc, argv)); }
