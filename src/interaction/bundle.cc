// Batch and transaction Bundles (R4 3.1.0.11).
#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "fhir/json.h"
#include "fhir/search_index.h"
#include "interaction/bundle_writer.h"
#include "interaction/interaction.h"
#include "interaction/outcome.h"

namespace lhcr::interaction {
namespace {

using fhir::Json;
using fhir::JsonDoc;

struct Entry {
  size_t index = 0;
  std::string method;  // GET POST PUT PATCH DELETE HEAD
  std::string url;     // request.url as given
  std::string type;    // from the url
  std::string id;      // from the url, if any
  std::string query;   // conditional query, if any ("Type?query")
  std::string full_url;
  const Json* resource = nullptr;
  Preconditions pre;
};

// A JSON Patch in a Bundle travels as a Binary resource with base64 data.
constexpr const char* kNoBundlePatch = "PATCH inside a Bundle is not supported; use HTTP PATCH";

int MethodOrder(const std::string& m) {
  if (m == "DELETE") return 0;
  if (m == "POST") return 1;
  if (m == "PUT" || m == "PATCH") return 2;
  return 3;  // GET, HEAD
}

Result<std::vector<Entry>> ParseEntries(const Json& bundle) {
  std::vector<Entry> out;
  const Json* entries = fhir::Member(bundle, "entry");
  if (entries == nullptr) return out;
  if (!entries->IsArray()) return Status::Incorrect("Bundle.entry must be an array");
  size_t i = 0;
  for (const Json& e : entries->GetArray()) {
    Entry en;
    en.index = i++;
    std::string where = "Bundle.entry[" + std::to_string(en.index) + "]";
    const Json* req = fhir::Member(e, "request");
    if (req == nullptr || !req->IsObject()) return Status::Incorrect(where + " has no request");
    en.method = fhir::StringMember(*req, "method");
    en.url = fhir::StringMember(*req, "url");
    static const std::set<std::string> kMethods = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};
    if (!kMethods.contains(en.method))
      return Status::Incorrect(where + ".request.method is missing or unknown");
    if (en.url.empty()) return Status::Incorrect(where + ".request.url is missing");
    std::string url = en.url;
    if (!url.empty() && url[0] == '/') url = url.substr(1);
    size_t q = url.find('?');
    std::string path = url.substr(0, q);
    if (q != std::string::npos) en.query = url.substr(q + 1);
    size_t slash = path.find('/');
    en.type = path.substr(0, slash);
    if (slash != std::string::npos) en.id = path.substr(slash + 1);
    en.full_url = fhir::StringMember(e, "fullUrl");
    const Json* res = fhir::Member(e, "resource");
    if (res != nullptr && res->IsObject()) en.resource = res;
    if ((en.method == "POST" || en.method == "PUT") && en.resource == nullptr) {
      return Status::Incorrect(where + " (" + en.method + ") has no resource");
    }
    en.pre.if_none_exist = fhir::StringMember(*req, "ifNoneExist");
    if (auto m = fhir::StringMember(*req, "ifMatch"); !m.empty()) en.pre.if_match = ParseEtag(m);
    if (auto m = fhir::StringMember(*req, "ifNoneMatch"); !m.empty()) {
      if (m == "*")
        en.pre.if_none_match_any = true;
      else
        en.pre.if_none_match = ParseEtag(m);
    }
    out.push_back(std::move(en));
  }
  return out;
}

// Replaces every Reference.reference found in `map` (or conditional, via
// `resolve_conditional`) inside `node`.
Status RewriteReferences(Json& node, const std::map<std::string, std::string>& map,
                         const std::function<Result<std::string>(const std::string&)>& conditional,
                         JsonDoc::AllocatorType& a) {
  if (node.IsArray()) {
    for (Json& e : node.GetArray()) RETURN_IF_ERROR(RewriteReferences(e, map, conditional, a));
    return Status::Ok();
  }
  if (!node.IsObject()) return Status::Ok();
  for (auto& m : node.GetObject()) {
    if (m.value.IsString() && fhir::AsView(m.name) == "reference") {
      std::string ref(fhir::AsView(m.value));
      auto it = map.find(ref);
      if (it != map.end()) {
        m.value.SetString(it->second.c_str(), static_cast<rapidjson::SizeType>(it->second.size()),
                          a);
      } else if (size_t q = ref.find('?');
                 q != std::string::npos && ref.substr(0, q).find("://") == std::string::npos) {
        // Conditional "Type?query"; the query itself may hold URLs
        // (identifier=https://...|x), so only the part before '?' decides.
        ASSIGN_OR_RETURN(std::string resolved, conditional(ref));
        m.value.SetString(resolved.c_str(), static_cast<rapidjson::SizeType>(resolved.size()), a);
      } else if (ref.rfind("urn:uuid:", 0) == 0 || ref.rfind("urn:oid:", 0) == 0) {
        return Status::Incorrect("reference " + ref + " names no entry of this transaction");
      }
    } else {
      RETURN_IF_ERROR(RewriteReferences(m.value, map, conditional, a));
    }
  }
  return Status::Ok();
}

std::string StatusLine(Response::Kind k) {
  switch (k) {
    case Response::Kind::kCreated:
      return "201 Created";
    case Response::Kind::kNoContent:
      return "204 No Content";
    case Response::Kind::kNotModified:
      return "304 Not Modified";
    default:
      return "200 OK";
  }
}

std::string ResponseEntry(const Response& r, const std::string& base_url) {
  std::string e;
  // One allocation for the body, which dominates (a transaction-response
  // carries every stored resource).
  e.reserve(r.body.size() + base_url.size() + 2 * r.location.size() + 160);
  e += '{';
  bool has_resource = !r.body.empty();
  if (has_resource && r.is_resource && !r.location.empty()) {
    std::string loc = r.location.substr(0, r.location.find("/_history/"));
    e += "\"fullUrl\":";
    e += JsonString(base_url + "/" + loc);
    e += ',';
  }
  if (has_resource) {
    e += "\"resource\":";
    e += r.body;
    e += ',';
  }
  e += "\"response\":{\"status\":" + JsonString(StatusLine(r.kind));
  if (!r.location.empty()) e += ",\"location\":" + JsonString(r.location);
  if (r.version) e += ",\"etag\":" + JsonString("W/\"" + std::to_string(*r.version) + "\"");
  if (r.last_updated) e += ",\"lastModified\":" + JsonString(FormatInstant(*r.last_updated));
  e += "}}";
  return e;
}

std::string ErrorEntry(const Status& s) {
  return "{\"response\":{\"status\":" + JsonString(std::to_string(HttpStatusFor(s))) +
         ",\"outcome\":" + OperationOutcomeFor(s) + "}}";
}

}  // namespace

Result<Response> Interactions::Bundle(const RequestContext& ctx, const std::string& body) {
  if (body.empty()) return Status::Incorrect("the request has no body; a Bundle is required");
  fhir::NumberTexts number_texts;
  ASSIGN_OR_RETURN(JsonDoc doc, fhir::ParseJsonKeepingNumbers(body, &number_texts));
  std::shared_ptr<const fhir::NumberTexts> numbers;
  if (!number_texts.empty())
    numbers = std::make_shared<const fhir::NumberTexts>(std::move(number_texts));
  auto pointer_of = [](const Entry& e) {
    return "/entry/" + std::to_string(e.index) + "/resource";
  };
  if (!doc.IsObject() || fhir::StringMember(doc, "resourceType") != "Bundle") {
    return Status::Incorrect("POST to the base URL takes a Bundle");
  }
  std::string type(fhir::StringMember(doc, "type"));
  if (type != "batch" && type != "transaction") {
    return Status::Incorrect("Bundle.type must be batch or transaction, not '" + type + "'");
  }
  ASSIGN_OR_RETURN(std::vector<Entry> entries, ParseEntries(doc));

  if (type == "batch") {
    // Each entry on its own; one failing does not affect the others.
    BundleWriter out("batch-response", ctx.base_url);
    for (const Entry& e : entries) {
      Result<Response> r = Status::Fault("not run");
      std::string res = !e.resource ? ""
                        : numbers ? fhir::ToJsonKeepingNumbers(*e.resource, *numbers, pointer_of(e))
                                  : fhir::ToJson(*e.resource);
      if (e.method == "GET" || e.method == "HEAD") {
        // request.url is one of: Type/id, Type/id/_history/vid,
        // Type/id/_history, Type/_history, Type?query (R4 3.1.0.11.1).
        const size_t slash = e.id.find('/');
        const std::string id = e.id.substr(0, slash);
        const std::string rest = slash == std::string::npos ? "" : e.id.substr(slash + 1);
        auto qp = search::ParseQueryString(e.query);
        if (!qp.ok()) {
          r = qp.status();
        } else if (e.id.empty()) {
          r = Search(ctx, e.type, *qp);
        } else if (id == "_history" && rest.empty()) {
          r = History(ctx, e.type, "", *qp);
        } else if (rest.empty()) {
          r = Read(ctx, e.type, id, e.pre);
        } else if (rest == "_history") {
          r = History(ctx, e.type, id, *qp);
        } else if (rest.rfind("_history/", 0) == 0 && rest.size() > 9 && rest.size() < 19 &&
                   rest.find_first_not_of("0123456789", 9) == std::string::npos) {
          r = VRead(ctx, e.type, id, std::stoll(rest.substr(9)));
        } else {
          r = Status::NotFound("no such FHIR endpoint: " + e.url);
        }
      } else if (e.method == "POST") {
        r = Create(ctx, e.type, res, e.pre);
      } else if (e.method == "PUT") {
        r = e.id.empty() ? ConditionalUpdate(ctx, e.type, e.query, res, e.pre)
                         : Update(ctx, e.type, e.id, res, e.pre);
      } else if (e.method == "DELETE") {
        r = e.id.empty() ? ConditionalDelete(ctx, e.type, e.query)
                         : Delete(ctx, e.type, e.id, e.pre);
      } else if (e.method == "PATCH") {
        // Only this entry fails: batch entries are independent (R4 3.1.0.11.1).
        r = Status::Unsupported(kNoBundlePatch);
      }
      out.RawEntry(r.ok() ? ResponseEntry(*r, ctx.base_url) : ErrorEntry(r.status()));
    }
    Response resp;
    resp.body = out.Finish();
    return resp;
  }

  // Transaction: all or nothing, in the order the spec sets.
  std::map<std::string, std::string> ids;  // fullUrl -> "Type/id"
  std::vector<std::string> new_ids(entries.size());
  std::set<std::string> full_urls;
  for (const Entry& e : entries) {
    std::string where = "Bundle.entry[" + std::to_string(e.index) + "]";
    if (!e.full_url.empty() && !full_urls.insert(e.full_url).second) {
      return Status::Incorrect(where + ": fullUrl " + e.full_url + " appears twice");
    }
    if (!IsKnownType(e.type)) {
      return Status::Incorrect(where + ": unknown resource type '" + e.type + "'");
    }
    if (e.method == "PATCH") return Status::Unsupported(where + ": " + kNoBundlePatch);
    if (e.method == "POST") {
      new_ids[e.index] = NextId();
      if (!e.full_url.empty()) ids[e.full_url] = e.type + "/" + new_ids[e.index];
    } else if (e.method == "PUT" && !e.id.empty() && !e.full_url.empty()) {
      ids[e.full_url] = e.type + "/" + e.id;
    }
    if (e.resource != nullptr && fhir::StringMember(*e.resource, "resourceType") != e.type) {
      return Status::Incorrect(where + ": the resource is not a " + e.type);
    }
  }
  std::vector<size_t> order(entries.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return MethodOrder(entries[a].method) < MethodOrder(entries[b].method);
  });

  // Work that does not depend on what the transaction finds in the store is
  // done here, before it, so that the store's single writer only writes:
  // references to entries whose ids are already fixed are rewritten, and
  // resources validated and indexed. A conditional create or update can
  // change where a fullUrl points, and a conditional reference needs a
  // search: such resources are prepared inside the transaction instead.
  bool ids_are_final = true;
  for (const Entry& e : entries) {
    if ((e.method == "POST" && !e.pre.if_none_exist.empty()) ||
        (e.method == "PUT" && e.id.empty())) {
      ids_are_final = false;
    }
  }
  std::vector<std::optional<PreparedResource>> prepared(entries.size());
  for (const Entry& e : entries) {
    if (!ids_are_final || (e.method != "POST" && e.method != "PUT")) continue;
    if (e.method == "PUT" && fhir::StringMember(*e.resource, "id") != e.id) continue;
    JsonDoc res;
    res.CopyFrom(*e.resource, res.GetAllocator());
    bool conditional = false;
    auto defer = [&](const std::string& ref) -> Result<std::string> {
      conditional = true;
      return ref;
    };
    if (!RewriteReferences(res, ids, defer, res.GetAllocator()).ok() || conditional) continue;
    // A failure is reported, with its place in the Bundle, when the
    // transaction prepares the entry again.
    if (auto p = PrepareResource(std::move(res)); p.ok()) {
      p->numbers = numbers;
      p->pointer = pointer_of(e);
      // A create's id is fixed here and its version is 1 unless the id is
      // taken (then the transaction serialises it itself, and fails).
      if (e.method == "POST") SerialiseAhead(*p, new_ids[e.index]);
      prepared[e.index] = std::move(p).value();
    }
  }

  // What each entry gave; its response entry text is built after the
  // write, on this thread, not on the store's single writer.
  std::vector<Response> results(entries.size());
  Status s = store_.Write([&](store::WriteTxn& txn) -> Status {
    auto where = [](const Entry& e) { return "Bundle.entry[" + std::to_string(e.index) + "]: "; };
    // Names the entry; keeps the problems behind the status (validation
    // issues), located inside the Bundle.
    auto prefix = [&](const Entry& e, const Status& st) {
      std::vector<StatusDetail> details = st.details();
      const std::string in_entry = "Bundle.entry[" + std::to_string(e.index) + "].resource";
      for (StatusDetail& d : details) {
        if (d.location.rfind(e.type + ".", 0) == 0) {
          d.location = in_entry + d.location.substr(e.type.size());
        } else if (!d.location.empty()) {
          d.location = in_entry + "." + d.location;
        }
      }
      return Status(st.code(), where(e) + st.message()).WithDetails(std::move(details));
    };
    std::map<std::string, std::string> map = ids;
    // Conditional creates and conditional updates resolve first, so that
    // references to them point at what they become.
    std::vector<bool> existing(entries.size(), false);
    std::vector<Response> found(entries.size());
    for (const Entry& e : entries) {
      if (e.method == "POST" && !e.pre.if_none_exist.empty()) {
        auto m = ConditionalIn(txn, e.type, e.pre.if_none_exist);
        if (!m.ok()) return prefix(e, m.status());
        if (m->size() > 1)
          return prefix(e, Status::Precondition("ifNoneExist matched more than one " + e.type));
        if (m->size() == 1) {
          existing[e.index] = true;
          found[e.index] = StoredResponse(m->front());
          if (!e.full_url.empty()) map[e.full_url] = e.type + "/" + m->front().id;
        }
      } else if (e.method == "PUT" && e.id.empty()) {
        auto m = ConditionalIn(txn, e.type, e.query);
        if (!m.ok()) return prefix(e, m.status());
        if (m->size() > 1)
          return prefix(e,
                        Status::Precondition("conditional update matched more than one " + e.type));
        std::string id = m->size() == 1 ? m->front().id : NextId();
        new_ids[e.index] = id;
        if (!e.full_url.empty()) map[e.full_url] = e.type + "/" + id;
      }
    }
    auto conditional_ref = [&](const std::string& ref) -> Result<std::string> {
      size_t q = ref.find('?');
      std::string rtype = ref.substr(0, q);
      ASSIGN_OR_RETURN(auto m, ConditionalIn(txn, rtype, ref.substr(q + 1)));
      if (m.size() != 1) {
        return Status::Precondition("conditional reference " + ref + " matched " +
                                    std::to_string(m.size()) + " resources, not one");
      }
      return rtype + "/" + m.front().id;
    };
    for (size_t idx : order) {
      const Entry& e = entries[idx];
      Result<Response> r = Status::Fault("not run");
      if (e.method == "DELETE") {
        if (e.id.empty()) {
          auto m = ConditionalIn(txn, e.type, e.query);
          if (!m.ok()) return prefix(e, m.status());
          if (m->size() > 1)
            return prefix(
                e, Status::Precondition("conditional delete matched more than one " + e.type));
          if (m->empty()) {
            Response none;
            none.kind = Response::Kind::kNoContent;
            r = none;
          } else {
            r = DeleteInTxn(txn, e.type, m->front().id, e.pre);
          }
        } else {
          r = DeleteInTxn(txn, e.type, e.id, e.pre);
        }
      } else if (e.method == "POST" || e.method == "PUT") {
        if (existing[e.index]) {
          results[e.index] = std::move(found[e.index]);
          continue;
        }
        if (prepared[e.index]) {
          const std::string& id = e.method == "POST" ? new_ids[e.index] : e.id;
          r = WritePreparedInTxn(txn, *prepared[e.index], id, e.method == "POST", e.pre);
          if (!r.ok()) return prefix(e, r.status());
          results[e.index] = std::move(r).value();
          continue;
        }
        JsonDoc res;
        res.CopyFrom(*e.resource, res.GetAllocator());
        Status rw = RewriteReferences(res, map, conditional_ref, res.GetAllocator());
        if (!rw.ok()) return prefix(e, rw);
        std::string id =
            e.method == "POST" ? new_ids[e.index] : (e.id.empty() ? new_ids[e.index] : e.id);
        if (e.method == "PUT") {
          std::string_view body_id = fhir::StringMember(res, "id");
          if (!e.id.empty() && body_id != e.id) {
            return prefix(e, Status::Incorrect("the resource's id does not match request.url"));
          }
          if (e.id.empty()) {
            auto& a = res.GetAllocator();
            if (res.HasMember("id")) res.RemoveMember("id");
            res.AddMember("id", Json(id.c_str(), static_cast<rapidjson::SizeType>(id.size()), a),
                          a);
          }
        }
        r = WriteInTxn(txn, std::move(res), id, e.method == "POST", e.pre, numbers, pointer_of(e));
      } else {  // GET / HEAD, after every write
        r = ReadInTxn(txn, ctx, e.type, e.id, e.query);
      }
      if (!r.ok()) return prefix(e, r.status());
      results[e.index] = std::move(r).value();
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  BundleWriter out("transaction-response", ctx.base_url);
  for (const Response& r : results) out.RawEntry(ResponseEntry(r, ctx.base_url));
  Response resp;
  resp.body = out.Finish();
  return resp;
}

}  // namespace lhcr::interaction
