// MllpServer: a self-defending listener for HL7 v2 over MLLP (the HL7
// Minimal Lower Layer Protocol, release 2). It knows nothing about HL7
// semantics: it cuts the byte stream into messages, calls a Handler for each,
// and writes back the ACK the handler returns, framed, in message order.
//
// Framing (MLLP release 2, HL7 v2.x Transport Specification: MLLP):
//   <VT 0x0B> message bytes <FS 0x1C><CR 0x0D>
// The receiver answers every message with exactly one framed ACK on the same
// connection, in order. Connections are long-lived; a sender may pipeline.
//
// Threading (as HttpServer). `io_threads` threads each run their own event
// loop; a connection lives on one of them for its whole life. Handlers run on
// a fixed pool of `worker_threads` threads and may block (e.g. on a store
// commit). Messages of one connection are handled strictly one after another
// and their ACKs written in the same order; messages of different
// connections are handled concurrently, so the Handler must be thread-safe.
// Messages already received together (a pipelining sender) are handed to a
// worker as one batch, one thread hop per batch, and their ACKs written with
// one write. A connection has at most one batch in flight and does not read
// while it has one, so memory per connection is bounded by one read chunk
// plus max_message_bytes, and the worker queue by max_connections.
//
// Defence (no input may crash the server, block a worker, or grow memory
// without bound; no ACK is ever written partially framed):
//   bytes outside a frame (before VT)             -> skipped and counted; more
//                                                    than max_message_bytes of
//                                                    them in a row -> closed
//   VT inside a message (a frame cut short)       -> NAK (AR) for the cut
//                                                    frame, the new frame is
//                                                    read on (connection kept)
//   message over max_message_bytes                -> NAK (AR), then closed
//                                                    (without reading it all)
//   FS not followed by CR                         -> accepted (the FS ends the
//                                                    message), counted
//   message not complete within read_timeout      -> best-effort NAK (AR),
//     of its first byte (slow sender)                closed
//   no message started within idle_timeout        -> closed
//   client not reading ACKs within read_timeout   -> closed
//   more than max_connections open connections    -> closed at once
//   handler throws, or returns bytes containing   -> NAK (AE) for that
//     VT or FS (which would break the framing)       message, connection kept
// Server-made NAKs come from the ErrorHandler when one is given, else from
// MllpMinimalAck. Timeouts are checked by a per-connection watchdog and fire
// between the deadline and the deadline plus a quarter of the shortest
// timeout.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "api/mllp_frame.h"
#include "base/status.h"

namespace lhcr::api {

// Who sent a message.
struct MllpPeer {
  std::string remote;          // "ip:port" of the sender
  uint64_t connection_id = 0;  // 1, 2, ... in accept order, per server
};

// Why the server answers a message itself.
enum class MllpError {
  kHandlerFailed,  // the handler threw, returned nothing or bytes with VT/FS: AE
  kInterrupted,    // the frame was cut short by a VT: AR
  kOversized,      // the message exceeded max_message_bytes: AR
  kTimeout,        // the message did not arrive within read_timeout: AR
};

struct MllpServerOptions {
  std::string host = "127.0.0.1";  // numeric address or a resolvable name
  uint16_t port = 0;               // 0 = any free port; see MllpServer::port()
  int io_threads = 2;
  int worker_threads = 8;
  size_t max_message_bytes = 16 * 1024 * 1024;
  // A message must arrive within this time of its first byte. Also bounds
  // how long writing one batch of ACKs may take.
  std::chrono::milliseconds read_timeout{30000};
  // A connection with no message in progress is closed after this (HL7
  // senders usually keep connections open; set it above their heartbeat).
  std::chrono::milliseconds idle_timeout{600000};
  int max_connections = 256;
  // Stop() waits this long for messages being handled before closing.
  std::chrono::milliseconds stop_grace{10000};
};

// Counters since Start. A snapshot: fields are read one by one without a
// common lock, so they may be mutually inconsistent by a message or two.
struct MllpServerStats {
  uint64_t messages_received = 0;  // complete frames handed to the handler
  uint64_t acks_sent = 0;          // every ACK written, handler- or server-made
  uint64_t naks_sent = 0;          // server-made ACKs (MllpError) produced
  uint64_t handler_failures = 0;   // kHandlerFailed
  uint64_t framing_errors = 0;     // kInterrupted and kOversized frames
  uint64_t skipped_bytes = 0;      // bytes outside frames
  uint64_t connections_accepted = 0;
  uint64_t active_connections = 0;
  uint64_t rejected_connections = 0;  // over max_connections or while stopping
  uint64_t timeouts = 0;              // read, write and idle timeouts
};

class MllpServer {
 public:
  // Returns the ACK (unframed) for one message. Called on worker threads,
  // concurrently for different connections, in order within one. May block.
  // May throw, or return nothing or bytes with VT/FS (which would break the
  // framing): the sender then gets a NAK (AE) and the connection goes on.
  using Handler = std::function<std::string(std::string_view message, const MllpPeer& peer)>;
  // Returns the NAK (unframed) for a message the server answers itself;
  // `message` is what was received of it (possibly a prefix). Called on an
  // I/O thread or a worker: must be fast and must not block. Null, throwing
  // or returning bytes with VT/FS: MllpMinimalAck is used instead.
  using ErrorHandler =
      std::function<std::string(MllpError error, std::string_view message, const MllpPeer& peer)>;

  // Binds host:port, listens and starts the I/O and worker threads.
  // Fails with kIncorrect for bad options or a null handler, kUnavailable if
  // the address cannot be bound (e.g. the port is in use).
  static Result<std::unique_ptr<MllpServer>> Start(const MllpServerOptions& options,
                                                   Handler handler,
                                                   ErrorHandler on_error = nullptr);

  // Stop()s.
  ~MllpServer();
  MllpServer(const MllpServer&) = delete;
  MllpServer& operator=(const MllpServer&) = delete;

  // The bound port (the actual one if options.port was 0). Thread-safe.
  uint16_t port() const;

  // Stops accepting and reading; batches being handled finish and their
  // ACKs are written (up to options.stop_grace), then every connection is
  // closed; waits for running handlers to return and joins all threads.
  // Idempotent and thread-safe, but must not be called from a handler.
  void Stop();

  // Thread-safe.
  MllpServerStats stats() const;

  class Impl;  // defined in mllp_server.cc

 private:
  explicit MllpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lhcr::api
