// Signed checkpoints of the audit chain: a line per checkpoint in
// DIR/audit-checkpoints ("SEQ HASH MILLIS SIGNATURE", the signature base64
// Ed25519 over "lhcr audit checkpoint\nSEQ\nHASH\nMILLIS\n"), signed with the
// key DIR/audit-signing-key.pem (created on first use, mode 0600; its public
// half beside it in audit-signing-key.pub.pem). Inside the audit room only.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "audit/audit.h"

namespace lhcr::audit {

struct SignedCheckpoint {
  int64_t seq = 0;
  std::string hash;
  Millis at = 0;
  int line = 0;  // 1-based line in the file
};

class Checkpoints {
 public:
  // Loads the key (creating key and file if there are none). Thread-safe.
  static Result<std::unique_ptr<Checkpoints>> Open(const std::string& dir);
  ~Checkpoints();

  // Appends a signed checkpoint of `head` and syncs the file.
  Status Append(const ChainHead& head, Millis at);

  struct Key;

 private:
  Checkpoints(std::string path, std::unique_ptr<Key> key);
  std::string path_;
  std::unique_ptr<Key> key_;
  std::mutex mu_;  // serialises appends
};

// The checkpoints in `dir`, each signature checked with the public key
// there. *problem names the first bad line (empty when all are good); a
// torn last line (no newline: a crash while it was written) is ignored. No
// checkpoint file and no key: none. A key with no checkpoint file, or a
// file with no key: a problem (one of them was removed).
Result<std::vector<SignedCheckpoint>> ReadCheckpoints(const std::string& dir, std::string* problem);

// One line of the checkpoint file (without its newline), its fields
// checked but not its signature: *signature gets the decoded signature.
// kIncorrect when malformed.
Result<SignedCheckpoint> ParseCheckpointLine(std::string_view line, std::string* signature);

std::string CheckpointFile(const std::string& dir);
std::string SigningKeyFile(const std::string& dir);
std::string PublicKeyFile(const std::string& dir);

}  // namespace lhcr::audit
