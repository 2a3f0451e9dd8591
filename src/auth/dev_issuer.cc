#include <fcntl.h>
#include <openssl/rand.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "auth/auth.h"
#include "auth/jwt.h"

namespace lhcr::auth {
namespace {

Status WriteNewKey(const std::string& path, const std::string& pem) {
  // Written to a private temporary name, then linked into place: a second
  // process starting at the same time finds either no key or a whole one.
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Unavailable("cannot create " + tmp + ": " + std::strerror(errno));
  bool ok =
      ::write(fd, pem.data(), pem.size()) == static_cast<ssize_t>(pem.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    return Status::Unavailable("cannot write " + tmp);
  }
  int rc = ::link(tmp.c_str(), path.c_str());
  int err = errno;
  ::unlink(tmp.c_str());
  if (rc != 0 && err != EEXIST) {
    return Status::Unavailable("cannot create " + path + ": " + std::strerror(err));
  }
  return Status::Ok();
}

Result<std::string> ReadKeyFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::Unavailable("cannot read " + path);
  if ((st.st_mode & 077) != 0) {
    return Status::Incorrect(path +
                             " is readable by others: chmod 600 it (or delete it for a new key)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Unavailable("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string RandomId() {
  unsigned char b[16];
  RAND_bytes(b, sizeof b);
  return Base64UrlEncode(std::string_view(reinterpret_cast<char*>(b), sizeof b));
}

bool AllDigits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

class DevIssuer::Impl {
 public:
  Impl(Key key, Clock& clock) : key_(std::move(key)), kid_(key_.Thumbprint()), clock_(clock) {
    jwks_ = "{\"keys\":[" + key_.PublicJwk(kid_) + "]}";
  }
  Key key_;
  std::string kid_;
  Clock& clock_;
  std::string jwks_;
};

Result<std::unique_ptr<DevIssuer>> DevIssuer::Open(const std::string& data_dir, Clock& clock) {
  std::filesystem::path dir = std::filesystem::path(data_dir) / "dev-issuer";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Unavailable("cannot create " + dir.string() + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  std::string path = (dir / "key.pem").string();
  if (!std::filesystem::exists(path)) {
    ASSIGN_OR_RETURN(Key fresh, Key::GenerateEcP256());
    RETURN_IF_ERROR(WriteNewKey(path, fresh.PrivatePem()));
  }
  ASSIGN_OR_RETURN(std::string pem, ReadKeyFile(path));
  auto key = Key::FromPrivatePem(pem);
  if (!key.ok() || key->type() != KeyType::kEcP256) {
    return Status::Incorrect(path + " is not a P-256 private key");
  }
  return std::unique_ptr<DevIssuer>(new DevIssuer(std::make_unique<Impl>(std::move(*key), clock)));
}

DevIssuer::DevIssuer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DevIssuer::~DevIssuer() = default;

const std::string& DevIssuer::Jwks() const { return impl_->jwks_; }

IssuerConfig DevIssuer::Config() const {
  return {std::string(kIssuer), std::string(kAudience), impl_->jwks_};
}

Result<std::string> DevIssuer::Issue(const TokenRequest& r) const {
  std::string scope = r.scope;
  switch (r.kind) {
    case PrincipalKind::kProfessional:
      if (r.user_id.empty() || r.org_ods.empty() || r.roles.empty()) {
        return Status::Incorrect(
            "a professional's token needs a user, an organisation (ODS) and a role");
      }
      for (const auto& role : r.roles) {
        if (role.empty() || role.find(':') != std::string::npos) {
          return Status::Incorrect("role code \"" + role + "\" is empty or holds ':'");
        }
      }
      if (scope.empty()) scope = "openid user/*.read user/*.write";
      break;
    case PrincipalKind::kPatient:
      if (r.nhs_number.size() != 10 || !AllDigits(r.nhs_number)) {
        return Status::Incorrect("NHS number \"" + r.nhs_number + "\" is not 10 digits");
      }
      if (r.proofing_level != "P0" && r.proofing_level != "P5" && r.proofing_level != "P9") {
        return Status::Incorrect("identity proofing level must be P0, P5 or P9");
      }
      if (scope.empty()) scope = "openid patient/*.read";
      break;
    case PrincipalKind::kSystem:
      if (r.client_id.empty()) return Status::Incorrect("a system token needs a client id");
      if (scope.empty()) scope = "system/*.read system/*.write";
      break;
  }
  auto parsed = ParseScopes(scope);
  if (!parsed.ok()) return parsed.status();
  if (r.lifetime_ms <= 0) return Status::Incorrect("token lifetime must be positive");

  Millis now = impl_->clock_.Now();
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto str = [&](const char* k, std::string_view v) {
    w.Key(k);
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  };
  w.StartObject();
  str("iss", kIssuer);
  str("aud", kAudience);
  w.Key("iat");
  w.Int64(now / 1000);
  w.Key("nbf");
  w.Int64(now / 1000);
  w.Key("exp");
  w.Int64((now + r.lifetime_ms) / 1000);
  str("jti", RandomId());
  str("scope", scope);
  switch (r.kind) {
    case PrincipalKind::kProfessional: {
      str("sub", r.user_id);
      str("uid", r.user_id);
      str("azp", r.client_id);
      std::string codes;
      for (const auto& role : r.roles) codes += (codes.empty() ? "" : ":") + role;
      str("selected_roleid", "1");
      w.Key("nhsid_nrbac_roles");
      w.StartArray();
      w.StartObject();
      str("person_roleid", "1");
      str("org_code", r.org_ods);
      str("role_code", codes);
      w.EndObject();
      w.EndArray();
      break;
    }
    case PrincipalKind::kPatient:
      str("sub", r.nhs_number);
      str("azp", r.client_id);
      str("nhs_number", r.nhs_number);
      str("identity_proofing_level", r.proofing_level);
      break;
    case PrincipalKind::kSystem:
      str("sub", r.client_id);
      str("client_id", r.client_id);
      break;
  }
  w.EndObject();
  std::string header = "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"" + impl_->kid_ + "\"}";
  return SignJws(header, std::string_view(buf.GetString(), buf.GetSize()), impl_->key_);
}

}  // namespace lhcr::auth
