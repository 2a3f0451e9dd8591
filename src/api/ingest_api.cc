#include "api/ingest_api.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <strings.h>

#include <charconv>
#include <string>
#include <vector>

#include "base/text.h"
#include "api/outcome_response.h"
#include "interaction/outcome.h"
#include "search/search.h"

namespace lhcr::api {

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr const char* kJson = "application/json; charset=utf-8";

HttpResponse Error(const Status& s) { return OutcomeResponse(s); }

HttpResponse Json(int status, const rapidjson::StringBuffer& buf) {
  HttpResponse r;
  r.status = status;
  r.body.assign(buf.GetString(), buf.GetSize());
  r.body += "\n";
  r.SetHeader("Content-Type", kJson);
  return r;
}

void Str(Writer& w, std::string_view s) {
  std::string v = text::ValidUtf8(s);
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}
void Key(Writer& w, std::string_view s) {
  w.Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
// "name": value
void Member(Writer& w, std::string_view name, std::string_view value) {
  Key(w, name);
  Str(w, value);
}
void Member(Writer& w, std::string_view name, int64_t value) {
  Key(w, name);
  w.Int64(value);
}

void WriteCounts(Writer& w, const ingest::SourceCounts& c) {
  Key(w, "counts");
  w.StartObject();
  Member(w, "received", c.received);
  Member(w, "accepted", c.accepted);
  Member(w, "rejected", c.rejected);
  Member(w, "resources_written", c.written);
  Member(w, "resources_unchanged", c.unchanged);
  w.EndObject();
}

void WriteSource(Writer& w, const ingest::Source& s, const ingest::IngestJournal* journal) {
  w.StartObject();
  Member(w, "id", s.id);
  Member(w, "name", s.name);
  Member(w, "kind", s.kind);
  Member(w, "ods_code", s.ods_code);
  Member(w, "format", s.format);
  Key(w, "identity_trust");
  w.Double(s.identity_trust);
  if (!s.hl7_version.empty()) {
    Member(w, "hl7v2_version", s.hl7_version);
  }
  if (journal != nullptr) {
    if (auto c = journal->Counts(s.id); c.ok()) WriteCounts(w, *c);
  }
  Member(w, "quality", "/sources/" + s.id + "/quality");
  w.EndObject();
}

void WriteFinding(Writer& w, const ingest::FindingRow& f) {
  w.StartObject();
  Member(w, "record", f.record);
  Member(w, "location", f.finding.location);
  Member(w, "message", f.finding.message);
  Member(w, "received", f.received);
  w.EndObject();
}

void WriteReport(Writer& w, const ingest::BatchReport& r) {
  w.StartObject();
  Member(w, "source", r.source_id);
  Member(w, "format", r.format);
  Member(w, "items", r.items);
  Member(w, "accepted", r.accepted);
  Member(w, "rejected", r.rejected);
  Member(w, "resources_written", r.written);
  Member(w, "resources_unchanged", r.unchanged);
  Member(w, "findings", r.findings);
  Key(w, "rejected_items");
  w.StartArray();
  for (const ingest::ItemOutcome& o : r.rejected_items) {
    w.StartObject();
    Member(w, "record", o.record);
    Member(w, "error", o.status.message());
    if (o.quarantine_id > 0) {
      Member(w, "quarantine", "/quarantine/" + std::to_string(o.quarantine_id));
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

// RFC 4180: quoted when it holds a comma, quote or line break.
std::string CsvField(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

bool WantsCsv(const HttpRequest& request, const search::QueryParams& query) {
  for (const auto& [k, v] : query) {
    if (k == "_format") return v == "csv" || v == "text/csv";
  }
  std::string_view accept = request.Header("Accept");
  return accept.find("text/csv") != std::string_view::npos;
}

std::optional<int64_t> ParseId(const std::string& s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v <= 0) return std::nullopt;
  return v;
}

}  // namespace

bool IngestApi::Serves(std::string_view path) {
  auto under = [&](std::string_view root) {
    return path == root || (path.size() > root.size() && path.substr(0, root.size()) == root &&
                            path[root.size()] == '/');
  };
  return under("/ingest") || under("/sources") || under("/quarantine");
}

HttpResponse IngestApi::Handle(const HttpRequest& request) {
  std::vector<std::string> parts = SplitPath(request.Path());
  const std::string& m = request.method;
  const bool get = m == "GET" || m == "HEAD";
  if (parts.empty()) return Error(Status::NotFound("no such endpoint"));
  if (parts[0] == "ingest") {
    if (parts.size() != 2) return Error(Status::NotFound("POST /ingest/{source}"));
    if (m != "POST") return Error(Status::Unsupported("use POST /ingest/" + parts[1]));
    return Ingest(request, parts[1]);
  }
  if (parts[0] == "sources") {
    if (!get) return Error(Status::Unsupported("the source registry is read-only over HTTP"));
    if (parts.size() == 1) return Sources("");
    if (parts.size() == 2) return Sources(parts[1]);
    if (parts.size() == 3 && parts[2] == "quality") return Quality(request, parts[1]);
    return Error(Status::NotFound("no such endpoint"));
  }
  // quarantine
  if (parts.size() == 1) {
    if (!get) return Error(Status::Unsupported("GET /quarantine"));
    return QuarantineList(request);
  }
  if (parts.size() == 2) {
    if (!get) return Error(Status::Unsupported("GET /quarantine/{id}"));
    return QuarantineItem(parts[1]);
  }
  if (parts.size() == 3 && parts[2] == "$replay") {
    if (m != "POST") return Error(Status::Unsupported("POST /quarantine/{id}/$replay"));
    return Replay(parts[1]);
  }
  return Error(Status::NotFound("no such endpoint"));
}

HttpResponse IngestApi::Ingest(const HttpRequest& request, const std::string& source_id) {
  const ingest::SourceRegistry* registry = ingestor_.registry();
  const ingest::Source* source = registry ? registry->FindById(source_id) : nullptr;
  if (source == nullptr) {
    return Error(Status::NotFound("no registered source '" + source_id + "'"));
  }
  if (request.body.empty()) return Error(Status::Incorrect("empty body"));
  ingest::IngestOptions options;
  options.keep_acks = source->format == "hl7v2";
  auto report = ingestor_.IngestText(*source, request.body, options);
  if (!report.ok()) return Error(report.status());
  if (source->format == "hl7v2") {
    HttpResponse r;
    for (const std::string& ack : report->acks) r.body += ack;
    r.SetHeader("Content-Type", "x-application/hl7-v2+er7; charset=utf-8");
    return r;
  }
  rapidjson::StringBuffer buf;
  Writer w(buf);
  WriteReport(w, *report);
  return Json(report->rejected == 0 ? 200 : 422, buf);
}

HttpResponse IngestApi::Sources(const std::string& id) {
  const ingest::SourceRegistry* registry = ingestor_.registry();
  rapidjson::StringBuffer buf;
  Writer w(buf);
  if (!id.empty()) {
    const ingest::Source* s = registry ? registry->FindById(id) : nullptr;
    if (s == nullptr) return Error(Status::NotFound("no registered source '" + id + "'"));
    WriteSource(w, *s, ingestor_.journal());
    return Json(200, buf);
  }
  w.StartObject();
  Key(w, "sources");
  w.StartArray();
  if (registry != nullptr) {
    for (const ingest::Source& s : registry->sources()) WriteSource(w, s, ingestor_.journal());
  }
  w.EndArray();
  w.EndObject();
  return Json(200, buf);
}

HttpResponse IngestApi::Quality(const HttpRequest& request, const std::string& id) {
  const ingest::SourceRegistry* registry = ingestor_.registry();
  const ingest::Source* s = registry ? registry->FindById(id) : nullptr;
  if (s == nullptr) return Error(Status::NotFound("no registered source '" + id + "'"));
  if (ingestor_.journal() == nullptr) return Error(Status::Unavailable("no ingest journal"));
  auto query = search::ParseQueryString(request.Query());
  if (!query.ok()) return Error(query.status());
  if (WantsCsv(request, *query)) {
    auto rows = ingestor_.journal()->Findings(id, 1'000'000);
    if (!rows.ok()) return Error(rows.status());
    HttpResponse r;
    r.body = "source,record,code,location,message,received\r\n";
    for (const ingest::FindingRow& f : *rows) {
      r.body += CsvField(f.source_id) + "," + CsvField(f.record) + "," +
                CsvField(f.finding.code) + "," + CsvField(f.finding.location) + "," +
                CsvField(f.finding.message) + "," + CsvField(f.received) + "\r\n";
    }
    r.SetHeader("Content-Type", "text/csv; charset=utf-8; header=present");
    r.SetHeader("Content-Disposition", "attachment; filename=\"" + id + "-quality.csv\"");
    return r;
  }
  auto q = ingestor_.journal()->Quality(id, 5);
  if (!q.ok()) return Error(q.status());
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  Member(w, "source", s->id);
  Member(w, "name", s->name);
  WriteCounts(w, q->counts);
  Member(w, "quarantined", q->quarantined);
  Member(w, "findings", q->findings);
  Key(w, "by_code");
  w.StartArray();
  for (const auto& c : q->codes) {
    w.StartObject();
    Member(w, "code", c.code);
    Member(w, "count", c.count);
    Key(w, "examples");
    w.StartArray();
    for (const auto& f : c.examples) WriteFinding(w, f);
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  Member(w, "csv", "/sources/" + s->id + "/quality?_format=csv");
  w.EndObject();
  return Json(200, buf);
}

HttpResponse IngestApi::QuarantineList(const HttpRequest& request) {
  if (ingestor_.journal() == nullptr) return Error(Status::Unavailable("no ingest journal"));
  auto query = search::ParseQueryString(request.Query());
  if (!query.ok()) return Error(query.status());
  std::string source;
  bool held_only = true;
  for (const auto& [k, v] : *query) {
    if (k == "source") {
      source = v;
    } else if (k == "status") {
      if (v != "held" && v != "all") {
        return Error(Status::Incorrect("status is held or all, not '" + v + "'"));
      }
      held_only = v == "held";
    } else {
      return Error(Status::Incorrect("unknown parameter '" + k + "' (source, status)"));
    }
  }
  auto items = ingestor_.journal()->ListQuarantine(source, held_only, 1000);
  if (!items.ok()) return Error(items.status());
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  Key(w, "items");
  w.StartArray();
  for (const ingest::QuarantineItem& q : *items) {
    w.StartObject();
    Member(w, "id", q.id);
    Member(w, "source", q.source_id);
    Member(w, "format", q.format);
    Member(w, "received", q.received);
    Member(w, "reason", q.reason);
    Key(w, "bytes");
    w.Uint64(q.body.size());
    Member(w, "status", q.status);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return Json(200, buf);
}

HttpResponse IngestApi::QuarantineItem(const std::string& id) {
  if (ingestor_.journal() == nullptr) return Error(Status::Unavailable("no ingest journal"));
  auto n = ParseId(id);
  if (!n) return Error(Status::NotFound("no quarantined item '" + id + "'"));
  auto q = ingestor_.journal()->GetQuarantine(*n);
  if (!q.ok()) return Error(q.status());
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  Member(w, "id", q->id);
  Member(w, "source", q->source_id);
  Member(w, "format", q->format);
  Member(w, "received", q->received);
  Member(w, "reason", q->reason);
  Member(w, "status", q->status);
  Member(w, "resolved", q->resolved);
  Member(w, "body", q->body);
  w.EndObject();
  return Json(200, buf);
}

HttpResponse IngestApi::Replay(const std::string& id) {
  auto n = ParseId(id);
  if (!n) return Error(Status::NotFound("no quarantined item '" + id + "'"));
  auto report = ingestor_.Replay(*n);
  if (!report.ok()) return Error(report.status());
  rapidjson::StringBuffer buf;
  Writer w(buf);
  WriteReport(w, *report);
  return Json(report->rejected == 0 ? 200 : 422, buf);
}

}  // namespace lhcr::api
