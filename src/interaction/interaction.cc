#include "interaction/interaction.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <unordered_map>

#include "fhir/json.h"
#include "fhir/json_patch.h"
#include "fhir/search_index.h"
#include "interaction/bundle_writer.h"
#include "interaction/page_cache.h"

namespace lhcr::interaction {
namespace {

using fhir::Json;
using fhir::JsonDoc;
using store::IndexRow;
using store::ResourceVersion;

std::string Ref(const std::string& type, const std::string& id) { return type + "/" + id; }

// Built in one allocation: every read computes it.
std::string HistoryLocation(const ResourceVersion& v) {
  const std::string vid = std::to_string(v.version);
  std::string out;
  out.reserve(v.type.size() + v.id.size() + vid.size() + 11);
  out.append(v.type).append("/").append(v.id).append("/_history/").append(vid);
  return out;
}

bool IsValidId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')) return false;
  }
  return true;
}

// Sets or replaces a string member.
void SetString(Json& obj, std::string_view name, std::string_view value,
               JsonDoc::AllocatorType& a) {
  Json v(value.data(), static_cast<rapidjson::SizeType>(value.size()), a);
  auto it = obj.FindMember(rapidjson::StringRef(name.data(), name.size()));
  if (it != obj.MemberEnd()) {
    it->value = v;
  } else {
    obj.AddMember(Json(name.data(), static_cast<rapidjson::SizeType>(name.size()), a), v, a);
  }
}

// Puts id first after resourceType? JSON member order is not significant in
// FHIR; we set the values in place.
void SetIdAndMeta(JsonDoc& doc, const std::string& id, int64_t version, Millis updated) {
  auto& a = doc.GetAllocator();
  SetString(doc, "id", id, a);
  auto meta = doc.FindMember("meta");
  if (meta == doc.MemberEnd() || !meta->value.IsObject()) {
    if (meta != doc.MemberEnd()) doc.RemoveMember(meta);
    doc.AddMember("meta", Json(rapidjson::kObjectType), a);
    meta = doc.FindMember("meta");
  }
  SetString(meta->value, "versionId", std::to_string(version), a);
  SetString(meta->value, "lastUpdated", FormatInstant(updated), a);
}

Status ValidationError(const std::vector<fhir::ValidationIssue>& issues) {
  std::vector<StatusDetail> details;
  std::string first;
  for (const auto& i : issues) {
    if (i.severity != fhir::ValidationIssue::Severity::kError) continue;
    if (first.empty()) first = i.location + ": " + i.message;
    details.push_back({i.code, i.location, i.message});
  }
  if (details.empty()) return Status::Ok();
  return Status::Unprocessable("the resource is not valid FHIR R4 (" +
                               std::to_string(details.size()) + " problem" +
                               (details.size() == 1 ? "" : "s") + "; first: " + first + ")")
      .WithDetails(std::move(details));
}

// Parses a request body as a resource of `type` (any type if empty).
Result<JsonDoc> ParseResource(const std::string& body, const std::string& type,
                              fhir::NumberTexts* numbers) {
  if (body.empty()) return Status::Incorrect("the request has no body; a resource is required");
  ASSIGN_OR_RETURN(JsonDoc doc, fhir::ParseJsonKeepingNumbers(body, numbers));
  if (!doc.IsObject()) return Status::Incorrect("the body is not a JSON object");
  std::string_view rt = fhir::StringMember(doc, "resourceType");
  if (rt.empty()) return Status::Incorrect("the resource has no resourceType");
  if (!type.empty() && rt != type) {
    return Status::Incorrect("the resource is a " + std::string(rt) + ", the URL names " + type);
  }
  return doc;
}

using Prepared = PreparedResource;

// Attaches the exact number texts of the request to a prepared resource.
void KeepNumbers(Prepared* p, fhir::NumberTexts numbers, std::string pointer = "") {
  if (numbers.empty()) return;
  p->numbers = std::make_shared<const fhir::NumberTexts>(std::move(numbers));
  p->pointer = std::move(pointer);
}

}  // namespace

struct Interactions::Impl {
  store::Store& store;
  std::shared_ptr<const fhir::SearchParamRegistry> params;
  std::shared_ptr<const fhir::Validator> validator;
  Clock& clock;
  IdGenerator& ids;
  Options options;
  PageCache pages;

  Result<Prepared> Prepare(JsonDoc doc) {
    Prepared p;
    p.type = std::string(fhir::StringMember(doc, "resourceType"));
    if (!validator->IsResourceType(p.type)) {
      return Status::Incorrect("unknown resource type " + p.type);
    }
    RETURN_IF_ERROR(ValidationError(validator->Validate(doc)));
    p.rows = fhir::ExtractIndexRows(doc, *params);
    p.doc = std::move(doc);
    return p;
  }

  // The index rows of a stored version (to remove them when it is replaced):
  // every row it may have been stored with, by this lhcr or one that wrote
  // each parameter's rows in full.
  std::vector<IndexRow> RowsOf(const ResourceVersion& v) {
    if (v.deleted || v.json.empty()) return {};
    auto doc = fhir::ParseJson(v.json);
    if (!doc.ok()) return {};
    return fhir::ExtractIndexRowsAnyLayout(*doc, *params);
  }

  // Stores `p` as the next version of type/id inside `txn`. `current` is
  // what is stored now (nullopt if nothing).
  Result<ResourceVersion> PutVersion(store::WriteTxn& txn, Prepared& p, const std::string& id,
                                     const std::optional<ResourceVersion>& current,
                                     store::Method method) {
    ResourceVersion v;
    v.type = p.type;
    v.id = id;
    v.version = current ? current->version + 1 : 1;
    v.last_updated = clock.Now();
    v.method = method;
    if (!p.ahead_json.empty() && v.version == 1 && p.ahead_id == id) {
      const std::string instant = FormatInstant(v.last_updated);
      v.json.reserve(p.ahead_json.size() - p.ahead_len + instant.size());
      v.json.append(p.ahead_json, 0, p.ahead_at);
      v.json.append(instant);
      v.json.append(p.ahead_json, p.ahead_at + p.ahead_len);
    } else {
      SetIdAndMeta(p.doc, id, v.version, v.last_updated);
      v.json = p.numbers ? fhir::ToJsonKeepingNumbers(p.doc, *p.numbers, p.pointer)
                         : fhir::ToJson(p.doc);
    }
    std::vector<IndexRow> old_rows;
    if (current) old_rows = RowsOf(*current);
    RETURN_IF_ERROR(txn.Put(v, p.rows, old_rows));
    return v;
  }

  Result<ResourceVersion> PutTombstone(store::WriteTxn& txn, const ResourceVersion& current) {
    ResourceVersion v;
    v.type = current.type;
    v.id = current.id;
    v.version = current.version + 1;
    v.last_updated = clock.Now();
    v.method = store::Method::kDelete;
    std::vector<IndexRow> old_rows = RowsOf(current);
    RETURN_IF_ERROR(txn.Put(v, {}, old_rows));
    return v;
  }

  // Resources of `type` matching a conditional query, inside a view (at
  // most two: zero, one or many is all that matters). Always strict: a
  // condition that is ignored would match everything.
  Result<std::vector<ResourceVersion>> Conditional(store::StoreView& view, const std::string& type,
                                                   const std::string& query, size_t limit = 2) {
    ASSIGN_OR_RETURN(search::QueryParams qp, search::ParseQueryString(query));
    if (qp.empty()) return Status::Incorrect("a conditional request needs search criteria");
    search::ParseOptions po;
    po.strict = true;
    ASSIGN_OR_RETURN(search::SearchRequest req, search::ParseSearch(type, qp, *params, po));
    ASSIGN_OR_RETURN(std::vector<store::Rid> rids, search::Execute(req, view, *params));
    if (rids.size() > limit) rids.resize(limit);
    return view.Fetch(rids, std::nullopt);
  }

  static Response Stored(const ResourceVersion& v, Response::Kind kind) {
    return Stored(v, kind, v.json);
  }
  // For a version read only to be answered (read, vread): its bytes move
  // into the response instead of being copied once more per request.
  static Response Stored(ResourceVersion&& v, Response::Kind kind) {
    std::string body = std::move(v.json);
    return Stored(v, kind, std::move(body));
  }
  static Response Stored(const ResourceVersion& v, Response::Kind kind, std::string body) {
    Response r;
    r.kind = kind;
    r.body = std::move(body);
    r.version = v.version;
    r.last_updated = v.last_updated;
    r.location = HistoryLocation(v);
    r.is_resource = true;
    return r;
  }

  // Create inside a transaction (also used by Bundle).
  Result<Response> CreateIn(store::WriteTxn& txn, Prepared& p, const std::string& id,
                            const std::string& if_none_exist) {
    if (!if_none_exist.empty()) {
      ASSIGN_OR_RETURN(auto found, Conditional(txn, p.type, if_none_exist));
      if (found.size() > 1) {
        return Status::Precondition("If-None-Exist matched more than one " + p.type);
      }
      if (found.size() == 1) return Stored(found.front(), Response::Kind::kOk);
    }
    ASSIGN_OR_RETURN(auto current, txn.Read(p.type, id));
    if (current && !current->deleted) return Status::Conflict(Ref(p.type, id) + " already exists");
    ASSIGN_OR_RETURN(ResourceVersion v, PutVersion(txn, p, id, current, store::Method::kCreate));
    return Stored(std::move(v), Response::Kind::kCreated);
  }

  Result<Response> UpdateIn(store::WriteTxn& txn, Prepared& p, const std::string& id,
                            const Preconditions& pre) {
    ASSIGN_OR_RETURN(auto current, txn.Read(p.type, id));
    const bool exists = current && !current->deleted;
    if (pre.if_match) {
      if (!exists) {
        return Status::Precondition("If-Match: " + Ref(p.type, id) + " does not exist");
      }
      if (*pre.if_match != current->version) {
        return Status::Precondition("If-Match: " + Ref(p.type, id) + " is at version " +
                                    std::to_string(current->version) + ", not " +
                                    std::to_string(*pre.if_match));
      }
    }
    if (pre.if_none_match_any && exists) {
      return Status::Precondition("If-None-Match: * but " + Ref(p.type, id) + " exists");
    }
    ASSIGN_OR_RETURN(
        ResourceVersion v,
        PutVersion(txn, p, id, current, exists ? store::Method::kUpdate : store::Method::kCreate));
    return Stored(std::move(v), exists ? Response::Kind::kOk : Response::Kind::kCreated);
  }

  Result<Response> DeleteIn(store::WriteTxn& txn, const std::string& type, const std::string& id,
                            const Preconditions& pre) {
    ASSIGN_OR_RETURN(auto current, txn.Read(type, id));
    Response r;
    r.kind = Response::Kind::kNoContent;
    if (!current || current->deleted) return r;  // deleting nothing succeeds (R4 3.1.0.7.1)
    if (pre.if_match && *pre.if_match != current->version) {
      return Status::Precondition("If-Match: " + Ref(type, id) + " is at version " +
                                  std::to_string(current->version));
    }
    ASSIGN_OR_RETURN(ResourceVersion v, PutTombstone(txn, *current));
    r.version = v.version;
    r.last_updated = v.last_updated;
    return r;
  }
};

Interactions::Interactions(store::Store& store,
                           std::shared_ptr<const fhir::SearchParamRegistry> params,
                           std::shared_ptr<const fhir::Validator> validator, Clock& clock,
                           IdGenerator& ids, Options options)
    : store_(store),
      params_(params),
      impl_(new Impl{store, std::move(params), std::move(validator), clock, ids, options,
                     PageCache()}) {}

Interactions::~Interactions() = default;

Result<Response> Interactions::Read(const RequestContext& ctx, const std::string& type,
                                    const std::string& id, const Preconditions& pre) {
  if (!impl_->validator->IsResourceType(type))
    return Status::NotFound("unknown resource type " + type);
  ASSIGN_OR_RETURN(auto v, store_.ReadCurrent(type, id));
  if (!v) return Status::NotFound(Ref(type, id) + " is not known");
  if (v->deleted) return Status::Gone(Ref(type, id) + " was deleted");
  // RFC 7232 6: If-None-Match, when present, decides alone; "*" matches any
  // current version. If-Modified-Since compares whole seconds (HTTP dates).
  const bool has_inm = pre.if_none_match || pre.if_none_match_any;
  if ((has_inm && (pre.if_none_match_any || *pre.if_none_match == v->version)) ||
      (!has_inm && pre.if_modified_since &&
       v->last_updated / 1000 <= *pre.if_modified_since / 1000)) {
    Response r;
    r.kind = Response::Kind::kNotModified;
    r.version = v->version;
    r.last_updated = v->last_updated;
    return r;
  }
  return Impl::Stored(std::move(*v), Response::Kind::kOk);
}

Result<Response> Interactions::VRead(const RequestContext& ctx, const std::string& type,
                                     const std::string& id, int64_t version) {
  if (!impl_->validator->IsResourceType(type))
    return Status::NotFound("unknown resource type " + type);
  ASSIGN_OR_RETURN(auto v, store_.ReadVersion(type, id, version));
  if (!v) return Status::NotFound(Ref(type, id) + " has no version " + std::to_string(version));
  if (v->deleted)
    return Status::Gone(Ref(type, id) + " version " + std::to_string(version) + " is a deletion");
  return Impl::Stored(std::move(*v), Response::Kind::kOk);
}

Result<Response> Interactions::Create(const RequestContext& ctx, const std::string& type,
                                      const std::string& body, const Preconditions& pre) {
  if (!IsKnownType(type)) return Status::NotFound("unknown resource type " + type);
  fhir::NumberTexts numbers;
  ASSIGN_OR_RETURN(JsonDoc doc, ParseResource(body, type, &numbers));
  ASSIGN_OR_RETURN(Prepared p, impl_->Prepare(std::move(doc)));
  KeepNumbers(&p, std::move(numbers));
  const std::string id = impl_->ids.Next();  // a create ignores the body's id (R4 3.1.0.8)
  Result<Response> out = Status::Fault("create did not run");
  Status s = store_.Write([&](store::WriteTxn& txn) -> Status {
    out = impl_->CreateIn(txn, p, id, pre.if_none_exist);
    return out.status();
  });
  if (!s.ok()) return s;
  return out;
}

Result<Response> Interactions::Update(const RequestContext& ctx, const std::string& type,
                                      const std::string& id, const std::string& body,
                                      const Preconditions& pre) {
  if (!IsKnownType(type)) return Status::NotFound("unknown resource type " + type);
  if (!IsValidId(id)) return Status::Incorrect("'" + id + "' is not a valid resource id");
  fhir::NumberTexts numbers;
  ASSIGN_OR_RETURN(JsonDoc doc, ParseResource(body, type, &numbers));
  std::string_view body_id = fhir::StringMember(doc, "id");
  if (body_id.empty()) return Status::Incorrect("an update needs the resource's id in the body");
  if (body_id != id) {
    return Status::Incorrect("the body's id '" + std::string(body_id) + "' is not the URL's id '" +
                             id + "'");
  }
  ASSIGN_OR_RETURN(Prepared p, impl_->Prepare(std::move(doc)));
  KeepNumbers(&p, std::move(numbers));
  Result<Response> out = Status::Fault("update did not run");
  Status s = store_.Write([&](store::WriteTxn& txn) -> Status {
    out = impl_->UpdateIn(txn, p, id, pre);
    return out.status();
  });
  if (!s.ok()) return s;
  return out;
}

Result<Response> Interactions::ConditionalUpdate(const RequestContext& ctx, const std::string& type,
                                                 const std::string& query, const std::string& body,
                                                 const Preconditions& pre) {
  if (!IsKnownType(type)) return Status::NotFound("unknown resource type " + type);
  fhir::NumberTexts numbers;
  ASSIGN_OR_RETURN(JsonDoc doc, ParseResource(body, type, &numbers));
  std::string body_id(fhir::StringMember(doc, "id"));
  ASSIGN_OR_RETURN(Prepared p, impl_->Prepare(std::move(doc)));
  KeepNumbers(&p, std::move(numbers));
  const std::string new_id = body_id.empty() ? impl_->ids.Next() : body_id;
  Result<Response> out = Status::Fault("update did not run");
  Status s = store_.Write([&](store::WriteTxn& txn) -> Status {
    auto found = impl_->Conditional(txn, type, query);
    if (!found.ok()) return found.status();
    if (found->size() > 1) {
      return Status::Precondition("the conditional update matched more than one " + type);
    }
    std::string id = new_id;
    if (found->size() == 1) {
      id = found->front().id;
      if (!body_id.empty() && body_id != id) {
        return Status::Incorrect("the body's id '" + body_id + "' is not the id of the match '" +
                                 id + "'");
      }
    }
    out = impl_->UpdateIn(txn, p, id, pre);
    return out.status();
  });
  if (!s.ok()) return s;
  return out;
}

Result<Response> Interactions::Patch(const RequestContext& ctx, const std::string& type,
                                     const std::string& id, const std::string& body,
                                     const Preconditions& pre) {
  if (!IsKnownType(type)) return Status::NotFound("unknown resource type " + type);
  ASSIGN_OR_RETURN(JsonDoc patch, fhir::ParseJson(body));
  if (!patch.IsArray()) return Status::Incorrect("a JSON Patch is an array of operations");
  Result<Response> out = Status::Fault("patch did not run");
  Status s = store_.Write([&](store::WriteTxn& txn) -> Status {
    auto current = txn.Read(type, id);
    if (!current.ok()) return current.status();
    if (!*current) return Status::NotFound(Ref(type, id) + " is not known");
    if ((*current)->deleted) return Status::Gone(Ref(type, id) + " was deleted");
    if (pre.if_match && *pre.if_match != (*current)->version) {
      return Status::Precondition("If-Match: " + Ref(type, id) + " is at version " +
                                  std::to_string((*current)->version));
    }
    fhir::NumberTexts numbers;
    auto doc = fhir::ParseJsonKeepingNumbers((*current)->json, &numbers);
    if (!doc.ok()) return Status::Fault("stored resource is not JSON");
    RETURN_IF_ERROR(fhir::ApplyJsonPatch(patch, &*doc));
    if (fhir::StringMember(*doc, "resourceType") != type || fhir::StringMember(*doc, "id") != id) {
      return Status::Unprocessable("a patch may not change the resource's type or id");
    }
    auto prepared = impl_->Prepare(std::move(*doc));
    if (!prepared.ok()) return prepared.status();
    KeepNumbers(&*prepared, std::move(numbers));
    auto v = impl_->PutVersion(txn, *prepared, id, *current, store::Method::kPatch);
    if (!v.ok()) return v.status();
    out = Impl::Stored(*v, Response::Kind::kOk);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<Response> Interactions::Delete(const RequestContext& ctx, const std::string& type,
                                      const std::string& id, const Preconditions& pre) {
  if (!impl_->validator->IsResourceType(type))
    return Status::NotFound("unknown resource type " + type);
  Result<Response> out = Status::Fault("delete did not run");
  Status s = store_.Write([&](store::WriteTxn& txn) -> Status {
    out = impl_->DeleteIn(txn, type, id, pre);
    return out.status();
  });
  if (!s.ok()) return s;
  return out;
}

Result<Response> Interactions::ConditionalDelete(const RequestContext& ctx, const std::string& type,
                                                 const std::string& query) {
  if (!IsKnownType(type)) return Status::NotFound("unknown resource type " + type);
  Result<Response> out = Status::Fault("delete did not run");
  Status s = store_.Write([&](store::WriteTxn& txn) -> Status {
    auto found = impl_->Conditional(txn, type, query);
    if (!found.ok()) return found.status();
    if (found->size() > 1) {
      return Status::Precondition("the conditional delete matched more than one " + type);
    }
    if (found->empty()) {
      Response r;
      r.kind = Response::Kind::kNoContent;
      out = r;
      return Status::Ok();
    }
    out = impl_->DeleteIn(txn, type, found->front().id, {});
    return out.status();
  });
  if (!s.ok()) return s;
  return out;
}

Result<Response> Interactions::History(const RequestContext& ctx, const std::string& type,
                                       const std::string& id, const search::QueryParams& params) {
  if (!type.empty() && !impl_->validator->IsResourceType(type)) {
    return Status::NotFound("unknown resource type " + type);
  }
  store::HistoryQuery q;
  q.type = type;
  q.id = id;
  q.limit = impl_->options.default_page_size;
  std::string since_raw;
  for (const auto& [k, v] : params) {
    if (k == "_count") {
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < 0)
        return Status::Incorrect("_count must be a non-negative integer");
      q.limit = static_cast<int>(std::min<long>(n, impl_->options.max_page_size));
    } else if (k == "_since") {
      auto r = fhir::ParseFhirDateRange(v);
      if (!r.ok() || v.find('T') == std::string::npos) {
        return Status::Incorrect("_since must be an instant, e.g. 2024-01-02T03:04:05Z");
      }
      q.since = r->lo;
      since_raw = v;
    } else if (k == "_page_before") {
      q.before_seq = std::strtoll(v.c_str(), nullptr, 10);
    } else if (k == "_page_at") {
      q.at_or_before_seq = std::strtoll(v.c_str(), nullptr, 10);
    } else if (k == "_at" || k == "_list") {
      return Status::Unsupported("history parameter " + k + " is not supported");
    }
  }
  ASSIGN_OR_RETURN(auto view, store_.View());
  if (!id.empty()) {
    ASSIGN_OR_RETURN(auto cur, view->Read(type, id));
    if (!cur) return Status::NotFound(Ref(type, id) + " is not known");
  }
  if (!q.at_or_before_seq) q.at_or_before_seq = view->Seq();
  store::HistoryQuery count_q = q;
  count_q.before_seq.reset();
  ASSIGN_OR_RETURN(int64_t total, view->HistoryCount(count_q));
  ASSIGN_OR_RETURN(auto versions, view->History(q));

  std::string path = type.empty() ? "_history"
                     : id.empty() ? type + "/_history"
                                  : type + "/" + id + "/_history";
  std::string base_query = "_count=" + std::to_string(q.limit);
  if (!since_raw.empty()) base_query += "&_since=" + since_raw;
  base_query += "&_page_at=" + std::to_string(*q.at_or_before_seq);
  BundleWriter b("history", ctx.base_url);
  b.Total(total);
  b.Link("self", ctx.base_url + "/" + path + "?" + base_query +
                     (q.before_seq ? "&_page_before=" + std::to_string(*q.before_seq) : ""));
  if (static_cast<int>(versions.size()) == q.limit && !versions.empty()) {
    b.Link("next", ctx.base_url + "/" + path + "?" + base_query +
                       "&_page_before=" + std::to_string(versions.back().seq));
  }
  for (const auto& v : versions) b.HistoryEntry(v);
  Response r;
  r.body = b.Finish();
  return r;
}

namespace {

// Applies _elements / _summary to one stored resource.
std::string Shape(const std::string& json, const search::SearchRequest& req,
                  const fhir::Validator& validator) {
  if (req.elements.empty() && req.summary != search::SummaryMode::kText &&
      req.summary != search::SummaryMode::kData && req.summary != search::SummaryMode::kTrue) {
    return json;
  }
  auto doc = fhir::ParseJson(json);
  if (!doc.ok()) return json;
  std::set<std::string, std::less<>> keep;
  std::vector<std::string> choices;  // "value" for "value[x]"
  bool drop_text = false;
  if (!req.elements.empty()) {
    for (const auto& e : req.elements) keep.insert(e.substr(0, e.find('.')));
  } else if (req.summary == search::SummaryMode::kText) {
    keep = {"text", "id", "meta"};
  } else if (req.summary == search::SummaryMode::kData) {
    drop_text = true;
  } else if (req.summary == search::SummaryMode::kTrue) {
    // The elements the base definition marks isSummary (R4 3.1.1.5.8).
    for (const std::string& e :
         validator.SummaryElements(fhir::StringMember(*doc, "resourceType"))) {
      if (e.size() > 3 && e.compare(e.size() - 3, 3, "[x]") == 0) {
        choices.push_back(e.substr(0, e.size() - 3));
      } else {
        keep.insert(e);
      }
    }
    keep.insert("id");
  }
  auto is_choice = [&](std::string_view k) {
    for (const std::string& c : choices) {
      if (k.size() > c.size() && k.compare(0, c.size(), c) == 0 &&
          std::isupper(static_cast<unsigned char>(k[c.size()]))) {
        return true;
      }
    }
    return false;
  };
  JsonDoc out;
  out.SetObject();
  auto& a = out.GetAllocator();
  for (auto& m : doc->GetObject()) {
    std::string_view k = fhir::AsView(m.name);
    bool kept = k == "resourceType" || k == "id" || k == "meta";
    if (!keep.empty() && (keep.contains(k) || is_choice(k))) kept = true;
    if (keep.empty() && !(drop_text && k == "text")) kept = true;
    if (kept) out.AddMember(Json(m.name, a), Json(m.value, a), a);
  }
  // Mark the result as subsetted (R4 3.1.1.5.9).
  auto meta = out.FindMember("meta");
  if (meta == out.MemberEnd()) {
    out.AddMember("meta", Json(rapidjson::kObjectType), a);
    meta = out.FindMember("meta");
  }
  Json tag(rapidjson::kObjectType);
  tag.AddMember("system", "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", a);
  tag.AddMember("code", "SUBSETTED", a);
  auto tags = meta->value.FindMember("tag");
  if (tags == meta->value.MemberEnd() || !tags->value.IsArray()) {
    Json arr(rapidjson::kArrayType);
    arr.PushBack(tag, a);
    meta->value.AddMember("tag", arr, a);
  } else {
    tags->value.PushBack(tag, a);
  }
  return fhir::ToJson(out);
}

}  // namespace

Result<Response> Interactions::Search(const RequestContext& ctx, const std::string& type,
                                      const search::QueryParams& params) {
  if (!impl_->validator->IsResourceType(type))
    return Status::NotFound("unknown resource type " + type);
  search::ParseOptions po;
  po.strict = ctx.strict;
  ASSIGN_OR_RETURN(search::SearchRequest req, search::ParseSearch(type, params, *params_, po));
  ASSIGN_OR_RETURN(auto view, store_.View());
  ASSIGN_OR_RETURN(std::vector<store::Rid> rids, search::Execute(req, *view, *params_));
  const int count =
      std::min(req.count.value_or(impl_->options.default_page_size), impl_->options.max_page_size);
  std::string token = impl_->pages.Put(std::move(rids), view->Seq(), req);
  return SearchPage(ctx, token, 0, count);
}

Result<Response> Interactions::PageOf(const RequestContext& ctx, std::vector<store::Rid> rids,
                                      int64_t seq, std::string self, std::optional<int> count) {
  search::SearchRequest req;
  req.total = search::TotalMode::kAccurate;
  const int n =
      std::min(count.value_or(impl_->options.default_page_size), impl_->options.max_page_size);
  std::string token = impl_->pages.Put(std::move(rids), seq, std::move(req), std::move(self));
  return SearchPage(ctx, token, 0, n);
}

Result<Response> Interactions::SearchPage(const RequestContext& ctx, const std::string& token,
                                          int offset, int count) {
  auto entry = impl_->pages.Get(token);
  if (!entry) return Status::Gone("the search result set has expired; search again");
  const search::SearchRequest& req = entry->request;
  count = std::clamp(count, 0, impl_->options.max_page_size);
  const int64_t total = static_cast<int64_t>(entry->rids->size());
  ASSIGN_OR_RETURN(auto view, store_.View());

  BundleWriter b("searchset", ctx.base_url);
  if (req.total != search::TotalMode::kNone) b.Total(total);
  auto page_link = [&](int off) {
    return ctx.base_url + "?_getpages=" + token + "&_getpagesoffset=" + std::to_string(off) +
           "&_count=" + std::to_string(count);
  };
  b.Link("self", !entry->self.empty() ? ctx.base_url + "/" + entry->self
                                       : ctx.base_url + "/" + req.type +
                                             (req.self_query.empty() ? "" : "?" + req.self_query));
  if (req.summary == search::SummaryMode::kCount) {
    Response r;
    r.body = b.Finish();
    return r;
  }
  b.Link("first", page_link(0));
  if (offset > 0) b.Link("previous", page_link(std::max(0, offset - count)));
  // _count=0 asks for the count only: a next link would name this same page.
  if (count > 0 && offset + count < total) b.Link("next", page_link(offset + count));
  if (total > 0 && count > 0)
    b.Link("last", page_link(static_cast<int>(((total - 1) / count) * count)));

  std::vector<store::Rid> page;
  for (int64_t i = offset; i < total && i < offset + count; ++i) page.push_back((*entry->rids)[i]);
  // The page as it was when the search ran: stable while writes go on.
  ASSIGN_OR_RETURN(auto versions, view->Fetch(page, entry->seq));
  std::set<std::string> seen;
  for (const auto& v : versions) {
    seen.insert(Ref(v.type, v.id));
    b.SearchEntry(v.type, v.id, Shape(v.json, req, *impl_->validator), "match");
  }

  // _include and _revinclude, iterated to a fixed point when asked.
  std::vector<ResourceVersion> frontier = versions;
  for (int round = 0; round < 4 && !frontier.empty(); ++round) {
    std::vector<ResourceVersion> added;
    for (const search::IncludeSpec& inc : req.includes) {
      if (round > 0 && !inc.iterate) continue;
      for (const auto& v : frontier) {
        if (inc.source_type != "*" && inc.source_type != v.type) continue;
        auto doc = fhir::ParseJson(v.json);
        if (!doc.ok()) continue;
        std::vector<const fhir::SearchParam*> ps;
        if (inc.param == "*") {
          for (const auto* p : params_->ForType(v.type)) {
            if (p->type == fhir::SearchParamType::kReference) ps.push_back(p);
          }
        } else if (const auto* p = params_->Find(v.type, inc.param)) {
          ps.push_back(p);
        }
        for (const auto* p : ps) {
          for (const IndexRow& row : fhir::ExtractParam(*doc, *p)) {
            if (row.type != store::IndexType::kReference || row.s1.empty()) continue;
            if (!inc.target_type.empty() && row.s1 != inc.target_type) continue;
            if (seen.contains(Ref(row.s1, row.s2))) continue;
            ASSIGN_OR_RETURN(auto target, view->Read(row.s1, row.s2));
            if (target && !target->deleted) {
              seen.insert(Ref(row.s1, row.s2));
              added.push_back(*target);
            }
          }
        }
      }
    }
    for (const search::IncludeSpec& inc : req.revincludes) {
      if (round > 0 && !inc.iterate) continue;
      if (inc.source_type == "*" || inc.param == "*") continue;  // too broad to be useful
      for (const auto& v : frontier) {
        store::IndexQuery q;
        q.type = store::IndexType::kReference;
        q.s1 = v.type;
        q.s2 = v.id;
        ASSIGN_OR_RETURN(store::RidSet rs, search::MatchParamRows(inc.source_type, inc.param, "",
                                                                  q, *view, *params_, nullptr));
        ASSIGN_OR_RETURN(auto refs, view->Fetch(rs, std::nullopt));
        for (auto& r : refs) {
          if (seen.insert(Ref(r.type, r.id)).second) added.push_back(std::move(r));
        }
      }
    }
    for (const auto& v : added)
      b.SearchEntry(v.type, v.id, Shape(v.json, req, *impl_->validator), "include");
    frontier = std::move(added);
  }
  if (!req.ignored.empty()) {
    std::string msg = "ignored unknown search parameters:";
    for (const auto& n : req.ignored) msg += " " + n;
    b.OutcomeEntry("warning", "not-supported", msg);
  }
  Response r;
  r.body = b.Finish();
  return r;
}

bool Interactions::IsKnownType(const std::string& type) const {
  return impl_->validator->IsResourceType(type);
}

std::string Interactions::NextId() { return impl_->ids.Next(); }

Millis Interactions::Now() const { return impl_->clock.Now(); }

Result<std::optional<std::string>> Interactions::ConditionalMatch(const std::string& type,
                                                                  const std::string& query) {
  ASSIGN_OR_RETURN(std::vector<std::string> found, ConditionalMatches(type, query, 1));
  if (found.empty()) return std::optional<std::string>();
  return std::optional<std::string>(std::move(found.front()));
}

Result<std::vector<std::string>> Interactions::ConditionalMatches(const std::string& type,
                                                                  const std::string& query,
                                                                  size_t limit) {
  ASSIGN_OR_RETURN(auto view, store_.View());
  ASSIGN_OR_RETURN(std::vector<ResourceVersion> found,
                   impl_->Conditional(*view, type, query, limit));
  std::vector<std::string> out;
  for (ResourceVersion& v : found) {
    if (!v.deleted) out.push_back(std::move(v.json));
  }
  return out;
}

Result<std::vector<ResourceVersion>> Interactions::ConditionalIn(store::StoreView& view,
                                                                 const std::string& type,
                                                                 const std::string& query) {
  return impl_->Conditional(view, type, query);
}

Response Interactions::StoredResponse(const ResourceVersion& v) {
  return Impl::Stored(v, Response::Kind::kOk);
}

Result<Response> Interactions::DeleteInTxn(store::WriteTxn& txn, const std::string& type,
                                           const std::string& id, const Preconditions& pre) {
  return impl_->DeleteIn(txn, type, id, pre);
}

Result<Response> Interactions::WriteInTxn(store::WriteTxn& txn, JsonDoc doc, const std::string& id,
                                          bool create, const Preconditions& pre,
                                          std::shared_ptr<const fhir::NumberTexts> numbers,
                                          std::string pointer) {
  ASSIGN_OR_RETURN(Prepared p, impl_->Prepare(std::move(doc)));
  p.numbers = std::move(numbers);
  p.pointer = std::move(pointer);
  return WritePreparedInTxn(txn, p, id, create, pre);
}

Result<PreparedResource> Interactions::PrepareResource(JsonDoc doc) {
  return impl_->Prepare(std::move(doc));
}

void Interactions::SerialiseAhead(PreparedResource& p, const std::string& id) {
  // A stand-in no resource holds by chance: a per-process random token.
  static const std::string kStandIn = [] {
    std::random_device rd;
    char buf[64];
    std::snprintf(buf, sizeof buf, "lhcr-pending-lastUpdated-%08x%08x", rd(), rd());
    return std::string(buf);
  }();
  SetIdAndMeta(p.doc, id, 1, 0);
  auto& a = p.doc.GetAllocator();
  SetString(p.doc.FindMember("meta")->value, "lastUpdated", kStandIn, a);
  std::string json =
      p.numbers ? fhir::ToJsonKeepingNumbers(p.doc, *p.numbers, p.pointer) : fhir::ToJson(p.doc);
  const size_t at = json.find(kStandIn);
  if (at == std::string::npos || json.find(kStandIn, at + 1) != std::string::npos) return;
  p.ahead_json = std::move(json);
  p.ahead_id = id;
  p.ahead_at = at;
  p.ahead_len = kStandIn.size();
}

Result<Response> Interactions::WritePreparedInTxn(store::WriteTxn& txn, PreparedResource& p,
                                                  const std::string& id, bool create,
                                                  const Preconditions& pre) {
  if (create) return impl_->CreateIn(txn, p, id, "");
  return impl_->UpdateIn(txn, p, id, pre);
}

Result<Response> Interactions::ReadInTxn(store::WriteTxn& txn, const RequestContext& ctx,
                                         const std::string& type, const std::string& id,
                                         const std::string& query) {
  if (size_t h = id.find("/_history/"); h != std::string::npos) {  // vread
    const std::string vid = id.substr(h + 10);
    if (vid.empty() || vid.size() > 18 ||
        vid.find_first_not_of("0123456789") != std::string::npos) {
      return Status::NotFound(Ref(type, id) + " is not known");
    }
    ASSIGN_OR_RETURN(auto v, txn.VRead(type, id.substr(0, h), std::stoll(vid)));
    if (!v) return Status::NotFound(Ref(type, id) + " is not known");
    if (v->deleted) return Status::Gone(Ref(type, id) + " is a deletion");
    return Impl::Stored(*v, Response::Kind::kOk);
  }
  if (!id.empty()) {
    ASSIGN_OR_RETURN(auto v, txn.Read(type, id));
    if (!v) return Status::NotFound(Ref(type, id) + " is not known");
    if (v->deleted) return Status::Gone(Ref(type, id) + " was deleted");
    return Impl::Stored(*v, Response::Kind::kOk);
  }
  ASSIGN_OR_RETURN(search::QueryParams qp, search::ParseQueryString(query));
  ASSIGN_OR_RETURN(search::SearchRequest req, search::ParseSearch(type, qp, *params_));
  ASSIGN_OR_RETURN(std::vector<store::Rid> rids, search::Execute(req, txn, *params_));
  const int count =
      std::min(req.count.value_or(impl_->options.default_page_size), impl_->options.max_page_size);
  if (static_cast<int>(rids.size()) > count) rids.resize(count);
  BundleWriter b("searchset", ctx.base_url);
  b.Total(static_cast<int64_t>(rids.size()));
  ASSIGN_OR_RETURN(auto versions, txn.Fetch(rids, std::nullopt));
  for (const auto& v : versions) b.SearchEntry(v.type, v.id, v.json, "match");
  Response r;
  r.body = b.Finish();
  return r;
}

}  // namespace lhcr::interaction
