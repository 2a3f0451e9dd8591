#include "fhir/json_patch.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lhcr::fhir {
namespace {

using Allocator = JsonDoc::AllocatorType;

// A decoded JSON Pointer (RFC 6901). `role` ("path" or "from") and `text` are
// kept for error messages.
struct Pointer {
  std::string_view role;
  std::string_view text;
  std::vector<std::string> tokens;
};

Status Incorrect(const Pointer& p, std::string_view what) {
  return Status::Incorrect(std::string(p.role) + " " + std::string(p.text) + std::string(what));
}

// RFC 6901 section 3: "" or a sequence of "/" reference-token, where "~" must
// be followed by "0" (for "~") or "1" (for "/").
Result<Pointer> ParsePointer(std::string_view role, std::string_view text) {
  Pointer p{role, text, {}};
  if (text.empty()) return p;
  if (text.front() != '/')
    return Incorrect(p, " is not a JSON Pointer: it must be empty or start with '/'");
  std::string token;
  for (size_t i = 1; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '/') {
      p.tokens.push_back(std::move(token));
      token.clear();
    } else if (text[i] == '~') {
      char next = i + 1 < text.size() ? text[i + 1] : '\0';
      if (next != '0' && next != '1') {
        return Incorrect(p, " is not a JSON Pointer: '~' must be followed by '0' or '1'");
      }
      token.push_back(next == '0' ? '~' : '/');
      ++i;
    } else {
      token.push_back(text[i]);
    }
  }
  return p;
}

// The pointer text for the first `count` tokens of `p`, for messages.
std::string Prefix(const Pointer& p, size_t count) {
  if (count == 0) return "the document root";
  std::string out;
  for (size_t i = 0; i < count; ++i) {
    out.push_back('/');
    for (char c : p.tokens[i]) {
      if (c == '~') {
        out += "~0";
      } else if (c == '/') {
        out += "~1";
      } else {
        out.push_back(c);
      }
    }
  }
  return out;
}

// The error for a pointer whose first `count` tokens name nothing.
Status Missing(const Pointer& p, size_t count) {
  if (count == p.tokens.size()) return Incorrect(p, " does not exist");
  return Incorrect(p, ": " + Prefix(p, count) + " does not exist");
}

rapidjson::GenericStringRef<char> Ref(const std::string& s) {
  return rapidjson::StringRef(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// Token `i` of `p` as an index into an array of `size` elements. Indexes are
// "0" or digits without a leading zero (RFC 6901 section 4). With
// `for_insert`, "-" and `size` itself name the position after the last
// element (RFC 6902 section 4.1).
Result<size_t> ArrayIndex(const Pointer& p, size_t i, size_t size, bool for_insert) {
  const std::string& token = p.tokens[i];
  if (token == "-") {
    if (for_insert) return size;
    return Incorrect(
        p, " does not exist: \"-\" names the position after the last element of " + Prefix(p, i));
  }
  bool digits = !token.empty();
  for (char c : token) digits = digits && c >= '0' && c <= '9';
  if (!digits || (token.size() > 1 && token[0] == '0')) {
    return Incorrect(p, ": \"" + token + "\" is not a valid array index for " + Prefix(p, i));
  }
  uint64_t index = UINT64_MAX;
  if (token.size() <= 19) std::from_chars(token.data(), token.data() + token.size(), index);
  if (index < size || (for_insert && index == size)) return static_cast<size_t>(index);
  if (!for_insert && i + 1 == p.tokens.size()) return Missing(p, i + 1);
  return Incorrect(p, ": index " + token + " is out of bounds for " + Prefix(p, i) + " (size " +
                          std::to_string(size) + ")");
}

// Whether `it` is `object`'s member end. RapidJSON 1.1's comparison of
// non-const member iterators is ambiguous under C++20's reversed-operator
// rules (clang -Wambiguous-reversed-operator); const ones are not.
bool IsEnd(const Json& object, Json::ConstMemberIterator it) { return it == object.MemberEnd(); }

// The value named by the first `count` tokens of `p`.
Result<Json*> Walk(Json& root, const Pointer& p, size_t count) {
  Json* cur = &root;
  for (size_t i = 0; i < count; ++i) {
    if (cur->IsObject()) {
      auto it = cur->FindMember(Ref(p.tokens[i]));
      if (IsEnd(*cur, it)) return Missing(p, i + 1);
      cur = &it->value;
    } else if (cur->IsArray()) {
      ASSIGN_OR_RETURN(size_t index, ArrayIndex(p, i, cur->Size(), /*for_insert=*/false));
      cur = &(*cur)[static_cast<rapidjson::SizeType>(index)];
    } else {
      return Incorrect(p, ": " + Prefix(p, i) + " is not an object or array");
    }
  }
  return cur;
}

Status NotContainer(const Pointer& p, size_t i) {
  return Incorrect(p, ": " + Prefix(p, i) + " is not an object or array");
}

// RFC 6902 section 4.1: adds `value` (moved from) at `p`, replacing an
// existing object member, inserting into an array.
Status Add(Json& root, const Pointer& p, Json& value, Allocator& alloc) {
  if (p.tokens.empty()) {
    root = value;
    return Status::Ok();
  }
  size_t last = p.tokens.size() - 1;
  ASSIGN_OR_RETURN(Json * parent, Walk(root, p, last));
  const std::string& token = p.tokens[last];
  if (parent->IsObject()) {
    auto it = parent->FindMember(Ref(token));
    if (!IsEnd(*parent, it)) {
      it->value = value;
    } else {
      Json name(token.data(), static_cast<rapidjson::SizeType>(token.size()), alloc);
      parent->AddMember(name, value, alloc);
    }
    return Status::Ok();
  }
  if (parent->IsArray()) {
    ASSIGN_OR_RETURN(size_t index, ArrayIndex(p, last, parent->Size(), /*for_insert=*/true));
    parent->PushBack(value, alloc);
    for (size_t j = parent->Size() - 1; j > index; --j) {
      (*parent)[static_cast<rapidjson::SizeType>(j)].Swap(
          (*parent)[static_cast<rapidjson::SizeType>(j - 1)]);
    }
    return Status::Ok();
  }
  return NotContainer(p, last);
}

// RFC 6902 section 4.2: removes the value at `p`, moving it to `*removed`
// when that is not null.
Status Remove(Json& root, const Pointer& p, Json* removed) {
  if (p.tokens.empty()) return Incorrect(p, ": the whole document cannot be removed");
  size_t last = p.tokens.size() - 1;
  ASSIGN_OR_RETURN(Json * parent, Walk(root, p, last));
  if (parent->IsObject()) {
    auto it = parent->FindMember(Ref(p.tokens[last]));
    if (IsEnd(*parent, it)) return Missing(p, last + 1);
    if (removed != nullptr) *removed = it->value;
    parent->EraseMember(it);  // keeps the order of the other members
    return Status::Ok();
  }
  if (parent->IsArray()) {
    ASSIGN_OR_RETURN(size_t index, ArrayIndex(p, last, parent->Size(), /*for_insert=*/false));
    auto it = parent->Begin() + index;
    if (removed != nullptr) *removed = *it;
    parent->Erase(it);
    return Status::Ok();
  }
  return NotContainer(p, last);
}

bool IsIntegral(const Json& v) { return v.IsInt64() || v.IsUint64(); }

// Numbers compare by value: 1, 1.0 and 1e0 are equal.
bool NumbersEqual(const Json& a, const Json& b) {
  if (IsIntegral(a) && IsIntegral(b)) {
    if (a.IsInt64() && b.IsInt64()) return a.GetInt64() == b.GetInt64();
    if (a.IsUint64() && b.IsUint64()) return a.GetUint64() == b.GetUint64();
    return false;  // one is above INT64_MAX, the other negative
  }
  if (!IsIntegral(a) && !IsIntegral(b)) return a.GetDouble() == b.GetDouble();
  const Json& real = IsIntegral(a) ? b : a;
  const Json& integer = IsIntegral(a) ? a : b;
  double x = real.GetDouble();
  if (!(x == std::floor(x))) return false;  // also NaN
  if (integer.IsInt64()) {
    if (x < -9223372036854775808.0 || x >= 9223372036854775808.0) return false;
    return static_cast<int64_t>(x) == integer.GetInt64();
  }
  if (x < 0 || x >= 18446744073709551616.0) return false;
  return static_cast<uint64_t>(x) == integer.GetUint64();
}

// RFC 6902 section 4.6 equality.
bool JsonEqual(const Json& a, const Json& b) {
  if (a.IsNumber() && b.IsNumber()) return NumbersEqual(a, b);
  if (a.GetType() != b.GetType()) return false;
  switch (a.GetType()) {
    case rapidjson::kNullType:
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return true;
    case rapidjson::kStringType:
      return a.GetStringLength() == b.GetStringLength() &&
             std::memcmp(a.GetString(), b.GetString(), a.GetStringLength()) == 0;
    case rapidjson::kArrayType:
      if (a.Size() != b.Size()) return false;
      for (rapidjson::SizeType i = 0; i < a.Size(); ++i) {
        if (!JsonEqual(a[i], b[i])) return false;
      }
      return true;
    case rapidjson::kObjectType:
      if (a.MemberCount() != b.MemberCount()) return false;
      for (const auto& m : a.GetObject()) {
        auto it = b.FindMember(m.name);
        if (it == b.MemberEnd() || !JsonEqual(m.value, it->value)) return false;
      }
      // Only matters when an object repeats a name.
      for (const auto& m : b.GetObject()) {
        if (!a.HasMember(m.name)) return false;
      }
      return true;
    case rapidjson::kNumberType:
      break;  // handled above
  }
  return false;
}

bool IsProperPrefix(const Pointer& prefix, const Pointer& p) {
  if (prefix.tokens.size() >= p.tokens.size()) return false;
  for (size_t i = 0; i < prefix.tokens.size(); ++i) {
    if (prefix.tokens[i] != p.tokens[i]) return false;
  }
  return true;
}

// A string member of an operation, or an error naming it.
Result<std::string_view> RequiredString(const Json& op, std::string_view name) {
  const Json* v = Member(op, name);
  if (v == nullptr || !v->IsString()) {
    return Status::Incorrect("missing \"" + std::string(name) + "\" (a string)");
  }
  return AsView(*v);
}

Result<const Json*> RequiredValue(const Json& op) {
  const Json* v = Member(op, "value");
  if (v == nullptr) return Status::Incorrect("missing \"value\"");
  return v;
}

// Applies one operation `op` whose "op" member is `name` to `root`.
Status ApplyOperation(const Json& op, std::string_view name, JsonDoc& root) {
  Allocator& alloc = root.GetAllocator();
  ASSIGN_OR_RETURN(std::string_view path_text, RequiredString(op, "path"));
  ASSIGN_OR_RETURN(Pointer path, ParsePointer("path", path_text));
  if (name == "add" || name == "replace") {
    ASSIGN_OR_RETURN(const Json* value, RequiredValue(op));
    Json copy(*value, alloc);
    if (name == "add") return Add(root, path, copy, alloc);
    ASSIGN_OR_RETURN(Json * target, Walk(root, path, path.tokens.size()));
    *target = copy;
    return Status::Ok();
  }
  if (name == "remove") return Remove(root, path, nullptr);
  if (name == "test") {
    ASSIGN_OR_RETURN(const Json* value, RequiredValue(op));
    ASSIGN_OR_RETURN(Json * target, Walk(root, path, path.tokens.size()));
    if (!JsonEqual(*target, *value)) return Incorrect(path, ": the value is not the one expected");
    return Status::Ok();
  }
  if (name == "move" || name == "copy") {
    ASSIGN_OR_RETURN(std::string_view from_text, RequiredString(op, "from"));
    ASSIGN_OR_RETURN(Pointer from, ParsePointer("from", from_text));
    if (name == "copy") {
      ASSIGN_OR_RETURN(Json * source, Walk(root, from, from.tokens.size()));
      Json copy(*source, alloc);
      return Add(root, path, copy, alloc);
    }
    if (IsProperPrefix(from, path)) {
      return Incorrect(path, " is inside from " + std::string(from_text) +
                                 ": a value cannot be moved into its own child");
    }
    if (from.tokens == path.tokens) {  // a no-op, but "from" must exist
      return Walk(root, from, from.tokens.size()).status();
    }
    Json moved;
    RETURN_IF_ERROR(Remove(root, from, &moved));
    return Add(root, path, moved, alloc);
  }
  return Status::Incorrect("unknown op");
}

// Keeps messages readable when a patch carries a huge or odd "op".
std::string Truncated(std::string_view s) {
  constexpr size_t kMax = 40;
  return s.size() <= kMax ? std::string(s) : std::string(s.substr(0, kMax)) + "...";
}

}  // namespace

Status ApplyJsonPatch(const Json& patch, JsonDoc* target) {
  if (!patch.IsArray()) return Status::Incorrect("a JSON Patch must be an array of operations");
  JsonDoc work;
  work.CopyFrom(*target, work.GetAllocator());
  for (rapidjson::SizeType i = 0; i < patch.Size(); ++i) {
    std::string where = "patch operation " + std::to_string(i);
    const Json& op = patch[i];
    if (!op.IsObject()) return Status::Incorrect(where + ": not an object");
    const Json* name = Member(op, "op");
    if (name == nullptr || !name->IsString()) {
      return Status::Incorrect(where + ": missing \"op\" (a string)");
    }
    Status st = ApplyOperation(op, AsView(*name), work);
    if (!st.ok()) {
      return Status::Incorrect(where + " (" + Truncated(AsView(*name)) + "): " + st.message());
    }
  }
  target->Swap(work);
  return Status::Ok();
}

}  // namespace lhcr::fhir
