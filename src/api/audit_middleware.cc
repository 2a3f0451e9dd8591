#include "api/audit_middleware.h"

#include <algorithm>

#include "api/outcome_response.h"
#include "search/search.h"

namespace lhcr::api {
namespace {

// "Patient/x", "x" or ".../Patient/x" -> "x"; another type -> "".
std::string PatientIdOf(std::string_view v) {
  size_t slash = v.rfind('/');
  if (slash == std::string_view::npos) return std::string(v);
  std::string_view type = v.substr(0, slash);
  size_t t = type.rfind('/');
  if (t != std::string_view::npos) type = type.substr(t + 1);
  return type == "Patient" ? std::string(v.substr(slash + 1)) : std::string();
}

void AddPatient(std::vector<std::string>& patients, std::string id) {
  if (id.empty() || patients.size() >= 100) return;
  if (std::find(patients.begin(), patients.end(), id) == patients.end()) {
    patients.push_back(std::move(id));
  }
}

// The IP address of "ADDR:PORT" or "[V6]:PORT" (AuditEvent network type 2).
std::string AddressOnly(std::string_view remote) {
  if (!remote.empty() && remote[0] == '[') {
    size_t end = remote.find(']');
    return std::string(remote.substr(1, end == std::string_view::npos ? end : end - 1));
  }
  size_t colon = remote.find(':');
  if (colon != std::string_view::npos && remote.find(':', colon + 1) == std::string_view::npos) {
    return std::string(remote.substr(0, colon));
  }
  return std::string(remote);
}

// The diagnostics of an OperationOutcome body, shortened.
std::string Diagnostics(std::string_view body) {
  constexpr std::string_view kKey = "\"diagnostics\":\"";
  size_t at = body.find(kKey);
  if (at == std::string_view::npos) return {};
  std::string out;
  for (size_t i = at + kKey.size(); i < body.size() && out.size() < 300; ++i) {
    if (body[i] == '"') break;
    if (body[i] == '\\' && i + 1 < body.size()) ++i;
    out += body[i];
  }
  return out;
}

}  // namespace

AuditMiddleware::AuditMiddleware(audit::AuditLog& log) : log_(log) {}

audit::Actor AuditMiddleware::ActorOf(const HttpRequest& r) {
  audit::Actor a;
  a.user = std::string(r.Header("X-Lhcr-User"));
  a.kind = a.user.empty() ? audit::ActorKind::kAnonymous : audit::ActorKind::kProfessional;
  if (a.user.empty()) a.user = "anonymous";
  a.org = std::string(r.Header("X-Lhcr-Org"));
  a.role = std::string(r.Header("X-Lhcr-Role"));
  a.purpose_of_use = std::string(r.Header("X-Lhcr-Purpose-Of-Use"));
  a.break_glass_reason = std::string(r.Header("X-Lhcr-Break-Glass"));
  return a;
}

audit::Actor AuditMiddleware::ActorOf(const auth::Principal& p, const audit::Actor& headers) {
  audit::Actor a;
  switch (p.kind) {
    case auth::PrincipalKind::kProfessional:
      a.kind = audit::ActorKind::kProfessional;
      break;
    case auth::PrincipalKind::kPatient:
      a.kind = audit::ActorKind::kPatient;
      break;
    default:
      a.kind = audit::ActorKind::kSystem;
  }
  a.user = !p.user_id.empty() ? p.user_id : !p.subject.empty() ? p.subject : p.client_id;
  if (a.kind == audit::ActorKind::kPatient && !p.nhs_number.empty()) a.user = p.nhs_number;
  a.org = p.org_ods;
  a.role = p.roles.empty() ? "" : p.roles.front();
  a.purpose_of_use = headers.purpose_of_use;
  if (a.purpose_of_use.empty() && a.kind == audit::ActorKind::kPatient) a.purpose_of_use = "PATRQT";
  a.break_glass_reason = headers.break_glass_reason;
  return a;
}

void AuditMiddleware::NameCaller(const auth::Principal& principal) {
  audit::RequestScope* scope = audit::RequestScope::Current();
  if (scope == nullptr) return;
  scope->event().actor = ActorOf(principal, scope->event().actor);
}

audit::Event AuditMiddleware::Describe(const HttpRequest& r, Millis now) {
  audit::Event e;
  e.actor = ActorOf(r);
  e.recorded = now;
  e.address = AddressOnly(r.remote);
  e.query = std::string(r.Query());
  std::string_view path = r.Path();
  e.method_path = r.method + " " + std::string(path);
  const std::string& m = r.method;
  const bool get = m == "GET" || m == "HEAD";
  e.action = get                          ? 'R'
             : m == "POST"                ? 'C'
             : m == "PUT" || m == "PATCH" ? 'U'
             : m == "DELETE"              ? 'D'
                                          : 'E';
  if (path != "/fhir" && path.rfind("/fhir/", 0) != 0) {
    e.subtype = "operation";  // the ingest and MPI endpoints
    if (!get) e.action = 'E';
    return e;
  }
  std::vector<std::string> parts = SplitPath(path.substr(5));
  if (parts.empty()) {
    e.subtype = get ? "search-system" : "transaction";
    if (!get) e.action = 'E';
    return e;
  }
  const std::string& type = parts[0];
  if (type == "metadata") {
    e.subtype = "capabilities";
    return e;
  }
  if (type == "_history") {
    e.subtype = "history-system";
    return e;
  }
  const size_t n = parts.size();
  const bool op = !parts.back().empty() && parts.back()[0] == '$';
  if (op) {
    e.subtype = "operation";
    e.action = get ? 'R' : 'E';
    e.entities.push_back({type, n == 3 ? parts[1] : ""});
    if (type == "Patient" && n == 3) AddPatient(e.patients, parts[1]);
    return e;
  }
  if (n == 1 || (n == 2 && parts[1] == "_search")) {
    if (n == 2 || get) {
      e.subtype = "search-type";
      e.action = 'R';
    } else {
      e.subtype = m == "POST" ? "create" : m == "PUT" ? "update" : m == "DELETE" ? "delete" : "";
    }
    e.entities.push_back({type, ""});
    auto q = search::ParseQueryString(r.Query());
    if (q.ok()) {
      for (const auto& [k, v] : *q) {
        const bool patient_param = k == "patient" || k == "subject" || k == "patient:Patient" ||
                                   k == "subject:Patient" || k == "beneficiary";
        const bool patient_id = type == "Patient" && k == "_id";
        if (!patient_param && !patient_id) continue;
        for (const std::string& one : search::SplitEscaped(v, ',')) {
          AddPatient(e.patients, patient_id ? one : PatientIdOf(one));
        }
      }
    }
    return e;
  }
  if (n == 2 && parts[1] == "_history") {
    e.subtype = "history-type";
    e.entities.push_back({type, ""});
    return e;
  }
  const std::string& id = parts[1];
  e.entities.push_back({type, id});
  if (type == "Patient") AddPatient(e.patients, id);
  if (n == 2) {
    e.subtype = get             ? "read"
                : m == "PUT"    ? "update"
                : m == "PATCH"  ? "patch"
                : m == "DELETE" ? "delete"
                                : "";
  } else if (n == 3 && parts[2] == "_history") {
    e.subtype = "history-instance";
  } else if (n == 4 && parts[2] == "_history") {
    e.subtype = "vread";
  }
  return e;
}

HttpResponse AuditMiddleware::Handle(const HttpRequest& request, const Handler& next) {
  std::string_view path = request.Path();
  if (path == "/healthz" || path == "/metrics") return next(request);
  audit::RequestScope scope(Describe(request, log_.clock().Now()));
  HttpResponse response = next(request);
  const bool failed = response.status >= 400;
  if (scope.audited_writes() > 0 && !failed) return response;  // in the write's transaction
  audit::Event& e = scope.event();
  if (failed) {
    e.outcome =
        response.status >= 500 ? audit::Outcome::kSeriousFailure : audit::Outcome::kMinorFailure;
    e.outcome_desc = std::to_string(response.status);
    std::string why = Diagnostics(response.body);
    if (!why.empty()) e.outcome_desc += " " + why;
  } else if (e.patients.empty() && e.entities.size() == 1 && !e.entities[0].id.empty() &&
             (e.subtype == "read" || e.subtype == "vread")) {
    // The Patient a resource read concerns, from the bytes served.
    std::string p = audit::PatientOf(e.entities[0].type, e.entities[0].id, response.body);
    if (!p.empty()) e.patients.push_back(std::move(p));
  }
  Status s = log_.Record(e);
  if (!s.ok()) return OutcomeResponse(s);
  return response;
}

}  // namespace lhcr::api
