#include "csv/csv.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>

namespace lhcr::csv {
namespace {

// Bytes that end an unquoted run: the delimiter, the quote, CR, LF, NUL.
using ByteClass = std::array<bool, 256>;

ByteClass Specials(const Dialect& d) {
  ByteClass c{};
  for (char ch : {d.delimiter, d.quote, '\r', '\n', '\0'}) c[static_cast<unsigned char>(ch)] = true;
  return c;
}

class Parser {
 public:
  Parser(std::string_view text, const Dialect& d, const Limits& l)
      : t_(text), d_(d), l_(l), special_(Specials(d)) {}

  Result<Table> Run();

 private:
  // "line 3, column 2 (Forename)".
  std::string Where(int line, size_t column) const {
    std::string w = "line " + std::to_string(line) + ", column " + std::to_string(column);
    if (column >= 1 && column <= table_.header.size()) {
      std::string_view name = table_.header[column - 1];
      if (name.size() > 64) name = name.substr(0, 64);
      w += " (" + Printable(name) + ")";
    }
    return w;
  }
  static std::string Printable(std::string_view s) {
    std::string out;
    for (char c : s) out.push_back(static_cast<unsigned char>(c) < 0x20 ? '?' : c);
    return out;
  }
  Status Error(int line, size_t column, const std::string& what) const {
    return Status::Incorrect("CSV " + Where(line, column) + ": " + what);
  }
  // Reads one record from i_ into fields_ (the caller knows i_ < size).
  Status Record();
  Status QuotedField(size_t column, std::string* field);
  Status UnquotedField(size_t column, std::string* field);
  // Consumes CRLF, LF or CR at i_ (if any) and counts the line.
  void EndOfLine() {
    if (i_ >= t_.size()) return;
    if (t_[i_] == '\r' && i_ + 1 < t_.size() && t_[i_ + 1] == '\n') ++i_;
    ++i_;
    ++line_;
  }

  std::string_view t_;
  const Dialect& d_;
  const Limits& l_;
  const ByteClass special_;
  size_t i_ = 0;
  int line_ = 1;
  std::vector<std::string> fields_;
  Table table_;
};

Status Parser::UnquotedField(size_t column, std::string* field) {
  const size_t start = i_;
  const size_t n = t_.size();
  while (i_ < n && !special_[static_cast<unsigned char>(t_[i_])]) ++i_;
  if (i_ < n) {
    const char c = t_[i_];
    if (c == '\0') return Error(line_, column, "NUL byte");
    if (c == d_.quote) {
      return Error(line_, column,
                   "a quote inside an unquoted field (quote the whole field and double the "
                   "quotes inside it)");
    }
  }
  if (i_ - start > l_.max_field_bytes) {
    return Error(line_, column,
                 "field longer than the limit of " + std::to_string(l_.max_field_bytes) + " bytes");
  }
  field->assign(t_.data() + start, i_ - start);
  return Status::Ok();
}

Status Parser::QuotedField(size_t column, std::string* field) {
  const int open_line = line_;
  const size_t n = t_.size();
  ++i_;  // the opening quote
  field->clear();
  for (;;) {
    const void* q = std::memchr(t_.data() + i_, d_.quote, n - i_);
    const size_t end =
        q == nullptr ? n : static_cast<size_t>(static_cast<const char*>(q) - t_.data());
    std::string_view span = t_.substr(i_, end - i_);
    if (span.find('\0') != std::string_view::npos) {
      // Count the lines up to the NUL so that the error names its line.
      size_t nul = span.find('\0');
      for (size_t k = 0; k < nul; ++k) {
        if (span[k] == '\n' || (span[k] == '\r' && (k + 1 >= span.size() || span[k + 1] != '\n')))
          ++line_;
      }
      return Error(line_, column, "NUL byte");
    }
    for (size_t k = 0; k < span.size(); ++k) {
      // CRLF counts once (at the LF); a bare CR counts as a line end.
      if (span[k] == '\n' || (span[k] == '\r' && (k + 1 >= span.size() || span[k + 1] != '\n')))
        ++line_;
    }
    if (field->size() + span.size() > l_.max_field_bytes) {
      return Error(
          open_line, column,
          "field longer than the limit of " + std::to_string(l_.max_field_bytes) + " bytes");
    }
    field->append(span);
    i_ = end;
    if (i_ >= n) return Error(open_line, column, "quoted field not closed before the end");
    if (i_ + 1 < n && t_[i_ + 1] == d_.quote) {  // a doubled quote is one quote
      if (field->size() + 1 > l_.max_field_bytes) {
        return Error(
            open_line, column,
            "field longer than the limit of " + std::to_string(l_.max_field_bytes) + " bytes");
      }
      field->push_back(d_.quote);
      i_ += 2;
      continue;
    }
    ++i_;  // the closing quote
    break;
  }
  if (i_ < n && t_[i_] != d_.delimiter && t_[i_] != '\r' && t_[i_] != '\n') {
    if (t_[i_] == '\0') return Error(line_, column, "NUL byte");
    return Error(line_, column, "text after the closing quote of a quoted field");
  }
  return Status::Ok();
}

Status Parser::Record() {
  size_t used = 0;  // fields_ entries filled (the vector is reused)
  for (;;) {
    const size_t column = used + 1;
    if (column > l_.max_columns) {
      return Error(line_, column,
                   "more than the limit of " + std::to_string(l_.max_columns) + " columns");
    }
    if (used == fields_.size()) fields_.emplace_back();
    std::string* field = &fields_[used];
    if (i_ < t_.size() && t_[i_] == d_.quote) {
      RETURN_IF_ERROR(QuotedField(column, field));
    } else {
      RETURN_IF_ERROR(UnquotedField(column, field));
    }
    ++used;
    if (i_ < t_.size() && t_[i_] == d_.delimiter) {
      ++i_;
      continue;
    }
    break;
  }
  fields_.resize(used);
  return Status::Ok();
}

Result<Table> Parser::Run() {
  if (d_.delimiter == d_.quote) {
    return Status::Incorrect("CSV dialect: the delimiter and the quote are the same character");
  }
  for (char c : {d_.delimiter, d_.quote}) {
    if (c == '\r' || c == '\n' || c == '\0') {
      return Status::Incorrect("CSV dialect: CR, LF and NUL cannot be a delimiter or a quote");
    }
  }
  const size_t max_bytes = std::min<size_t>(l_.max_bytes, INT_MAX - 1);
  if (t_.size() > max_bytes) {
    return Status::Incorrect("CSV text of " + std::to_string(t_.size()) +
                             " bytes exceeds the limit of " + std::to_string(max_bytes));
  }
  if (t_.substr(0, 3) == "\xEF\xBB\xBF") i_ = 3;
  bool first = true;
  while (i_ < t_.size()) {
    if (t_[i_] == '\r' || t_[i_] == '\n') {  // a blank line
      EndOfLine();
      continue;
    }
    const int start_line = line_;
    RETURN_IF_ERROR(Record());
    if (first) {
      table_.columns = fields_.size();
      first = false;
      if (d_.header) {
        table_.header = fields_;
        EndOfLine();
        continue;
      }
    } else if (fields_.size() != table_.columns) {
      size_t column = std::min(fields_.size(), table_.columns) + 1;
      return Error(start_line, column,
                   "a record of " + std::to_string(fields_.size()) + " fields where " +
                       (d_.header ? "the header has " : "the first record has ") +
                       std::to_string(table_.columns));
    }
    if (table_.rows.size() >= l_.max_rows) {
      return Status::Incorrect("CSV line " + std::to_string(start_line) +
                               ": more than the limit of " + std::to_string(l_.max_rows) + " rows");
    }
    Row row;
    row.record = static_cast<int>(table_.rows.size()) + 1;
    row.line = start_line;
    row.fields = std::move(fields_);
    table_.rows.push_back(std::move(row));
    fields_.clear();
    fields_.reserve(table_.columns);
    EndOfLine();
  }
  if (first && d_.header) return Status::Incorrect("CSV text is empty: no header line");
  return std::move(table_);
}

}  // namespace

Result<Table> ParseCsv(std::string_view text, const Dialect& dialect, const Limits& limits) {
  Parser parser(text, dialect, limits);
  return parser.Run();
}

std::string QuoteField(std::string_view value, const Dialect& dialect) {
  bool quote = false;
  for (char c : value) {
    if (c == dialect.delimiter || c == dialect.quote || c == '\r' || c == '\n') quote = true;
  }
  if (!quote) return std::string(value);
  std::string out(1, dialect.quote);
  for (char c : value) {
    if (c == dialect.quote) out.push_back(c);
    out.push_back(c);
  }
  out.push_back(dialect.quote);
  return out;
}

}  // namespace lhcr::csv
