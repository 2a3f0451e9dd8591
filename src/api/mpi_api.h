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
// concurrent change). Who acted comes from the X-Lhcr-User header until
// authentication arrives (issue 7); "unknown" without it.
//
// Thread-safe.
#pragma once

#include <string_view>

#include "api/http.h"
#include "mpi/links.h"

namespace lhcr::api {

class MpiApi {
 public:
  explicit MpiApi(mpi::LinkManager& links) : links_(links) {}
  static bool Serves(std::string_view path);
  HttpResponse Handle(const HttpRequest& request);

 private:
  mpi::LinkManager& links_;
};

}  // namespace lhcr::api
