// MpiApi: the HTTP face of link management (mpi/links.h, docs/MPI.md).
//
//   POST /mpi/link      {"patient":"Patient/1","person":"Person/2","reason":"..."}
//   POST /mpi/unlink    {"patient":"Patient/1","reason":"..."}
//   POST /mpi/merge     {"from":"Person/a","into":"Person/b","reason":"..."}
//   POST /mpi/split     {"person":"Person/a","patients":["Patient/1"],"reason":"..."}
//   POST /mpi/review/{task id}/accept | /reject
//   POST /mpi/changes/{provenance id}/undo
//
// Each answers 200 with {"provenance":"Provenance/<id>","persons":[...]} —
// the change's record, which is also what undo takes. Errors are
// OperationOutcomes (400 bad body, 404 unknown resource, 409 a Task already
// decided or a Person changed since the change being undone, 412 a
// concurrent change). Who acted is the verified caller (a professional's
// user@ODS, a system's client id); with security off, the X-Lhcr-User
// header, "unknown" without it.
//
// Thread-safe.
#pragma once

#include <string_view>

#include "api/http.h"
#include "auth/auth.h"
#include "mpi/links.h"

namespace lhcr::api {

class MpiApi {
 public:
  explicit MpiApi(mpi::LinkManager& links) : links_(links) {}
  static bool Serves(std::string_view path);
  // `principal`: the caller (api/auth_gate.h); null when security is off.
  HttpResponse Handle(const HttpRequest& request, const auth::Principal* principal = nullptr);

 private:
  mpi::LinkManager& links_;
};

}  // namespace lhcr::api
