// AuditMiddleware: every HTTP request lhcr serves (FHIR, ingest, MPI), allowed
// or refused, leaves an AuditEvent (audit/audit.h). It sets the request's
// audit::RequestScope around the handler, so a write's AuditEvent is stored in
// the write's own transaction (audit::AuditedStore); any other request's is
// recorded after the handler, with its outcome and the Patients it concerned.
// If that entry cannot be recorded the client gets the error (an
// OperationOutcome, 5xx) instead of the response: audit never fails open.
// /healthz and /metrics are not audited (no record data).
//
// Who: until the auth room's Principal is wired in, the caller is named by
// headers: X-Lhcr-User (else "anonymous"), X-Lhcr-Org (ODS code),
// X-Lhcr-Role, X-Lhcr-Purpose-Of-Use (v3-ActReason code) and
// X-Lhcr-Break-Glass (the reason). ActorOf is the one place that maps them.
//
// Thread-safe: Handle may be called from many threads at once.
#pragma once

#include <functional>

#include "api/http.h"
#include "audit/audit.h"
#include "auth/auth.h"
#include "base/time.h"

namespace lhcr::api {

class AuditMiddleware {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  explicit AuditMiddleware(audit::AuditLog& log);

  // Serves `request` with `next` inside its audit scope and records it.
  HttpResponse Handle(const HttpRequest& request, const Handler& next);

  // The caller, as the request's headers name them (no token).
  static audit::Actor ActorOf(const HttpRequest& request);
  // The caller a verified token names: kind, user (or client) id, ODS code,
  // first role, the patient's NHS number; purpose of use and a break-glass
  // reason still come from the request (`headers`).
  static audit::Actor ActorOf(const auth::Principal& principal, const audit::Actor& headers);
  // Names the authenticated caller of the request being served on this
  // thread (its audit::RequestScope): what the auth gate calls once it has
  // verified a token. No-op outside a scope.
  static void NameCaller(const auth::Principal& principal);
  // The request as an audit event before it is served: the interaction, its
  // action, target and the Patients its target names.
  static audit::Event Describe(const HttpRequest& request, Millis now);

 private:
  audit::AuditLog& log_;
};

}  // namespace lhcr::api
