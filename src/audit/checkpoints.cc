#include "audit/checkpoints.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "audit/entry.h"

namespace lhcr::audit {

struct Checkpoints::Key {
  EVP_PKEY* pkey = nullptr;
  ~Key() { EVP_PKEY_free(pkey); }
};

namespace {

std::string Message(int64_t seq, std::string_view hash, Millis at) {
  return "lhcr audit checkpoint\n" + std::to_string(seq) + "\n" + std::string(hash) + "\n" +
         std::to_string(at) + "\n";
}

std::optional<std::string> Unbase64(std::string_view s) {
  if (s.empty() || s.size() % 4 != 0) return std::nullopt;
  std::string out(s.size() / 4 * 3 + 1, '\0');
  int n =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  if (n < 0) return std::nullopt;
  size_t len = static_cast<size_t>(n);
  if (s.size() >= 1 && s[s.size() - 1] == '=') --len;
  if (s.size() >= 2 && s[s.size() - 2] == '=') --len;
  out.resize(len);
  return out;
}

// Writes `text` to a new file `path` with `mode`; fails if it exists.
Status WriteNewFile(const std::string& path, const std::string& text, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Status::Unavailable("cannot create " + path + ": " + std::strerror(errno));
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return Status::Unavailable("cannot write " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

Result<std::string> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Unavailable("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string PemOf(EVP_PKEY* pkey, bool pub) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (pub)
    PEM_write_bio_PUBKEY(bio, pkey);
  else
    PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, n > 0 ? static_cast<size_t>(n) : 0);
  BIO_free(bio);
  return out;
}

EVP_PKEY* ParsePem(const std::string& text, bool pub) {
  BIO* bio = BIO_new_mem_buf(text.data(), static_cast<int>(text.size()));
  EVP_PKEY* k = pub ? PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr)
                    : PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return k;
}

bool VerifySignature(EVP_PKEY* pub, const std::string& msg, const std::string& sig) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, pub) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                             reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

bool Exists(const std::string& p) {
  std::error_code ec;
  return std::filesystem::exists(p, ec);
}

}  // namespace

std::string CheckpointFile(const std::string& dir) {
  return (std::filesystem::path(dir) / "audit-checkpoints").string();
}
std::string SigningKeyFile(const std::string& dir) {
  return (std::filesystem::path(dir) / "audit-signing-key.pem").string();
}
std::string PublicKeyFile(const std::string& dir) {
  return (std::filesystem::path(dir) / "audit-signing-key.pub.pem").string();
}

Checkpoints::Checkpoints(std::string path, std::unique_ptr<Key> key)
    : path_(std::move(path)), key_(std::move(key)) {}
Checkpoints::~Checkpoints() = default;

Result<std::unique_ptr<Checkpoints>> Checkpoints::Open(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Unavailable("cannot create " + dir + ": " + ec.message());
  auto key = std::make_unique<Key>();
  const std::string key_path = SigningKeyFile(dir);
  if (Exists(key_path)) {
    ASSIGN_OR_RETURN(std::string pem, ReadAll(key_path));
    key->pkey = ParsePem(pem, false);
    if (key->pkey == nullptr) return Status::Fault("cannot read the audit signing key " + key_path);
  } else {
    key->pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    if (key->pkey == nullptr) return Status::Fault("cannot generate an Ed25519 key");
    RETURN_IF_ERROR(WriteNewFile(key_path, PemOf(key->pkey, false), 0600));
    std::error_code rm;
    std::filesystem::remove(PublicKeyFile(dir), rm);
    RETURN_IF_ERROR(WriteNewFile(PublicKeyFile(dir), PemOf(key->pkey, true), 0644));
  }
  if (!Exists(PublicKeyFile(dir))) {
    RETURN_IF_ERROR(WriteNewFile(PublicKeyFile(dir), PemOf(key->pkey, true), 0644));
  }
  const std::string path = CheckpointFile(dir);
  if (!Exists(path)) RETURN_IF_ERROR(WriteNewFile(path, "", 0644));
  return std::unique_ptr<Checkpoints>(new Checkpoints(path, std::move(key)));
}

Status Checkpoints::Append(const ChainHead& head, Millis at) {
  const std::string msg = Message(head.seq, head.hash, at);
  unsigned char sig[64];
  size_t sig_len = sizeof(sig);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key_->pkey) == 1 &&
            EVP_DigestSign(ctx, sig, &sig_len, reinterpret_cast<const unsigned char*>(msg.data()),
                           msg.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) return Status::Fault("cannot sign an audit checkpoint");
  const std::string line =
      std::to_string(head.seq) + " " + head.hash + " " + std::to_string(at) + " " +
      Base64(std::string_view(reinterpret_cast<const char*>(sig), sig_len)) + "\n";
  std::lock_guard<std::mutex> lock(mu_);
  int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return Status::Unavailable("cannot open " + path_ + ": " + std::strerror(errno));
  ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
       ::fdatasync(fd) == 0;
  ::close(fd);
  if (!ok) return Status::Unavailable("cannot append to " + path_ + ": " + std::strerror(errno));
  return Status::Ok();
}

Result<SignedCheckpoint> ParseCheckpointLine(std::string_view line, std::string* signature) {
  std::string_view f[4];
  size_t n = 0, s = 0;
  while (n < 4) {
    size_t sp = line.find(' ', s);
    if (sp == std::string_view::npos) sp = line.size();
    f[n++] = line.substr(s, sp - s);
    if (sp == line.size()) break;
    s = sp + 1;
  }
  auto num = [](std::string_view v, int64_t* out) {
    auto r = std::from_chars(v.data(), v.data() + v.size(), *out);
    return !v.empty() && r.ec == std::errc() && r.ptr == v.data() + v.size();
  };
  SignedCheckpoint c;
  std::optional<std::string> sig = n == 4 ? Unbase64(f[3]) : std::nullopt;
  bool hex = f[1].size() == 64;
  for (char ch : f[1]) hex = hex && ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'));
  if (n != 4 || !num(f[0], &c.seq) || !num(f[2], &c.at) || !hex || !sig || sig->size() != 64) {
    return Status::Incorrect("malformed checkpoint line");
  }
  c.hash = std::string(f[1]);
  *signature = std::move(*sig);
  return c;
}

Result<std::vector<SignedCheckpoint>> ReadCheckpoints(const std::string& dir,
                                                      std::string* problem) {
  problem->clear();
  std::vector<SignedCheckpoint> out;
  const std::string path = CheckpointFile(dir);
  const bool have_file = Exists(path);
  const bool have_key = Exists(PublicKeyFile(dir)) || Exists(SigningKeyFile(dir));
  if (!have_file && !have_key) return out;
  if (!have_file) {
    *problem = "the checkpoint file " + path + " is missing but its signing key is there";
    return out;
  }
  if (!have_key) {
    *problem = "the audit signing key is missing from " + dir + " but checkpoints are there";
    return out;
  }
  EVP_PKEY* pub = nullptr;
  if (Exists(PublicKeyFile(dir))) {
    ASSIGN_OR_RETURN(std::string pem, ReadAll(PublicKeyFile(dir)));
    pub = ParsePem(pem, true);
  } else {
    ASSIGN_OR_RETURN(std::string pem, ReadAll(SigningKeyFile(dir)));
    pub = ParsePem(pem, false);
  }
  if (pub == nullptr) return Status::Fault("cannot read the audit signing key in " + dir);
  ASSIGN_OR_RETURN(std::string text, ReadAll(path));
  int line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) break;  // torn last line
    std::string_view line(text.data() + pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    std::string sig;
    Result<SignedCheckpoint> parsed = ParseCheckpointLine(line, &sig);
    if (!parsed.ok()) {
      *problem = "checkpoint line " + std::to_string(line_no) + " is malformed";
      break;
    }
    SignedCheckpoint c = std::move(*parsed);
    c.line = line_no;
    if (!VerifySignature(pub, Message(c.seq, c.hash, c.at), sig)) {
      *problem = "checkpoint line " + std::to_string(line_no) + " (entry " + std::to_string(c.seq) +
                 ") has a signature that does not verify";
      break;
    }
    out.push_back(std::move(c));
  }
  EVP_PKEY_free(pub);
  return out;
}

}  // namespace lhcr::audit
