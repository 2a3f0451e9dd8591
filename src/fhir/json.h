// JSON helpers over RapidJSON: parsing with a clear error, serialising, and
// small accessors. FHIR resources are JSON documents; lhcr keeps the bytes it
// stored and parses them only where it must look inside.
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <string_view>
#include <unordered_map>

#include "base/status.h"

namespace lhcr::fhir {

using Json = rapidjson::Value;
using JsonDoc = rapidjson::Document;

// Parses `text` as one JSON value. On failure the Status is kIncorrect and
// names the offset and the reason.
Result<JsonDoc> ParseJson(std::string_view text);

// Compact serialisation.
std::string ToJson(const Json& value);

// The exact text of numbers that a double does not carry, by JSON Pointer
// ("/valueQuantity/value" -> "1.50"). FHIR decimals keep their precision
// (R4 2.1.0.4: "1.50" is not "1.5"), but a parsed double forgets it.
using NumberTexts = std::unordered_map<std::string, std::string>;

// As ParseJson, and also: every number whose canonical form differs from its
// text is recorded in *texts (keyed by its JSON Pointer), and a number the
// parser misread (RapidJSON 1.1.0 gets e.g. "0E42" wrong) is set to its
// correct value. A number out of the range of a double is kIncorrect.
Result<JsonDoc> ParseJsonKeepingNumbers(std::string_view text, NumberTexts* texts);

// As ToJson, writing each number as its original text where `texts` holds
// one for its pointer (`at` + its path inside `value`) and the number still
// has that value.
std::string ToJsonKeepingNumbers(const Json& value, const NumberTexts& texts, std::string_view at);

// Member access that never asserts: null when absent or not an object.
const Json* Member(const Json& object, std::string_view name);
// The string member `name`, or empty when absent / not a string.
std::string_view StringMember(const Json& object, std::string_view name);

inline std::string_view AsView(const Json& v) {
  return std::string_view(v.GetString(), v.GetStringLength());
}

}  // namespace lhcr::fhir
