#include "hl7v2/ack.h"

#include <cstdio>

namespace lhcr::hl7v2 {
namespace {

std::string_view Hl7ErrorText(std::string_view code) {
  if (code == "0") return "Message accepted";
  if (code == "100") return "Segment sequence error";
  if (code == "101") return "Required field missing";
  if (code == "102") return "Data type error";
  if (code == "103") return "Table value not found";
  if (code == "200") return "Unsupported message type";
  if (code == "201") return "Unsupported event code";
  if (code == "202") return "Unsupported processing id";
  if (code == "203") return "Unsupported version id";
  if (code == "204") return "Unknown key identifier";
  if (code == "205") return "Duplicate key identifier";
  if (code == "206") return "Application record locked";
  return "Application internal error";
}

bool IsTable0357(std::string_view c) {
  return c == "0" || c == "100" || c == "101" || c == "102" || c == "103" || c == "200" ||
         c == "201" || c == "202" || c == "203" || c == "204" || c == "205" || c == "206" ||
         c == "207";
}

// "PID-3[2].1" -> ERL "PID^1^3^2^1" (segment, sequence, field, repetition,
// component, subcomponent), encoded with `e`.
std::string ErrorLocation(std::string_view location, const Encoding& e) {
  auto p = ParsePath(location);
  if (!p.ok()) return {};
  std::string c(1, e.component);
  std::string out = p->segment + c + std::to_string(p->occurrence);
  if (p->field > 0) {
    out += c + std::to_string(p->field) + c + std::to_string(p->repetition);
    if (location.find('.') != std::string_view::npos) {
      out += c + std::to_string(p->component) + c + std::to_string(p->subcomponent);
    }
  }
  return out;
}

bool BeforeV25(std::string_view version) {
  return version.rfind("2.1", 0) == 0 || version.rfind("2.2", 0) == 0 ||
         version.rfind("2.3", 0) == 0 || version.rfind("2.4", 0) == 0;
}

struct Header {
  Encoding enc;
  std::string sending_app, sending_fac, receiving_app, receiving_fac;  // raw, as received
  std::string trigger, control_id, processing_id, version;             // raw
};

std::string Build(const Header& h, AckCode code, const Status& error, const AckOptions& o) {
  const Encoding& e = h.enc;
  const std::string f(1, e.field);
  std::string enc;
  for (char c : {e.component, e.repetition, e.escape, e.subcomponent}) {
    if (c != '\0') enc.push_back(c);
  }
  const std::string c(1, e.component);
  std::string version = h.version.empty() ? "2.5.1" : h.version;
  bool old = BeforeV25(version);
  std::string type = "ACK";
  if (!h.trigger.empty()) type += c + h.trigger + (version.rfind("2.3", 0) == 0 ? "" : c + "ACK");
  std::string out =
      "MSH" + f + enc + f + (h.receiving_app.empty() ? Escape(o.application, e) : h.receiving_app) +
      f + (h.receiving_fac.empty() ? Escape(o.facility, e) : h.receiving_fac) + f + h.sending_app +
      f + h.sending_fac + f + FormatTs(o.now) + f + f + type + f + Escape(o.control_id, e) + f +
      (h.processing_id.empty() ? "P" : h.processing_id) + f + version + "\r";
  out += "MSA" + f + std::string(AckCodeText(code)) + f + h.control_id;
  if (code != AckCode::kAA && old) out += f + Escape(error.message().substr(0, 80), e);
  out += "\r";
  if (code != AckCode::kAA) {
    std::string hl7 = Hl7ErrorCodeFor(error);
    std::string location = error.details().empty() ? "" : error.details().front().location;
    std::string erl = ErrorLocation(location, e);
    std::string cwe = hl7 + c + Escape(Hl7ErrorText(hl7), e) + c + "HL70357";
    out += "ERR" + f;
    if (old) {
      // ERR-1 (ELD): segment^sequence^field^code&text&HL70357.
      std::string s(1, e.subcomponent == '\0' ? '&' : e.subcomponent);
      std::string eld = c + c;
      if (auto p = ParsePath(location); p.ok()) {
        eld = p->segment + c + std::to_string(p->occurrence) + c +
              (p->field > 0 ? std::to_string(p->field) : "");
      }
      out += eld + c + hl7 + s + Escape(Hl7ErrorText(hl7), e) + s + "HL70357";
    }
    std::string message =
        error.message().empty() ? std::string(Hl7ErrorText(hl7)) : error.message();
    out += f + erl + f + cwe + f + "E" + f + f + f + f + Escape(message, e) + "\r";
  }
  return out;
}

Header HeaderOf(const Message& in) {
  Header h;
  h.enc = in.encoding();
  if (auto msh = in.Find("MSH")) {
    h.sending_app = msh->Raw(3);
    h.sending_fac = msh->Raw(4);
    h.receiving_app = msh->Raw(5);
    h.receiving_fac = msh->Raw(6);
    h.trigger = msh->RawAt(9, 1, 2, 0);
    h.control_id = msh->RawAt(10, 1, 0, 0);
    h.processing_id = msh->RawAt(11, 1, 1, 0);
    h.version = msh->RawAt(12, 1, 1, 0);
  }
  // Values from the message are echoed encoded as received; anything that
  // could break the ACK's own structure (a segment terminator) is dropped.
  for (std::string* s : {&h.sending_app, &h.sending_fac, &h.receiving_app, &h.receiving_fac,
                         &h.trigger, &h.control_id, &h.processing_id, &h.version}) {
    std::erase_if(*s, [](char ch) { return ch == '\r' || ch == '\n'; });
    if (s->size() > 200) s->resize(200);
  }
  return h;
}

}  // namespace

std::string_view AckCodeText(AckCode code) {
  switch (code) {
    case AckCode::kAA:
      return "AA";
    case AckCode::kAE:
      return "AE";
    case AckCode::kAR:
      return "AR";
  }
  return "AE";
}

AckCode AckCodeFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return AckCode::kAA;
    case StatusCode::kUnsupported:
    case StatusCode::kUnauthenticated:
    case StatusCode::kForbidden:
    case StatusCode::kBusy:
    case StatusCode::kUnavailable:
      return AckCode::kAR;
    default:
      return AckCode::kAE;
  }
}

std::string Hl7ErrorCodeFor(const Status& status) {
  if (!status.details().empty() && IsTable0357(status.details().front().code)) {
    return status.details().front().code;
  }
  switch (status.code()) {
    case StatusCode::kOk:
      return "0";
    case StatusCode::kUnsupported:
      return "200";
    case StatusCode::kIncorrect:
    case StatusCode::kUnprocessable:
      return "102";
    case StatusCode::kNotFound:
      return "204";
    case StatusCode::kConflict:
    case StatusCode::kPrecondition:
      return "205";
    default:
      return "207";
  }
}

std::string FormatTs(Millis t) {
  int64_t secs = t >= 0 ? t / 1000 : (t - 999) / 1000;
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t rem = secs - days * 86400;
  // civil_from_days (Howard Hinnant).
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04lld%02lld%02lld%02lld%02lld%02lld+0000",
                static_cast<long long>(y), static_cast<long long>(m), static_cast<long long>(d),
                static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                static_cast<long long>(rem % 60));
  return buf;
}

std::string MakeAck(const Message& in, AckCode code, const Status& error,
                    const AckOptions& options) {
  return Build(HeaderOf(in), code, error, options);
}

std::string MakeAckForUnparsable(std::string_view raw, const Status& error,
                                 const AckOptions& options) {
  // Whatever of the MSH can be read: parse the first line alone.
  std::vector<std::string_view> pieces = SplitMessages(raw.substr(0, 64 << 10));
  if (!pieces.empty()) {
    std::string_view first = pieces.front();
    size_t eol = first.find_first_of("\r\n");
    auto msh = ParseMessage(first.substr(0, eol));
    if (msh.ok()) {
      AckCode code = AckCodeFor(error);
      if (code == AckCode::kAA) code = AckCode::kAR;
      return Build(HeaderOf(*msh), code, error, options);
    }
  }
  return Build(Header{}, AckCode::kAR, error, options);
}

}  // namespace lhcr::hl7v2
