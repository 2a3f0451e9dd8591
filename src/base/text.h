// Text helpers shared by the feed adapters (HL7 v2, CSV, merges) and the
// APIs: cleaning what a source sent into valid UTF-8, FHIR code and id
// shapes, percent-encoding. Pure and thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace lhcr::text {

// Valid UTF-8 passes; any other byte is read as Latin-1 (the commonest
// 8-bit character set in v2 feeds and in spreadsheets saved in a Windows
// code page). Control characters other than tab and line breaks are
// dropped; surrounding blanks trimmed.
std::string CleanText(std::string_view in);

// `in` with every byte that is not part of a well-formed UTF-8 sequence
// replaced by U+FFFD (nothing else changed), for JSON that must be valid
// whatever was received.
std::string ValidUtf8(std::string_view in);

// ASCII case mapping.
std::string Upper(std::string s);
std::string Lower(std::string s);

// A FHIR code: CleanText with no line breaks, tabs or double blanks.
std::string Code(std::string_view s);

// Lower-case letters, digits, '.' and '-' (other runs become one '-');
// "other" when nothing is left. For ids and URI path parts.
std::string Slug(std::string_view s);

// RFC 3986 percent-encoding of all but unreserved characters, ':' and '/'.
std::string PercentEncode(std::string_view s);

}  // namespace lhcr::text
