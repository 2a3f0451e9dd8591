#include "csv/csv.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace lhcr::csv {
namespace {

using Fields = std::vector<std::vector<std::string>>;

Table MustParse(std::string_view text, const Dialect& d = {}, const Limits& l = {}) {
  auto t = ParseCsv(text, d, l);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(t).value() : Table{};
}

Fields FieldsOf(const Table& t) {
  Fields out;
  for (const Row& r : t.rows) out.push_back(r.fields);
  return out;
}

std::string ErrorOf(std::string_view text, const Dialect& d = {}, const Limits& l = {}) {
  auto t = ParseCsv(text, d, l);
  if (t.ok()) return "<ok>";
  EXPECT_EQ(t.status().code(), StatusCode::kIncorrect);
  return t.status().message();
}

TEST(CsvTest, HeaderAndRowsWithLineNumbers) {
  Table t = MustParse("a,b,c\r\n1,2,3\r\n4,5,6\r\n");
  EXPECT_EQ(t.header, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(t.columns, 3u);
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0], (Row{1, 2, {"1", "2", "3"}}));
  EXPECT_EQ(t.rows[1], (Row{2, 3, {"4", "5", "6"}}));
}

TEST(CsvTest, LineEndingsLfCrlfBareCrAndNoFinalTerminator) {
  const Fields want = {{"1", "2"}, {"3", "4"}};
  EXPECT_EQ(FieldsOf(MustParse("a,b\n1,2\n3,4\n")), want);
  EXPECT_EQ(FieldsOf(MustParse("a,b\r\n1,2\r\n3,4")), want);
  EXPECT_EQ(FieldsOf(MustParse("a,b\r1,2\r3,4\r")), want);
  EXPECT_EQ(FieldsOf(MustParse("a,b\n1,2\r\n3,4")), want);
  Table t = MustParse("a,b\r1,2\r3,4");
  EXPECT_EQ(t.rows[1].line, 3);
}

TEST(CsvTest, BomIsSkippedAndOnlyAtTheStart) {
  Table t = MustParse("\xEF\xBB\xBFPersonRef,x\n\xEF\xBB\xBFy,z\n");
  EXPECT_EQ(t.header[0], "PersonRef");
  EXPECT_EQ(t.rows[0].fields[0], "\xEF\xBB\xBFy");
}

TEST(CsvTest, QuotedFields) {
  Table t = MustParse(
      "name,note\r\n"
      "\"Smith, John\",\"said \"\"hello\"\"\"\r\n"
      "\"\",\"two\r\nlines\"\r\n"
      "plain,\"a\nb\nc\"\r\n"
      "last,\"\"\"\"");
  EXPECT_EQ(FieldsOf(t), (Fields{{"Smith, John", "said \"hello\""},
                                 {"", "two\r\nlines"},
                                 {"plain", "a\nb\nc"},
                                 {"last", "\""}}));
  // Physical lines: a record spanning lines starts where it starts.
  EXPECT_EQ(t.rows[1].line, 3);
  EXPECT_EQ(t.rows[2].line, 5);
  EXPECT_EQ(t.rows[3].line, 8);
  EXPECT_EQ(t.rows[3].record, 4);
}

TEST(CsvTest, EmptyFieldsBlankLinesAndTrailingDelimiter) {
  EXPECT_EQ(FieldsOf(MustParse("a,b,c\n,,\n1,,\n,2,\n")),
            (Fields{{"", "", ""}, {"1", "", ""}, {"", "2", ""}}));
  Table t = MustParse("a,b\n\n1,2\r\n\r\n\n3,4\n\n");
  EXPECT_EQ(FieldsOf(t), (Fields{{"1", "2"}, {"3", "4"}}));
  EXPECT_EQ(t.rows[0].line, 3);
  EXPECT_EQ(t.rows[1].line, 6);
  // Spaces are data, not trimmed.
  EXPECT_EQ(FieldsOf(MustParse("a,b\n x , y\n")), (Fields{{" x ", " y"}}));
}

TEST(CsvTest, OtherDialects) {
  Dialect semicolon{';', '\'', true};
  EXPECT_EQ(FieldsOf(MustParse("a;b\n'x;y';'it''s'\n", semicolon)), (Fields{{"x;y", "it's"}}));
  Dialect tabs{'\t', '"', false};
  Table t = MustParse("1\t2\n3\t4\n", tabs);
  EXPECT_TRUE(t.header.empty());
  EXPECT_EQ(t.columns, 2u);
  EXPECT_EQ(FieldsOf(t), (Fields{{"1", "2"}, {"3", "4"}}));
  EXPECT_EQ(t.rows[0], (Row{1, 1, {"1", "2"}}));
  // Without a header an empty text is no rows; with one it is an error.
  EXPECT_TRUE(MustParse("", tabs).rows.empty());
  EXPECT_EQ(ErrorOf(""), "CSV text is empty: no header line");
  EXPECT_EQ(ErrorOf("\r\n\r\n"), "CSV text is empty: no header line");
  // A header alone is a table without rows.
  Table h = MustParse("a,b\r\n");
  EXPECT_EQ(h.columns, 2u);
  EXPECT_TRUE(h.rows.empty());
}

TEST(CsvTest, ErrorsNameLineAndColumn) {
  EXPECT_EQ(ErrorOf("a,b\n1,2\n3,\"open\n4,5\n"),
            "CSV line 3, column 2 (b): quoted field not closed before the end");
  EXPECT_EQ(ErrorOf("a,b\n1,x\"y\n"),
            "CSV line 2, column 2 (b): a quote inside an unquoted field (quote the whole field "
            "and double the quotes inside it)");
  EXPECT_EQ(ErrorOf("a,b\n\"x\"y,2\n"),
            "CSV line 2, column 1 (a): text after the closing quote of a quoted field");
  EXPECT_EQ(ErrorOf("a,b\n1,2,3\n"),
            "CSV line 2, column 3: a record of 3 fields where the header has 2");
  EXPECT_EQ(ErrorOf("a,b,c\n1,2,3\n\"multi\nline\",2\n"),
            "CSV line 3, column 3 (c): a record of 2 fields where the header has 3");
  EXPECT_EQ(ErrorOf("1,2\n3\n", Dialect{',', '"', false}),
            "CSV line 2, column 2: a record of 1 fields where the first record has 2");
  EXPECT_EQ(ErrorOf(std::string_view("a,b\n1,\0\n", 8)), "CSV line 2, column 2 (b): NUL byte");
  EXPECT_EQ(ErrorOf(std::string_view("a,b\n1,\"x\n\0\"\n", 12)),
            "CSV line 3, column 2 (b): NUL byte");
  EXPECT_EQ(ErrorOf(std::string_view("a,b\n1,\"x\"\0\n", 11)),
            "CSV line 2, column 2 (b): NUL byte");
  EXPECT_EQ(ErrorOf("a,b\n", Dialect{',', ',', true}),
            "CSV dialect: the delimiter and the quote are the same character");
  EXPECT_EQ(ErrorOf("a,b\n", Dialect{'\n', '"', true}),
            "CSV dialect: CR, LF and NUL cannot be a delimiter or a quote");
}

TEST(CsvTest, Limits) {
  Limits l;
  l.max_field_bytes = 4;
  EXPECT_TRUE(ParseCsv("a\nabcd\n\"ab\"\"c\"\n", {}, l).ok());
  EXPECT_EQ(ErrorOf("a\nabcde\n", {}, l),
            "CSV line 2, column 1 (a): field longer than the limit of 4 bytes");
  EXPECT_EQ(ErrorOf("a\n\"abc\"\"d\"\n", {}, l),
            "CSV line 2, column 1 (a): field longer than the limit of 4 bytes");
  EXPECT_EQ(ErrorOf("a\n\"ab\ncde\"\n", {}, l),
            "CSV line 2, column 1 (a): field longer than the limit of 4 bytes");
  l = Limits{};
  l.max_columns = 3;
  EXPECT_TRUE(ParseCsv("a,b,c\n", {}, l).ok());
  EXPECT_EQ(ErrorOf("a,b,c,d\n", {}, l), "CSV line 1, column 4: more than the limit of 3 columns");
  l = Limits{};
  l.max_rows = 2;
  EXPECT_TRUE(ParseCsv("a\n1\n2\n", {}, l).ok());
  EXPECT_EQ(ErrorOf("a\n1\n2\n3\n", {}, l), "CSV line 4: more than the limit of 2 rows");
  l = Limits{};
  l.max_bytes = 5;
  EXPECT_EQ(ErrorOf("a,b\n1,2\n", {}, l), "CSV text of 8 bytes exceeds the limit of 5");
}

TEST(CsvTest, QuoteFieldRoundTrips) {
  const std::vector<std::string> values = {"plain", "a,b", "say \"hi\"", "two\r\nlines",
                                           "",      " x ", "\"",         "a\rb"};
  std::string text = "v,w\r\n";
  for (const std::string& v : values) text += QuoteField(v) + ",x\r\n";
  Table t = MustParse(text);
  ASSERT_EQ(t.rows.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(t.rows[i].fields[0], values[i]) << i;
  EXPECT_EQ(QuoteField("a;b", Dialect{';', '\'', true}), "'a;b'");
  EXPECT_EQ(QuoteField("it's", Dialect{';', '\'', true}), "'it''s'");
}

TEST(CsvTest, NeverReadsPastTheEnd) {
  // Every prefix of a tricky text either parses or fails cleanly (ASan
  // builds check the reads).
  const std::string text =
      "\xEF\xBB\xBF"
      "a,b,c\r\n\"x\"\"y\",\"\r\n\",z\r\n1,,\"\"\r\n";
  for (size_t n = 0; n <= text.size(); ++n) {
    std::string prefix = text.substr(0, n);  // its own allocation: an overrun is caught
    auto t = ParseCsv(prefix);
    if (!t.ok()) {
      EXPECT_EQ(t.status().code(), StatusCode::kIncorrect);
    }
  }
}

}  // namespace
}  // namespace lhcr::csv
