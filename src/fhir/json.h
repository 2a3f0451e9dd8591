// JSON helpers over RapidJSON: parsing with a clear error, serialising, and
// small accessors. FHIR resources are JSON documents; lhcr keeps the bytes it
// stored and parses them only where it must look inside.
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <string_view>

#include "base/status.h"

namespace lhcr::fhir {

using Json = rapidjson::Value;
using JsonDoc = rapidjson::Document;

// Parses `text` as one JSON value. On failure the Status is kIncorrect and
// names the offset and the reason.
Result<JsonDoc> ParseJson(std::string_view text);

// Compact serialisation.
std::string ToJson(const Json& value);

// Member access that never asserts: null when absent or not an object.
const Json* Member(const Json& object, std::string_view name);
// The string member `name`, or empty when absent / not a string.
std::string_view StringMember(const Json& object, std::string_view name);

inline std::string_view AsView(const Json& v) {
  return std::string_view(v.GetString(), v.GetStringLength());
}

}  // namespace lhcr::fhir
