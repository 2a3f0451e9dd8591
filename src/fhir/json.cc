#include "fhir/json.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/pointer.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <cmath>
#include <vector>

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

namespace {

void AppendPointerToken(std::string* path, std::string_view token) {
  *path += '/';
  for (char c : token) {
    if (c == '~') {
      *path += "~0";
    } else if (c == '/') {
      *path += "~1";
    } else {
      *path += c;
    }
  }
}

// The number `text` denotes, as RapidJSON would store it: an integer when it
// has no fraction or exponent and fits, else a double. False if it is out of
// range.
bool ExactNumber(std::string_view text, Json* out) {
  bool integral = text.find_first_of(".eE") == std::string_view::npos;
  if (integral) {
    int64_t i = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), i);
    if (ec == std::errc() && p == text.data() + text.size()) {
      out->SetInt64(i);
      return true;
    }
    uint64_t u = 0;
    auto [p2, ec2] = std::from_chars(text.data(), text.data() + text.size(), u);
    if (ec2 == std::errc() && p2 == text.data() + text.size()) {
      out->SetUint64(u);
      return true;
    }
  }
  double d = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
  if (ec != std::errc() || p != text.data() + text.size() || !std::isfinite(d)) return false;
  out->SetDouble(d);
  return true;
}

bool SameNumber(const Json& a, const Json& b) {
  if (a.IsInt64() && b.IsInt64()) return a.GetInt64() == b.GetInt64();
  if (a.IsUint64() && b.IsUint64()) return a.GetUint64() == b.GetUint64();
  return a.GetDouble() == b.GetDouble();
}

// A SAX handler that sees numbers as their text and tracks where it is.
struct NumberCollector : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, NumberCollector> {
  struct Frame {
    bool array;
    size_t index;
    size_t path_len;
  };
  JsonDoc* doc;
  NumberTexts* texts;
  std::string path;
  std::vector<Frame> frames;
  std::string pending_key;
  bool out_of_range = false;

  // Path of the value about to be read.
  void Enter() {
    if (frames.empty()) return;
    Frame& f = frames.back();
    path.resize(f.path_len);
    if (f.array) {
      AppendPointerToken(&path, std::to_string(f.index++));
    } else {
      AppendPointerToken(&path, pending_key);
    }
  }
  bool Default() {
    Enter();
    return true;
  }
  bool RawNumber(const char* str, rapidjson::SizeType len, bool) {
    Enter();
    std::string_view text(str, len);
    Json exact;
    if (!ExactNumber(text, &exact)) {
      out_of_range = true;
      return false;
    }
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    exact.Accept(w);
    Json* dom = rapidjson::Pointer(path.c_str(), path.size()).Get(*doc);
    if (dom != nullptr && dom->IsNumber() && !SameNumber(*dom, exact)) {
      *dom = exact;  // the parser misread it
    }
    if (std::string_view(buf.GetString(), buf.GetSize()) != text) texts->emplace(path, text);
    return true;
  }
  bool String(const char*, rapidjson::SizeType, bool) { return Default(); }
  bool StartObject() {
    Enter();
    frames.push_back({false, 0, path.size()});
    return true;
  }
  bool Key(const char* str, rapidjson::SizeType len, bool) {
    pending_key.assign(str, len);
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    frames.pop_back();
    return true;
  }
  bool StartArray() {
    Enter();
    frames.push_back({true, 0, path.size()});
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    frames.pop_back();
    return true;
  }
};

void WriteKeeping(const Json& v, const NumberTexts& texts, std::string* path,
                  rapidjson::Writer<rapidjson::StringBuffer>& w) {
  if (v.IsObject()) {
    w.StartObject();
    for (const auto& m : v.GetObject()) {
      size_t len = path->size();
      AppendPointerToken(path, AsView(m.name));
      w.Key(m.name.GetString(), m.name.GetStringLength());
      WriteKeeping(m.value, texts, path, w);
      path->resize(len);
    }
    w.EndObject();
  } else if (v.IsArray()) {
    w.StartArray();
    size_t i = 0;
    for (const auto& e : v.GetArray()) {
      size_t len = path->size();
      AppendPointerToken(path, std::to_string(i++));
      WriteKeeping(e, texts, path, w);
      path->resize(len);
    }
    w.EndArray();
  } else if (v.IsNumber()) {
    auto it = texts.find(*path);
    Json exact;
    if (it != texts.end() && ExactNumber(it->second, &exact) && SameNumber(v, exact)) {
      w.RawValue(it->second.data(), it->second.size(), rapidjson::kNumberType);
    } else {
      v.Accept(w);
    }
  } else {
    v.Accept(w);
  }
}

}  // namespace

Result<JsonDoc> ParseJsonKeepingNumbers(std::string_view text, NumberTexts* texts) {
  ASSIGN_OR_RETURN(JsonDoc doc, ParseJson(text));
  NumberCollector collector;
  collector.doc = &doc;
  collector.texts = texts;
  rapidjson::Reader reader;
  rapidjson::MemoryStream ms(text.data(), text.size());
  reader.Parse<rapidjson::kParseNumbersAsStringsFlag>(ms, collector);
  if (collector.out_of_range) return Status::Incorrect("a number in the JSON is out of range");
  return doc;
}

std::string ToJsonKeepingNumbers(const Json& value, const NumberTexts& texts, std::string_view at) {
  if (texts.empty()) return ToJson(value);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  std::string path(at);
  WriteKeeping(value, texts, &path, w);
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
