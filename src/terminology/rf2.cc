#include "terminology/rf2.h"

#include <algorithm>
#include <array>
#include <functional>

#include "terminology/terminology.h"

namespace lhcr::terminology {
namespace {

using Row = std::vector<std::string_view>;

bool Digits(std::string_view s, size_t min, size_t max) {
  if (s.size() < min || s.size() > max) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Splits `text` into lines (LF or CRLF), checks the header against
// `columns` and calls `row` for each data row.
Status ReadRf2(std::string_view text, const std::vector<std::string_view>& columns,
               std::string_view what, const std::function<Status(const Row&, int)>& row) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  int line_no = 0;
  bool header = true;
  Row fields;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    fields.clear();
    size_t start = 0;
    while (true) {
      size_t tab = line.find('\t', start);
      fields.push_back(line.substr(start, tab - start));
      if (tab == std::string_view::npos) break;
      start = tab + 1;
    }
    const std::string where = std::string(what) + " line " + std::to_string(line_no);
    if (fields.size() != columns.size()) {
      return Status::Incorrect(where + ": " + std::to_string(fields.size()) + " fields, expected " +
                               std::to_string(columns.size()));
    }
    if (header) {
      for (size_t i = 0; i < columns.size(); ++i) {
        if (fields[i] != columns[i]) {
          return Status::Incorrect(where + ": column " + std::to_string(i + 1) + " is '" +
                                   std::string(fields[i]) + "', expected '" +
                                   std::string(columns[i]) + "'");
        }
      }
      header = false;
      continue;
    }
    // Every RF2 file starts: id (or uuid), effectiveTime, active, moduleId.
    if (!Digits(fields[1], 8, 8)) return Status::Incorrect(where + ": effectiveTime not YYYYMMDD");
    if (fields[2] != "0" && fields[2] != "1") return Status::Incorrect(where + ": active not 0/1");
    if (!Digits(fields[3], 6, 18)) return Status::Incorrect(where + ": moduleId not an SCTID");
    Status s = row(fields, line_no);
    if (!s.ok()) return Status::Incorrect(where + ": " + s.message());
  }
  if (header) return Status::Incorrect(std::string(what) + ": no header row");
  return Status::Ok();
}

// Whether a row with this effectiveTime replaces what is held.
template <typename T>
T* Newer(std::unordered_map<std::string, T>& m, std::string_view id, std::string_view effective) {
  auto [it, added] = m.try_emplace(std::string(id));
  if (!added && it->second.effective > effective) return nullptr;
  it->second.effective = std::string(effective);
  return &it->second;
}

}  // namespace

Status ParseRf2Concepts(std::string_view text, Rf2Content* out) {
  static const std::vector<std::string_view> kColumns = {"id", "effectiveTime", "active",
                                                         "moduleId", "definitionStatusId"};
  return ReadRf2(text, kColumns, "RF2 concepts", [&](const Row& f, int) {
    if (!Digits(f[0], 6, 18)) return Status::Incorrect("id not an SCTID");
    if (auto* c = Newer(out->concepts, f[0], f[1])) c->active = f[2] == "1";
    return Status::Ok();
  });
}

Status ParseRf2Descriptions(std::string_view text, Rf2Content* out) {
  static const std::vector<std::string_view> kColumns = {
      "id",           "effectiveTime", "active", "moduleId",          "conceptId",
      "languageCode", "typeId",        "term",   "caseSignificanceId"};
  return ReadRf2(text, kColumns, "RF2 descriptions", [&](const Row& f, int) {
    if (!Digits(f[0], 6, 18) || !Digits(f[4], 6, 18) || !Digits(f[6], 6, 18)) {
      return Status::Incorrect("id, conceptId or typeId not an SCTID");
    }
    if (f[7].empty()) return Status::Incorrect("empty term");
    if (auto* d = Newer(out->descriptions, f[0], f[1])) {
      d->active = f[2] == "1";
      d->concept_id = std::string(f[4]);
      d->fsn = f[6] == kFsnType;
      d->term = std::string(f[7]);
    }
    return Status::Ok();
  });
}

Status ParseRf2Relationships(std::string_view text, Rf2Content* out) {
  static const std::vector<std::string_view> kColumns = {"id",
                                                         "effectiveTime",
                                                         "active",
                                                         "moduleId",
                                                         "sourceId",
                                                         "destinationId",
                                                         "relationshipGroup",
                                                         "typeId",
                                                         "characteristicTypeId",
                                                         "modifierId"};
  return ReadRf2(text, kColumns, "RF2 relationships", [&](const Row& f, int) {
    if (!Digits(f[0], 6, 18) || !Digits(f[4], 6, 18) || !Digits(f[5], 6, 18) ||
        !Digits(f[7], 6, 18)) {
      return Status::Incorrect("id, sourceId, destinationId or typeId not an SCTID");
    }
    if (f[7] != kIsA) return Status::Ok();
    if (auto* r = Newer(out->is_a, f[0], f[1])) {
      r->active = f[2] == "1";
      r->source = std::string(f[4]);
      r->destination = std::string(f[5]);
    }
    return Status::Ok();
  });
}

Status ParseRf2Language(std::string_view text, Rf2Content* out) {
  static const std::vector<std::string_view> kColumns = {
      "id",       "effectiveTime",         "active",         "moduleId",
      "refsetId", "referencedComponentId", "acceptabilityId"};
  return ReadRf2(text, kColumns, "RF2 language refset", [&](const Row& f, int) {
    if (!Digits(f[5], 6, 18) || !Digits(f[6], 6, 18)) {
      return Status::Incorrect("referencedComponentId or acceptabilityId not an SCTID");
    }
    if (f[2] == "1" && f[6] == kPreferred) out->preferred.insert(std::string(f[5]));
    return Status::Ok();
  });
}

void Rf2Content::AddTo(TerminologyBuilder& builder) {
  const std::string sct(kSnomed);
  std::string version;
  for (auto& [id, c] : concepts) {
    Concept& cpt = builder.MutableConcept(sct, id);
    cpt.active = c.active;
    version = std::max(version, c.effective);
  }
  // Terms: preferred synonym > first synonym > FSN. Order by id so that
  // "first" is the same on every load.
  std::vector<std::pair<std::string, const DescriptionRow*>> rows;
  rows.reserve(descriptions.size());
  for (const auto& [id, d] : descriptions) {
    if (d.active && concepts.count(d.concept_id)) rows.emplace_back(id, &d);
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return a.first.size() != b.first.size() ? a.first.size() < b.first.size() : a.first < b.first;
  });
  std::unordered_map<std::string, int> rank;  // cpt -> rank of its display (lower wins)
  for (const auto& [id, d] : rows) {
    Concept& cpt = builder.MutableConcept(sct, d->concept_id);
    int r = d->fsn ? 3 : preferred.count(id) ? 1 : 2;
    auto it = rank.find(d->concept_id);
    if (it == rank.end() || r < it->second) {
      if (!cpt.display.empty()) cpt.designations.push_back(cpt.display);
      cpt.display = d->term;
      rank[d->concept_id] = r;
    } else {
      cpt.designations.push_back(d->term);
    }
  }
  for (const auto& [id, r] : is_a) {
    if (!r.active || !concepts.count(r.source) || !concepts.count(r.destination)) continue;
    builder.MutableConcept(sct, r.source).parents.push_back(r.destination);
  }
  for (auto& [id, c] : concepts) {
    auto& parents = builder.MutableConcept(sct, id).parents;
    std::sort(parents.begin(), parents.end());
    parents.erase(std::unique(parents.begin(), parents.end()), parents.end());
  }
  CodeSystem info;
  info.url = sct;
  info.version = version.empty() ? "" : "http://snomed.info/sct/version/" + version;
  info.name = "SNOMED CT";
  builder.AddCodeSystem(std::move(info));
}

}  // namespace lhcr::terminology
