#include "ingest/hl7_ingest.h"

#include <exception>
#include <optional>
#include <utility>

#include "fhir/json.h"
#include "hl7v2/ack.h"
#include "hl7v2/message.h"

namespace lhcr::ingest {

namespace {

// "identifier=sys|val&x=y" -> {{"identifier","sys|val"},{"x","y"}}. The
// queries come from DropStaleEntries unencoded, so nothing is decoded.
search::QueryParams SplitQuery(const std::string& query) {
  search::QueryParams params;
  size_t begin = 0;
  while (begin <= query.size()) {
    size_t end = query.find('&', begin);
    if (end == std::string::npos) end = query.size();
    std::string part = query.substr(begin, end - begin);
    if (!part.empty()) {
      size_t eq = part.find('=');
      if (eq == std::string::npos) {
        params.emplace_back(part, "");
      } else {
        params.emplace_back(part.substr(0, eq), part.substr(eq + 1));
      }
    }
    begin = end + 1;
  }
  return params;
}

}  // namespace

Hl7Ingestor::Hl7Ingestor(interaction::Interactions& interactions, const SourceRegistry* registry,
                         Clock& clock, IdGenerator& ids)
    : interactions_(interactions), registry_(registry), clock_(clock), ids_(ids) {}

hl7v2::AckOptions Hl7Ingestor::AckOptionsNow() {
  hl7v2::AckOptions o;
  o.control_id = ids_.Next();
  o.now = clock_.Now();
  return o;
}

Result<hl7v2::SourceInfo> Hl7Ingestor::Identify(const hl7v2::Message& message) const {
  const std::string application = message.Get("MSH-3");
  const std::string facility = message.Get("MSH-4");
  if (registry_ == nullptr) {
    hl7v2::SourceInfo info;
    // The organisation (MSH-4) owns the local patient numbers that all its
    // applications (PAS, lab) send, so it names the source.
    info.source_id = !facility.empty() ? facility : application;
    info.ods_code = facility;
    if (info.source_id.empty()) {
      return Status::Incorrect("MSH-3 and MSH-4 are both empty: the sender is unknown")
          .WithDetails({{"101", "MSH-4", ""}});
    }
    return info;
  }
  const Source* source = registry_->FindByOds(facility);
  if (source == nullptr) source = registry_->FindById(application);
  if (source == nullptr) {
    return Status::NotFound("unknown sender: sending application (MSH-3) '" + application +
                            "' and sending facility (MSH-4) '" + facility +
                            "' match no registered source")
        .WithDetails({{"204", "MSH-4", ""}});
  }
  return ToHl7SourceInfo(*source);
}

Status Hl7Ingestor::Apply(const hl7v2::MappedMessage& mapped) {
  interaction::RequestContext ctx;
  hl7v2::CurrentResourceLookup lookup =
      [this, &ctx](const std::string& type,
                   const std::string& query) -> Result<std::optional<std::string>> {
    ASSIGN_OR_RETURN(interaction::Response r, interactions_.Search(ctx, type, SplitQuery(query)));
    auto doc = fhir::ParseJson(r.body);
    if (!doc.ok()) return doc.status();
    const fhir::Json* entries = fhir::Member(*doc, "entry");
    if (entries == nullptr || !entries->IsArray()) return std::optional<std::string>();
    for (rapidjson::SizeType i = 0; i < entries->Size(); ++i) {
      const fhir::Json* res = fhir::Member((*entries)[i], "resource");
      if (res != nullptr && res->IsObject() && fhir::StringMember(*res, "resourceType") == type) {
        return std::optional<std::string>(fhir::ToJson(*res));
      }
    }
    return std::optional<std::string>();
  };
  std::lock_guard<std::mutex> lock(write_mu_);
  ASSIGN_OR_RETURN(hl7v2::StaleCheck checked, hl7v2::DropStaleEntries(mapped.bundle_json, lookup));
  if (checked.kept == 0) return Status::Ok();  // a resend or older news: nothing changes
  return interactions_.Bundle(ctx, checked.bundle_json).status();
}

std::string Hl7Ingestor::Handle(std::string_view er7) {
  try {
    auto message = hl7v2::ParseMessage(er7);
    if (!message.ok()) {
      return hl7v2::MakeAckForUnparsable(er7, message.status(), AckOptionsNow());
    }
    Status outcome;
    auto source = Identify(*message);
    if (!source.ok()) {
      // An unknown sender is not a content error: reject (AR), not AE.
      outcome = source.status().code() == StatusCode::kNotFound
                    ? Status::Unsupported(source.status().message())
                          .WithDetails(std::vector<StatusDetail>(source.status().details()))
                    : source.status();
    } else {
      auto mapped = hl7v2::MapToFhir(*message, *source);
      outcome = mapped.ok() ? Apply(*mapped) : mapped.status();
    }
    return hl7v2::MakeAck(*message, hl7v2::AckCodeFor(outcome), outcome, AckOptionsNow());
  } catch (const std::exception& e) {
    return hl7v2::MakeAckForUnparsable(
        er7, Status::Fault(std::string("ingest failed: ") + e.what()), AckOptionsNow());
  } catch (...) {
    return hl7v2::MakeAckForUnparsable(er7, Status::Fault("ingest failed"), AckOptionsNow());
  }
}

}  // namespace lhcr::ingest
