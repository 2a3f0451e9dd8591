#include "api/mllp_frame.h"

#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <utility>

namespace lhcr::api {

// ---------------------------------------------------------------------------
// Framing

std::string MllpFrame(std::string_view message) {
  std::string out;
  out.reserve(message.size() + 3);
  out += kMllpStartBlock;
  out += message;
  out += kMllpEndBlock;
  out += kMllpCarriageReturn;
  return out;
}

namespace {
constexpr size_t kOversizedPrefix = 1024;
constexpr std::string_view kFrameBytes("\x0b\x1c", 2);  // VT or FS
}  // namespace

MllpDeframer::MllpDeframer(size_t max_message_bytes) : max_message_bytes_(max_message_bytes) {}

void MllpDeframer::Feed(std::string_view bytes) {
  size_t i = 0;
  const size_t n = bytes.size();
  while (i < n) {
    if (after_fs_) {
      after_fs_ = false;
      if (bytes[i] == kMllpCarriageReturn) {
        ++i;
        continue;
      }
      ++missing_cr_;
    }
    switch (state_) {
      case State::kHunting: {
        size_t vt = bytes.find(kMllpStartBlock, i);
        size_t skip = (vt == std::string_view::npos ? n : vt) - i;
        skipped_total_ += skip;
        skipped_run_ += skip;
        if (vt == std::string_view::npos) return;
        skipped_run_ = 0;
        partial_.clear();
        state_ = State::kInMessage;
        i = vt + 1;
        break;
      }
      case State::kInMessage: {
        size_t j = bytes.find_first_of(kFrameBytes, i);
        size_t end = j == std::string_view::npos ? n : j;
        size_t take = end - i;
        if (take > max_message_bytes_ - partial_.size()) {
          // The first min(max, 1 KiB) bytes: all there now, whatever the
          // read boundaries were.
          const size_t prefix = std::min(max_message_bytes_, kOversizedPrefix);
          if (partial_.size() < prefix) {
            partial_.append(bytes.substr(i, prefix - partial_.size()));
          }
          partial_.resize(prefix);
          frames_.push_back(Frame{Frame::Kind::kOversized, std::move(partial_)});
          partial_.clear();
          state_ = State::kDiscarding;
          i = end;  // the bytes up to `end` belong to the discarded message
          break;
        }
        partial_.append(bytes.substr(i, take));
        if (j == std::string_view::npos) return;
        if (bytes[j] == kMllpEndBlock) {
          frames_.push_back(Frame{Frame::Kind::kMessage, std::move(partial_)});
          state_ = State::kHunting;
          after_fs_ = true;
        } else {
          frames_.push_back(Frame{Frame::Kind::kInterrupted, std::move(partial_)});
        }
        partial_.clear();
        i = j + 1;
        break;
      }
      case State::kDiscarding: {
        size_t j = bytes.find_first_of(kFrameBytes, i);
        if (j == std::string_view::npos) return;
        // An FS ends the oversized message; a VT starts a new one.
        if (bytes[j] == kMllpEndBlock) {
          state_ = State::kHunting;
          after_fs_ = true;
        } else {
          state_ = State::kInMessage;
          partial_.clear();
        }
        i = j + 1;
        break;
      }
    }
  }
}

std::optional<MllpDeframer::Frame> MllpDeframer::Next() {
  if (frames_.empty()) return std::nullopt;
  Frame f = std::move(frames_.front());
  frames_.pop_front();
  return f;
}

// ---------------------------------------------------------------------------
// The minimal ACK

namespace {

// Splits `s` at `sep`; the i-th piece (0-based) or empty.
std::string_view Piece(std::string_view s, char sep, size_t index) {
  for (size_t k = 0; k < index; ++k) {
    size_t p = s.find(sep);
    if (p == std::string_view::npos) return {};
    s.remove_prefix(p + 1);
  }
  return s.substr(0, s.find(sep));
}

// Copies `s` without separators or control bytes, at most 199 bytes (the
// ST length of MSH-10 from v2.5 on).
void AppendClean(std::string& out, std::string_view s) {
  size_t kept = 0;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '|' || c == '^' || c == '~' || c == '\\' || c == '&') {
      continue;
    }
    out += c;
    if (++kept == 199) break;
  }
}

void AppendTimestamp(std::string& out) {
  time_t now = time(nullptr);
  struct tm t;
  gmtime_r(&now, &t);
  char buf[32];
  int len = snprintf(buf, sizeof buf, "%04d%02d%02d%02d%02d%02d", t.tm_year + 1900, t.tm_mon + 1,
                     t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec);
  if (len > 0) out.append(buf, static_cast<size_t>(std::min<int>(len, sizeof buf - 1)));
}

std::atomic<uint32_t> ack_counter{0};

}  // namespace

std::string MllpMinimalAck(std::string_view message, std::string_view code, std::string_view text) {
  // The first segment, if it is a readable MSH: "MSH" then the field
  // separator, then the encoding characters (component separator first).
  std::string_view msh = message.substr(0, message.find_first_of("\r\n"));
  char fs = 0;
  char cs = '^';
  if (msh.size() >= 8 && msh.substr(0, 3) == "MSH") {
    fs = msh[3];
    if (msh[4] != fs) cs = msh[4];
  }
  auto field = [&](size_t n) -> std::string_view {  // MSH-n, n >= 2
    if (fs == 0) return {};
    return Piece(msh, fs, n - 1);
  };

  std::string out;
  out.reserve(256 + text.size());
  out += "MSH|^~\\&|";
  AppendClean(out, field(5));  // receiving application -> sending
  out += '|';
  AppendClean(out, field(6));
  out += '|';
  AppendClean(out, field(3));
  out += '|';
  AppendClean(out, field(4));
  out += '|';
  AppendTimestamp(out);
  out += "||ACK^";
  AppendClean(out, Piece(field(9), cs, 1));  // trigger event
  out += "^ACK|L";
  AppendTimestamp(out);
  uint32_t seq = ack_counter.fetch_add(1, std::memory_order_relaxed) % 100000;
  char seq_buf[8];
  snprintf(seq_buf, sizeof seq_buf, "%05u", seq);
  out += seq_buf;
  out += '|';
  std::string_view processing = Piece(field(11), cs, 0);
  if (processing.empty()) processing = "P";
  AppendClean(out, processing);
  out += '|';
  std::string_view version = Piece(field(12), cs, 0);
  if (version.empty()) version = "2.5";
  AppendClean(out, version);
  out += "\rMSA|";
  AppendClean(out, code);
  out += '|';
  AppendClean(out, field(10));
  out += '|';
  AppendClean(out, text);
  out += '\r';
  if (code != "AA" && code != "CA") {
    out += "ERR|||207^Application internal error^HL70357|E||||";
    AppendClean(out, text);
    out += '\r';
  }
  return out;
}

}  // namespace lhcr::api
