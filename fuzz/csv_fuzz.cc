// CSV: the parser and the mapping to FHIR must never crash on any input.
// Invariants, beyond that:
//   - a rejected text is kIncorrect;
//   - a parsed table is rectangular, numbers its rows 1, 2, ... and their
//     lines in increasing order, and written back with every field quoted it
//     parses to the same fields;
//   - every Bundle the mapper makes (with the mapping lhcr synth writes for
//     its social care source, on the input as it is and after that source's
//     header line) is valid FHIR R4, and DropStaleEntries with nothing
//     stored keeps every entry.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "csv/csv.h"
#include "csv/to_fhir.h"
#include "fhir/json.h"
#include "fhir/validator.h"

namespace {

using namespace lhcr::csv;

void Check(bool ok, const char* what, std::string_view detail = {}) {
  if (ok) return;
  std::fprintf(stderr, "csv_fuzz: %s: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

// The "csv" member of la-x99 in the sources.json lhcr synth writes
// (src/synth/synth.cc SourceRegistryJson).
constexpr const char* kSynthMapping = R"({
  "delimiter": ",", "quote": "\"", "line_terminator": "\r\n", "header": true,
  "encoding": "UTF-8", "date_format": "DD/MM/YYYY", "record_id_column": "PersonRef",
  "columns": [
    {"name": "PersonRef", "field": "patient.identifier.local"},
    {"name": "Forename", "field": "patient.name.given"},
    {"name": "Surname", "field": "patient.name.family"},
    {"name": "DOB", "field": "patient.birthDate"},
    {"name": "Gender", "field": "patient.gender"},
    {"name": "NHSNo", "field": "patient.identifier.nhs-number"},
    {"name": "Address1", "field": "patient.address.line"},
    {"name": "Town", "field": "patient.address.city"},
    {"name": "PostCode", "field": "patient.address.postalCode"},
    {"name": "EventRef", "field": "event.identifier"},
    {"name": "EventType", "field": "event.category",
     "system": "https://x99.example.gov.uk/CodeSystem/asc-event"},
    {"name": "ServiceCode", "field": "event.code",
     "system": "https://x99.example.gov.uk/CodeSystem/asc-service"},
    {"name": "ServiceDesc", "field": "event.code.display"},
    {"name": "StartDate", "field": "event.period.start"},
    {"name": "EndDate", "field": "event.period.end"},
    {"name": "HoursPerWeek", "field": "event.quantity"}],
  "local_codes": {"ASM01": "Care Act needs assessment", "HC": "Home care package",
                  "RES": "Residential care placement", "REV": "Care and support plan review",
                  "CARER": "Carer's assessment"},
  "event_types": {"ASSESS": "Encounter", "REVIEW": "Encounter", "SERVICE": "EpisodeOfCare"}
})";

constexpr const char* kSynthHeader =
    "PersonRef,Forename,Surname,DOB,Gender,NHSNo,Address1,Town,PostCode,EventRef,EventType,"
    "ServiceCode,ServiceDesc,StartDate,EndDate,HoursPerWeek\r\n";

std::string QuoteAll(std::string_view v, const Dialect& d) {
  std::string out(1, d.quote);
  for (char c : v) {
    if (c == d.quote) out.push_back(c);
    out.push_back(c);
  }
  out.push_back(d.quote);
  return out;
}

void CheckTable(std::string_view text, const Dialect& d) {
  Limits limits;
  limits.max_field_bytes = 1 << 16;
  auto t = ParseCsv(text, d, limits);
  if (!t.ok()) {
    Check(t.status().code() == lhcr::StatusCode::kIncorrect, "rejected without kIncorrect",
          t.status().ToString());
    return;
  }
  int line = 0;
  std::string again;
  auto write = [&](const std::vector<std::string>& fields) {
    for (size_t i = 0; i < fields.size(); ++i) {
      if (i > 0) again.push_back(d.delimiter);
      again += QuoteAll(fields[i], d);
    }
    again += "\r\n";
  };
  if (d.header) {
    Check(t->header.size() == t->columns, "header size is not the column count");
    write(t->header);
  }
  for (size_t i = 0; i < t->rows.size(); ++i) {
    const Row& r = t->rows[i];
    Check(r.fields.size() == t->columns, "row is not as wide as the table");
    Check(r.record == static_cast<int>(i) + 1, "rows are not numbered 1, 2, ...");
    Check(r.line > line, "row lines do not increase");
    line = r.line;
    write(r.fields);
  }
  auto back = ParseCsv(again, d);
  Check(back.ok(), "the table written back does not parse", back.status().ToString());
  Check(back->header == t->header, "header changed in the round trip", again);
  Check(back->rows.size() == t->rows.size(), "row count changed in the round trip", again);
  for (size_t i = 0; i < t->rows.size(); ++i) {
    Check(back->rows[i].fields == t->rows[i].fields, "fields changed in the round trip", again);
  }
}

void CheckMapped(std::string_view text, const CsvMapping& mapping) {
  static const std::shared_ptr<const lhcr::fhir::Validator> validator = lhcr::fhir::Validator::R4();
  CsvSourceInfo source;
  source.source_id = "la-x99";
  source.ods_code = "X99";
  auto mapped = MapCsvToFhir(text, mapping, source);
  if (!mapped.ok()) {
    Check(mapped.status().code() == lhcr::StatusCode::kIncorrect, "map failed without kIncorrect",
          mapped.status().ToString());
    return;
  }
  Check(mapped->records.size() <= static_cast<size_t>(mapped->rows), "more records than rows");
  for (const CsvRecord& r : mapped->records) {
    auto doc = lhcr::fhir::ParseJson(r.bundle_json);
    Check(doc.ok(), "mapped Bundle is not JSON", r.bundle_json);
    for (const auto& issue : validator->Validate(*doc)) {
      Check(false, "mapped Bundle is not valid R4",
            lhcr::fhir::ToString(issue) + "\n" + r.bundle_json);
    }
    lhcr::hl7v2::CurrentResourceLookup none =
        [](const std::string&, const std::string&) -> lhcr::Result<std::optional<std::string>> {
      return std::optional<std::string>();
    };
    auto kept = lhcr::hl7v2::DropStaleEntries(r.bundle_json, none);
    Check(kept.ok(), "DropStaleEntries failed", kept.status().ToString());
    Check(kept->dropped == 0, "DropStaleEntries dropped an entry with nothing stored",
          kept->bundle_json);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const CsvMapping mapping = [] {
    auto m = ParseCsvMapping(kSynthMapping);
    Check(m.ok(), "the synth mapping does not parse", m.status().ToString());
    return *m;
  }();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckTable(input, Dialect{});
  CheckTable(input, Dialect{';', '\'', false});
  CheckMapped(input, mapping);
  CheckMapped(kSynthHeader + std::string(input), mapping);
  return 0;
}
