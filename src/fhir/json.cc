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

// Builds the DOM from a SAX parse that sees numbers as their text: each is
// converted exactly (std::from_chars) rather than by RapidJSON 1.1.0's
// strtod, which misreads some inputs ("0E42") and has undefined behaviour on
// them. With `texts`, it also records the numbers whose canonical form
// differs from their text, by JSON Pointer.
struct DomBuilder {
  JsonDoc* doc = nullptr;
  NumberTexts* texts = nullptr;  // null: no recording, no path tracking
  bool out_of_range = false;
  // Where the parse is, kept only when recording.
  struct Frame {
    bool array;
    size_t index;
  };
  std::vector<Frame> frames;
  std::vector<std::string> keys;

  void Next() {
    if (texts == nullptr || frames.empty()) return;
    if (frames.back().array) ++frames.back().index;
  }
  std::string Path() const {
    std::string path;
    size_t k = 0;
    for (size_t i = 0; i < frames.size(); ++i) {
      if (frames[i].array) {
        AppendPointerToken(&path, std::to_string(frames[i].index - 1));
      } else {
        AppendPointerToken(&path, keys[k++]);
      }
    }
    return path;
  }

  bool Null() {
    Next();
    return doc->Null();
  }
  bool Bool(bool b) {
    Next();
    return doc->Bool(b);
  }
  bool Int(int i) {
    Next();
    return doc->Int(i);
  }
  bool Uint(unsigned u) {
    Next();
    return doc->Uint(u);
  }
  bool Int64(int64_t i) {
    Next();
    return doc->Int64(i);
  }
  bool Uint64(uint64_t u) {
    Next();
    return doc->Uint64(u);
  }
  bool Double(double d) {
    Next();
    return doc->Double(d);
  }
  bool String(const char* s, rapidjson::SizeType n, bool copy) {
    Next();
    return doc->String(s, n, copy);
  }
  bool RawNumber(const char* str, rapidjson::SizeType len, bool) {
    Next();
    std::string_view text(str, len);
    Json exact;
    if (!ExactNumber(text, &exact)) {
      out_of_range = true;
      return false;
    }
    if (texts != nullptr && !IsCanonical(text, exact)) texts->emplace(Path(), text);
    if (exact.IsInt64()) return doc->Int64(exact.GetInt64());
    if (exact.IsUint64()) return doc->Uint64(exact.GetUint64());
    return doc->Double(exact.GetDouble());
  }
  bool StartObject() {
    Next();
    if (texts != nullptr) frames.push_back({false, 0});
    return doc->StartObject();
  }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) {
    if (texts != nullptr) {
      // The key names the value that follows.
      size_t depth = 0;
      for (const Frame& f : frames) depth += f.array ? 0 : 1;
      keys.resize(depth);
      keys.back().assign(s, n);
    }
    return doc->Key(s, n, copy);
  }
  bool EndObject(rapidjson::SizeType n) {
    if (texts != nullptr) {
      frames.pop_back();
      size_t depth = 0;
      for (const Frame& f : frames) depth += f.array ? 0 : 1;
      keys.resize(depth);
    }
    return doc->EndObject(n);
  }
  bool StartArray() {
    Next();
    if (texts != nullptr) frames.push_back({true, 0});
    return doc->StartArray();
  }
  bool EndArray(rapidjson::SizeType n) {
    if (texts != nullptr) frames.pop_back();
    return doc->EndArray(n);
  }

  // Whether RapidJSON's writer would write `exact` as `text`.
  static bool IsCanonical(std::string_view text, const Json& exact) {
    if (exact.IsInt64() || exact.IsUint64()) {
      // Integers: canonical unless "-0" or leading zeros.
      std::string_view digits = text.substr(text[0] == '-' ? 1 : 0);
      return !(digits.size() > 1 && digits[0] == '0') && text != "-0";
    }
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    exact.Accept(w);
    return std::string_view(buf.GetString(), buf.GetSize()) == text;
  }
};

Result<JsonDoc> Parse(std::string_view text, NumberTexts* texts) {
  JsonDoc doc;
  DomBuilder builder;
  builder.texts = texts;
  rapidjson::ParseResult result;
  auto generate = [&](JsonDoc& d) {
    builder.doc = &d;
    rapidjson::Reader reader;
    rapidjson::MemoryStream ms(text.data(), text.size());
    result = reader.Parse<rapidjson::kParseNumbersAsStringsFlag>(ms, builder);
    return !result.IsError();
  };
  doc.Populate(generate);
  if (builder.out_of_range) return Status::Incorrect("a number in the JSON is out of range");
  if (result.IsError()) {
    return Status::Incorrect("invalid JSON at offset " + std::to_string(result.Offset()) + ": " +
                             rapidjson::GetParseError_En(result.Code()));
  }
  return doc;
}

}  // namespace

Result<JsonDoc> ParseJson(std::string_view text) { return Parse(text, nullptr); }

namespace {

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
  return Parse(text, texts);
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
  // A Value key, so the lookup uses name's length: a bare StringRef would
  // convert to const char* and be read up to a NUL, so "a" cut from "a.b"
  // would look for "a.b".
  const Json key(rapidjson::StringRef(name.data(), name.size()));
  auto it = object.FindMember(key);
  if (it == object.MemberEnd()) return nullptr;
  return &it->value;
}

std::string_view StringMember(const Json& object, std::string_view name) {
  const Json* v = Member(object, name);
  if (v == nullptr || !v->IsString()) return {};
  return AsView(*v);
}

}  // namespace lhcr::fhir
