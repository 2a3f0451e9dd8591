// MLLP framing (HL7 v2.x Transport Specification: MLLP, release 2):
//   <VT 0x0B> message bytes <FS 0x1C><CR 0x0D>
// MllpFrame wraps a message, MllpDeframer cuts a byte stream into messages
// incrementally, and MllpMinimalAck builds the smallest correct HL7 ACK for a
// message. Used by MllpServer and by MLLP clients (tests, benchmarks, a
// sender). No I/O, no Asio: pure functions over bytes, fuzzed by
// fuzz/mllp_frame_fuzz.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

namespace lhcr::api {

inline constexpr char kMllpStartBlock = 0x0B;  // VT
inline constexpr char kMllpEndBlock = 0x1C;    // FS
inline constexpr char kMllpCarriageReturn = 0x0D;

// <VT> message <FS><CR>. The caller makes sure `message` holds no VT or FS
// (HL7 v2 text never does); they would end or cut the frame at the receiver.
std::string MllpFrame(std::string_view message);

// Cuts an MLLP byte stream into messages, incrementally: feed bytes as they
// arrive, take complete frames as they become available. Never fails and
// never holds more than max_message_bytes of a message plus the complete
// frames not yet taken. Not thread-safe (one per connection).
class MllpDeframer {
 public:
  struct Frame {
    enum class Kind {
      kMessage,      // a complete message (without VT, FS and CR)
      kInterrupted,  // a VT arrived inside a message; `message` holds the
                     // part received before it, the new frame continues
      kOversized,    // more than max_message_bytes without an FS; `message`
                     // holds its first min(max_message_bytes, 1 KiB)
                     // bytes (for the MSH).
                     // The rest up to the next FS is discarded.
    };
    Kind kind = Kind::kMessage;
    std::string message;
    bool operator==(const Frame&) const = default;
  };

  explicit MllpDeframer(size_t max_message_bytes = 16 * 1024 * 1024);

  // Consumes all of `bytes`.
  void Feed(std::string_view bytes);

  // The oldest frame not yet taken, or nullopt.
  std::optional<Frame> Next();
  bool has_frame() const { return !frames_.empty(); }

  // True while inside a frame (a VT seen, its FS not yet).
  bool in_message() const { return state_ != State::kHunting; }
  // What has been received of the current message (empty while discarding
  // the rest of an oversized one).
  std::string_view partial_message() const { return partial_; }
  // Bytes skipped outside frames since construction, and since the last
  // frame start (reset by each VT).
  uint64_t skipped_bytes() const { return skipped_total_; }
  uint64_t skipped_in_a_row() const { return skipped_run_; }
  // Frames whose FS was not followed by CR.
  uint64_t missing_cr() const { return missing_cr_; }

 private:
  enum class State { kHunting, kInMessage, kDiscarding };
  const size_t max_message_bytes_;
  State state_ = State::kHunting;
  bool after_fs_ = false;  // the last byte was a frame's FS: a CR is expected
  std::string partial_;
  std::deque<Frame> frames_;
  uint64_t skipped_total_ = 0;
  uint64_t skipped_run_ = 0;
  uint64_t missing_cr_ = 0;
};

// A minimal HL7 v2 ACK for `message`: MSH (sender and receiver swapped, the
// trigger event kept, version echoed), MSA|<code>|<MSH-10 of message>|<text>
// and, unless code is AA/CA, an ERR segment (HL7 table 0357 code 207,
// severity E, `text` as the user message). Fields taken from `message` are
// cleaned of separators and control bytes and cut to 199 bytes; a message
// without a readable MSH gets empty fields. The server's fallback when no
// ErrorHandler is set; the real ACK policy lives with the HL7 v2 room.
// `code` is one of AA, AE, AR (or CA, CE, CR).
std::string MllpMinimalAck(std::string_view message, std::string_view code, std::string_view text);

}  // namespace lhcr::api
