#include "hl7v2/message.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace lhcr::hl7v2 {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

bool IsBlankChar(char c) {
  return c == ' ' || c == '\t' || c == '\x0b' || c == '\x1c' || c == '\r' || c == '\n';
}

bool IsBlank(std::string_view s) { return std::all_of(s.begin(), s.end(), IsBlankChar); }

bool IsAlnum(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The n-th (1-based) piece of `s` split at `d`; "" when absent. A delimiter
// of '\0' means "not declared": the whole text is piece 1.
std::string_view Nth(std::string_view s, char d, int n) {
  if (n < 1) return {};
  if (d == '\0') return n == 1 ? s : std::string_view();
  size_t begin = 0;
  for (int i = 1; i < n; ++i) {
    size_t p = s.find(d, begin);
    if (p == std::string_view::npos) return {};
    begin = p + 1;
  }
  size_t end = s.find(d, begin);
  return s.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
}

int CountPieces(std::string_view s, char d) {
  if (s.empty()) return 0;
  if (d == '\0') return 1;
  return 1 + static_cast<int>(std::count(s.begin(), s.end(), d));
}

std::string_view StripFraming(std::string_view s) {
  if (s.substr(0, kBom.size()) == kBom) s.remove_prefix(kBom.size());
  while (!s.empty() && IsBlankChar(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlankChar(s.back())) s.remove_suffix(1);
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int ParseInt(std::string_view s, bool* ok) {
  int v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  *ok = r.ec == std::errc() && r.ptr == s.data() + s.size();
  return v;
}

// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

int DaysInMonth(int y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

std::string Two(int v) {
  std::string s(2, '0');
  s[0] = static_cast<char>('0' + v / 10 % 10);
  s[1] = static_cast<char>('0' + v % 10);
  return s;
}

}  // namespace

// ---------------------------------------------------------------- paths

Result<Path> ParsePath(std::string_view text) {
  Path p;
  auto bad = [&](std::string_view why) {
    return Status::Incorrect("bad HL7 v2 path '" + std::string(text) + "': " + std::string(why));
  };
  size_t i = 0;
  while (i < text.size() && IsAlnum(text[i])) ++i;
  if (i < 2 || i > 3) return bad("a segment name has three letters or digits");
  p.segment = std::string(text.substr(0, i));
  auto number = [&](int* out) -> bool {
    size_t start = i;
    while (i < text.size() && IsDigit(text[i])) ++i;
    if (i == start || i - start > 6) return false;
    bool ok = false;
    *out = ParseInt(text.substr(start, i - start), &ok);
    return ok;
  };
  if (i < text.size() && text[i] == '[') {
    ++i;
    if (!number(&p.occurrence) || i >= text.size() || text[i] != ']') return bad("bad [n]");
    ++i;
  }
  if (i == text.size()) return p;
  if (text[i] != '-') return bad("expected '-' before the field number");
  ++i;
  if (!number(&p.field)) return bad("expected a field number");
  if (i < text.size() && text[i] == '[') {
    ++i;
    if (!number(&p.repetition) || i >= text.size() || text[i] != ']') return bad("bad [n]");
    ++i;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (!number(&p.component)) return bad("expected a component number");
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (!number(&p.subcomponent)) return bad("expected a subcomponent number");
  }
  if (i != text.size()) return bad("trailing text");
  if (p.occurrence < 1 || p.repetition < 1 || p.component < 1 || p.subcomponent < 1) {
    return bad("numbers start at 1");
  }
  return p;
}

// ---------------------------------------------------------------- Segment

std::string_view Segment::name() const { return m_->View(m_->segments_[index_].name); }

int Segment::field_count() const {
  return static_cast<int>(m_->segments_[index_].fields.size()) - 1;
}

std::string_view Segment::Raw(int field) const {
  const auto& f = m_->segments_[index_].fields;
  if (field < 1 || static_cast<size_t>(field) >= f.size()) return {};
  return m_->View(f[static_cast<size_t>(field)]);
}

int Segment::RepetitionCount(int field) const {
  std::string_view raw = Raw(field);
  if (name() == "MSH" && field <= 2) return raw.empty() ? 0 : 1;
  return CountPieces(raw, m_->encoding_.repetition);
}

std::string_view Segment::RawAt(int field, int repetition, int component, int subcomponent) const {
  std::string_view raw = Raw(field);
  const Encoding& e = m_->encoding_;
  if (name() == "MSH" && field <= 2) {  // the delimiters themselves
    return repetition == 1 && component <= 1 && subcomponent <= 1 ? raw : std::string_view();
  }
  std::string_view rep = Nth(raw, e.repetition, repetition);
  if (component == 0) return rep;
  std::string_view comp = Nth(rep, e.component, component);
  if (subcomponent == 0) return comp;
  return Nth(comp, e.subcomponent, subcomponent);
}

std::string Segment::Get(int field, int repetition, int component, int subcomponent) const {
  return m_->Decode(RawAt(field, repetition, component, subcomponent));
}

bool Segment::IsNull(int field) const { return RawAt(field, 1, 0, 0) == "\"\""; }

// ---------------------------------------------------------------- Message

std::optional<Segment> Message::Find(std::string_view name, int occurrence) const {
  int seen = 0;
  for (size_t i = 0; i < segments_.size(); ++i) {
    if (View(segments_[i].name) == name && ++seen == occurrence) return Segment(this, i);
  }
  return std::nullopt;
}

std::vector<Segment> Message::FindAll(std::string_view name) const {
  std::vector<Segment> out;
  for (size_t i = 0; i < segments_.size(); ++i) {
    if (View(segments_[i].name) == name) out.push_back(Segment(this, i));
  }
  return out;
}

std::string Message::Get(std::string_view path) const {
  auto p = ParsePath(path);
  if (!p.ok()) return {};
  auto seg = Find(p->segment, p->occurrence);
  if (!seg || p->field == 0) return {};
  return seg->Get(p->field, p->repetition, p->component, p->subcomponent);
}

std::string_view Message::Raw(std::string_view path) const {
  auto p = ParsePath(path);
  if (!p.ok()) return {};
  auto seg = Find(p->segment, p->occurrence);
  if (!seg || p->field == 0) return {};
  return seg->RawAt(p->field, p->repetition, p->component, p->subcomponent);
}

std::string Message::MessageType() const { return Get("MSH-9.1"); }
std::string Message::TriggerEvent() const { return Get("MSH-9.2"); }
std::string Message::Event() const {
  std::string t = TriggerEvent();
  return t.empty() ? MessageType() : MessageType() + "^" + t;
}
std::string Message::ControlId() const { return Get("MSH-10"); }
std::string Message::Version() const { return Get("MSH-12.1"); }
std::string Message::ProcessingId() const { return Get("MSH-11.1"); }

std::string Message::Decode(std::string_view raw) const {
  if (raw == "\"\"") return {};
  const char esc = encoding_.escape;
  if (esc == '\0' || raw.find(esc) == std::string_view::npos) return std::string(raw);
  std::string out;
  out.reserve(raw.size());
  size_t i = 0;
  while (i < raw.size()) {
    char c = raw[i];
    if (c != esc) {
      out.push_back(c);
      ++i;
      continue;
    }
    size_t close = raw.find(esc, i + 1);
    if (close == std::string_view::npos) {  // unterminated: keep as sent
      out.append(raw.substr(i));
      break;
    }
    std::string_view seq = raw.substr(i + 1, close - i - 1);
    i = close + 1;
    if (seq == "F") {
      out.push_back(encoding_.field);
    } else if (seq == "S") {
      out.push_back(encoding_.component);
    } else if (seq == "T") {
      out.push_back(encoding_.subcomponent);
    } else if (seq == "R") {
      out.push_back(encoding_.repetition);
    } else if (seq == "E") {
      out.push_back(esc);
    } else if (seq == ".br") {
      out.push_back('\n');
    } else if (seq.substr(0, 3) == ".sp") {
      bool ok = false;
      std::string_view n = seq.substr(3);
      while (!n.empty() && n.front() == ' ') n.remove_prefix(1);
      int count = n.empty() ? 1 : ParseInt(n, &ok);
      if (!n.empty() && !ok) count = 1;
      out.append(static_cast<size_t>(std::clamp(count, 1, 100)), '\n');
    } else if (!seq.empty() && seq[0] == 'X' && seq.size() % 2 == 1) {
      bool hex = true;
      for (size_t k = 1; k < seq.size(); ++k) hex = hex && HexValue(seq[k]) >= 0;
      if (!hex) {
        out.push_back(esc);
        out.append(seq);
        out.push_back(esc);
        continue;
      }
      for (size_t k = 1; k + 1 < seq.size(); k += 2) {
        out.push_back(static_cast<char>(HexValue(seq[k]) * 16 + HexValue(seq[k + 1])));
      }
    } else if (seq == "H" || seq == "N" || seq.substr(0, 3) == ".in" || seq.substr(0, 3) == ".ti" ||
               seq.substr(0, 3) == ".sk" || seq == ".ce" || seq == ".fi" || seq == ".nf" ||
               (!seq.empty() && (seq[0] == 'C' || seq[0] == 'M' || seq[0] == 'Z'))) {
      // Formatting and character-set switches carry no text.
    } else {  // unknown: keep as sent
      out.push_back(esc);
      out.append(seq);
      out.push_back(esc);
    }
  }
  return out;
}

std::string Message::ToEr7() const {
  std::string out;
  out.reserve(text_.size() + 1);
  for (const SegmentData& s : segments_) {
    const Span& last = s.fields.back();
    out.append(text_, s.name.begin, last.begin + last.size - s.name.begin);
    out.push_back('\r');
  }
  return out;
}

// ---------------------------------------------------------------- parsing

Result<Message> ParseMessage(std::string_view er7, const ParseOptions& options) {
  if (er7.size() > options.max_bytes) {
    return Status::Incorrect("message of " + std::to_string(er7.size()) + " bytes exceeds the " +
                             std::to_string(options.max_bytes) + "-byte limit");
  }
  std::string_view text = StripFraming(er7);
  if (text.empty()) return Status::Incorrect("empty message: no MSH segment");
  if (text.size() < 8 || text.substr(0, 3) != "MSH") {
    return Status::Incorrect("the message does not start with an MSH segment");
  }
  const char fs = text[3];
  auto is_control = [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) == 0x7f;
  };
  if (IsAlnum(fs) || IsBlankChar(fs) || is_control(fs)) {
    return Status::Incorrect("MSH-1: field separator '" + std::string(1, fs) + "' is not allowed");
  }
  Message m;
  m.encoding_.field = fs;
  size_t enc_end = text.find_first_of(std::string{fs, '\r', '\n'}, 4);
  std::string_view enc =
      text.substr(4, enc_end == std::string_view::npos ? text.size() - 4 : enc_end - 4);
  if (enc.empty() || enc.size() > 5) {
    return Status::Incorrect("MSH-2: encoding characters '" + std::string(enc) +
                             "' must be 1 to 5 characters (component, repetition, escape, "
                             "subcomponent[, truncation])");
  }
  char* slots[] = {&m.encoding_.component, &m.encoding_.repetition, &m.encoding_.escape,
                   &m.encoding_.subcomponent};
  for (char* s : slots) *s = '\0';
  std::string seen(1, fs);
  for (size_t k = 0; k < enc.size() && k < 4; ++k) {
    char c = enc[k];
    if (IsAlnum(c) || c == ' ' || is_control(c) || seen.find(c) != std::string::npos) {
      return Status::Incorrect("MSH-2: encoding character '" + std::string(1, c) +
                               "' is a letter, digit, space, control character or repeats "
                               "another delimiter");
    }
    seen.push_back(c);
    *slots[k] = c;
  }
  m.text_.assign(text);
  std::string_view all(m.text_);
  size_t pos = 0;
  while (pos < all.size()) {
    size_t end = all.find_first_of("\r\n", pos);
    if (end == std::string_view::npos) end = all.size();
    std::string_view line = all.substr(pos, end - pos);
    size_t line_begin = pos;
    pos = end + 1;
    if (IsBlank(line)) continue;
    // Framing bytes at the start of a line (a stray <VT>) are not data.
    while (!line.empty() && (line.front() == '\x0b' || line.front() == '\x1c')) {
      line.remove_prefix(1);
      ++line_begin;
    }
    while (!line.empty() && (line.back() == '\x1c' || line.back() == ' ' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    if (m.segments_.size() >= options.max_segments) {
      return Status::Incorrect("more than " + std::to_string(options.max_segments) +
                               " segments (limit)");
    }
    const size_t seg_no = m.segments_.size() + 1;
    size_t name_len = std::min(line.find(fs), line.size());
    std::string_view name = line.substr(0, name_len);
    if (name.size() != 3 || !std::all_of(name.begin(), name.end(), IsAlnum)) {
      std::string shown(name.substr(0, 20));
      return Status::Incorrect("segment " + std::to_string(seg_no) + ": '" + shown +
                               "' is not a segment name (three letters or digits)")
          .WithDetails({{"100", "segment " + std::to_string(seg_no), "bad segment name"}});
    }
    if (seg_no == 1 && name != "MSH") {
      return Status::Incorrect("the message does not start with an MSH segment");
    }
    auto span = [&](size_t b, size_t n) {
      return Message::Span{static_cast<uint32_t>(line_begin + b), static_cast<uint32_t>(n)};
    };
    Message::SegmentData seg;
    seg.name = span(0, 3);
    seg.fields.push_back(seg.name);
    size_t f = 3;  // at the separator after the name, or the end
    if (name == "MSH") {
      if (line.size() < 4) {  // e.g. "<VT>MSH" on a line of its own
        return Status::Incorrect("segment " + std::to_string(seg_no) +
                                 ": MSH without its field separator")
            .WithDetails({{"100", "segment " + std::to_string(seg_no), "MSH too short"}});
      }
      seg.fields.push_back(span(3, 1));  // MSH-1 is the separator itself
      f = 4;
      size_t e = line.find(fs, f);
      size_t n = (e == std::string_view::npos ? line.size() : e) - f;
      seg.fields.push_back(span(f, n));
      f += n;
    }
    while (f < line.size()) {  // line[f] == fs
      size_t b = f + 1;
      size_t e = line.find(fs, b);
      if (e == std::string_view::npos) e = line.size();
      if (seg.fields.size() > options.max_fields) {
        return Status::Incorrect("segment " + std::to_string(seg_no) + " (" + std::string(name) +
                                 "): more than " + std::to_string(options.max_fields) +
                                 " fields (limit)");
      }
      seg.fields.push_back(span(b, e - b));
      f = e;
    }
    m.segments_.push_back(std::move(seg));
  }
  if (m.segments_.empty()) return Status::Incorrect("no MSH segment");
  return m;
}

std::vector<std::string_view> SplitMessages(std::string_view stream) {
  std::vector<std::string_view> out;
  if (stream.substr(0, kBom.size()) == kBom) stream.remove_prefix(kBom.size());
  size_t piece_begin = std::string_view::npos;
  size_t piece_end = 0;
  auto flush = [&] {
    if (piece_begin != std::string_view::npos) {
      out.push_back(stream.substr(piece_begin, piece_end - piece_begin));
    }
    piece_begin = std::string_view::npos;
  };
  size_t pos = 0;
  while (pos < stream.size()) {
    size_t end = stream.find_first_of("\r\n", pos);
    if (end == std::string_view::npos) end = stream.size();
    std::string_view line = stream.substr(pos, end - pos);
    size_t begin = pos;
    pos = end + 1;
    if (IsBlank(line)) continue;
    while (!line.empty() && (line.front() == '\x0b' || line.front() == '\x1c' ||
                             line.substr(0, kBom.size()) == kBom)) {
      size_t skip = line.front() == '\xEF' ? kBom.size() : 1;
      line.remove_prefix(skip);
      begin += skip;
    }
    std::string_view name = line.substr(0, 3);
    bool has_sep = line.size() > 3 && !IsAlnum(line[3]);
    if (has_sep && (name == "FHS" || name == "BHS" || name == "BTS" || name == "FTS")) {
      flush();
      continue;
    }
    if (has_sep && name == "MSH") {
      flush();
      piece_begin = begin;
    } else if (piece_begin == std::string_view::npos) {
      piece_begin = begin;
    }
    piece_end = end;
  }
  flush();
  return out;
}

std::string Escape(std::string_view text, const Encoding& e) {
  std::string out;
  out.reserve(text.size());
  const char esc = e.escape == '\0' ? '\\' : e.escape;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    const char* code = nullptr;
    if (c == e.field)
      code = "F";
    else if (c == e.component)
      code = "S";
    else if (c == e.subcomponent && c != '\0')
      code = "T";
    else if (c == e.repetition && c != '\0')
      code = "R";
    else if (c == esc)
      code = "E";
    else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      code = ".br";
    } else if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
      continue;
    }
    if (code) {
      out.push_back(esc);
      out.append(code);
      out.push_back(esc);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// ---------------------------------------------------------------- times

Result<FhirTime> ParseTs(std::string_view ts, std::string_view default_offset) {
  std::string_view s = ts;
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  auto bad = [&](std::string_view why) {
    return Status::Incorrect("'" + std::string(ts.substr(0, 40)) +
                             "' is not an HL7 date/time: " + std::string(why));
  };
  size_t digits = 0;
  while (digits < s.size() && IsDigit(s[digits])) ++digits;
  if (digits < 4 || digits > 14 || digits % 2 != 0) return bad("expected YYYY[MM[DD[HH[MM[SS]]]]]");
  auto num = [&](size_t at) { return (s[at] - '0') * 10 + (s[at + 1] - '0'); };
  int year = num(0) * 100 + num(2);
  int month = digits >= 6 ? num(4) : 1;
  int day = digits >= 8 ? num(6) : 1;
  int hour = digits >= 10 ? num(8) : 0;
  int minute = digits >= 12 ? num(10) : 0;
  int second = digits >= 14 ? num(12) : 0;
  if (month < 1 || month > 12) return bad("month out of range");
  if (day < 1 || day > DaysInMonth(year, month)) return bad("no such day in that month");
  if (hour > 23 || minute > 59 || second > 59) return bad("time out of range");
  size_t i = digits;
  std::string fraction;
  if (i < s.size() && s[i] == '.') {
    if (digits != 14) return bad("fractional seconds need seconds");
    ++i;
    size_t b = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == b || i - b > 4) return bad("1 to 4 digits of fractional seconds");
    fraction = std::string(s.substr(b, i - b));
  }
  std::string offset;
  int offset_minutes = 0;
  bool has_offset = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    if (s.size() - i != 5 || !std::all_of(s.begin() + static_cast<long>(i) + 1, s.end(), IsDigit)) {
      return bad("offset is +/-HHMM");
    }
    int oh = num(i + 1);
    int om = num(i + 3);
    if (oh > 14 || om > 59 || (oh == 14 && om != 0)) return bad("offset out of range");
    offset = std::string(1, s[i]) + Two(oh) + ":" + Two(om);
    offset_minutes = (s[i] == '-' ? -1 : 1) * (oh * 60 + om);
    has_offset = true;
    i = s.size();
  }
  if (i != s.size()) return bad("unexpected text after the date/time");

  FhirTime t;
  t.has_offset = has_offset;
  t.precision = digits == 4        ? FhirTime::Precision::kYear
                : digits == 6      ? FhirTime::Precision::kMonth
                : digits == 8      ? FhirTime::Precision::kDay
                : digits == 10     ? FhirTime::Precision::kHour
                : digits == 12     ? FhirTime::Precision::kMinute
                : fraction.empty() ? FhirTime::Precision::kSecond
                                   : FhirTime::Precision::kFraction;
  std::string v = Two(year / 100) + Two(year % 100);
  if (digits >= 6) v += "-" + Two(month);
  if (digits >= 8) v += "-" + Two(day);
  if (digits >= 10) {
    if (!has_offset) {
      std::string_view d = default_offset;
      if (d == "Z" || d.empty()) {
        offset = "Z";
      } else if (d.size() == 6 && (d[0] == '+' || d[0] == '-') && d[3] == ':') {
        offset = std::string(d);
        offset_minutes = (d[0] == '-' ? -1 : 1) * ((d[1] - '0') * 600 + (d[2] - '0') * 60 +
                                                   (d[4] - '0') * 10 + (d[5] - '0'));
      } else {
        offset = "Z";
      }
    }
    v += "T" + Two(hour) + ":" + Two(minute) + ":" + Two(second);
    if (!fraction.empty()) v += "." + fraction;
    v += offset == "+00:00" && !has_offset ? "Z" : offset;
  }
  t.value = std::move(v);
  int64_t frac_ms = 0;
  if (!fraction.empty()) {
    std::string f3 = (fraction + "000").substr(0, 3);
    frac_ms = (f3[0] - '0') * 100 + (f3[1] - '0') * 10 + (f3[2] - '0');
  }
  int64_t days = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  t.epoch_millis =
      ((days * 24 + hour) * 60 + minute - (digits >= 10 ? offset_minutes : 0)) * 60000LL +
      second * 1000LL + frac_ms;
  return t;
}

Result<std::string> ParseDate(std::string_view ts) {
  ASSIGN_OR_RETURN(FhirTime t, ParseTs(ts));
  return t.value.substr(0, std::min<size_t>(t.value.size(), 10));
}

}  // namespace lhcr::hl7v2
