#include "app/jwks_fetch.h"

// Boost 1.74's Asio needs <utility> before it in C++20 mode.
#include <rapidjson/document.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <optional>
#include <utility>

namespace lhcr {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using ErrorCode = boost::system::error_code;
constexpr auto kTimeout = std::chrono::seconds(10);
constexpr size_t kMaxBody = 1 << 20;

struct Url {
  bool tls = false;
  std::string host, port, target;
};

std::optional<Url> ParseUrl(const std::string& s) {
  Url u;
  std::string rest;
  if (s.rfind("https://", 0) == 0) {
    u.tls = true;
    rest = s.substr(8);
  } else if (s.rfind("http://", 0) == 0) {
    rest = s.substr(7);
  } else {
    return std::nullopt;
  }
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (authority.empty() || authority.find('@') != std::string::npos) return std::nullopt;
  size_t colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']') == std::string::npos) {
    u.host = authority.substr(0, colon);
    u.port = authority.substr(colon + 1);
  } else {
    u.host = authority;
    u.port = u.tls ? "443" : "80";
  }
  if (u.host.empty() || u.port.empty()) return std::nullopt;
  return u;
}

// Runs one asynchronous step to completion (the stream's expiry bounds it).
template <typename Start>
ErrorCode Step(asio::io_context& ioc, Start start) {
  ErrorCode result = asio::error::timed_out;
  start([&result](ErrorCode ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

template <typename Stream>
Result<std::string> Exchange(asio::io_context& ioc, Stream& stream, const Url& u,
                             const std::string& url) {
  bhttp::request<bhttp::empty_body> req{bhttp::verb::get, u.target, 11};
  req.set(bhttp::field::host, u.host);
  req.set(bhttp::field::accept, "application/json");
  req.set(bhttp::field::user_agent, "lhcr");
  ErrorCode ec = Step(ioc, [&](auto h) { bhttp::async_write(stream, req, h); });
  if (ec) return Status::Unavailable("JWKS " + url + ": " + ec.message());
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(kMaxBody);
  ec = Step(ioc, [&](auto h) { bhttp::async_read(stream, buffer, parser, h); });
  if (ec) return Status::Unavailable("JWKS " + url + ": " + ec.message());
  if (parser.get().result_int() != 200) {
    return Status::Unavailable("JWKS " + url + " answered " +
                               std::to_string(parser.get().result_int()));
  }
  return parser.get().body();
}

}  // namespace

bool IsJwksUrl(const std::string& s) {
  return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0;
}

Result<std::string> FetchJwks(const std::string& url) {
  std::optional<Url> u = ParseUrl(url);
  if (!u) return Status::Incorrect("JWKS URL " + url + " is not http(s)://host[:port]/path");
  asio::io_context ioc;
  asio::ip::tcp::resolver resolver(ioc);
  ErrorCode ec;
  auto endpoints = resolver.resolve(u->host, u->port, ec);
  if (ec) return Status::Unavailable("JWKS " + url + ": " + ec.message());

  Result<std::string> body = Status::Fault("unreached");
  if (u->tls) {
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.set_default_verify_paths(ec);
    ctx.set_verify_mode(asio::ssl::verify_peer);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
    beast::get_lowest_layer(stream).expires_after(kTimeout);
    if (!SSL_set_tlsext_host_name(stream.native_handle(), u->host.c_str())) {
      return Status::Incorrect("JWKS " + url + ": bad host name for TLS");
    }
    stream.set_verify_callback(asio::ssl::host_name_verification(u->host));
    ec = Step(ioc, [&](auto h) { beast::get_lowest_layer(stream).async_connect(endpoints, h); });
    if (ec) return Status::Unavailable("JWKS " + url + ": " + ec.message());
    ec = Step(ioc, [&](auto h) { stream.async_handshake(asio::ssl::stream_base::client, h); });
    if (ec) return Status::Unavailable("JWKS " + url + ": TLS: " + ec.message());
    body = Exchange(ioc, stream, *u, url);
  } else {
    beast::tcp_stream stream(ioc);
    stream.expires_after(kTimeout);
    ec = Step(ioc, [&](auto h) { stream.async_connect(endpoints, h); });
    if (ec) return Status::Unavailable("JWKS " + url + ": " + ec.message());
    body = Exchange(ioc, stream, *u, url);
  }
  if (!body.ok()) return body;
  rapidjson::Document doc;
  doc.Parse(body->data(), body->size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return Status::Incorrect("JWKS " + url + " is not a JSON object");
  }
  return body;
}

}  // namespace lhcr
