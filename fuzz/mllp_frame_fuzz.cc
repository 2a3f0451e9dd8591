// Fuzzes MllpDeframer (the MLLP framing of HL7 v2 feeds) and MllpMinimalAck
// (which reads the MSH of whatever arrived). Input: byte 0 picks the maximum
// message size, byte 1 the chunk size the stream is fed in; the rest is the
// stream. Checks: feeding in chunks yields exactly the frames of feeding it
// whole; no message holds VT or FS or exceeds the limit; a message re-framed
// with MllpFrame deframes to itself; the minimal ACK never holds VT or FS,
// always has an MSA, and echoes nothing that could inject a field.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "api/mllp_frame.h"

namespace {

using lhcr::api::MllpDeframer;

void Check(bool ok) {
  if (!ok) abort();
}

std::vector<MllpDeframer::Frame> Drain(MllpDeframer& d) {
  std::vector<MllpDeframer::Frame> out;
  while (auto f = d.Next()) out.push_back(std::move(*f));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t max_bytes = 1 + data[0] % 200;
  const size_t chunk = 1 + data[1] % 64;
  std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);

  MllpDeframer whole(max_bytes);
  whole.Feed(stream);
  auto expected = Drain(whole);

  MllpDeframer pieces(max_bytes);
  std::vector<MllpDeframer::Frame> got;
  for (size_t i = 0; i < stream.size(); i += chunk) {
    pieces.Feed(stream.substr(i, chunk));
    for (auto& f : Drain(pieces)) got.push_back(std::move(f));
  }
  Check(got == expected);
  Check(pieces.skipped_bytes() == whole.skipped_bytes());
  Check(pieces.in_message() == whole.in_message());
  Check(pieces.partial_message() == whole.partial_message());
  Check(whole.skipped_bytes() <= stream.size());
  Check(whole.partial_message().size() <= max_bytes);

  for (const auto& f : expected) {
    Check(f.message.find_first_of(std::string_view("\x0b\x1c", 2)) == std::string::npos);
    Check(f.message.size() <= (f.kind == MllpDeframer::Frame::Kind::kOversized
                                   ? std::min<size_t>(1024, max_bytes)
                                   : max_bytes));
    if (f.kind == MllpDeframer::Frame::Kind::kMessage) {
      MllpDeframer again(max_bytes);
      again.Feed(lhcr::api::MllpFrame(f.message));
      auto round = Drain(again);
      Check(round.size() == 1 && round[0] == f);
    }
    std::string ack = lhcr::api::MllpMinimalAck(f.message, "AR", f.message);
    Check(ack.find_first_of(std::string_view("\x0b\x1c\n", 3)) == std::string::npos);
    Check(ack.rfind("MSH|^~\\&|", 0) == 0);
    // Exactly three segments: MSH, MSA, ERR; cleaned fields cannot add any.
    size_t segments = 0;
    for (char c : ack) segments += c == '\r';
    Check(segments == 3);
    Check(ack.find("\rMSA|AR|") != std::string::npos);
  }
  return 0;
}
