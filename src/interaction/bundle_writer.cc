#include "interaction/bundle_writer.h"

#include <cstdio>

#include "base/time.h"

namespace lhcr::interaction {

std::string JsonString(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

BundleWriter::BundleWriter(std::string_view type, std::string base_url)
    : base_url_(std::move(base_url)) {
  head_ = "{\"resourceType\":\"Bundle\",\"type\":" + JsonString(type);
}

void BundleWriter::Total(int64_t total) { head_ += ",\"total\":" + std::to_string(total); }

void BundleWriter::Link(std::string_view relation, std::string_view url) {
  links_ += links_.empty() ? "" : ",";
  links_ += "{\"relation\":" + JsonString(relation) + ",\"url\":" + JsonString(url) + "}";
}

void BundleWriter::BeginEntries() {
  if (has_entries_) entries_ += ',';
  has_entries_ = true;
}

void BundleWriter::SearchEntry(std::string_view type, std::string_view id,
                               std::string_view resource_json, std::string_view mode) {
  BeginEntries();
  entries_ +=
      "{\"fullUrl\":" + JsonString(base_url_ + "/" + std::string(type) + "/" + std::string(id)) +
      ",\"resource\":";
  entries_ += resource_json;
  entries_ += ",\"search\":{\"mode\":" + JsonString(mode) + "}}";
}

void BundleWriter::HistoryEntry(const store::ResourceVersion& v) {
  BeginEntries();
  std::string url = v.type + "/" + v.id;
  entries_ += "{\"fullUrl\":" + JsonString(base_url_ + "/" + url);
  if (!v.deleted) {
    entries_ += ",\"resource\":";
    entries_ += v.json;
  }
  const char* method = v.method == store::Method::kDelete   ? "DELETE"
                       : v.method == store::Method::kCreate ? "POST"
                       : v.method == store::Method::kPatch  ? "PATCH"
                                                            : "PUT";
  std::string status = v.method == store::Method::kCreate   ? "201 Created"
                       : v.method == store::Method::kDelete ? "204 No Content"
                                                            : "200 OK";
  entries_ += ",\"request\":{\"method\":\"" + std::string(method) +
              "\",\"url\":" + JsonString(v.method == store::Method::kCreate ? v.type : url) + "}";
  entries_ += ",\"response\":{\"status\":" + JsonString(status) +
              ",\"etag\":" + JsonString("W/\"" + std::to_string(v.version) + "\"") +
              ",\"lastModified\":" + JsonString(FormatInstant(v.last_updated)) + "}}";
}

void BundleWriter::RawEntry(std::string_view entry_json) {
  BeginEntries();
  entries_ += entry_json;
}

void BundleWriter::OutcomeEntry(std::string_view severity, std::string_view code,
                                std::string_view text) {
  BeginEntries();
  entries_ += "{\"resource\":{\"resourceType\":\"OperationOutcome\",\"issue\":[{\"severity\":" +
              JsonString(severity) + ",\"code\":" + JsonString(code) +
              ",\"diagnostics\":" + JsonString(text) + "}]},\"search\":{\"mode\":\"outcome\"}}";
}

std::string BundleWriter::Finish() {
  std::string out = std::move(head_);
  if (!links_.empty()) out += ",\"link\":[" + links_ + "]";
  if (has_entries_) out += ",\"entry\":[" + entries_ + "]";
  out += "}";
  return out;
}

}  // namespace lhcr::interaction
