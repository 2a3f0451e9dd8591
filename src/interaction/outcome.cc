#include "interaction/outcome.h"

#include "interaction/bundle_writer.h"

namespace lhcr::interaction {

int HttpStatusFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kIncorrect:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kForbidden:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kConflict:
      return 409;
    case StatusCode::kGone:
      return 410;
    case StatusCode::kPrecondition:
      return 412;
    case StatusCode::kUnprocessable:
      return 422;
    case StatusCode::kUnsupported:
      return 405;
    case StatusCode::kBusy:
      return 429;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kFault:
      return 500;
  }
  return 500;
}

std::string_view IssueCodeFor(StatusCode c) {
  switch (c) {
    case StatusCode::kIncorrect:
      return "invalid";
    case StatusCode::kUnauthenticated:
      return "login";
    case StatusCode::kForbidden:
      return "forbidden";
    case StatusCode::kNotFound:
      return "not-found";
    case StatusCode::kConflict:
      return "conflict";
    case StatusCode::kPrecondition:
      return "conflict";
    case StatusCode::kGone:
      return "deleted";
    case StatusCode::kUnprocessable:
      return "invalid";
    case StatusCode::kUnsupported:
      return "not-supported";
    case StatusCode::kBusy:
      return "throttled";
    case StatusCode::kUnavailable:
      return "transient";
    default:
      return "exception";
  }
}

std::string OperationOutcomeFor(const Status& status) {
  std::string j = "{\"resourceType\":\"OperationOutcome\",\"issue\":[";
  if (status.ok()) {
    j += "{\"severity\":\"information\",\"code\":\"informational\",\"diagnostics\":\"ok\"}]}";
    return j;
  }
  if (status.details().empty()) {
    j += "{\"severity\":\"error\",\"code\":" + JsonString(IssueCodeFor(status.code())) +
         ",\"diagnostics\":" + JsonString(status.message()) + "}";
  } else {
    bool first = true;
    for (const StatusDetail& d : status.details()) {
      if (!first) j += ",";
      first = false;
      j += "{\"severity\":\"error\",\"code\":" +
           JsonString(d.code.empty() ? std::string(IssueCodeFor(status.code())) : d.code) +
           ",\"diagnostics\":" + JsonString(d.message);
      if (!d.details_system.empty()) {
        j += ",\"details\":{\"coding\":[{\"system\":" + JsonString(d.details_system) +
             ",\"code\":" + JsonString(d.details_code) +
             (d.details_display.empty() ? "" : ",\"display\":" + JsonString(d.details_display)) +
             "}]}";
      }
      if (!d.location.empty()) {
        j += ",\"location\":[" + JsonString(d.location) + "],\"expression\":[" +
             JsonString(d.location) + "]";
      }
      j += "}";
    }
  }
  j += "]}";
  return j;
}

std::optional<int64_t> ParseEtag(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  if (s.rfind("W/", 0) == 0) s.remove_prefix(2);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace lhcr::interaction
