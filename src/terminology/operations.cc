#include "terminology/operations.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <set>

#include "fhir/json.h"

namespace lhcr::terminology {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

std::string First(const OperationParams& p, const std::string& name) {
  auto it = p.find(name);
  return it == p.end() ? "" : it->second;
}

Result<std::string> Required(const OperationParams& p, const std::string& name) {
  std::string v = First(p, name);
  if (v.empty()) return Status::Incorrect("parameter '" + name + "' is required");
  return v;
}

Result<int64_t> Integer(const OperationParams& p, const std::string& name, int64_t dflt) {
  std::string v = First(p, name);
  if (v.empty()) return dflt;
  int64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || n < 0) {
    return Status::Incorrect("parameter '" + name + "' must be a non-negative integer, got '" + v +
                             "'");
  }
  return n;
}

void Str(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// One Parameters.parameter with a primitive value.
void Param(Writer& w, std::string_view name, std::string_view type, std::string_view value) {
  w.StartObject();
  w.Key("name"), Str(w, name);
  w.Key(("value" + std::string(type)).c_str()), Str(w, value);
  w.EndObject();
}
void BoolParam(Writer& w, std::string_view name, bool value) {
  w.StartObject();
  w.Key("name"), Str(w, name);
  w.Key("valueBoolean"), w.Bool(value);
  w.EndObject();
}
void IntParam(Writer& w, std::string_view name, int64_t value) {
  w.StartObject();
  w.Key("name"), Str(w, name);
  w.Key("valueInteger"), w.Int64(value);
  w.EndObject();
}
void PropertyParam(Writer& w, std::string_view code, std::string_view type,
                   std::string_view value) {
  w.StartObject();
  w.Key("name"), Str(w, "property");
  w.Key("part"), w.StartArray();
  Param(w, "code", "Code", code);
  Param(w, "value", type, value);
  w.EndArray();
  w.EndObject();
}

// system|code from the system/code parameters or a coding.
std::pair<std::string, std::string> SystemCode(const OperationParams& p) {
  std::string system = First(p, "system"), code = First(p, "code");
  if (code.empty() && !First(p, "coding.code").empty()) {
    system = First(p, "coding.system");
    code = First(p, "coding.code");
  }
  return {system, code};
}

}  // namespace

Result<OperationParams> ParseParameters(std::string_view body) {
  OperationParams out;
  if (body.empty()) return out;
  ASSIGN_OR_RETURN(fhir::JsonDoc doc, fhir::ParseJson(body));
  if (!doc.IsObject() || fhir::StringMember(doc, "resourceType") != "Parameters") {
    return Status::Incorrect("the body must be a Parameters resource");
  }
  const fhir::Json* list = fhir::Member(doc, "parameter");
  if (list == nullptr) return out;
  if (!list->IsArray()) return Status::Incorrect("Parameters.parameter must be an array");
  for (const fhir::Json& p : list->GetArray()) {
    if (!p.IsObject()) return Status::Incorrect("a Parameters.parameter is not an object");
    std::string name(fhir::StringMember(p, "name"));
    if (name.empty()) return Status::Incorrect("a Parameters.parameter has no name");
    for (auto it = p.MemberBegin(); it != p.MemberEnd(); ++it) {
      std::string_view key(it->name.GetString(), it->name.GetStringLength());
      if (key.rfind("value", 0) != 0) continue;
      const fhir::Json& v = it->value;
      if (v.IsString()) {
        out.emplace(name, std::string(fhir::AsView(v)));
      } else if (v.IsBool()) {
        out.emplace(name, v.GetBool() ? "true" : "false");
      } else if (v.IsInt64()) {
        out.emplace(name, std::to_string(v.GetInt64()));
      } else if (v.IsObject() && (key == "valueCoding" || key == "valueCodeableConcept")) {
        const fhir::Json* coding = &v;
        if (key == "valueCodeableConcept") {
          const fhir::Json* cs = fhir::Member(v, "coding");
          if (cs == nullptr || !cs->IsArray() || cs->Empty() || !(*cs)[0].IsObject()) continue;
          coding = &(*cs)[0];
        }
        out.emplace(name + ".system", std::string(fhir::StringMember(*coding, "system")));
        out.emplace(name + ".code", std::string(fhir::StringMember(*coding, "code")));
        out.emplace(name + ".display", std::string(fhir::StringMember(*coding, "display")));
      } else {
        return Status::Incorrect("parameter '" + name + "' has an unsupported value type");
      }
    }
  }
  // A CodeableConcept parameter is read as its first coding.
  if (out.count("codeableConcept.code") && !out.count("coding.code")) {
    out.emplace("coding.system", First(out, "codeableConcept.system"));
    out.emplace("coding.code", First(out, "codeableConcept.code"));
    out.emplace("coding.display", First(out, "codeableConcept.display"));
  }
  return out;
}

Result<std::string> LookupOperation(const Terminology& t, const Ucum& ucum,
                                    const OperationParams& p) {
  auto [system, code] = SystemCode(p);
  if (system.empty()) return Status::Incorrect("parameter 'system' is required");
  if (code.empty()) return Status::Incorrect("parameter 'code' is required");
  LookupResult r;
  if (system == kUcum && t.FindCodeSystem(kUcum) == nullptr) {
    auto unit = ucum.Parse(code);
    if (!unit.ok()) return Status::NotFound(unit.status().message());
    r.system = system;
    r.name = "UCUM";
    r.code = code;
    std::string atom = ucum.AtomName(code);
    r.display = atom.empty() ? code : atom;
  } else {
    ASSIGN_OR_RETURN(r, t.Lookup(system, code));
  }
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("resourceType"), Str(w, "Parameters");
  w.Key("parameter"), w.StartArray();
  Param(w, "name", "String", r.name.empty() ? r.system : r.name);
  if (!r.version.empty()) Param(w, "version", "String", r.version);
  Param(w, "display", "String", r.display);
  for (const std::string& d : r.designations) {
    w.StartObject();
    w.Key("name"), Str(w, "designation");
    w.Key("part"), w.StartArray();
    Param(w, "value", "String", d);
    w.EndArray();
    w.EndObject();
  }
  // Properties: all unless some are asked for.
  std::set<std::string> wanted;
  for (auto [it, end] = p.equal_range("property"); it != end; ++it) wanted.insert(it->second);
  auto want = [&](const std::string& name) { return wanted.empty() || wanted.count(name); };
  if (want("inactive")) {
    w.StartObject();
    w.Key("name"), Str(w, "property");
    w.Key("part"), w.StartArray();
    Param(w, "code", "Code", "inactive");
    BoolParam(w, "value", !r.active);
    w.EndArray();
    w.EndObject();
  }
  if (want("parent")) {
    for (const std::string& x : r.parents) PropertyParam(w, "parent", "Code", x);
  }
  if (want("child")) {
    for (const std::string& x : r.children) PropertyParam(w, "child", "Code", x);
  }
  for (const auto& [k, v] : r.properties) {
    if (want(k)) PropertyParam(w, k, "String", v);
  }
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

Result<std::string> ValidateCodeOperation(const Terminology& t, const OperationParams& p) {
  ASSIGN_OR_RETURN(std::string url, Required(p, "url"));
  auto [system, code] = SystemCode(p);
  if (code.empty()) return Status::Incorrect("parameter 'code' (or 'coding') is required");
  if (system.empty()) return Status::Incorrect("parameter 'system' is required with 'code'");
  std::string display = First(p, "display");
  if (display.empty()) display = First(p, "coding.display");
  ASSIGN_OR_RETURN(Validation v, t.ValidateCode(url, system, code, display));
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("resourceType"), Str(w, "Parameters");
  w.Key("parameter"), w.StartArray();
  BoolParam(w, "result", v.result);
  if (!v.message.empty()) Param(w, "message", "String", v.message);
  if (!v.display.empty()) Param(w, "display", "String", v.display);
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

Result<std::string> ExpandOperation(const Terminology& t, const OperationParams& p) {
  ASSIGN_OR_RETURN(std::string url, Required(p, "url"));
  ASSIGN_OR_RETURN(int64_t offset, Integer(p, "offset", 0));
  ASSIGN_OR_RETURN(int64_t count, Integer(p, "count", 1000));
  ASSIGN_OR_RETURN(Expansion e, t.Expand(url, First(p, "filter"), offset, count));
  const ValueSet* vs = t.FindValueSet(url);
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("resourceType"), Str(w, "ValueSet");
  w.Key("url"), Str(w, e.url);
  if (!e.version.empty()) w.Key("version"), Str(w, e.version);
  if (vs != nullptr && !vs->name.empty()) w.Key("name"), Str(w, vs->name);
  w.Key("status"), Str(w, "active");
  w.Key("expansion"), w.StartObject();
  w.Key("identifier"), Str(w, "urn:lhcr:expansion:" + e.url + "|" + e.version);
  // An expansion is a function of the loaded content; no clock here.
  w.Key("timestamp"), Str(w, "1970-01-01T00:00:00Z");
  w.Key("total"), w.Int64(e.total);
  w.Key("offset"), w.Int64(e.offset);
  std::string filter = First(p, "filter");
  w.Key("parameter"), w.StartArray();
  if (!filter.empty()) Param(w, "filter", "String", filter);
  IntParam(w, "offset", e.offset);
  IntParam(w, "count", count);
  w.EndArray();
  if (!e.items.empty()) {
    w.Key("contains"), w.StartArray();
    for (const ExpansionItem& i : e.items) {
      w.StartObject();
      w.Key("system"), Str(w, i.system);
      w.Key("code"), Str(w, i.code);
      if (!i.display.empty()) w.Key("display"), Str(w, i.display);
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

Result<std::string> TranslateOperation(const Terminology& t, const OperationParams& p) {
  std::string url = First(p, "url");
  auto [system, code] = SystemCode(p);
  if (code.empty()) return Status::Incorrect("parameter 'code' (or 'coding') is required");
  if (system.empty()) return Status::Incorrect("parameter 'system' is required with 'code'");
  std::string target_system = First(p, "targetsystem");
  // Without a url: the maps whose scope is the given source / target value
  // set (R4 $translate "source", "target"), else every loaded map.
  std::vector<std::string> urls;
  if (!url.empty()) {
    urls.push_back(url);
  } else {
    const std::string source = First(p, "source"), target = First(p, "target");
    for (const std::string& u : t.ConceptMapUrls()) {
      const ConceptMap* m = t.FindConceptMap(u);
      if (!source.empty() && m->source_scope != source) continue;
      if (!target.empty() && m->target_scope != target) continue;
      urls.push_back(u);
    }
    if (urls.empty()) {
      return Status::NotFound("no loaded concept map" +
                              (source.empty() && target.empty()
                                   ? std::string()
                                   : " from '" + source + "' to '" + target + "'"));
    }
  }
  std::vector<Translation> matches;
  for (const std::string& u : urls) {
    ASSIGN_OR_RETURN(std::vector<Translation> found, t.Translate(u, system, code, target_system));
    for (Translation& m : found) matches.push_back(std::move(m));
  }
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("resourceType"), Str(w, "Parameters");
  w.Key("parameter"), w.StartArray();
  BoolParam(w, "result", !matches.empty());
  Param(w, "message", "String",
        matches.empty() ? "no mapping of " + system + "|" + code + " in the loaded concept maps"
                        : std::to_string(matches.size()) + " mapping(s)");
  for (const Translation& m : matches) {
    w.StartObject();
    w.Key("name"), Str(w, "match");
    w.Key("part"), w.StartArray();
    Param(w, "equivalence", "Code", m.equivalence);
    w.StartObject();
    w.Key("name"), Str(w, "concept");
    w.Key("valueCoding"), w.StartObject();
    w.Key("system"), Str(w, m.system);
    w.Key("code"), Str(w, m.code);
    if (!m.display.empty()) w.Key("display"), Str(w, m.display);
    w.EndObject();
    w.EndObject();
    Param(w, "source", "Uri", m.map_url);
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace lhcr::terminology
