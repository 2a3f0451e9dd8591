#include "hl7v2/message.h"

#include <gtest/gtest.h>

namespace lhcr::hl7v2 {
namespace {

const char* kAdt =
    "MSH|^~\\&|PAS|RXX|LHCR|REGION|20240301093015+0100||ADT^A01^ADT_A01|C123|P|2.4\r"
    "EVN|A01|20240301093000\r"
    "PID|1||M1^^^RXX^MR~9434765919^^^NHS^NH||SMITH&van^JANE^^^MRS^^L~JONES^J^^^^^M||19700101|F|||"
    "1 HIGH ST^^LEEDS^^LS1 4AP^GB^H||\"\"|0113 496 0000\r"
    "ZXY|custom|segment\r"
    "PV1|1|I|WARD1^BAY2^BED3\r";

TEST(MessageTest, ParsesSegmentsFieldsRepetitionsComponents) {
  auto m = ParseMessage(kAdt);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->segment_count(), 5u);
  EXPECT_EQ(m->Event(), "ADT^A01");
  EXPECT_EQ(m->ControlId(), "C123");
  EXPECT_EQ(m->Version(), "2.4");
  EXPECT_EQ(m->ProcessingId(), "P");
  EXPECT_EQ(m->Get("MSH-1"), "|");
  EXPECT_EQ(m->Get("MSH-2"), "^~\\&");
  EXPECT_EQ(m->Get("PID-3"), "M1");
  EXPECT_EQ(m->Get("PID-3[2].1"), "9434765919");
  EXPECT_EQ(m->Get("PID-3[2].5"), "NH");
  EXPECT_EQ(m->Get("PID-5.1.2"), "van");
  EXPECT_EQ(m->Get("PID-5[2].1"), "JONES");
  EXPECT_EQ(m->Get("PID-5[3].1"), "");
  EXPECT_EQ(m->Get("ZXY-2"), "segment");  // Z-segments are kept
  EXPECT_EQ(m->Get("PV1-3.3"), "BED3");
  auto pid = m->Find("PID");
  ASSERT_TRUE(pid);
  EXPECT_EQ(pid->RepetitionCount(3), 2);
  EXPECT_EQ(pid->RepetitionCount(4), 0);
  EXPECT_EQ(pid->Raw(5), "SMITH&van^JANE^^^MRS^^L~JONES^J^^^^^M");
  EXPECT_EQ(pid->field_count(), 14);
}

TEST(MessageTest, EmptyAbsentAndExplicitNullFields) {
  auto m = ParseMessage(kAdt);
  ASSERT_TRUE(m.ok());
  auto pid = *m->Find("PID");
  EXPECT_TRUE(pid.IsNull(13));
  EXPECT_EQ(pid.Get(13), "");
  EXPECT_EQ(pid.Raw(13), "\"\"");
  EXPECT_FALSE(pid.IsNull(12));  // empty, not null
  EXPECT_FALSE(pid.IsNull(40));  // absent
  EXPECT_EQ(pid.Get(40), "");
}

TEST(MessageTest, DecodesEscapes) {
  auto m = ParseMessage(
      "MSH|^~\\&|A|B|C|D|20240101||ORU^R01|1|P|2.5\r"
      "OBX|1|FT|X||a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\.br\\g\\X414243\\h\\H\\bold\\N\\\\.sp 2\\i\\Q\\"
      "|unterminated \\F\r");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->Get("OBX-5"), "a|b^c&d~e\\f\ngABChbold\n\ni\\Q\\");
  EXPECT_EQ(m->Get("OBX-6"), "unterminated \\F");
  EXPECT_EQ(m->Decode("\\X4\\"), "\\X4\\");  // odd hex: kept as sent
}

TEST(MessageTest, CustomEncodingCharacters) {
  auto m = ParseMessage("MSH#$*!@#A#B#C#D#20240101##ADT$A08#9#P#2.3\nPID#1##X1$$$H$MR*X2##A@B$C");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->encoding(), (Encoding{'#', '$', '*', '!', '@'}));
  EXPECT_EQ(m->Event(), "ADT^A08");
  EXPECT_EQ(m->Get("PID-3[2]"), "X2");
  EXPECT_EQ(m->Get("PID-5.1.2"), "B");
  EXPECT_EQ(m->Get("PID-5.2"), "C");
}

TEST(MessageTest, BomLineFeedsAndFraming) {
  std::string text =
      "\xEF\xBB\xBFMSH|^~\\&|A|B|C|D|20240101||ADT^A04|7|P|2.3\r\nPID|1||X\n\nPV1|1|O\n";
  auto m = ParseMessage(text);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->segment_count(), 3u);
  EXPECT_EQ(m->Get("PV1-2"), "O");
  auto framed = ParseMessage("\x0bMSH|^~\\&|A|B|C|D|20240101||ADT^A04|7|P|2.3\rPID|1\r\x1c\r");
  ASSERT_TRUE(framed.ok()) << framed.status().ToString();
  EXPECT_EQ(framed->segment_count(), 2u);
  EXPECT_EQ(framed->ToEr7(), "MSH|^~\\&|A|B|C|D|20240101||ADT^A04|7|P|2.3\rPID|1\r");
}

TEST(MessageTest, SplitsStreams) {
  std::string text =
      "\xEF\xBB\xBF"
      "FHS|^~\\&\rBHS|^~\\&\r"
      "MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.4\rPID|1||X|MSH\r\n"
      "MSH|^~\\&|A|B|C|D|1||ADT^A01|2|P|2.4\nPID|1\n"
      "BTS|2\rFTS|1\r";
  auto pieces = SplitMessages(text);
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_EQ(ParseMessage(pieces[0])->ControlId(), "1");
  EXPECT_EQ(ParseMessage(pieces[1])->ControlId(), "2");
  EXPECT_EQ(SplitMessages("garbage\rMSH|^~\\&|x").size(), 2u);
  EXPECT_TRUE(SplitMessages("\r\n \r").empty());
}

TEST(MessageTest, RejectsWithClearErrors) {
  EXPECT_EQ(ParseMessage("").status().message(), "empty message: no MSH segment");
  EXPECT_EQ(ParseMessage("PID|1||X\r").status().message(),
            "the message does not start with an MSH segment");
  EXPECT_EQ(ParseMessage("MSHA^~\\&|x|y").status().message(),
            "MSH-1: field separator 'A' is not allowed");
  EXPECT_EQ(ParseMessage("MSH|^^\\&|A|B").status().message(),
            "MSH-2: encoding character '^' is a letter, digit, space, control character or "
            "repeats another delimiter");
  // Control characters are no delimiters (an ACK written with them would not
  // parse again; found by hl7v2_fuzz).
  EXPECT_FALSE(ParseMessage(std::string("MSH#\0#9#P23#X", 14)).ok());
  EXPECT_FALSE(ParseMessage(std::string("MSH\x01^~\\&\x01A\x01B")).ok());
  auto bad = ParseMessage("MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.4\rP@D|1\r");
  EXPECT_EQ(bad.status().code(), StatusCode::kIncorrect);
  EXPECT_EQ(bad.status().message(),
            "segment 2: 'P@D' is not a segment name (three letters or digits)");
  EXPECT_EQ(bad.status().details().front().code, "100");
  // Truncated in the middle of MSH: still a message; what is missing is absent.
  auto truncated = ParseMessage("MSH|^~\\&|A|B|C|D|2024");
  ASSERT_TRUE(truncated.ok());
  EXPECT_EQ(truncated->ControlId(), "");
}

TEST(MessageTest, Limits) {
  ParseOptions small;
  small.max_bytes = 100;
  std::string big = "MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.4\r" + std::string(200, 'x');
  EXPECT_EQ(ParseMessage(big, small).status().message(),
            "message of 236 bytes exceeds the 100-byte limit");
  ParseOptions few;
  few.max_segments = 2;
  EXPECT_EQ(ParseMessage("MSH|^~\\&|A\rPID|1\rPV1|1\r", few).status().message(),
            "more than 2 segments (limit)");
  few.max_fields = 3;
  few.max_segments = 10;
  EXPECT_EQ(ParseMessage("MSH|^~\\&|A\rPID|1|2|3|4|5\r", few).status().message(),
            "segment 2 (PID): more than 3 fields (limit)");
  // A large but legal message (100k repetitions) parses and is read lazily.
  std::string reps = "MSH|^~\\&|A|B|C|D|1||ORU^R01|1|P|2.5\rOBX|1|ST|X||";
  for (int i = 0; i < 100000; ++i) reps += "v~";
  auto m = ParseMessage(reps);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->Find("OBX")->RepetitionCount(5), 100001);
}

TEST(MessageTest, Paths) {
  auto p = ParsePath("PID[2]-3[4].5.6");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->segment, "PID");
  EXPECT_EQ(p->occurrence, 2);
  EXPECT_EQ(p->field, 3);
  EXPECT_EQ(p->repetition, 4);
  EXPECT_EQ(p->component, 5);
  EXPECT_EQ(p->subcomponent, 6);
  EXPECT_FALSE(ParsePath("PID-").ok());
  EXPECT_FALSE(ParsePath("PID-3[0]").ok());
  EXPECT_FALSE(ParsePath("P-3").ok());
  EXPECT_FALSE(ParsePath("PID-3.x").ok());
}

TEST(MessageTest, TimesToFhir) {
  auto t = ParseTs("20240301093015.25+0100");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->value, "2024-03-01T09:30:15.25+01:00");
  EXPECT_EQ(t->precision, FhirTime::Precision::kFraction);
  EXPECT_EQ(t->epoch_millis, 1709281815250);
  EXPECT_EQ(ParseTs("202403010930")->value, "2024-03-01T09:30:00Z");
  EXPECT_EQ(ParseTs("2024030109", "+01:00")->value, "2024-03-01T09:00:00+01:00");
  EXPECT_EQ(ParseTs("2024030109", "+01:00")->precision, FhirTime::Precision::kHour);
  EXPECT_EQ(ParseTs("20240301")->value, "2024-03-01");
  EXPECT_EQ(ParseTs("202403")->value, "2024-03");
  EXPECT_EQ(ParseTs("2024")->value, "2024");
  EXPECT_EQ(ParseTs("198908181126+0215")->value, "1989-08-18T11:26:00+02:15");
  EXPECT_FALSE(ParseTs("20230229").ok());  // not a leap year
  EXPECT_TRUE(ParseTs("20240229").ok());
  EXPECT_FALSE(ParseTs("20241301").ok());
  EXPECT_FALSE(ParseTs("2024010125").ok());
  EXPECT_FALSE(ParseTs("202401011").ok());
  EXPECT_FALSE(ParseTs("20240101+01").ok());
  EXPECT_FALSE(ParseTs("abc").ok());
  EXPECT_EQ(ParseTs("20230229").status().message(),
            "'20230229' is not an HL7 date/time: no such day in that month");
  EXPECT_EQ(*ParseDate("19850101000000+0700"), "1985-01-01");
}

TEST(MessageTest, EscapeRoundTrips) {
  Encoding e;
  std::string text = "a|b^c&d~e\\f\ng";
  std::string enc = Escape(text, e);
  EXPECT_EQ(enc, "a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\.br\\g");
  auto m = ParseMessage("MSH|^~\\&|A\rNTE|1||" + enc + "\r");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->Get("NTE-3"), text);
}

// Found by hl7v2_fuzz: a later line "<VT>MSH" with nothing after the name
// made MSH-1 point past the end of the text.
TEST(MessageTest, ShortMshSegmentIsAnErrorNotAnOverread) {
  auto m = ParseMessage("MSH|^~\\&|A|B\r\x0bMSH");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kIncorrect);
  EXPECT_NE(m.status().message().find("MSH without its field separator"), std::string::npos)
      << m.status().message();
}

}  // namespace
}  // namespace lhcr::hl7v2
