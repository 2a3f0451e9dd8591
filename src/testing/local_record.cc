#include "testing/local_record.h"

#include <stdexcept>

#include "fhir/search_param.h"
#include "fhir/validator.h"
#include "store/sqlite/sqlite_store.h"

namespace lhcr::testing {

LocalRecord::LocalRecord(Clock& clock, IdGenerator& ids) {
  store::SqliteOptions so;
  so.path = dir_.path() + "/lhcr.db";
  so.synchronous_full = false;
  auto s = store::OpenSqliteStore(so);
  if (!s.ok()) throw std::runtime_error("cannot open a test store: " + s.status().ToString());
  store_ = std::move(*s);
  interactions_ = std::make_unique<interaction::Interactions>(
      *store_, fhir::SearchParamRegistry::R4(), fhir::Validator::R4(), clock, ids);
}

LocalRecord::~LocalRecord() {
  interactions_.reset();
  if (store_) store_->Close();
}

}  // namespace lhcr::testing
