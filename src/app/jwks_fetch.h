// The JWKS of a trusted issuer fetched from its URL at start (`lhcr serve
// --jwks https://...`): one GET, 10 s in all, at most 1 MB, a 200 with a
// JSON object. https verifies the server against the system's CAs and the
// URL's host name. Not thread-safe; called once per issuer from serve.
#pragma once

#include <string>

#include "base/status.h"

namespace lhcr {

// Whether `s` names a URL (http:// or https://) rather than a file.
bool IsJwksUrl(const std::string& s);
// kIncorrect for a malformed URL or a body that is not a JSON object;
// kUnavailable when the server cannot be reached, refuses TLS or answers
// other than 200.
Result<std::string> FetchJwks(const std::string& url);

}  // namespace lhcr
