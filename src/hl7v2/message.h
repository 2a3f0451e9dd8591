// HL7 v2 messages in ER7 (pipe-and-hat) encoding: a parsed value and the
// parser. This is the door of the hl7v2 room; ack.h builds acknowledgements
// and to_fhir.h maps messages to FHIR R4.
//
// The model follows HL7 v2.5.1 chapter 2 (2.5 "Message construction rules"):
// a message is segments; a segment is fields separated by MSH-1; a field is
// repetitions (MSH-2[2], "~"); a repetition is components (MSH-2[1], "^");
// a component is subcomponents (MSH-2[4], "&"); MSH-2[3] ("\") starts escape
// sequences. Any segment name is kept (Z-segments and segments this code
// does not know included): a receiver must tolerate them (2.5.1 2.10.2).
// Versions 2.3 to 2.5.1 are the target; later versions parse the same way.
//
// Values are decoded on access: Get() resolves \F\ \S\ \T\ \R\ \E\, the hex
// escape \Xhh..\ (bytes), \.br\ and \.sp\ (line breaks) and drops formatting and character
// set escapes (\H\ \N\ \.in..\ \Cxxyy\ \Mxxyyzz\ \Zxx\). Raw() returns the
// encoded text. A field sent as "" (two double quotes) is an explicit null
// ("delete this value", 2.5.1 2.5.3): Get() returns "" for it and IsNull()
// tells it apart from an absent field.
//
// A Message is an immutable value: cheap to move, safe to copy and to read
// from several threads at once. Parsing never asserts or throws on input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace lhcr::hl7v2 {

// The delimiters of a message, from MSH-1 and MSH-2.
struct Encoding {
  char field = '|';
  char component = '^';
  char repetition = '~';
  char escape = '\\';  // '\0' when the message declares none
  char subcomponent = '&';
  bool operator==(const Encoding&) const = default;
};

// Limits that keep hostile input from exhausting memory. Exceeding one is
// kIncorrect naming the limit.
struct ParseOptions {
  size_t max_bytes = 16 << 20;
  size_t max_segments = 100000;
  size_t max_fields = 1000;  // per segment
};

// Where a value sits: "PID-3[2].1.2" is segment PID (first occurrence),
// field 3, repetition 2, component 1, subcomponent 2. Parts not given are 1
// (repetition, component, subcomponent); "PID[2]-3" names the second PID.
struct Path {
  std::string segment;
  int occurrence = 1;
  int field = 0;
  int repetition = 1;
  int component = 1;
  int subcomponent = 1;
};
// Parses a path; kIncorrect when malformed.
Result<Path> ParsePath(std::string_view text);

class Message;

// One segment of a Message: a view that borrows the message (valid while the
// Message lives and is not moved from). Field numbers follow HL7: for MSH,
// field 1 is the field separator and field 2 the encoding characters.
class Segment {
 public:
  std::string_view name() const;
  // The highest field number present (0 for a bare segment name).
  int field_count() const;
  // The encoded text of a whole field (all repetitions); "" when absent.
  std::string_view Raw(int field) const;
  // Number of repetitions of a field (0 when absent or empty).
  int RepetitionCount(int field) const;
  // The encoded text of one repetition / component / subcomponent; "" when
  // absent. Numbers are 1-based; component or subcomponent 0 means "all".
  std::string_view RawAt(int field, int repetition = 1, int component = 0,
                         int subcomponent = 0) const;
  // As RawAt, decoded (escape sequences resolved); "" for an explicit null.
  std::string Get(int field, int repetition = 1, int component = 1, int subcomponent = 1) const;
  // True when the field (first repetition) is the explicit null "".
  bool IsNull(int field) const;

 private:
  friend class Message;
  Segment(const Message* m, size_t index) : m_(m), index_(index) {}
  const Message* m_;
  size_t index_;
};

class Message {
 public:
  Message() = default;

  const Encoding& encoding() const { return encoding_; }
  size_t segment_count() const { return segments_.size(); }
  Segment segment(size_t i) const { return Segment(this, i); }
  // The n-th (1-based) segment named `name`, if present.
  std::optional<Segment> Find(std::string_view name, int occurrence = 1) const;
  // Every segment named `name`, in order.
  std::vector<Segment> FindAll(std::string_view name) const;

  // Decoded value at a path ("PID-3[2].1"); "" when absent, null or the path
  // is malformed.
  std::string Get(std::string_view path) const;
  // Encoded text at a path (component 0 = the whole repetition is not
  // expressible here; use Segment::RawAt).
  std::string_view Raw(std::string_view path) const;

  // Common header fields (decoded).
  std::string MessageType() const;   // MSH-9.1, "ADT"
  std::string TriggerEvent() const;  // MSH-9.2, "A01"
  std::string Event() const;         // "ADT^A01"
  std::string ControlId() const;     // MSH-10
  std::string Version() const;       // MSH-12.1, "2.4"
  std::string ProcessingId() const;  // MSH-11.1, "P"

  // Decodes escape sequences in `raw` under this message's encoding.
  std::string Decode(std::string_view raw) const;
  // The whole message re-encoded with "\r" after every segment.
  std::string ToEr7() const;

 private:
  friend class Segment;
  friend Result<Message> ParseMessage(std::string_view er7, const ParseOptions& options);
  struct Span {
    uint32_t begin = 0;
    uint32_t size = 0;
  };
  struct SegmentData {
    Span name;
    std::vector<Span> fields;  // fields[0] is the name; for MSH [1] is MSH-1
  };
  std::string_view View(Span s) const { return std::string_view(text_).substr(s.begin, s.size); }

  Encoding encoding_;
  std::string text_;  // the segments, as received (BOM and framing removed)
  std::vector<SegmentData> segments_;
};

// Parses one message. The first segment must be MSH (after an optional UTF-8
// byte-order mark, MLLP framing bytes and blank lines); segments end with
// "\r", "\n" or "\r\n". kIncorrect with a message naming the segment and
// field on failure (no MSH, bad encoding characters, a bad segment name, a
// limit exceeded). Later messages in the same text are not split off: use
// SplitMessages for streams and files.
Result<Message> ParseMessage(std::string_view er7, const ParseOptions& options = {});

// Splits a file or stream holding several messages (batch envelopes FHS/BHS/
// BTS/FTS dropped, a byte-order mark and MLLP framing bytes skipped) into the
// text of each message, in order. Each piece starts at an "MSH" segment.
// Text before the first MSH (other than blank lines) becomes a piece of its
// own, so that the caller can reject it rather than lose it silently.
std::vector<std::string_view> SplitMessages(std::string_view stream);

// Encodes text for a field under `e`: delimiters become \F\ \S\ \T\ \R\ \E\,
// line breaks \.br\ (other control characters are dropped).
std::string Escape(std::string_view text, const Encoding& e);

// An HL7 TS/DTM value as a FHIR date or dateTime.
struct FhirTime {
  std::string value;  // "2024-03-01", "2024-03-01T10:20:00+01:00"
  enum class Precision { kYear, kMonth, kDay, kHour, kMinute, kSecond, kFraction };
  Precision precision = Precision::kDay;
  bool has_offset = false;   // the TS carried its own offset
  int64_t epoch_millis = 0;  // the instant (offset applied; 00:00 of the first day when partial)
};
// Parses YYYY[MM[DD[HH[MM[SS[.S{1,4}]]]]]][+/-ZZZZ] (HL7 2.5.1 2A.3.22 DTM).
// A time without an offset takes `default_offset` ("+01:00", "Z"); FHIR
// requires an offset whenever a time is given, and seconds are padded with
// ":00" (precision keeps what was sent). kIncorrect for impossible dates and
// malformed text.
Result<FhirTime> ParseTs(std::string_view ts, std::string_view default_offset = "Z");
// A date only (PID-7 birth date): "1985", "1985-01", "1985-01-01".
Result<std::string> ParseDate(std::string_view ts);

}  // namespace lhcr::hl7v2
