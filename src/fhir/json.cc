#include "fhir/json.h"

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace lhcr::fhir {

Result<JsonDoc> ParseJson(std::string_view text) {
  JsonDoc doc;
  doc.Parse<rapidjson::kParseFullPrecisionFlag>(text.data(), text.size());
  if (doc.HasParseError()) {
    return Status::Incorrect("invalid JSON at offset " + std::to_string(doc.GetErrorOffset()) +
                             ": " + rapidjson::GetParseError_En(doc.GetParseError()));
  }
  return doc;
}

std::string ToJson(const Json& value) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  value.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

const Json* Member(const Json& object, std::string_view name) {
  if (!object.IsObject()) return nullptr;
  auto it = object.FindMember(rapidjson::StringRef(name.data(), name.size()));
  if (it == object.MemberEnd()) return nullptr;
  return &it->value;
}

std::string_view StringMember(const Json& object, std::string_view name) {
  const Json* v = Member(object, name);
  if (v == nullptr || !v->IsString()) return {};
  return AsView(*v);
}

}  // namespace lhcr::fhir
