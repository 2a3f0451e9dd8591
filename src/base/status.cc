#include "base/status.h"

namespace lhcr {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kIncorrect:
      return "incorrect";
    case StatusCode::kUnauthenticated:
      return "unauthenticated";
    case StatusCode::kForbidden:
      return "forbidden";
    case StatusCode::kNotFound:
      return "not-found";
    case StatusCode::kConflict:
      return "conflict";
    case StatusCode::kGone:
      return "gone";
    case StatusCode::kPrecondition:
      return "precondition";
    case StatusCode::kUnprocessable:
      return "unprocessable";
    case StatusCode::kUnsupported:
      return "unsupported";
    case StatusCode::kBusy:
      return "busy";
    case StatusCode::kUnavailable:
      return "unavailable";
    case StatusCode::kFault:
      return "fault";
  }
  return "fault";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string s(StatusCodeName(code_));
  s += ": ";
  s += message_;
  return s;
}

}  // namespace lhcr
