#include "mpi/region_reader.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "csv/csv.h"
#include "csv/to_fhir.h"
#include "fhir/json.h"
#include "hl7v2/message.h"
#include "identity/fhir_patient.h"
#include "ingest/source_registry.h"

namespace lhcr::mpi {

using namespace ::lhcr::identity;  // the matching core this reads for
namespace {

namespace fs = std::filesystem;

Result<std::string> ReadWhole(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Unavailable("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

// ------------------------------------------------------------------ FHIR

Status ReadFhirSource(const fs::path& dir, const ingest::Source& source, RegionIdentities* out) {
  std::unordered_map<std::string, size_t> index;  // record id -> position in out->records
  for (const std::string& file : source.files) {
    const fs::path path = dir / file;
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::Unavailable(source.id + ": cannot read " + path.string());
    std::string line;
    size_t lineno = 0;
    while (std::getline(in, line)) {
      ++lineno;
      if (Trim(line).empty()) continue;
      const std::string where = source.id + ": " + path.string() + ":" + std::to_string(lineno);
      auto doc = fhir::ParseJson(line);
      if (!doc.ok()) return Status::Incorrect(where + ": " + doc.status().message());
      ++out->stats.fhir_bundles;
      const fhir::Json* entries = fhir::Member(*doc, "entry");
      if (entries == nullptr || !entries->IsArray()) continue;
      for (const auto& e : entries->GetArray()) {
        const fhir::Json* res = fhir::Member(e, "resource");
        if (res == nullptr || fhir::StringMember(*res, "resourceType") != "Patient") continue;
        PersonRecord r = PersonRecordFromPatient(*res, source.id, source.record_id_system);
        if (r.record_id.empty()) {
          return Status::Incorrect(where + ": a Patient without an identifier in " +
                                   source.record_id_system);
        }
        auto [it, inserted] = index.emplace(r.record_id, out->records.size());
        if (inserted) {
          out->records.push_back(std::move(r));
        } else {
          out->records[it->second] = std::move(r);  // a later Bundle replaces
        }
      }
    }
  }
  out->stats.records_per_source[source.id] = index.size();
  return Status::Ok();
}

// ---------------------------------------------------------------- HL7 v2

// EVN-2, else MSH-7, as epoch milliseconds; lowest when neither parses (the
// position in the feed then decides).
int64_t MessageTime(const hl7v2::Message& m) {
  for (const char* path : {"EVN-2", "MSH-7"}) {
    std::string ts = m.Get(path);
    if (ts.empty()) continue;
    auto t = hl7v2::ParseTs(ts);
    if (t.ok()) return t->epoch_millis;
  }
  return std::numeric_limits<int64_t>::min();
}

// The record in one PID segment; record_id empty when no PID-3 repetition
// is of type MR (from `ods`, when the source has an ODS code).
PersonRecord FromPid(const hl7v2::Segment& pid, const ingest::Source& source) {
  PersonRecord r;
  r.source_id = source.id;
  for (int rep = 1; rep <= pid.RepetitionCount(3); ++rep) {
    const std::string type = pid.Get(3, rep, 5);
    if (type == "MR" && r.record_id.empty() &&
        (source.ods_code.empty() || pid.Get(3, rep, 4) == source.ods_code)) {
      r.record_id = pid.Get(3, rep, 1);
    } else if (type == "NH" && r.nhs_number.empty()) {
      r.nhs_number = pid.Get(3, rep, 1);
    }
  }
  // PID-5 XPN: family ^ given ^ further given names.
  r.family = pid.Get(5, 1, 1);
  SetGivenNames({pid.Get(5, 1, 2), pid.Get(5, 1, 3)}, &r);
  r.dob = ParsePartialDate(pid.Get(7));
  r.sex = SexFrom(pid.Get(8));
  // PID-11 XAD: street ^ other designation ^ city ^ state ^ postcode.
  SetAddressLines({pid.Get(11, 1, 1), pid.Get(11, 1, 2)}, &r);
  r.town = pid.Get(11, 1, 3);
  r.postcode = pid.Get(11, 1, 5);
  return r;
}

Status ReadHl7Source(const fs::path& dir, const ingest::Source& source, RegionIdentities* out) {
  struct Latest {
    int64_t time = 0;
    size_t position = 0;  // message number over the source's files
    size_t record = 0;    // index into out->records
  };
  std::unordered_map<std::string, Latest> latest;  // MRN -> its latest message
  size_t position = 0;
  for (const std::string& file : source.files) {
    const fs::path path = dir / file;
    auto text = ReadWhole(path);
    if (!text.ok()) return Status::Unavailable(source.id + ": " + text.status().message());
    size_t number = 0;
    for (std::string_view piece : hl7v2::SplitMessages(*text)) {
      ++number;
      ++position;
      const std::string where =
          source.id + ": " + path.string() + ": message " + std::to_string(number);
      auto m = hl7v2::ParseMessage(piece);
      if (!m.ok()) return Status::Incorrect(where + ": " + m.status().message());
      ++out->stats.hl7_messages;
      if (m->Find("MRG")) ++out->stats.hl7_merges;
      std::optional<hl7v2::Segment> pid = m->Find("PID");
      if (!pid) continue;
      PersonRecord r = FromPid(*pid, source);
      if (r.record_id.empty()) return Status::Incorrect(where + ": PID-3 has no MR identifier");
      const int64_t time = MessageTime(*m);
      auto it = latest.find(r.record_id);
      if (it == latest.end()) {
        latest.emplace(r.record_id, Latest{time, position, out->records.size()});
        out->records.push_back(std::move(r));
      } else if (time >= it->second.time) {  // later in the feed wins a tie
        it->second.time = time;
        it->second.position = position;
        out->records[it->second.record] = std::move(r);
      }
    }
  }
  out->stats.records_per_source[source.id] = latest.size();
  return Status::Ok();
}

// ------------------------------------------------------------------- CSV

// A date written in a mapping's date_format ("DD/MM/YYYY", "YYYY-MM-DD",
// "YYYYMMDD"): the parts by the positions of DD, MM and YYYY in the
// pattern. Unknown when the text does not have the pattern's shape.
PartialDate ParseDateAs(const std::string& text, const std::string& format) {
  auto is_sep = [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); };
  auto split = [&](const std::string& s) {
    std::vector<std::string> parts;
    std::string cur;
    for (char c : s) {
      if (is_sep(c)) {
        parts.push_back(cur);
        cur.clear();
      } else {
        cur += c;
      }
    }
    parts.push_back(cur);
    return parts;
  };
  std::string value = Trim(text);
  if (value.empty()) return {};
  std::string y, m, d;
  const bool separated = std::any_of(format.begin(), format.end(), is_sep);
  if (separated) {
    std::vector<std::string> f = split(format), v = split(value);
    if (f.size() != v.size()) return {};
    for (size_t i = 0; i < f.size(); ++i) {
      if (f[i] == "YYYY") y = v[i];
      if (f[i] == "MM") m = v[i];
      if (f[i] == "DD") d = v[i];
    }
  } else {
    if (value.size() != format.size()) return {};
    for (const auto& [pattern, part] :
         {std::pair<std::string, std::string*>{"YYYY", &y}, {"MM", &m}, {"DD", &d}}) {
      size_t at = format.find(pattern);
      if (at != std::string::npos) *part = value.substr(at, pattern.size());
    }
  }
  auto digits = [](const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
      return std::isdigit(static_cast<unsigned char>(c));
    });
  };
  if (y.size() != 4 || !digits(y) || !digits(m) || !digits(d) || m.size() > 2 || d.size() > 2) {
    return {};
  }
  if (m.size() == 1) m = "0" + m;
  if (d.size() == 1) d = "0" + d;
  return ParsePartialDate(y + m + d);
}

Status ReadCsvSource(const fs::path& dir, const ingest::Source& source, RegionIdentities* out) {
  if (!source.csv) return Status::Incorrect(source.id + ": a csv source without a \"csv\" mapping");
  const csv::CsvMapping& mapping = *source.csv;
  std::unordered_map<std::string, size_t> index;  // record id -> position in out->records
  for (const std::string& file : source.files) {
    const fs::path path = dir / file;
    auto text = ReadWhole(path);
    if (!text.ok()) return Status::Unavailable(source.id + ": " + text.status().message());
    auto table = csv::ParseCsv(*text, mapping.dialect());
    if (!table.ok()) {
      return Status::Incorrect(source.id + ": " + path.string() + ": " + table.status().message());
    }
    // Where each mapped column is in a row: by header name, else position.
    std::vector<std::pair<std::string, size_t>> fields;  // (target, row position)
    for (size_t i = 0; i < mapping.columns.size(); ++i) {
      const csv::CsvColumn& c = mapping.columns[i];
      size_t at = i;
      if (mapping.header) {
        auto it = std::find(table->header.begin(), table->header.end(), c.name);
        if (it == table->header.end()) {
          return Status::Incorrect(source.id + ": " + path.string() + ": no column " + c.name);
        }
        at = static_cast<size_t>(it - table->header.begin());
      } else if (i >= table->columns) {
        return Status::Incorrect(source.id + ": " + path.string() + ": fewer columns than mapped");
      }
      fields.emplace_back(c.field, at);
    }
    for (const csv::Row& row : table->rows) {
      ++out->stats.csv_rows;
      PersonRecord r;
      r.source_id = source.id;
      std::vector<std::string> given, lines;
      for (const auto& [target, at] : fields) {
        const std::string& v = row.fields[at];
        if (target == "patient.identifier.local") {
          r.record_id = Trim(v);
        } else if (target == "patient.name.given") {
          given.push_back(v);
        } else if (target == "patient.name.family") {
          r.family = Trim(v);
        } else if (target == "patient.birthDate") {
          r.dob = ParseDateAs(v, mapping.date_format);
        } else if (target == "patient.gender") {
          r.sex = SexFrom(v);
        } else if (target == "patient.identifier.nhs-number") {
          r.nhs_number = Trim(v);
        } else if (target == "patient.address.line") {
          lines.push_back(v);
        } else if (target == "patient.address.city") {
          r.town = Trim(v);
        } else if (target == "patient.address.postalCode") {
          r.postcode = Trim(v);
        }
      }
      if (r.record_id.empty()) {
        return Status::Incorrect(source.id + ": " + path.string() + ": line " +
                                 std::to_string(row.line) + ": no " + mapping.record_id_column);
      }
      SetGivenNames(given, &r);
      SetAddressLines(lines, &r);
      // The last row of a record holds its patient fields.
      auto [it, inserted] = index.emplace(r.record_id, out->records.size());
      if (inserted) {
        out->records.push_back(std::move(r));
      } else {
        out->records[it->second] = std::move(r);
      }
    }
  }
  out->stats.records_per_source[source.id] = index.size();
  return Status::Ok();
}

}  // namespace

std::string RecordKey(const PersonRecord& r) { return r.source_id + "|" + r.record_id; }

Result<RegionIdentities> ReadRegionIdentities(const std::string& dir) {
  ASSIGN_OR_RETURN(ingest::SourceRegistry registry,
                   ingest::LoadSourceRegistry((fs::path(dir) / "sources.json").string()));
  RegionIdentities out;
  for (const ingest::Source& source : registry.sources()) {
    if (source.format == "fhir") {
      RETURN_IF_ERROR(ReadFhirSource(dir, source, &out));
    } else if (source.format == "hl7v2") {
      RETURN_IF_ERROR(ReadHl7Source(dir, source, &out));
    } else if (source.format == "csv") {
      RETURN_IF_ERROR(ReadCsvSource(dir, source, &out));
    } else {
      return Status::Incorrect(source.id + ": unknown format \"" + source.format + "\"");
    }
  }
  return out;
}

Result<std::vector<TruthRow>> ReadRegionTruth(const std::string& dir) {
  const fs::path path = fs::path(dir) / "truth.csv";
  ASSIGN_OR_RETURN(std::string text, ReadWhole(path));
  auto table = csv::ParseCsv(text);
  if (!table.ok()) return Status::Incorrect(path.string() + ": " + table.status().message());
  const std::vector<std::string> want = {"source_id", "record_id", "person_id", "noise"};
  if (table->header != want) {
    return Status::Incorrect(path.string() + ": header is not source_id,record_id,person_id,noise");
  }
  std::vector<TruthRow> rows;
  rows.reserve(table->rows.size());
  std::unordered_set<std::string> keys;
  for (csv::Row& row : table->rows) {
    TruthRow t;
    t.key = row.fields[0] + "|" + row.fields[1];
    t.person_id = std::move(row.fields[2]);
    t.noise = std::move(row.fields[3]);
    if (row.fields[0].empty() || row.fields[1].empty() || t.person_id.empty()) {
      return Status::Incorrect(path.string() + ": line " + std::to_string(row.line) +
                               ": empty source, record or person");
    }
    if (!keys.insert(t.key).second) {
      return Status::Incorrect(path.string() + ": line " + std::to_string(row.line) + ": " + t.key +
                               " given twice");
    }
    rows.push_back(std::move(t));
  }
  return rows;
}

Result<RegionLabelled> LoadRegion(const std::string& dir) {
  ASSIGN_OR_RETURN(RegionIdentities read, ReadRegionIdentities(dir));
  ASSIGN_OR_RETURN(std::vector<TruthRow> truth, ReadRegionTruth(dir));
  RegionLabelled out;
  out.stats = std::move(read.stats);
  out.truth_rows = truth.size();
  std::unordered_map<std::string, size_t> row_of;
  row_of.reserve(truth.size());
  for (size_t i = 0; i < truth.size(); ++i) row_of.emplace(truth[i].key, i);
  std::vector<bool> seen(truth.size(), false);
  for (PersonRecord& r : read.records) {
    std::string key = RecordKey(r);
    auto it = row_of.find(key);
    if (it == row_of.end()) {
      out.not_in_truth.push_back(std::move(key));
      continue;
    }
    seen[it->second] = true;
    out.data.truth.push_back(truth[it->second].person_id);
    out.data.noise.push_back(truth[it->second].noise);
    out.data.sides.push_back(0);
    out.data.records.push_back(std::move(r));
  }
  for (size_t i = 0; i < truth.size(); ++i) {
    if (!seen[i]) out.not_read.push_back(truth[i].key);
  }
  return out;
}

}  // namespace lhcr::mpi
