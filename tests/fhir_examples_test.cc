// The real-world check over the official FHIR R4 examples
// (hl7.fhir.r4.examples@4.0.1): every clinical example is stored through the
// HTTP API with its own id (PUT Type/id, so references between examples
// resolve), reads back equal, and is found again by every search parameter
// of its type that has a value in it. Counts and every rejection are in
// docs/REAL_WORLD.md.
//
// Which files: every *.json whose resourceType is not a conformance or
// terminology type (the list below), i.e. the 720 the validator test checks,
// except the 14 "definition" Bundles whose entries are all conformance or
// terminology resources (Bundle-resources.json, Bundle-valuesets.json, ...:
// 100 MB that are the specification itself, not example data). The other 30
// Bundles (documents, messages, collections, searchsets, batch/transaction
// requests and responses) are stored as Bundle resources, which is what a
// PUT Bundle/id means; they are not processed as transactions.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cinttypes>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/time.h"
#include "fhir/fhirpath.h"
#include "fhir/json.h"
#include "fhir/resource_types.h"
#include "fhir/search_index.h"
#include "fhir/search_param.h"
#include "testing/test_server.h"

namespace lhcr {
namespace {

using fhir::Json;
using fhir::JsonDoc;
using fhir::SearchParam;
using fhir::SearchParamType;
using store::IndexRow;
using store::IndexType;
using testing::ClientResponse;
using testing::HttpClient;
using testing::TestServer;

// Examples the server must reject because the example itself is invalid R4;
// file -> why (also in docs/REAL_WORLD.md and docs/VALIDATION.md).
const std::map<std::string, std::string> kInvalidExamples = {
    {"Questionnaire-qs1.json",
     "32 nested display items have no linkId; Questionnaire.item.linkId is 1..1"},
};

struct Example {
  std::string file;
  std::string type;
  std::string id;
  std::string text;
};

// Clinical examples of the package, sorted by file name; *definition_bundles
// counts the definition Bundles left out.
std::vector<Example> LoadExamples(int* definition_bundles) {
  std::vector<Example> out;
  *definition_bundles = 0;
  for (const auto& entry : std::filesystem::directory_iterator(testing::FhirPackageDir())) {
    if (entry.path().extension() != ".json") continue;
    std::string name = entry.path().filename().string();
    if (name == "package.json" || name == ".index.json") continue;
    std::string text = testing::ReadFile(entry.path().string());
    auto doc = fhir::ParseJson(text);
    if (!doc.ok()) {
      ADD_FAILURE() << name << ": " << doc.status().ToString();
      continue;
    }
    std::string type(fhir::StringMember(*doc, "resourceType"));
    if (type.empty() || fhir::IsConformanceType(type)) continue;
    if (type == "Bundle") {
      const Json* entries = fhir::Member(*doc, "entry");
      bool definitions = entries != nullptr && entries->IsArray() && !entries->Empty();
      if (definitions) {
        for (const Json& e : entries->GetArray()) {
          const Json* r = fhir::Member(e, "resource");
          if (r == nullptr || !fhir::IsConformanceType(fhir::StringMember(*r, "resourceType"))) {
            definitions = false;
            break;
          }
        }
      }
      if (definitions) {
        ++*definition_bundles;
        continue;
      }
    }
    out.push_back({name, type, std::string(fhir::StringMember(*doc, "id")), std::move(text)});
  }
  std::sort(out.begin(), out.end(),
            [](const Example& a, const Example& b) { return a.file < b.file; });
  return out;
}

std::string PercentEncode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/' || c == ':') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// Escapes the search value separators (R4 3.1.1.4.10: "\,", "\$", "\|", "\\").
std::string EscapeValue(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == ',' || c == '$' || c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::string Number(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// A date we can write as a FHIR instant that ParseFhirDateRange reads back
// (years 0001..9999).
bool Writable(int64_t t) {
  constexpr int64_t kYear1 = -62135596800000;      // 0001-01-01T00:00:00Z
  constexpr int64_t kYear10000 = 253402300800000;  // 10000-01-01T00:00:00Z
  return t >= kYear1 && t < kYear10000;
}

// The query ("code=value&code=value", already encoded) that must find the
// resource a row came from; empty when the row cannot be written as a query.
std::string QueryFor(const SearchParam& p, const IndexRow& row) {
  std::string code = p.code;
  std::string value;
  switch (row.type) {
    case IndexType::kToken:
      if (row.param.ends_with(":identifier")) code += ":identifier";
      value = EscapeValue(row.s1) + "|" + EscapeValue(row.s2);
      break;
    case IndexType::kString:
      value = row.s1;  // already normalised; a prefix of itself
      break;
    case IndexType::kDate: {
      // The row is a range; ask for resources whose value reaches into it
      // from both sides: ge(lo) and le(hi).
      std::string q;
      if (row.lo != std::numeric_limits<int64_t>::min()) {
        if (!Writable(row.lo)) return "";
        q = code + "=" + PercentEncode("ge" + FormatInstant(row.lo));
      }
      if (row.hi != std::numeric_limits<int64_t>::max()) {
        if (!Writable(row.hi)) return "";
        if (!q.empty()) q += "&";
        q += code + "=" + PercentEncode("le" + FormatInstant(row.hi));
      }
      return q;
    }
    case IndexType::kReference:
      value = row.s1.empty() ? row.s2 : row.s1 + "/" + row.s2;
      break;
    case IndexType::kQuantity:
      value = Number(row.num) + "|" + EscapeValue(row.s1) + "|" + EscapeValue(row.s2);
      break;
    case IndexType::kNumber:
      value = Number(row.num);
      break;
    case IndexType::kUri:
      value = EscapeValue(row.s1);
      break;
  }
  if (value.empty()) return "";
  return code + "=" + PercentEncode(value);
}

// A query on the same parameter (and of the same shape) that the resource
// must NOT match: a control that the search really filters on the value
// rather than ignoring the parameter.
std::string NonMatchingQueryFor(const SearchParam& p, const IndexRow& row) {
  std::string code = p.code;
  std::string value;
  switch (row.type) {
    case IndexType::kToken:
      if (row.param.ends_with(":identifier")) code += ":identifier";
      value = EscapeValue(row.s1) + "|" + EscapeValue(row.s2) + "-no-such-code";
      break;
    case IndexType::kString:
      value = "zzqxj no such text";
      break;
    case IndexType::kDate:
      value = "eq1111-11-11";
      break;
    case IndexType::kReference:
      value = row.s1.empty() ? "http://example.org/no-such-target" : row.s1 + "/no-such-id";
      break;
    case IndexType::kQuantity:
      value = "9.87654321e300|" + EscapeValue(row.s1) + "|" + EscapeValue(row.s2);
      break;
    case IndexType::kNumber:
      value = "9.87654321e300";
      break;
    case IndexType::kUri:
      value = "urn:no-such-uri";
      break;
  }
  return code + "=" + PercentEncode(value);
}

// Removes what the server owns (meta.versionId, meta.lastUpdated; meta when
// nothing else is left) so a read-back compares with what was sent.
void StripServerMeta(JsonDoc& doc) {
  if (!doc.IsObject()) return;
  auto meta = doc.FindMember("meta");
  if (meta == doc.MemberEnd() || !meta->value.IsObject()) return;
  meta->value.RemoveMember("versionId");
  meta->value.RemoveMember("lastUpdated");
  if (meta->value.ObjectEmpty()) doc.RemoveMember("meta");
}

// Every number as written in `text`, in document order (a SAX pass with
// kParseNumbersAsStringsFlag), to detect decimals whose written precision
// changed on the way through the server.
void CollectNumbers(const std::string& text, std::vector<std::string>* out) {
  struct Handler : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, Handler> {
    std::vector<std::string>* out = nullptr;
    bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
      out->emplace_back(s, n);
      return true;
    }
  } h;
  h.out = out;
  rapidjson::Reader reader;
  rapidjson::StringStream ss(text.c_str());
  reader.Parse<rapidjson::kParseNumbersAsStringsFlag>(ss, h);
}

struct Miss {
  std::string file;
  std::string param;
  std::string query;
  int status = 0;
};

// Whether a searchset body lists `type`/`id` among its match entries.
bool BundleHas(const std::string& body, const std::string& type, const std::string& id) {
  auto doc = fhir::ParseJson(body);
  if (!doc.ok()) return false;
  const Json* entries = fhir::Member(*doc, "entry");
  if (entries == nullptr || !entries->IsArray()) return false;
  for (const Json& e : entries->GetArray()) {
    const Json* r = fhir::Member(e, "resource");
    if (r != nullptr && fhir::StringMember(*r, "resourceType") == type &&
        fhir::StringMember(*r, "id") == id) {
      return true;
    }
  }
  return false;
}

// Runs fn(i, client) for i in [0, n) on `threads` threads, one client each.
template <typename Fn>
void Parallel(uint16_t port, size_t n, int threads, Fn fn) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      HttpClient client(port);
      for (size_t i = next++; i < n; i = next++) fn(i, client);
    });
  }
  for (auto& th : pool) th.join();
}

TEST(FhirExamplesTest, StoreReadAndFindEveryClinicalExample) {
  if (!std::filesystem::exists(testing::FhirPackageDir() + "/Patient-example.json")) {
    GTEST_SKIP() << "FHIR package hl7.fhir.r4.examples not found at " << testing::FhirPackageDir();
  }
  int definition_bundles = 0;
  std::vector<Example> examples = LoadExamples(&definition_bundles);
  ASSERT_GT(examples.size(), 600u);

  auto server = TestServer::Start();
  ASSERT_NE(server, nullptr);
  const int kThreads = 4;

  // 1. PUT each with its own id.
  std::vector<ClientResponse> put(examples.size());
  Parallel(server->port(), examples.size(), kThreads, [&](size_t i, HttpClient& c) {
    const Example& e = examples[i];
    put[i] = c.Send("PUT", "/fhir/" + e.type + "/" + e.id, e.text);
  });
  std::vector<size_t> stored;
  int unexplained = 0;
  std::set<std::string> rejected_allowed;
  for (size_t i = 0; i < examples.size(); ++i) {
    const Example& e = examples[i];
    bool ok = put[i].status == 200 || put[i].status == 201;
    if (ok) {
      stored.push_back(i);
      EXPECT_FALSE(kInvalidExamples.contains(e.file))
          << e.file << " is on the invalid list but was accepted: shorten the list";
      continue;
    }
    std::string reason = put[i].body.substr(0, 600);
    if (kInvalidExamples.contains(e.file)) {
      rejected_allowed.insert(e.file);
      std::cout << "  rejected (known invalid) " << e.file << ": HTTP " << put[i].status << "\n";
      continue;
    }
    ++unexplained;
    ADD_FAILURE() << "rejected " << e.file << ": HTTP " << put[i].status << " " << reason;
  }

  // 2. Read back: equal as parsed JSON except for the server's meta; count
  // examples whose decimals changed their written form (1.50 -> 1.5).
  std::atomic<int> read_equal{0}, read_differs{0}, decimal_changed{0};
  std::mutex mu;
  std::vector<std::string> decimal_files;
  Parallel(server->port(), stored.size(), kThreads, [&](size_t k, HttpClient& c) {
    const Example& e = examples[stored[k]];
    ClientResponse r = c.Get("/fhir/" + e.type + "/" + e.id);
    if (r.status != 200) {
      ++read_differs;
      ADD_FAILURE() << "read " << e.file << ": HTTP " << r.status;
      return;
    }
    auto got = fhir::ParseJson(r.body);
    auto want = fhir::ParseJson(e.text);
    if (!got.ok() || !want.ok()) {
      ++read_differs;
      ADD_FAILURE() << e.file << ": read-back is not JSON";
      return;
    }
    StripServerMeta(*got);
    StripServerMeta(*want);
    if (*got == *want) {
      ++read_equal;
    } else {
      ++read_differs;
      ADD_FAILURE() << e.file << " reads back different:\n  sent "
                    << fhir::ToJson(*want).substr(0, 800) << "\n  got  "
                    << fhir::ToJson(*got).substr(0, 800);
    }
    std::vector<std::string> a, b;
    CollectNumbers(e.text, &a);
    CollectNumbers(r.body, &b);
    if (a != b) {
      ++decimal_changed;
      std::string first = e.file;
      for (size_t n = 0; n < std::min(a.size(), b.size()); ++n) {
        if (a[n] != b[n]) {
          first += " (first: " + a[n] + " -> " + b[n] + ")";
          break;
        }
      }
      std::lock_guard lock(mu);
      decimal_files.push_back(first);
    }
  });

  // 3. Search: every row of every (non-composite, non-special) parameter
  // finds its example again, combined with _id so the result is one entry.
  const fhir::SearchParamRegistry& registry = *fhir::SearchParamRegistry::R4();
  struct Probe {
    size_t example;
    std::string param;
    std::string query;
    bool must_match;
  };
  std::vector<Probe> probes;
  std::set<std::string> params_with_value;
  int rows_unwritable = 0;
  for (size_t i : stored) {
    const Example& e = examples[i];
    auto doc = fhir::ParseJson(e.text);
    for (const SearchParam* p : registry.ForType(e.type)) {
      if (p->type == SearchParamType::kComposite || p->type == SearchParamType::kSpecial) continue;
      // _id is what we combine with; _lastUpdated is the server's own.
      if (p->code == "_id" || p->code == "_lastUpdated") continue;
      std::vector<IndexRow> rows = fhir::ExtractParam(*doc, *p);
      if (rows.empty()) continue;
      params_with_value.insert(e.type + "." + p->code);
      std::set<std::string> queries;
      for (const IndexRow& row : rows) {
        std::string q = QueryFor(*p, row);
        if (q.empty()) {
          ++rows_unwritable;
          continue;
        }
        queries.insert(q);
        // Also as clients often ask: a token by its code alone (any
        // system), a local reference by its id alone (any target type).
        if (row.type == IndexType::kToken) {
          std::string c = p->code + (row.param.ends_with(":identifier") ? ":identifier" : "");
          queries.insert(c + "=" + PercentEncode(EscapeValue(row.s2)));
        } else if (row.type == IndexType::kReference && !row.s1.empty()) {
          queries.insert(p->code + "=" + PercentEncode(row.s2));
        }
      }
      if (p->type == SearchParamType::kDate) {
        // Dates also by their exact text with the implicit eq prefix (the
        // range of its precision: "2013-05" is all of May 2013).
        std::vector<fhir::PathValue> values;
        for (const fhir::FhirPath& path : p->PathsFor(e.type)) path.Evaluate(*doc, &values);
        for (const fhir::PathValue& v : values) {
          if (v.node != nullptr && v.node->IsString()) {
            queries.insert(p->code + "=" + PercentEncode(fhir::AsView(*v.node)));
          }
        }
      }
      for (const std::string& q : queries) probes.push_back({i, p->code, q, true});
      probes.push_back({i, p->code, NonMatchingQueryFor(*p, rows.front()), false});
    }
  }
  // Strict handling: a parameter the server does not understand is an
  // error, never silently ignored (which would "find" everything).
  const std::vector<std::pair<std::string, std::string>> kStrict = {{"Prefer", "handling=strict"}};
  {
    // The control for strictness itself.
    HttpClient c(server->port());
    ClientResponse r = c.Call("GET", "/fhir/Patient?no-such-param=x", "", kStrict);
    ASSERT_EQ(r.status, 400) << "Prefer: handling=strict must refuse unknown parameters";
  }
  std::vector<Miss> misses, false_hits;
  std::atomic<int> found{0}, controls{0};
  Parallel(server->port(), probes.size(), kThreads, [&](size_t k, HttpClient& c) {
    const Probe& pr = probes[k];
    const Example& e = examples[pr.example];
    std::string target = "/fhir/" + e.type + "?_id=" + PercentEncode(e.id) + "&" + pr.query;
    ClientResponse r = c.Call("GET", target, "", kStrict);
    bool hit = r.status == 200 && BundleHas(r.body, e.type, e.id);
    if (!pr.must_match) {
      ++controls;
      if (r.status != 200 || hit) {
        std::lock_guard lock(mu);
        false_hits.push_back({e.file, pr.param, target, r.status});
      }
      return;
    }
    if (hit) {
      ++found;
      return;
    }
    std::lock_guard lock(mu);
    misses.push_back({e.file, pr.param, target, r.status});
  });
  std::sort(misses.begin(), misses.end(), [](const Miss& a, const Miss& b) {
    return std::tie(a.file, a.param, a.query) < std::tie(b.file, b.param, b.query);
  });
  for (const Miss& m : misses) {
    ADD_FAILURE() << "not found: " << m.file << " by " << m.param << ": GET " << m.query
                  << " -> HTTP " << m.status;
  }
  for (const Miss& m : false_hits) {
    ADD_FAILURE() << "control query found it (or failed): " << m.file << " by " << m.param
                  << ": GET " << m.query << " -> HTTP " << m.status;
  }

  std::sort(decimal_files.begin(), decimal_files.end());
  std::cout << "FHIR R4 examples: " << examples.size() << " clinical examples ("
            << definition_bundles << " definition Bundles skipped)\n"
            << "  stored " << stored.size() << ", rejected " << (examples.size() - stored.size())
            << " (" << rejected_allowed.size() << " known invalid, " << unexplained
            << " unexplained)\n"
            << "  read back equal " << read_equal << ", different " << read_differs << "\n"
            << "  decimals written differently on read-back: " << decimal_changed << " examples\n"
            << "  search: " << params_with_value.size() << " (type, parameter) pairs with a value, "
            << (probes.size() - controls) << " queries, " << found << " found, " << misses.size()
            << " missed, " << rows_unwritable << " rows not expressible as a query; " << controls
            << " control queries with a wrong value, " << false_hits.size() << " wrongly found\n";
  for (const std::string& f : decimal_files) std::cout << "    decimals: " << f << "\n";
  RecordProperty("stored", static_cast<int>(stored.size()));
  RecordProperty("queries", static_cast<int>(probes.size()));
  RecordProperty("misses", static_cast<int>(misses.size()));
  EXPECT_EQ(rejected_allowed.size(), kInvalidExamples.size());
  // R4 decimals keep their precision: "125.00" reads back as "125.00".
  EXPECT_EQ(decimal_changed, 0) << "examples whose decimals were written differently";
}

}  // namespace
}  // namespace lhcr
