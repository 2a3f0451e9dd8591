// The one place that turns an error Status into what FHIR clients see: an
// HTTP status code and an OperationOutcome. The HTTP API uses it for its
// responses and Bundle processing for each entry's response.status/outcome.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace lhcr::interaction {

// The HTTP status for a Status category (200 for OK).
int HttpStatusFor(const Status& status);
// The FHIR IssueType code for a category ("not-found", "conflict", ...).
std::string_view IssueCodeFor(StatusCode code);
// An OperationOutcome (JSON) describing `status`: one issue per detail, each
// with its location and expression, or one issue with the message.
std::string OperationOutcomeFor(const Status& status);

// The version in an ETag: W/"3" or "3" -> 3; nullopt if malformed.
std::optional<int64_t> ParseEtag(std::string_view etag);

}  // namespace lhcr::interaction
