// CSV text (RFC 4180, with the tolerances real extracts need): a parsed
// value and the parser. This is the door of the csv room; to_fhir.h maps a
// source's extract to FHIR R4 with a per-source column mapping.
//
// Accepted (RFC 4180 section 2, and where it is silent, what spreadsheet and
// database exports write):
//   * records end with CRLF, LF or a bare CR; the last record may end without
//     one; lines with no characters at all are skipped (so a one-column file
//     cannot hold an empty value on its own line);
//   * a UTF-8 byte-order mark at the very start is skipped (bytes are
//     otherwise passed through as they are: decoding is the caller's choice);
//   * a field may be enclosed in the quote character; inside, a doubled quote
//     is one quote, and the delimiter, CR and LF are data;
//   * every record has as many fields as the first (the header, when there is
//     one); a trailing delimiter makes an empty last field.
// Rejected with kIncorrect, the message naming the 1-based physical line and
// the 1-based column (with the header's name for it when there is one):
//   * a quoted field that never closes (the line where it opened);
//   * a quote inside an unquoted field, or text after a closing quote;
//   * a record with a different number of fields than the first;
//   * a NUL byte anywhere;
//   * a limit of `Limits` exceeded;
//   * an empty text when a header is expected.
//
// Parsing never asserts, throws on input or reads outside `text`. All
// functions are pure and safe to call from several threads at once; a Table
// is a plain value.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace lhcr::csv {

// How the text is written. The delimiter and the quote must differ and be
// neither CR, LF nor NUL.
struct Dialect {
  char delimiter = ',';
  char quote = '"';
  bool header = true;  // the first record names the columns
  bool operator==(const Dialect&) const = default;
};

// Limits that keep hostile input from exhausting memory. Exceeding one is
// kIncorrect naming the limit and where it was exceeded.
struct Limits {
  size_t max_bytes = size_t{1} << 30;        // the whole text (never above 2^31 - 2)
  size_t max_field_bytes = size_t{1} << 20;  // one field, after unquoting
  size_t max_columns = 1000;                 // fields per record
  size_t max_rows = 10'000'000;              // data records (the header not counted)
};

// One data record.
struct Row {
  int record = 0;  // 1-based data row number (the header is not counted)
  int line = 0;    // 1-based physical line where the record starts
  std::vector<std::string> fields;
  bool operator==(const Row&) const = default;
};

struct Table {
  std::vector<std::string> header;  // empty when Dialect::header is false
  std::vector<Row> rows;            // every row has the same number of fields
  // Fields per row: the header's size, else the first row's (0 when empty).
  size_t columns = 0;
  bool operator==(const Table&) const = default;
};

// Parses a whole text. Errors: kIncorrect as listed at the top, and for a
// dialect that breaks the rule above.
Result<Table> ParseCsv(std::string_view text, const Dialect& dialect = {},
                       const Limits& limits = {});

// `value` as one CSV field: quoted (quotes doubled) when it holds the
// delimiter, the quote, CR or LF; else as it is. For writers and tests:
// ParseCsv reads it back as `value` (one exception: an empty value alone on
// its line, see above).
std::string QuoteField(std::string_view value, const Dialect& dialect = {});

}  // namespace lhcr::csv
