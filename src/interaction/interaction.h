// Interactions: the FHIR R4 RESTful interactions
// (http://hl7.org/fhir/R4/http.html) as functions of a request value and the
// store. They know nothing of HTTP: the api room parses requests into these
// values and encodes the Responses; errors are Status values that one
// function in api maps to an HTTP status and an OperationOutcome.
//
// Thread-safe: an Interactions object may be called from many threads.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/ids.h"
#include "base/status.h"
#include "base/time.h"
#include "fhir/json.h"
#include "fhir/search_param.h"
#include "fhir/validator.h"
#include "search/search.h"
#include "store/store.h"

namespace lhcr::auth {
struct Principal;  // auth/auth.h; interaction only carries it to its callers
}  // namespace lhcr::auth

namespace lhcr::interaction {

class PageCache;

// A resource ready to store: validated, with its search index rows.
struct PreparedResource {
  fhir::JsonDoc doc;
  std::string type;
  std::vector<store::IndexRow> rows;
  // The exact text of numbers a double does not carry ("1.50"), by JSON
  // Pointer from the parsed request, and where the resource sits in it.
  std::shared_ptr<const fhir::NumberTexts> numbers;
  std::string pointer;
  // The stored text of version 1 under id `ahead_id`, serialised before the
  // transaction (SerialiseAhead) with a stand-in lastUpdated at
  // [ahead_at, ahead_at + ahead_len): the writer splices the time in
  // instead of serialising on the store's single writer thread.
  std::string ahead_json;
  std::string ahead_id;
  size_t ahead_at = 0;
  size_t ahead_len = 0;
};

// What a successful interaction produced.
struct Response {
  enum class Kind { kOk, kCreated, kNoContent, kNotModified };
  Kind kind = Kind::kOk;
  std::string body;  // a resource, a Bundle or an OperationOutcome (JSON); may be empty
  std::optional<int64_t> version;       // -> ETag W/"n"
  std::optional<int64_t> last_updated;  // -> Last-Modified
  std::string location;                 // "Type/id/_history/n" relative to the base
  bool is_resource = false;             // body is the resource itself (Prefer applies)
};

// Conditions a client states in headers.
struct Preconditions {
  std::optional<int64_t> if_match;           // If-Match: W/"n"
  std::optional<int64_t> if_none_match;      // If-None-Match: W/"n" (read)
  bool if_none_match_any = false;            // If-None-Match: * (update: create only)
  std::optional<int64_t> if_modified_since;  // ms
  std::string if_none_exist;                 // If-None-Exist: query (create)
};

struct RequestContext {
  std::string base_url;  // "http://host:port/fhir", for fullUrl and links
  // Who is asking (the verified bearer token); null when security is off.
  // Borrowed for the call: do not keep it.
  const auth::Principal* principal = nullptr;
  bool strict = false;   // Prefer: handling=strict
  std::string instance_id;  // the {id} of an instance-level operation (Type/{id}/$op)
};

struct Options {
  int default_page_size = 50;
  int max_page_size = 1000;
};

class Interactions {
 public:
  Interactions(store::Store& store, std::shared_ptr<const fhir::SearchParamRegistry> params,
               std::shared_ptr<const fhir::Validator> validator, Clock& clock, IdGenerator& ids,
               Options options = {});
  ~Interactions();

  Result<Response> Read(const RequestContext& ctx, const std::string& type, const std::string& id,
                        const Preconditions& pre);
  Result<Response> VRead(const RequestContext& ctx, const std::string& type, const std::string& id,
                         int64_t version);
  Result<Response> Create(const RequestContext& ctx, const std::string& type,
                          const std::string& body, const Preconditions& pre);
  Result<Response> Update(const RequestContext& ctx, const std::string& type, const std::string& id,
                          const std::string& body, const Preconditions& pre);
  Result<Response> ConditionalUpdate(const RequestContext& ctx, const std::string& type,
                                     const std::string& query, const std::string& body,
                                     const Preconditions& pre);
  Result<Response> Patch(const RequestContext& ctx, const std::string& type, const std::string& id,
                         const std::string& body, const Preconditions& pre);
  Result<Response> Delete(const RequestContext& ctx, const std::string& type, const std::string& id,
                          const Preconditions& pre);
  Result<Response> ConditionalDelete(const RequestContext& ctx, const std::string& type,
                                     const std::string& query);
  // History of an instance (type and id), a type (id empty) or the system
  // (both empty). Query parameters: _count, _since, and the paging cursor.
  Result<Response> History(const RequestContext& ctx, const std::string& type,
                           const std::string& id, const search::QueryParams& params);
  Result<Response> Search(const RequestContext& ctx, const std::string& type,
                          const search::QueryParams& params);
  // A following page of an earlier search (its token from a next link).
  Result<Response> SearchPage(const RequestContext& ctx, const std::string& token, int offset,
                              int count);
  // A result set an operation computed (Patient/$everything) served as a
  // searchset like a search's: `rids` as of the snapshot `seq` they were
  // read in (so following pages neither skip nor repeat while writes go on),
  // `count` (clamped to the page size limits) per page, with total and
  // first/previous/next/last links through the same paging as searches.
  // `self` is the self link, relative to the base ("Patient/1/$everything").
  Result<Response> PageOf(const RequestContext& ctx, std::vector<store::Rid> rids, int64_t seq,
                          std::string self, std::optional<int> count);
  // A batch or transaction Bundle.
  Result<Response> Bundle(const RequestContext& ctx, const std::string& body);
  // The CapabilityStatement (metadata).
  Response Capabilities(const RequestContext& ctx) const;
  // The current version of the first resource of `type` a conditional
  // query ("identifier=sys|val") matches, as stored; nullopt when none.
  // What a conditional update would find, without building a Bundle: the
  // ingest's stale check reads this for every entry it is about to write.
  Result<std::optional<std::string>> ConditionalMatch(const std::string& type,
                                                      const std::string& query);
  // Up to `limit` of them, as stored.
  Result<std::vector<std::string>> ConditionalMatches(const std::string& type,
                                                      const std::string& query, size_t limit);

  const fhir::SearchParamRegistry& params() const { return *params_; }
  store::Store& store() { return store_; }

 private:
  // Used by Bundle (bundle.cc); each runs inside the caller's transaction.
  bool IsKnownType(const std::string& type) const;
  Millis Now() const;  // the injected clock
  std::string NextId();
  Result<std::vector<store::ResourceVersion>> ConditionalIn(store::StoreView& view,
                                                            const std::string& type,
                                                            const std::string& query);
  static Response StoredResponse(const store::ResourceVersion& v);
  Result<Response> DeleteInTxn(store::WriteTxn& txn, const std::string& type, const std::string& id,
                               const Preconditions& pre);
  Result<Response> WriteInTxn(store::WriteTxn& txn, fhir::JsonDoc doc, const std::string& id,
                              bool create, const Preconditions& pre,
                              std::shared_ptr<const fhir::NumberTexts> numbers = nullptr,
                              std::string pointer = "");
  // Validation and index extraction, outside any transaction (CPU work that
  // should not hold up the store's single writer).
  Result<PreparedResource> PrepareResource(fhir::JsonDoc doc);
  // Serialises `p` as version 1 of `id` ahead of the transaction (see
  // PreparedResource::ahead_json); leaves it as it was if that cannot be done.
  void SerialiseAhead(PreparedResource& p, const std::string& id);
  Result<Response> WritePreparedInTxn(store::WriteTxn& txn, PreparedResource& p,
                                      const std::string& id, bool create, const Preconditions& pre);
  Result<Response> ReadInTxn(store::WriteTxn& txn, const RequestContext& ctx,
                             const std::string& type, const std::string& id,
                             const std::string& query);

  struct Impl;
  store::Store& store_;
  std::shared_ptr<const fhir::SearchParamRegistry> params_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lhcr::interaction
