#include "mpi/scan.h"

#include <cstdlib>

namespace lhcr::mpi {

using fhir::Json;
using fhir::JsonDoc;

// Every resource a search finds, page by page (1000 at a time).
Status ForEachResource(interaction::Interactions& interactions, const std::string& type,
               search::QueryParams params, const std::function<Status(const Json&)>& fn) {
  interaction::RequestContext ctx;
  params.emplace_back("_count", "1000");
  ASSIGN_OR_RETURN(interaction::Response page, interactions.Search(ctx, type, params));
  for (;;) {
    ASSIGN_OR_RETURN(JsonDoc doc, fhir::ParseJson(page.body));
    if (const Json* entries = fhir::Member(doc, "entry"); entries && entries->IsArray()) {
      for (const Json& e : entries->GetArray()) {
        const Json* search = fhir::Member(e, "search");
        if (search && fhir::StringMember(*search, "mode") == "include") continue;
        const Json* r = fhir::Member(e, "resource");
        if (r && fhir::StringMember(*r, "resourceType") == type) RETURN_IF_ERROR(fn(*r));
      }
    }
    std::string next;
    if (const Json* links = fhir::Member(doc, "link"); links && links->IsArray()) {
      for (const Json& l : links->GetArray()) {
        if (fhir::StringMember(l, "relation") == "next") next = fhir::StringMember(l, "url");
      }
    }
    if (next.empty()) return Status::Ok();
    auto param = [&](const std::string& name) -> std::string {
      size_t at = next.find(name + "=");
      if (at == std::string::npos) return {};
      at += name.size() + 1;
      return next.substr(at, next.find('&', at) - at);
    };
    std::string token = param("_getpages");
    if (token.empty()) return Status::Fault("a " + type + " search page has no paging token");
    ASSIGN_OR_RETURN(page, interactions.SearchPage(ctx, token, std::atoi(param("_getpagesoffset").c_str()),
                                                   1000));
  }
}

}  // namespace lhcr::mpi
