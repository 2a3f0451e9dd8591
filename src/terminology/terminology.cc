#include "terminology/terminology.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "csv/csv.h"
#include "terminology/dmd.h"
#include "terminology/rf2.h"

namespace lhcr::terminology {
namespace {

constexpr int kMaxDepth = 16;  // value sets including value sets

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Result<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Unavailable("cannot read " + path.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool Before(const ExpansionItem& a, const ExpansionItem& b) {
  if (a.system != b.system) return a.system < b.system;
  if (a.code.size() != b.code.size()) return a.code.size() < b.code.size();
  return a.code < b.code;
}

void SortUnique(std::vector<ExpansionItem>* items) {
  std::sort(items->begin(), items->end(), Before);
  items->erase(std::unique(items->begin(), items->end(),
                           [](const ExpansionItem& a, const ExpansionItem& b) {
                             return a.system == b.system && a.code == b.code;
                           }),
               items->end());
}

}  // namespace

// ---------------------------------------------------------------- lookups

const CodeSystem* Terminology::FindCodeSystem(std::string_view url) const {
  auto it = systems_.find(url);
  return it == systems_.end() ? nullptr : &it->second;
}

const ValueSet* Terminology::FindValueSet(std::string_view url) const {
  // A canonical may carry a version: url|version.
  auto it = value_sets_.find(url.substr(0, url.find('|')));
  return it == value_sets_.end() ? nullptr : &it->second;
}

const ConceptMap* Terminology::FindConceptMap(std::string_view url) const {
  auto it = maps_.find(url.substr(0, url.find('|')));
  return it == maps_.end() ? nullptr : &it->second;
}

Result<LookupResult> Terminology::Lookup(std::string_view system, std::string_view code) const {
  const CodeSystem* cs = FindCodeSystem(system);
  if (cs == nullptr) return Status::NotFound("unknown code system " + std::string(system));
  auto it = cs->concepts.find(std::string(code));
  if (it == cs->concepts.end()) {
    return Status::NotFound("code " + std::string(code) + " not found in " + cs->url);
  }
  const Concept& c = it->second;
  LookupResult r;
  r.system = cs->url;
  r.version = cs->version;
  r.name = cs->name;
  r.code = c.code;
  r.display = c.display;
  r.active = c.active;
  r.designations = c.designations;
  r.parents = c.parents;
  r.properties = c.properties;
  if (auto ch = children_.find(system); ch != children_.end()) {
    if (auto k = ch->second.find(c.code); k != ch->second.end()) r.children = k->second;
  }
  return r;
}

bool Terminology::Subsumes(std::string_view system, std::string_view ancestor,
                           std::string_view code) const {
  const CodeSystem* cs = FindCodeSystem(system);
  if (cs == nullptr) return false;
  if (ancestor == code) return cs->concepts.count(std::string(code)) > 0;
  std::vector<std::string> stack{std::string(code)};
  std::set<std::string> seen;
  while (!stack.empty()) {
    std::string n = std::move(stack.back());
    stack.pop_back();
    if (!seen.insert(n).second) continue;
    auto it = cs->concepts.find(n);
    if (it == cs->concepts.end()) continue;
    for (const std::string& p : it->second.parents) {
      if (p == ancestor) return true;
      stack.push_back(p);
    }
  }
  return false;
}

void Terminology::Descendants(const CodeSystem& cs, const std::string& code, bool self,
                              std::vector<ExpansionItem>* out) const {
  auto ch = children_.find(cs.url);
  std::vector<std::string> stack{code};
  std::set<std::string> seen;
  while (!stack.empty()) {
    std::string n = std::move(stack.back());
    stack.pop_back();
    if (!seen.insert(n).second) continue;
    if (n != code || self) {
      auto it = cs.concepts.find(n);
      if (it != cs.concepts.end()) out->push_back({cs.url, n, it->second.display});
    }
    if (ch == children_.end()) continue;
    if (auto k = ch->second.find(n); k != ch->second.end()) {
      for (const std::string& c : k->second) stack.push_back(c);
    }
  }
}

// ---------------------------------------------------------------- value sets

Status Terminology::CollectInclude(const ValueSetInclude& inc, int depth,
                                   std::vector<ExpansionItem>* out) const {
  std::vector<ExpansionItem> items;
  bool have = false;  // items holds a constraint already
  auto intersect = [&](std::vector<ExpansionItem> next) {
    SortUnique(&next);
    if (!have) {
      items = std::move(next);
      have = true;
      return;
    }
    std::vector<ExpansionItem> both;
    std::set_intersection(items.begin(), items.end(), next.begin(), next.end(),
                          std::back_inserter(both), Before);
    items = std::move(both);
  };
  if (!inc.system.empty()) {
    const CodeSystem* cs = FindCodeSystem(inc.system);
    if (!inc.codes.empty()) {
      std::vector<ExpansionItem> listed;
      for (const std::string& code : inc.codes) {
        std::string display;
        if (cs != nullptr) {
          auto it = cs->concepts.find(code);
          if (it != cs->concepts.end()) display = it->second.display;
        }
        listed.push_back({inc.system, code, display});
      }
      intersect(std::move(listed));
    }
    for (const ValueSetFilter& f : inc.filters) {
      if (cs == nullptr) return Status::NotFound("unknown code system " + inc.system);
      std::vector<ExpansionItem> matched;
      if (f.property == "concept" && (f.op == "is-a" || f.op == "descendent-of")) {
        Descendants(*cs, f.value, f.op == "is-a", &matched);
      } else if (f.property == "concept" && f.op == "is-not-a") {
        std::vector<ExpansionItem> below;
        Descendants(*cs, f.value, true, &below);
        std::set<std::string> drop;
        for (const auto& b : below) drop.insert(b.code);
        for (const auto& [code, c] : cs->concepts) {
          if (!drop.count(code)) matched.push_back({cs->url, code, c.display});
        }
      } else if (f.op == "=" || f.op == "in") {
        std::set<std::string> values;
        std::string_view v = f.value;
        while (true) {
          size_t comma = f.op == "in" ? v.find(',') : std::string_view::npos;
          values.insert(std::string(v.substr(0, comma)));
          if (comma == std::string_view::npos) break;
          v.remove_prefix(comma + 1);
        }
        for (const auto& [code, c] : cs->concepts) {
          auto p = c.properties.find(f.property);
          bool hit = f.property == "concept" ? values.count(code) > 0
                                             : p != c.properties.end() && values.count(p->second);
          if (hit) matched.push_back({cs->url, code, c.display});
        }
      } else {
        return Status::Unsupported("value set filter " + f.property + " " + f.op +
                                   " is not supported");
      }
      intersect(std::move(matched));
    }
    if (inc.codes.empty() && inc.filters.empty()) {
      if (cs == nullptr) return Status::NotFound("unknown code system " + inc.system);
      if (static_cast<int64_t>(cs->concepts.size()) > kMaxExpansion) {
        return Status::Unsupported("too costly: " + inc.system + " has " +
                                   std::to_string(cs->concepts.size()) + " concepts");
      }
      std::vector<ExpansionItem> all;
      for (const auto& [code, c] : cs->concepts) all.push_back({cs->url, code, c.display});
      intersect(std::move(all));
    }
  }
  for (const std::string& url : inc.value_sets) {
    const ValueSet* vs = FindValueSet(url);
    if (vs == nullptr) return Status::NotFound("unknown value set " + url);
    std::vector<ExpansionItem> sub;
    RETURN_IF_ERROR(Collect(*vs, depth + 1, &sub));
    intersect(std::move(sub));
  }
  out->insert(out->end(), items.begin(), items.end());
  return Status::Ok();
}

Status Terminology::Collect(const ValueSet& vs, int depth, std::vector<ExpansionItem>* out) const {
  if (depth > kMaxDepth) return Status::Incorrect("value set " + vs.url + " includes itself");
  std::vector<ExpansionItem> items;
  for (const ValueSetInclude& inc : vs.include) RETURN_IF_ERROR(CollectInclude(inc, depth, &items));
  SortUnique(&items);
  if (!vs.exclude.empty()) {
    std::vector<ExpansionItem> drop;
    for (const ValueSetInclude& exc : vs.exclude)
      RETURN_IF_ERROR(CollectInclude(exc, depth, &drop));
    SortUnique(&drop);
    std::vector<ExpansionItem> kept;
    std::set_difference(items.begin(), items.end(), drop.begin(), drop.end(),
                        std::back_inserter(kept), Before);
    items = std::move(kept);
  }
  if (static_cast<int64_t>(items.size()) > kMaxExpansion) {
    return Status::Unsupported("too costly: value set " + vs.url + " has more than " +
                               std::to_string(kMaxExpansion) + " concepts");
  }
  out->insert(out->end(), items.begin(), items.end());
  return Status::Ok();
}

Result<bool> Terminology::IncludeContains(const ValueSetInclude& inc, std::string_view system,
                                          std::string_view code, int depth) const {
  if (!inc.system.empty()) {
    if (inc.system != system) return false;
    if (!inc.codes.empty() &&
        std::find(inc.codes.begin(), inc.codes.end(), code) == inc.codes.end()) {
      return false;
    }
    const CodeSystem* cs = FindCodeSystem(system);
    for (const ValueSetFilter& f : inc.filters) {
      if (cs == nullptr) return Status::NotFound("unknown code system " + inc.system);
      bool hit;
      if (f.property == "concept" && f.op == "is-a") {
        hit = Subsumes(system, f.value, code);
      } else if (f.property == "concept" && f.op == "descendent-of") {
        hit = code != f.value && Subsumes(system, f.value, code);
      } else if (f.property == "concept" && f.op == "is-not-a") {
        hit = cs->concepts.count(std::string(code)) && !Subsumes(system, f.value, code);
      } else {
        // Property filters: as the expansion of this include alone.
        ValueSetInclude one;
        one.system = inc.system;
        one.filters = {f};
        std::vector<ExpansionItem> items;
        RETURN_IF_ERROR(CollectInclude(one, depth, &items));
        hit = std::any_of(items.begin(), items.end(),
                          [&](const ExpansionItem& i) { return i.code == code; });
      }
      if (!hit) return false;
    }
    if (inc.codes.empty() && inc.filters.empty()) {
      if (cs == nullptr) return Status::NotFound("unknown code system " + inc.system);
      if (!cs->concepts.count(std::string(code))) return false;
    }
  }
  for (const std::string& url : inc.value_sets) {
    const ValueSet* vs = FindValueSet(url);
    if (vs == nullptr) return Status::NotFound("unknown value set " + url);
    ASSIGN_OR_RETURN(bool in, Contains(*vs, system, code, depth + 1));
    if (!in) return false;
  }
  return true;
}

Result<bool> Terminology::Contains(const ValueSet& vs, std::string_view system,
                                   std::string_view code, int depth) const {
  if (depth > kMaxDepth) return Status::Incorrect("value set " + vs.url + " includes itself");
  bool in = false;
  for (const ValueSetInclude& inc : vs.include) {
    ASSIGN_OR_RETURN(bool hit, IncludeContains(inc, system, code, depth));
    if (hit) {
      in = true;
      break;
    }
  }
  if (!in) return false;
  for (const ValueSetInclude& exc : vs.exclude) {
    ASSIGN_OR_RETURN(bool hit, IncludeContains(exc, system, code, depth));
    if (hit) return false;
  }
  return true;
}

Result<Validation> Terminology::ValidateCode(std::string_view value_set_url,
                                             std::string_view system, std::string_view code,
                                             std::string_view display) const {
  const ValueSet* vs = FindValueSet(value_set_url);
  if (vs == nullptr) return Status::NotFound("unknown value set " + std::string(value_set_url));
  ASSIGN_OR_RETURN(bool in, Contains(*vs, system, code, 0));
  Validation v;
  if (!in) {
    v.message =
        "code " + std::string(system) + "|" + std::string(code) + " is not in value set " + vs->url;
    return v;
  }
  v.result = true;
  const CodeSystem* cs = FindCodeSystem(system);
  const Concept* c = nullptr;
  if (cs != nullptr) {
    auto it = cs->concepts.find(std::string(code));
    if (it != cs->concepts.end()) c = &it->second;
  }
  if (c != nullptr) v.display = c->display;
  if (!display.empty() && c != nullptr) {
    bool known = Lower(display) == Lower(c->display);
    for (const std::string& d : c->designations) known = known || Lower(display) == Lower(d);
    if (!known) {
      v.result = false;
      v.message = "display '" + std::string(display) + "' is not a display of " +
                  std::string(code) + " (expected '" + c->display + "')";
    }
  }
  return v;
}

Result<Expansion> Terminology::Expand(std::string_view value_set_url, std::string_view filter,
                                      int64_t offset, int64_t count) const {
  const ValueSet* vs = FindValueSet(value_set_url);
  if (vs == nullptr) return Status::NotFound("unknown value set " + std::string(value_set_url));
  std::vector<ExpansionItem> items;
  RETURN_IF_ERROR(Collect(*vs, 0, &items));
  if (!filter.empty()) {
    std::string f = Lower(filter);
    std::erase_if(items, [&](const ExpansionItem& i) {
      return Lower(i.display).find(f) == std::string::npos && i.code != filter;
    });
  }
  Expansion e;
  e.url = vs->url;
  e.version = vs->version;
  e.total = static_cast<int64_t>(items.size());
  e.offset = std::max<int64_t>(0, offset);
  int64_t end = count < 0 ? e.total : std::min(e.total, e.offset + count);
  for (int64_t i = e.offset; i < end; ++i) e.items.push_back(std::move(items[i]));
  return e;
}

// ---------------------------------------------------------------- maps

Result<std::vector<Translation>> Terminology::Translate(std::string_view map_url,
                                                        std::string_view system,
                                                        std::string_view code,
                                                        std::string_view target_system) const {
  std::vector<const ConceptMap*> maps;
  if (!map_url.empty()) {
    const ConceptMap* m = FindConceptMap(map_url);
    if (m == nullptr) return Status::NotFound("unknown concept map " + std::string(map_url));
    maps.push_back(m);
  } else {
    for (const auto& [url, m] : maps_) maps.push_back(&m);
  }
  std::vector<Translation> out;
  for (const ConceptMap* m : maps) {
    for (const MapGroup& g : m->groups) {
      if (g.source != system) continue;
      if (!target_system.empty() && g.target != target_system) continue;
      auto it = g.elements.find(std::string(code));
      if (it == g.elements.end()) continue;
      for (const MapTarget& t : it->second) {
        if (t.equivalence == "unmatched" || t.code.empty()) continue;
        Translation tr{g.target, t.code, t.display, t.equivalence, m->url};
        if (tr.display.empty()) {
          auto found = Lookup(g.target, t.code);
          if (found.ok()) tr.display = found->display;
        }
        if (std::find(out.begin(), out.end(), tr) == out.end()) out.push_back(std::move(tr));
      }
    }
  }
  return out;
}

TerminologyStats Terminology::stats() const {
  TerminologyStats s;
  s.code_systems = static_cast<int64_t>(systems_.size());
  for (const auto& [url, cs] : systems_) {
    s.concepts += static_cast<int64_t>(cs.concepts.size());
    for (const auto& [code, c] : cs.concepts)
      s.is_a_edges += static_cast<int64_t>(c.parents.size());
  }
  s.value_sets = static_cast<int64_t>(value_sets_.size());
  s.concept_maps = static_cast<int64_t>(maps_.size());
  return s;
}

std::vector<std::string> Terminology::ValueSetUrls() const {
  std::vector<std::string> out;
  for (const auto& [url, vs] : value_sets_) out.push_back(url);
  return out;
}

std::vector<std::string> Terminology::ConceptMapUrls() const {
  std::vector<std::string> out;
  for (const auto& [url, m] : maps_) out.push_back(url);
  return out;
}

// ---------------------------------------------------------------- builder

Concept& TerminologyBuilder::MutableConcept(const std::string& system, const std::string& code) {
  CodeSystem& cs = systems_[system];
  if (cs.url.empty()) cs.url = system;
  Concept& c = cs.concepts[code];
  if (c.code.empty()) c.code = code;
  return c;
}

void TerminologyBuilder::AddCodeSystem(CodeSystem cs) {
  CodeSystem& held = systems_[cs.url];
  held.url = cs.url;
  if (!cs.version.empty()) held.version = cs.version;
  if (!cs.name.empty()) held.name = cs.name;
  if (!cs.content.empty()) held.content = cs.content;
  for (auto& [code, c] : cs.concepts) held.concepts[code] = std::move(c);
}

void TerminologyBuilder::AddValueSet(ValueSet vs) {
  std::string url = vs.url;
  value_sets_[url] = std::move(vs);
}

void TerminologyBuilder::AddConceptMap(ConceptMap map) {
  std::string url = map.url;
  maps_[url] = std::move(map);
}

Status TerminologyBuilder::LoadFhirDirectory(const std::string& dir) {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
  }
  if (ec) return Status::NotFound("cannot list " + dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    ASSIGN_OR_RETURN(std::string text, ReadFile(f));
    Status s = AddFhirJson(text);
    if (!s.ok()) return Status(s.code(), f.string() + ": " + s.message());
  }
  return Status::Ok();
}

Status TerminologyBuilder::LoadSnomedRf2(const std::string& dir) {
  std::error_code ec;
  std::vector<std::filesystem::path> concepts, descriptions, relationships, languages;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (!e.is_regular_file()) continue;
    std::string name = e.path().filename().string();
    if (name.find("Snapshot") == std::string::npos || e.path().extension() != ".txt") continue;
    if (name.rfind("sct2_Concept_", 0) == 0) concepts.push_back(e.path());
    if (name.rfind("sct2_Description_", 0) == 0) descriptions.push_back(e.path());
    if (name.rfind("sct2_Relationship_", 0) == 0) relationships.push_back(e.path());
    if (name.rfind("der2_cRefset_Language", 0) == 0) languages.push_back(e.path());
  }
  if (ec) return Status::NotFound("cannot list " + dir + ": " + ec.message());
  if (concepts.empty()) return Status::NotFound("no sct2_Concept_*Snapshot* file under " + dir);
  Rf2Content content;
  auto each = [&](std::vector<std::filesystem::path>& files,
                  Status (*parse)(std::string_view, Rf2Content*)) -> Status {
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      ASSIGN_OR_RETURN(std::string text, ReadFile(f));
      Status s = parse(text, &content);
      if (!s.ok()) return Status(s.code(), f.string() + ": " + s.message());
    }
    return Status::Ok();
  };
  RETURN_IF_ERROR(each(concepts, ParseRf2Concepts));
  RETURN_IF_ERROR(each(descriptions, ParseRf2Descriptions));
  RETURN_IF_ERROR(each(relationships, ParseRf2Relationships));
  RETURN_IF_ERROR(each(languages, ParseRf2Language));
  content.AddTo(*this);
  return Status::Ok();
}

Status TerminologyBuilder::LoadDmd(const std::string& dir) {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (!e.is_regular_file() || e.path().extension() != ".xml") continue;
    // f_vtm2 / f_vmp2 / f_amp2, not the pack files f_vmpp2 / f_ampp2.
    if (name.rfind("f_vtm2", 0) == 0 || name.rfind("f_vmp2", 0) == 0 ||
        name.rfind("f_amp2", 0) == 0) {
      files.push_back(e.path());
    }
  }
  if (ec) return Status::NotFound("cannot list " + dir + ": " + ec.message());
  if (files.empty()) return Status::NotFound("no f_vtm / f_vmp / f_amp XML file in " + dir);
  // VTMs first, then VMPs, then AMPs (names sort that way: f_amp < f_vmp <
  // f_vtm, so order explicitly).
  auto rank = [](const std::filesystem::path& p) {
    std::string n = p.filename().string();
    return n.rfind("f_vtm", 0) == 0 ? 0 : n.rfind("f_vmp", 0) == 0 ? 1 : 2;
  };
  std::sort(files.begin(), files.end(), [&](const auto& a, const auto& b) {
    return rank(a) != rank(b) ? rank(a) < rank(b) : a < b;
  });
  for (const auto& f : files) {
    ASSIGN_OR_RETURN(std::string text, ReadFile(f));
    auto products = ParseDmdXml(text);
    if (!products.ok()) {
      return Status(products.status().code(), f.string() + ": " + products.status().message());
    }
    AddDmdProducts(*products, *this);
  }
  return Status::Ok();
}

Status TerminologyBuilder::LoadDirectory(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::NotFound("terminology folder not found: " + dir);
  if (fs::is_directory(fs::path(dir) / "snomed", ec)) {
    RETURN_IF_ERROR(LoadSnomedRf2((fs::path(dir) / "snomed").string()));
  }
  if (fs::is_directory(fs::path(dir) / "dmd", ec)) {
    RETURN_IF_ERROR(LoadDmd((fs::path(dir) / "dmd").string()));
  }
  if (fs::is_directory(fs::path(dir) / "fhir", ec)) {
    RETURN_IF_ERROR(LoadFhirDirectory((fs::path(dir) / "fhir").string()));
  }
  return Status::Ok();
}

Status TerminologyBuilder::AddLocalCodeMap(std::string_view text, const std::string& local_system,
                                           const std::string& map_url) {
  ASSIGN_OR_RETURN(csv::Table table, csv::ParseCsv(text));
  auto column = [&](std::string_view name) -> int {
    for (size_t i = 0; i < table.header.size(); ++i) {
      if (table.header[i] == name) return static_cast<int>(i);
    }
    return -1;
  };
  int code = column("local_code"), display = column("display"), unit = column("unit"),
      loinc = column("loinc"), snomed = column("snomed");
  if (code < 0 || display < 0) {
    return Status::Incorrect("local code map: needs columns local_code and display");
  }
  CodeSystem cs;
  cs.url = local_system;
  cs.name = "Local codes " + local_system;
  MapGroup to_loinc{local_system, std::string(kLoinc), {}};
  MapGroup to_sct{local_system, std::string(kSnomed), {}};
  for (const csv::Row& row : table.rows) {
    const std::string& c = row.fields[code];
    if (c.empty()) {
      return Status::Incorrect("local code map: row " + std::to_string(row.record) +
                               " has no local_code");
    }
    Concept cpt;
    cpt.code = c;
    cpt.display = row.fields[display];
    if (unit >= 0 && !row.fields[unit].empty()) cpt.properties["unit"] = row.fields[unit];
    cs.concepts[c] = std::move(cpt);
    if (loinc >= 0 && !row.fields[loinc].empty()) {
      to_loinc.elements[c].push_back({row.fields[loinc], "", "equivalent"});
    }
    if (snomed >= 0 && !row.fields[snomed].empty()) {
      to_sct.elements[c].push_back({row.fields[snomed], "", "equivalent"});
    }
  }
  ConceptMap map;
  map.url = map_url;
  map.name = "Local codes to LOINC and SNOMED CT";
  map.groups.push_back(std::move(to_loinc));
  map.groups.push_back(std::move(to_sct));
  AddCodeSystem(std::move(cs));
  AddConceptMap(std::move(map));
  return Status::Ok();
}

std::shared_ptr<const Terminology> TerminologyBuilder::Build() && {
  auto t = std::make_shared<Terminology>();
  for (auto& [url, cs] : systems_) {
    auto& children = t->children_[url];
    for (const auto& [code, c] : cs.concepts) {
      for (const std::string& p : c.parents) children[p].push_back(code);
    }
    for (auto& [p, kids] : children) {
      std::sort(kids.begin(), kids.end());
    }
  }
  t->systems_ = std::move(systems_);
  t->value_sets_ = std::move(value_sets_);
  t->maps_ = std::move(maps_);
  return t;
}

}  // namespace lhcr::terminology
