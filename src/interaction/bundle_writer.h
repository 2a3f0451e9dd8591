// BundleWriter: builds a Bundle's JSON text around stored resource bytes,
// without parsing them again ("serve stored bytes").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "store/store.h"

namespace lhcr::interaction {

class BundleWriter {
 public:
  BundleWriter(std::string_view type, std::string base_url);

  void Total(int64_t total);
  void Link(std::string_view relation, std::string_view url);
  // An entry of a searchset: fullUrl, resource (already JSON), search.mode.
  void SearchEntry(std::string_view type, std::string_view id, std::string_view resource_json,
                   std::string_view mode);
  // An entry of a history Bundle, with request and response.
  void HistoryEntry(const store::ResourceVersion& v);
  // A raw entry object (already JSON).
  void RawEntry(std::string_view entry_json);
  // An OperationOutcome entry with one issue (search.mode = outcome).
  void OutcomeEntry(std::string_view severity, std::string_view code, std::string_view text);
  std::string Finish();

 private:
  void BeginEntries();
  std::string head_;
  std::string links_;
  std::string entries_;
  bool has_entries_ = false;
  std::string base_url_;
};

// JSON string literal for `s` (with quotes).
std::string JsonString(std::string_view s);

}  // namespace lhcr::interaction
