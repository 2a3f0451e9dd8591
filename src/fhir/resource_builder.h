// Building FHIR resources as RapidJSON values for the feed adapters (HL7 v2,
// CSV): text is cleaned into valid UTF-8 (text::CleanText), codes into FHIR
// code shape, and empty strings, objects and arrays are dropped so that
// nothing empty reaches the validator. Not thread-safe (one per mapping);
// values live in the given allocator.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/text.h"
#include "fhir/json.h"

namespace lhcr::fhir {

// One entry of a transaction Bundle of PUTs, as the adapters collect them.
struct PutEntry {
  std::string full_url;
  std::string url;  // request.url
  Json resource;
  std::vector<std::pair<std::string, std::string>> numbers;  // pointer in resource -> text
};

class ResourceBuilder {
 public:
  explicit ResourceBuilder(JsonDoc::AllocatorType& a) : a_(a) {}
  Json Str(std::string_view s) {
    std::string c = text::CleanText(s);
    return Json(c.c_str(), static_cast<rapidjson::SizeType>(c.size()), a_);
  }
  Json Obj() { return Json(rapidjson::kObjectType); }
  Json Arr() { return Json(rapidjson::kArrayType); }
  static bool Empty(const Json& v) {
    return v.IsNull() || (v.IsString() && v.GetStringLength() == 0) ||
           (v.IsObject() && v.MemberCount() == 0) || (v.IsArray() && v.Empty());
  }
  void Put(Json& obj, const char* name, Json v) {
    if (Empty(v)) return;
    if (obj.HasMember(name)) obj.RemoveMember(name);
    obj.AddMember(rapidjson::StringRef(name), v, a_);
  }
  void Put(Json& obj, const char* name, std::string_view s) { Put(obj, name, Str(s)); }
  void Push(Json& arr, Json v) {
    if (!Empty(v)) arr.PushBack(v, a_);
  }
  Json Coding(std::string_view system, std::string_view code, std::string_view display = {}) {
    Json c = Obj();
    std::string k = text::Code(code);
    if (k.empty()) return c;
    Put(c, "system", system);
    Put(c, "code", k);
    Put(c, "display", display);
    return c;
  }
  Json Concept(Json coding, std::string_view text = {}) {
    Json cc = Obj();
    Json arr = Arr();
    Push(arr, std::move(coding));
    Put(cc, "coding", std::move(arr));
    Put(cc, "text", text);
    return cc;
  }
  Json IdentifierJson(std::string_view system, std::string_view value) {
    Json i = Obj();
    Put(i, "system", system);
    Put(i, "value", value);
    return i;
  }
  Json Ref(std::string_view reference, std::string_view display = {}) {
    Json r = Obj();
    Put(r, "reference", reference);
    Put(r, "display", display);
    return r;
  }
  JsonDoc::AllocatorType& a() { return a_; }

  // The transaction Bundle of `entries` (moved out of them), decimals kept
  // as their texts; no "entry" member when there are none.
  std::string PutTransaction(std::vector<PutEntry>& entries) {
    Json bundle = Obj();
    Put(bundle, "resourceType", "Bundle");
    Put(bundle, "type", "transaction");
    Json arr = Arr();
    NumberTexts texts;
    for (size_t i = 0; i < entries.size(); ++i) {
      PutEntry& pe = entries[i];
      for (auto& [ptr, text] : pe.numbers) {
        texts["/entry/" + std::to_string(i) + "/resource" + ptr] = text;
      }
      Json e = Obj();
      Put(e, "fullUrl", pe.full_url);
      Put(e, "resource", std::move(pe.resource));
      Json req = Obj();
      Put(req, "method", "PUT");
      Put(req, "url", pe.url);
      Put(e, "request", std::move(req));
      arr.PushBack(e, a_);
    }
    Put(bundle, "entry", std::move(arr));
    return ToJsonKeepingNumbers(bundle, texts, "");
  }

 private:
  JsonDoc::AllocatorType& a_;
};

}  // namespace lhcr::fhir
