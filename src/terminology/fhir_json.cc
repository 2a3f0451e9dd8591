// FHIR R4 JSON CodeSystem, ValueSet and ConceptMap into the terminology
// model (TerminologyBuilder::AddFhirJson).
#include <string>

#include "fhir/json.h"
#include "terminology/terminology.h"

namespace lhcr::terminology {
namespace {

using fhir::Json;

std::string Str(const Json& o, std::string_view name) {
  return std::string(fhir::StringMember(o, name));
}

const Json* Array(const Json& o, std::string_view name) {
  const Json* a = fhir::Member(o, name);
  return a != nullptr && a->IsArray() ? a : nullptr;
}

// R4 CodeSystem.concept is a tree: nested concepts are is-a children.
Status AddConcepts(const Json& list, const std::string& parent, CodeSystem* cs, int depth) {
  if (depth > 64) return Status::Incorrect("CodeSystem concepts nested too deep");
  for (const Json& c : list.GetArray()) {
    if (!c.IsObject()) return Status::Incorrect("CodeSystem.concept entry is not an object");
    Concept cpt;
    cpt.code = Str(c, "code");
    if (cpt.code.empty()) return Status::Incorrect("CodeSystem.concept without a code");
    cpt.display = Str(c, "display");
    if (!parent.empty()) cpt.parents.push_back(parent);
    if (const Json* ds = Array(c, "designation")) {
      for (const Json& d : ds->GetArray()) {
        if (d.IsObject() && !Str(d, "value").empty()) cpt.designations.push_back(Str(d, "value"));
      }
    }
    if (const Json* ps = Array(c, "property")) {
      for (const Json& p : ps->GetArray()) {
        if (!p.IsObject()) continue;
        std::string code = Str(p, "code");
        for (auto it = p.MemberBegin(); it != p.MemberEnd(); ++it) {
          std::string_view name(it->name.GetString(), it->name.GetStringLength());
          if (name.rfind("value", 0) != 0) continue;
          if (it->value.IsString()) {
            std::string v(fhir::AsView(it->value));
            if (code == "parent") {
              cpt.parents.push_back(v);
            } else if (code == "status" && v == "retired") {
              cpt.active = false;
            } else {
              cpt.properties[code] = v;
            }
          } else if (it->value.IsBool()) {
            if (code == "inactive")
              cpt.active = !it->value.GetBool();
            else
              cpt.properties[code] = it->value.GetBool() ? "true" : "false";
          } else if (it->value.IsObject()) {  // valueCoding
            cpt.properties[code] = Str(it->value, "code");
          }
        }
      }
    }
    if (const Json* kids = Array(c, "concept")) {
      RETURN_IF_ERROR(AddConcepts(*kids, cpt.code, cs, depth + 1));
    }
    std::string code = cpt.code;
    cs->concepts[code] = std::move(cpt);
  }
  return Status::Ok();
}

Result<CodeSystem> ParseCodeSystem(const Json& r) {
  CodeSystem cs;
  cs.url = Str(r, "url");
  if (cs.url.empty()) return Status::Incorrect("CodeSystem without a url");
  cs.version = Str(r, "version");
  cs.name = Str(r, "name");
  cs.content = Str(r, "content");
  if (const Json* list = Array(r, "concept")) RETURN_IF_ERROR(AddConcepts(*list, "", &cs, 0));
  return cs;
}

Result<std::vector<ValueSetInclude>> ParseIncludes(const Json& list) {
  std::vector<ValueSetInclude> out;
  for (const Json& i : list.GetArray()) {
    if (!i.IsObject()) return Status::Incorrect("ValueSet.compose include is not an object");
    ValueSetInclude inc;
    inc.system = Str(i, "system");
    if (const Json* cs = Array(i, "concept")) {
      for (const Json& c : cs->GetArray()) {
        if (!c.IsObject() || Str(c, "code").empty()) {
          return Status::Incorrect("ValueSet.compose concept without a code");
        }
        inc.codes.push_back(Str(c, "code"));
      }
    }
    if (const Json* fs = Array(i, "filter")) {
      for (const Json& f : fs->GetArray()) {
        if (!f.IsObject()) return Status::Incorrect("ValueSet.compose filter is not an object");
        ValueSetFilter filter{Str(f, "property"), Str(f, "op"), Str(f, "value")};
        if (filter.property.empty() || filter.op.empty()) {
          return Status::Incorrect("ValueSet.compose filter needs property and op");
        }
        inc.filters.push_back(std::move(filter));
      }
    }
    if (const Json* vs = Array(i, "valueSet")) {
      for (const Json& v : vs->GetArray()) {
        if (v.IsString()) inc.value_sets.emplace_back(fhir::AsView(v));
      }
    }
    if (inc.system.empty() && inc.value_sets.empty()) {
      return Status::Incorrect("ValueSet.compose include needs a system or a valueSet");
    }
    out.push_back(std::move(inc));
  }
  return out;
}

Result<ValueSet> ParseValueSet(const Json& r) {
  ValueSet vs;
  vs.url = Str(r, "url");
  if (vs.url.empty()) return Status::Incorrect("ValueSet without a url");
  vs.version = Str(r, "version");
  vs.name = Str(r, "name");
  const Json* compose = fhir::Member(r, "compose");
  if (compose != nullptr && compose->IsObject()) {
    if (const Json* inc = Array(*compose, "include")) {
      ASSIGN_OR_RETURN(vs.include, ParseIncludes(*inc));
    }
    if (const Json* exc = Array(*compose, "exclude")) {
      ASSIGN_OR_RETURN(vs.exclude, ParseIncludes(*exc));
    }
  } else if (const Json* exp = fhir::Member(r, "expansion"); exp != nullptr && exp->IsObject()) {
    // An expansion only: its contains are the members.
    if (const Json* contains = Array(*exp, "contains")) {
      std::map<std::string, ValueSetInclude> by_system;
      for (const Json& c : contains->GetArray()) {
        if (!c.IsObject()) continue;
        std::string system = Str(c, "system"), code = Str(c, "code");
        if (system.empty() || code.empty()) continue;
        by_system[system].system = system;
        by_system[system].codes.push_back(code);
      }
      for (auto& [s, inc] : by_system) vs.include.push_back(std::move(inc));
    }
  }
  return vs;
}

Result<ConceptMap> ParseConceptMap(const Json& r) {
  ConceptMap map;
  map.url = Str(r, "url");
  if (map.url.empty()) return Status::Incorrect("ConceptMap without a url");
  map.version = Str(r, "version");
  map.name = Str(r, "name");
  map.source_scope = Str(r, "sourceUri");
  if (map.source_scope.empty()) map.source_scope = Str(r, "sourceCanonical");
  map.target_scope = Str(r, "targetUri");
  if (map.target_scope.empty()) map.target_scope = Str(r, "targetCanonical");
  if (const Json* groups = Array(r, "group")) {
    for (const Json& g : groups->GetArray()) {
      if (!g.IsObject()) return Status::Incorrect("ConceptMap.group is not an object");
      MapGroup group;
      group.source = Str(g, "source");
      group.target = Str(g, "target");
      if (group.source.empty() || group.target.empty()) {
        return Status::Incorrect("ConceptMap.group needs source and target systems");
      }
      if (const Json* elements = Array(g, "element")) {
        for (const Json& e : elements->GetArray()) {
          if (!e.IsObject()) return Status::Incorrect("ConceptMap.group.element is not an object");
          std::string code = Str(e, "code");
          if (code.empty()) return Status::Incorrect("ConceptMap.group.element without a code");
          auto& targets = group.elements[code];
          if (const Json* ts = Array(e, "target")) {
            for (const Json& t : ts->GetArray()) {
              if (!t.IsObject()) continue;
              MapTarget target{Str(t, "code"), Str(t, "display"), Str(t, "equivalence")};
              if (target.equivalence.empty()) target.equivalence = "equivalent";
              if (target.code.empty() && target.equivalence != "unmatched") {
                return Status::Incorrect("ConceptMap target of " + code + " without a code");
              }
              targets.push_back(std::move(target));
            }
          }
        }
      }
      map.groups.push_back(std::move(group));
    }
  }
  return map;
}

}  // namespace

Status TerminologyBuilder::AddFhirJson(std::string_view text) {
  ASSIGN_OR_RETURN(fhir::JsonDoc doc, fhir::ParseJson(text));
  if (!doc.IsObject()) return Status::Incorrect("terminology resource is not a JSON object");
  std::vector<const Json*> resources;
  std::string type = Str(doc, "resourceType");
  if (type == "Bundle") {
    if (const Json* entries = Array(doc, "entry")) {
      for (const Json& e : entries->GetArray()) {
        const Json* r = e.IsObject() ? fhir::Member(e, "resource") : nullptr;
        if (r != nullptr && r->IsObject()) resources.push_back(r);
      }
    }
  } else {
    resources.push_back(&doc);
  }
  for (const Json* r : resources) {
    std::string t = Str(*r, "resourceType");
    if (t == "CodeSystem") {
      ASSIGN_OR_RETURN(CodeSystem cs, ParseCodeSystem(*r));
      AddCodeSystem(std::move(cs));
    } else if (t == "ValueSet") {
      ASSIGN_OR_RETURN(ValueSet vs, ParseValueSet(*r));
      AddValueSet(std::move(vs));
    } else if (t == "ConceptMap") {
      ASSIGN_OR_RETURN(ConceptMap m, ParseConceptMap(*r));
      AddConceptMap(std::move(m));
    } else if (type != "Bundle") {
      return Status::Incorrect("not a CodeSystem, ValueSet or ConceptMap: " + t);
    }
  }
  return Status::Ok();
}

}  // namespace lhcr::terminology
