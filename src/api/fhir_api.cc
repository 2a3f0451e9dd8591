#include "api/fhir_api.h"

#include <strings.h>

#include <algorithm>
#include <iterator>
#include <optional>
#include <vector>

#include "base/time.h"
#include "fhir/json.h"
#include "interaction/bundle_writer.h"
#include "api/outcome_response.h"
#include "interaction/outcome.h"
#include "search/search.h"

namespace lhcr::api {
namespace {

using interaction::HttpStatusFor;
using interaction::JsonString;
using interaction::OperationOutcomeFor;
using interaction::ParseEtag;
using interaction::Preconditions;
using interaction::RequestContext;
using interaction::Response;

// A GET operation's query parameters as a Parameters resource (each value
// a valueString; the operation reads value[x] of any primitive type). The
// general parameters _format and _pretty (R4 3.1.0.1.9) are the API's; the
// other '_' ones are the operation's (`_since`, `_type`, `_count` of
// $everything).
std::string ParametersFromQuery(const search::QueryParams& query) {
  fhir::JsonDoc doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("resourceType", "Parameters", a);
  fhir::Json list(rapidjson::kArrayType);
  for (const auto& [k, v] : query) {
    if (k == "_format" || k == "_pretty") continue;
    fhir::Json p(rapidjson::kObjectType);
    p.AddMember("name", fhir::Json(k.c_str(), a), a);
    p.AddMember("valueString", fhir::Json(v.c_str(), a), a);
    list.PushBack(std::move(p), a);
  }
  doc.AddMember("parameter", std::move(list), a);
  return fhir::ToJson(doc);
}

constexpr const char* kFhirJson = "application/fhir+json; charset=utf-8";

bool ContainsCi(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    if (strncasecmp(hay.data() + i, needle.data(), needle.size()) == 0) return true;
  }
  return false;
}

HttpResponse Error(const Status& s) { return OutcomeResponse(s); }

}  // namespace

FhirApi::FhirApi(interaction::Interactions& interactions, FhirApiOptions options,
                 std::function<std::string()> metrics)
    : interactions_(interactions), options_(std::move(options)), metrics_(std::move(metrics)) {}

bool FhirApi::IsCheap(const HttpRequest& request) {
  if (request.method != "GET" && request.method != "HEAD") return false;
  std::string_view path = request.Path();
  if (path == "/healthz") return true;
  if (path.rfind("/fhir/", 0) != 0 || !request.Query().empty()) return false;
  // Type/id or Type/id/_history/vid: the non-empty segments, as SplitPath
  // gives them, but counted in place (this runs for every request).
  std::string_view parts[5];
  size_t n = 0;
  for (size_t pos = 6; pos < path.size();) {
    size_t slash = std::min(path.find('/', pos), path.size());
    if (slash > pos) {
      if (n == std::size(parts)) return false;
      parts[n++] = path.substr(pos, slash - pos);
    }
    pos = slash + 1;
  }
  return (n == 2 && parts[1][0] != '_') || (n == 4 && parts[2] == "_history");
}

HttpResponse FhirApi::Handle(const HttpRequest& request, const auth::Principal* principal) {
  std::string_view path = request.Path();
  if (path == "/healthz") {
    HttpResponse r;
    r.body = "ok\n";
    r.SetHeader("Content-Type", "text/plain");
    return r;
  }
  if (path == "/metrics") {
    HttpResponse r;
    r.body = metrics_ ? metrics_() : "";
    r.SetHeader("Content-Type", "text/plain; version=0.0.4");
    return r;
  }
  if (path == "/fhir" || path.rfind("/fhir/", 0) == 0) {
    HttpResponse r = HandleFhir(request, path.substr(5), principal);
    if (request.method == "HEAD") {
      // The length GET would have sent (RFC 9110 9.3.2), not 0.
      r.SetHeader("Content-Length", std::to_string(r.body.size()));
      r.body.clear();
    }
    return r;
  }
  return Error(Status::NotFound("no such endpoint: " + std::string(path)));
}

// The CapabilityStatement tells the truth: each served operation is
// declared on its resource type.
void FhirApi::DeclareOperations(std::string& capabilities) const {
  auto doc = fhir::ParseJson(capabilities);
  if (!doc.ok()) return;
  auto& a = doc->GetAllocator();
  fhir::Json* rest = const_cast<fhir::Json*>(fhir::Member(*doc, "rest"));
  if (rest == nullptr || !rest->IsArray() || rest->Empty()) return;
  fhir::Json* resources = const_cast<fhir::Json*>(fhir::Member((*rest)[0], "resource"));
  if (resources == nullptr || !resources->IsArray()) return;
  for (const FhirOperation& op : options_.operations) {
    for (fhir::Json& r : resources->GetArray()) {
      if (fhir::StringMember(r, "type") != op.type) continue;
      if (!r.HasMember("operation")) r.AddMember("operation", fhir::Json(rapidjson::kArrayType), a);
      fhir::Json o(rapidjson::kObjectType);
      o.AddMember("name", fhir::Json(op.name.c_str(), a), a);
      o.AddMember("definition", fhir::Json(op.definition.c_str(), a), a);
      r["operation"].PushBack(std::move(o), a);
    }
  }
  capabilities = fhir::ToJson(*doc);
}

// rest.security: what the auth gate enforces, as SMART on FHIR says it.
void FhirApi::DeclareSecurity(std::string& capabilities) const {
  auto doc = fhir::ParseJson(capabilities);
  auto security = fhir::ParseJson(options_.security);
  if (!doc.ok() || !security.ok()) return;
  auto& a = doc->GetAllocator();
  fhir::Json* rest = const_cast<fhir::Json*>(fhir::Member(*doc, "rest"));
  if (rest == nullptr || !rest->IsArray() || rest->Empty()) return;
  fhir::Json copy;
  copy.CopyFrom(*security, a);
  fhir::Json& first = (*rest)[0];
  if (first.HasMember("security")) first.RemoveMember("security");
  first.AddMember("security", std::move(copy), a);
  capabilities = fhir::ToJson(*doc);
}

HttpResponse FhirApi::HandleFhir(const HttpRequest& req, std::string_view path,
                                 const auth::Principal* principal) {
  RequestContext ctx;
  ctx.principal = principal;
  if (!options_.base_url.empty()) {
    ctx.base_url = options_.base_url;
  } else {
    std::string_view host = req.Header("Host");
    if (host.empty()) host = "localhost";
    ctx.base_url.reserve(host.size() + 12);
    ctx.base_url.append("http://").append(host).append("/fhir");
  }
  std::string_view prefer = req.Header("Prefer");
  ctx.strict = ContainsCi(prefer, "handling=strict");

  // Format negotiation: JSON only.
  auto query = search::ParseQueryString(req.Query());
  if (!query.ok()) return Error(query.status());
  for (const auto& [k, v] : *query) {
    if (k == "_format" && !ContainsCi(v, "json")) {
      HttpResponse r = Error(Status::Unsupported("only JSON is supported (_format=" + v + ")"));
      r.status = 406;
      return r;
    }
  }
  std::string_view accept = req.Header("Accept");
  if (!accept.empty() && !ContainsCi(accept, "json") && !ContainsCi(accept, "*/*")) {
    HttpResponse r = Error(Status::Unsupported("only application/fhir+json is supported"));
    r.status = 406;
    return r;
  }
  const std::string& m = req.method;
  const bool has_body = m == "POST" || m == "PUT" || m == "PATCH";
  if (has_body && !req.body.empty()) {
    std::string_view ct = req.Header("Content-Type");
    bool form = ContainsCi(ct, "application/x-www-form-urlencoded");
    if (!ct.empty() && !ContainsCi(ct, "json") && !form) {
      HttpResponse r = Error(Status::Unsupported("unsupported Content-Type " + std::string(ct)));
      r.status = 415;
      return r;
    }
  }

  Preconditions pre;
  if (auto h = req.Header("If-Match"); !h.empty()) {
    pre.if_match = ParseEtag(h);
    if (!pre.if_match) return Error(Status::Incorrect("If-Match must be an ETag like W/\"1\""));
  }
  if (auto h = req.Header("If-None-Match"); !h.empty()) {
    if (h == "*")
      pre.if_none_match_any = true;
    else
      pre.if_none_match = ParseEtag(h);
  }
  if (auto h = req.Header("If-Modified-Since"); !h.empty())
    pre.if_modified_since = ParseHttpDate(h);
  pre.if_none_exist = std::string(req.Header("If-None-Exist"));

  std::vector<std::string> parts = SplitPath(path);
  // Unset when no route below answers: the "not allowed" error is built only
  // then, not for every request.
  std::optional<Result<Response>> result;
  const std::string q(req.Query());

  if (parts.empty()) {
    if (m == "POST") {
      result = interactions_.Bundle(ctx, req.body);
    } else if (m == "GET" || m == "HEAD") {
      std::string token;
      int offset = 0, count = 50;
      for (const auto& [k, v] : *query) {
        if (k == "_getpages") token = v;
        if (k == "_getpagesoffset") offset = std::atoi(v.c_str());
        if (k == "_count") count = std::atoi(v.c_str());
      }
      if (token.empty()) {
        result = Status::Unsupported("search across all types is not supported; search a type");
      } else {
        result = interactions_.SearchPage(ctx, token, std::max(0, offset), count);
      }
    }
  } else if (parts[0] == "metadata" && parts.size() == 1) {
    if (m == "GET" || m == "HEAD") {
      result = interactions_.Capabilities(ctx);
      if (result->ok() && !options_.operations.empty()) DeclareOperations((*result)->body);
      if (result->ok() && !options_.security.empty()) DeclareSecurity((*result)->body);
    }
  } else if (parts[0] == "_history" && parts.size() == 1) {
    if (m == "GET" || m == "HEAD") result = interactions_.History(ctx, "", "", *query);
  } else {
    const std::string& type = parts[0];
    if (parts.size() == 1) {
      if (m == "GET" || m == "HEAD") {
        result = interactions_.Search(ctx, type, *query);
      } else if (m == "POST") {
        result = interactions_.Create(ctx, type, req.body, pre);
      } else if (m == "PUT") {
        result = q.empty()
                     ? Result<Response>(Status::Unsupported("PUT needs an id or search criteria"))
                     : interactions_.ConditionalUpdate(ctx, type, q, req.body, pre);
      } else if (m == "DELETE") {
        result =
            q.empty()
                ? Result<Response>(Status::Unsupported("DELETE needs an id or search criteria"))
                : interactions_.ConditionalDelete(ctx, type, q);
      }
    } else if ((parts.size() == 2 || parts.size() == 3) && !parts.back().empty() &&
               parts.back()[0] == '$') {
      // Type/$op, or Type/{id}/$op for an instance-level operation.
      const bool instance = parts.size() == 3;
      const std::string& name = parts.back();
      const FhirOperation* op = nullptr;
      for (const FhirOperation& o : options_.operations) {
        if (o.type == type && o.instance == instance && "$" + o.name == name) op = &o;
      }
      if (instance) ctx.instance_id = parts[1];
      if (op == nullptr) {
        result = Status::NotFound("operation " + name + " is not supported on " + type +
                                  (instance ? " instances" : ""));
      } else if (m == "POST") {
        result = op->run(ctx, req.body);
      } else if ((m == "GET" || m == "HEAD") && !op->affects_state) {
        // R4 3.1.0.12.1 (operations): an operation that does not change
        // state may be invoked with GET, its parameters in the query.
        result = op->run(ctx, ParametersFromQuery(*query));
      } else {
        result = Status::Unsupported(type + "/" + name + " takes POST with Parameters");
      }
    } else if (parts.size() == 2 && parts[1] == "_search") {
      if (m == "POST" && !req.body.empty() &&
          !ContainsCi(req.Header("Content-Type"), "application/x-www-form-urlencoded")) {
        // R4 3.1.0.9: the parameters of POST _search are a form body.
        HttpResponse r =
            Error(Status::Unsupported("POST _search takes application/x-www-form-urlencoded"));
        r.status = 415;
        return r;
      }
      if (m == "POST") {
        auto form = search::ParseQueryString(req.body);
        if (!form.ok()) {
          result = form.status();
        } else {
          search::QueryParams all = *query;
          all.insert(all.end(), form->begin(), form->end());
          result = interactions_.Search(ctx, type, all);
        }
      }
    } else if (parts.size() == 2 && parts[1] == "_history") {
      if (m == "GET" || m == "HEAD") result = interactions_.History(ctx, type, "", *query);
    } else if (parts.size() == 2) {
      const std::string& id = parts[1];
      if (m == "GET" || m == "HEAD")
        result = interactions_.Read(ctx, type, id, pre);
      else if (m == "PUT")
        result = interactions_.Update(ctx, type, id, req.body, pre);
      else if (m == "DELETE")
        result = interactions_.Delete(ctx, type, id, pre);
      else if (m == "PATCH") {
        std::string_view ct = req.Header("Content-Type");
        if (!ContainsCi(ct, "json-patch")) {
          HttpResponse r = Error(Status::Unsupported("PATCH takes application/json-patch+json"));
          r.status = 415;
          return r;
        }
        result = interactions_.Patch(ctx, type, id, req.body, pre);
      }
    } else if (parts.size() == 3 && parts[2] == "_history") {
      if (m == "GET" || m == "HEAD") result = interactions_.History(ctx, type, parts[1], *query);
    } else if (parts.size() == 4 && parts[2] == "_history") {
      if (m == "GET" || m == "HEAD") {
        auto vid = ParseEtag(parts[3]);
        result = vid ? interactions_.VRead(ctx, type, parts[1], *vid)
                     : Result<Response>(Status::NotFound("no version " + parts[3]));
      }
    } else {
      result = Status::NotFound("no such FHIR endpoint: " + std::string(path));
    }
  }
  if (!result) result = Status::Unsupported("method " + m + " is not allowed on " + req.target);
  if (!result->ok()) return Error(result->status());

  Response& res = **result;
  HttpResponse out;
  out.headers.reserve(4);
  switch (res.kind) {
    case Response::Kind::kCreated:
      out.status = 201;
      break;
    case Response::Kind::kNoContent:
      out.status = 204;
      break;
    case Response::Kind::kNotModified:
      out.status = 304;
      break;
    default:
      out.status = 200;
  }
  if (res.version) out.SetHeader("ETag", "W/\"" + std::to_string(*res.version) + "\"");
  if (res.last_updated) out.SetHeader("Last-Modified", FormatHttpDate(*res.last_updated));
  if (!res.location.empty() &&
      (res.kind == Response::Kind::kCreated || m == "PUT" || m == "PATCH")) {
    out.SetHeader(res.kind == Response::Kind::kCreated ? "Location" : "Content-Location",
                  ctx.base_url + "/" + res.location);
  }
  if (out.status == 304 || out.status == 204) return out;
  out.body = std::move(res.body);  // a read's stored bytes, not copied again
  if (res.is_resource && (m == "POST" || m == "PUT" || m == "PATCH")) {
    if (ContainsCi(prefer, "return=minimal")) {
      out.body.clear();
      return out;
    }
    if (ContainsCi(prefer, "return=OperationOutcome")) {
      out.body =
          "{\"resourceType\":\"OperationOutcome\",\"issue\":[{\"severity\":\"information\","
          "\"code\":\"informational\",\"diagnostics\":" +
          JsonString(out.status == 201 ? "created " + res.location : "stored " + res.location) +
          "}]}";
    }
  }
  out.SetHeader("Content-Type", kFhirJson);
  return out;
}

}  // namespace lhcr::api
