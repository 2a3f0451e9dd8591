// HTTP request and response values, independent of the server's library.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lhcr::api {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw request target: path plus "?query" if any
  std::vector<std::pair<std::string, std::string>> headers;  // names as sent
  std::string body;
  std::string remote;  // peer address, for logs and audit
  bool tls = false;    // came over TLS (https)
  // Mutual TLS: the verified client certificate's subject (RFC 2253), else "".
  std::string tls_client_subject;

  // The first header with this name (case-insensitive), or "".
  std::string_view Header(std::string_view name) const;
  std::string_view Path() const;   // target up to '?', not decoded
  std::string_view Query() const;  // after '?', not decoded ("" if none)
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  void SetHeader(std::string name, std::string value);
};

// The non-empty segments of a path ("/fhir/Patient/1" -> fhir, Patient, 1),
// not decoded.
std::vector<std::string> SplitPath(std::string_view path);

}  // namespace lhcr::api
