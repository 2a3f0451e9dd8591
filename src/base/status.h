// Status and Result<T>: errors as values.
//
// A Status is either OK or carries one of a small fixed set of categories
// (after Blaze's anomalies) and a human-readable message. Library code returns
// Status / Result<T>; exactly one place per protocol (HTTP, HL7 ACK, CLI) maps
// a category to the outside world. Values are cheap to copy when OK and safe
// to pass between threads.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace lhcr {

enum class StatusCode {
  kOk = 0,
  kIncorrect,        // the input is malformed or invalid (HTTP 400 / 422)
  kForbidden,        // the caller may not do this (403)
  kNotFound,         // no such thing (404)
  kConflict,         // a version or uniqueness conflict (409)
  kPrecondition,     // a stated precondition (If-Match, a conditional match) fails (412)
  kUnprocessable,    // well-formed, but breaks a rule of the content (422)
  kGone,             // it existed and was deleted (410)
  kUnsupported,      // not implemented or not allowed here (405 / 501)
  kBusy,             // try again later (429 / 503)
  kUnavailable,      // a dependency is down (503)
  kFault,            // a bug or an unexpected failure (500)
  kUnauthenticated,  // no valid credentials: who is asking is not known (401)
};

std::string_view StatusCodeName(StatusCode code);

// One problem behind a Status, for messages that list several (validation):
// a FHIR IssueType code, where it is (FHIRPath-style) and what is wrong.
struct StatusDetail {
  std::string code;
  std::string location;
  std::string message;
  // A coded reason an API defines beside the IssueType, e.g. GP Connect's
  // Spine-ErrorOrWarningCode-1 INVALID_NHS_NUMBER (FHIR: the issue's
  // details.coding); empty system when there is none.
  std::string details_system;
  std::string details_code;
  std::string details_display;
  bool operator==(const StatusDetail&) const = default;
};

class Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status Incorrect(std::string m) { return {StatusCode::kIncorrect, std::move(m)}; }
  static Status Unauthenticated(std::string m) {
    return {StatusCode::kUnauthenticated, std::move(m)};
  }
  static Status Forbidden(std::string m) { return {StatusCode::kForbidden, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status Conflict(std::string m) { return {StatusCode::kConflict, std::move(m)}; }
  static Status Gone(std::string m) { return {StatusCode::kGone, std::move(m)}; }
  static Status Precondition(std::string m) { return {StatusCode::kPrecondition, std::move(m)}; }
  static Status Unprocessable(std::string m) { return {StatusCode::kUnprocessable, std::move(m)}; }
  static Status Unsupported(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }
  static Status Busy(std::string m) { return {StatusCode::kBusy, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Fault(std::string m) { return {StatusCode::kFault, std::move(m)}; }

  // The same status with a list of the problems behind it.
  Status WithDetails(std::vector<StatusDetail> details) && {
    details_ = std::move(details);
    return std::move(*this);
  }
  const std::vector<StatusDetail>& details() const { return details_; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "not-found: Patient/1 is not known" — for logs and test failures.
  std::string ToString() const;

  bool operator==(const Status&) const = default;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::vector<StatusDetail> details_;
};

// Result<T> holds either a value or a non-OK Status.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok() && "Result constructed from an OK Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace lhcr

#define LHCR_CONCAT_INNER(a, b) a##b
#define LHCR_CONCAT(a, b) LHCR_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)    \
  do {                           \
    ::lhcr::Status _st = (expr); \
    if (!_st.ok()) return _st;   \
  } while (0)

#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()

#define ASSIGN_OR_RETURN(lhs, expr) ASSIGN_OR_RETURN_IMPL(LHCR_CONCAT(_res_, __LINE__), lhs, expr)
