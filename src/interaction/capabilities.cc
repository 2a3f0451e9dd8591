// The CapabilityStatement: what this server really does (R4 3.1.0.13).
#include <set>

#include "base/time.h"
#include "fhir/search_param.h"
#include "interaction/bundle_writer.h"
#include "interaction/interaction.h"

namespace lhcr::interaction {

Response Interactions::Capabilities(const RequestContext& ctx) const {
  std::set<std::string> types;
  for (const auto& p : params_->params()) {
    for (const std::string& b : p->base) {
      if (b != "Resource" && b != "DomainResource" && IsKnownType(b)) types.insert(b);
    }
  }
  std::string j =
      "{\"resourceType\":\"CapabilityStatement\",\"status\":\"active\",\"date\":" +
      // An instance statement describes the server as it runs now.
      JsonString(FormatInstant(Now()).substr(0, 10)) +
      ",\"publisher\":\"lhcr\",\"kind\":\"instance\",\"software\":{\"name\":\"lhcr\"},"
      "\"implementation\":{\"description\":\"lhcr regional shared care record\",\"url\":" +
      JsonString(ctx.base_url) +
      "},\"fhirVersion\":\"4.0.1\",\"format\":[\"application/fhir+json\",\"json\"],"
      "\"patchFormat\":[\"application/json-patch+json\"],\"rest\":[{\"mode\":\"server\","
      "\"resource\":[";
  bool first = true;
  for (const std::string& t : types) {
    if (!first) j += ",";
    first = false;
    j += "{\"type\":" + JsonString(t) +
         ",\"interaction\":[{\"code\":\"read\"},{\"code\":\"vread\"},{\"code\":\"update\"},"
         "{\"code\":\"patch\"},{\"code\":\"delete\"},{\"code\":\"history-instance\"},"
         "{\"code\":\"history-type\"},{\"code\":\"create\"},{\"code\":\"search-type\"}],"
         "\"versioning\":\"versioned-update\",\"readHistory\":true,\"updateCreate\":true,"
         "\"conditionalCreate\":true,\"conditionalRead\":\"full-support\","
         "\"conditionalUpdate\":true,\"conditionalDelete\":\"single\","
         "\"referencePolicy\":[\"literal\",\"logical\"],"
         "\"searchInclude\":[\"*\"],\"searchRevInclude\":[\"*\"],\"searchParam\":[";
    bool fp = true;
    j += "{\"name\":\"_id\",\"type\":\"token\",\"definition\":\"http://hl7.org/fhir/"
         "SearchParameter/Resource-id\"},"
         "{\"name\":\"_lastUpdated\",\"type\":\"date\",\"definition\":\"http://hl7.org/fhir/"
         "SearchParameter/Resource-lastUpdated\"}";
    fp = false;
    for (const fhir::SearchParam* p : params_->ForType(t)) {
      if (p->code == "_id" || p->code == "_lastUpdated") continue;
      if (p->type == fhir::SearchParamType::kSpecial || p->expression.empty()) continue;
      if (!fp) j += ",";
      fp = false;
      j += "{\"name\":" + JsonString(p->code) +
           ",\"type\":" + JsonString(fhir::SearchParamTypeName(p->type)) +
           ",\"definition\":" + JsonString(p->url) + "}";
    }
    j += "]}";
  }
  j += "],\"interaction\":[{\"code\":\"transaction\"},{\"code\":\"batch\"},"
       "{\"code\":\"history-system\"}]}]}";
  Response r;
  r.body = std::move(j);
  return r;
}

}  // namespace lhcr::interaction
