#include "ingest/source_registry.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "fhir/json.h"

namespace lhcr::ingest {

const Source* SourceRegistry::FindByOds(std::string_view ods) const {
  if (ods.empty()) return nullptr;
  for (const Source& s : sources_) {
    if (s.ods_code == ods) return &s;
  }
  return nullptr;
}

const Source* SourceRegistry::FindById(std::string_view id) const {
  if (id.empty()) return nullptr;
  for (const Source& s : sources_) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

namespace {

std::string Str(const fhir::Json& object, std::string_view name) {
  return std::string(fhir::StringMember(object, name));
}

}  // namespace

Result<SourceRegistry> ParseSourceRegistry(std::string_view json) {
  auto doc = fhir::ParseJson(json);
  if (!doc.ok()) return Status::Incorrect("source registry: " + doc.status().message());
  if (!doc->IsObject()) return Status::Incorrect("source registry: not a JSON object");
  const fhir::Json* list = fhir::Member(*doc, "sources");
  if (list == nullptr || !list->IsArray()) {
    return Status::Incorrect("source registry: no \"sources\" array");
  }
  std::vector<Source> sources;
  std::set<std::string> ids;
  for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
    const fhir::Json& o = (*list)[i];
    const std::string where = "source registry: sources[" + std::to_string(i) + "]";
    if (!o.IsObject()) return Status::Incorrect(where + " is not an object");
    Source s;
    s.id = Str(o, "id");
    if (s.id.empty()) return Status::Incorrect(where + " has no \"id\"");
    if (!ids.insert(s.id).second) return Status::Incorrect(where + ": duplicate id " + s.id);
    s.name = Str(o, "name");
    s.kind = Str(o, "kind");
    s.ods_code = Str(o, "ods_code");
    s.format = Str(o, "format");
    if (const fhir::Json* t = fhir::Member(o, "identity_trust"); t != nullptr && t->IsNumber()) {
      s.identity_trust = t->GetDouble();
    }
    if (const fhir::Json* f = fhir::Member(o, "files"); f != nullptr && f->IsArray()) {
      for (rapidjson::SizeType j = 0; j < f->Size(); ++j) {
        if ((*f)[j].IsString())
          s.files.emplace_back((*f)[j].GetString(), (*f)[j].GetStringLength());
      }
    }
    s.record_id_system = Str(o, "record_id_system");
    s.resource_id_system_prefix = Str(o, "resource_id_system_prefix");
    if (const fhir::Json* h = fhir::Member(o, "hl7v2"); h != nullptr && h->IsObject()) {
      s.hl7_version = Str(*h, "version");
    }
    if (const fhir::Json* m = fhir::Member(o, "local_code_systems");
        m != nullptr && m->IsObject()) {
      for (auto it = m->MemberBegin(); it != m->MemberEnd(); ++it) {
        if (!it->value.IsString()) continue;
        s.local_code_systems.emplace(
            std::string(it->name.GetString(), it->name.GetStringLength()),
            std::string(it->value.GetString(), it->value.GetStringLength()));
      }
    }
    if (const fhir::Json* m = fhir::Member(o, "concept_maps"); m != nullptr && m->IsArray()) {
      for (const fhir::Json& u : m->GetArray()) {
        if (!u.IsString()) return Status::Incorrect(where + ": concept_maps holds a non-string");
        s.concept_maps.emplace_back(fhir::AsView(u));
      }
    }
    s.local_code_map = Str(o, "local_code_map");
    if (const fhir::Json* c = fhir::Member(o, "csv"); c != nullptr) {
      auto mapping = csv::ParseCsvMapping(fhir::ToJson(*c));
      if (!mapping.ok()) {
        return Status::Incorrect(where + " (" + s.id + "): " + mapping.status().message());
      }
      s.csv = std::move(mapping).value();
    }
    sources.push_back(std::move(s));
  }
  return SourceRegistry(std::move(sources));
}

Result<SourceRegistry> LoadSourceRegistry(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Unavailable("cannot read source registry " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::Unavailable("cannot read source registry " + path);
  auto registry = ParseSourceRegistry(text.str());
  if (!registry.ok()) {
    return Status(registry.status().code(), path + ": " + registry.status().message());
  }
  // Local code maps are read now, relative to the registry's folder.
  std::vector<Source> sources = registry->sources();
  for (Source& s : sources) {
    if (s.local_code_map.empty()) continue;
    std::filesystem::path map(s.local_code_map);
    if (map.is_relative()) map = std::filesystem::path(path).parent_path() / map;
    std::ifstream m(map, std::ios::binary);
    if (!m) continue;  // not there: the source has no local map
    std::ostringstream csv;
    csv << m.rdbuf();
    s.local_code_map_csv = csv.str();
  }
  return SourceRegistry(std::move(sources));
}

std::string LocalCodeMapUrl(const Source& source) {
  return "https://fhir.example.nhs.uk/" + (source.ods_code.empty() ? source.id : source.ods_code) +
         "/ConceptMap/local-codes";
}

std::vector<std::string> ConceptMapsOf(const Source& source) {
  std::vector<std::string> maps = source.concept_maps;
  if (!source.local_code_map_csv.empty() && !source.local_code_systems.empty()) {
    maps.push_back(LocalCodeMapUrl(source));
  }
  return maps;
}

hl7v2::SourceInfo ToHl7SourceInfo(const Source& source) {
  hl7v2::SourceInfo info;
  info.source_id = source.id;
  info.ods_code = source.ods_code;
  if (!source.record_id_system.empty()) {
    info.patient_id_system = source.record_id_system;
  } else if (!source.ods_code.empty()) {
    info.patient_id_system = "https://fhir.example.nhs.uk/" + source.ods_code + "/Id/patient";
  }
  if (!source.local_code_systems.empty()) {
    info.lab_code_system = source.local_code_systems.begin()->second;
  }
  return info;
}

csv::CsvSourceInfo ToCsvSourceInfo(const Source& source) {
  csv::CsvSourceInfo info;
  info.source_id = source.id;
  info.ods_code = source.ods_code;
  info.patient_id_system = source.record_id_system;
  if (!source.resource_id_system_prefix.empty()) {
    info.encounter_id_system = source.resource_id_system_prefix + "encounter";
    info.episode_of_care_id_system = source.resource_id_system_prefix + "episodeofcare";
  }
  return info;
}

}  // namespace lhcr::ingest
