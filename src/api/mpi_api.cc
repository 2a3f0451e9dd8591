#include "api/mpi_api.h"

#include <string>
#include <vector>

#include "fhir/json.h"
#include "api/outcome_response.h"
#include "interaction/outcome.h"

namespace lhcr::api {

namespace {

HttpResponse Error(const Status& s) { return OutcomeResponse(s); }

HttpResponse Done(const mpi::LinkChange& c) {
  std::string persons;
  for (const std::string& p : c.persons) {
    persons += (persons.empty() ? "\"" : ",\"") + p + "\"";
  }
  HttpResponse r;
  r.body = R"({"provenance":")" + c.provenance + R"(","persons":[)" + persons + "]}\n";
  r.SetHeader("Content-Type", "application/json; charset=utf-8");
  return r;
}

std::string Field(const fhir::Json& body, const char* name) {
  return std::string(fhir::StringMember(body, name));
}

}  // namespace

bool MpiApi::Serves(std::string_view path) { return path.rfind("/mpi/", 0) == 0; }

HttpResponse MpiApi::Handle(const HttpRequest& request, const auth::Principal* principal) {
  std::vector<std::string> parts = SplitPath(request.Path());
  if (request.method != "POST") {
    return Error(Status::Unsupported("the MPI's link management takes POST"));
  }
  // Who acted: the verified caller ("555021@RX1", "client:region-b"); with
  // security off, the X-Lhcr-User header.
  std::string who;
  if (principal != nullptr) {
    who = principal->kind == auth::PrincipalKind::kProfessional
              ? principal->user_id + "@" + principal->org_ods
              : "client:" + principal->client_id;
  } else {
    who = std::string(request.Header("X-Lhcr-User"));
  }
  if (who.empty()) who = "unknown";
  Result<mpi::LinkChange> done = Status::NotFound("no such endpoint: " + request.target);
  if (parts.size() == 4 && parts[1] == "review" && (parts[3] == "accept" || parts[3] == "reject")) {
    done = parts[3] == "accept" ? links_.AcceptReview(parts[2], who)
                                : links_.RejectReview(parts[2], who);
  } else if (parts.size() == 4 && parts[1] == "changes" && parts[3] == "undo") {
    done = links_.Undo("Provenance/" + parts[2], who);
  } else if (parts.size() == 2) {
    auto body = fhir::ParseJson(request.body.empty() ? "{}" : request.body);
    if (!body.ok()) return Error(body.status());
    if (!body->IsObject()) return Error(Status::Incorrect("the body is a JSON object"));
    const std::string reason = Field(*body, "reason");
    const std::string& op = parts[1];
    if (op == "link") {
      done = links_.Link(Field(*body, "patient"), Field(*body, "person"), who, reason);
    } else if (op == "unlink") {
      done = links_.Unlink(Field(*body, "patient"), who, reason);
    } else if (op == "merge") {
      done = links_.Merge(Field(*body, "from"), Field(*body, "into"), who, reason);
    } else if (op == "split") {
      std::vector<std::string> patients;
      if (const fhir::Json* ps = fhir::Member(*body, "patients"); ps && ps->IsArray()) {
        for (const fhir::Json& p : ps->GetArray()) {
          if (p.IsString()) patients.emplace_back(fhir::AsView(p));
        }
      }
      done = links_.Split(Field(*body, "person"), patients, who, reason);
    }
  }
  if (!done.ok()) return Error(done.status());
  return Done(*done);
}

}  // namespace lhcr::api
