#include "store/read_replica_store.h"

#include <utility>

namespace lhcr::store {

ReadReplicaStore::ReadReplicaStore(std::unique_ptr<Store> primary, std::unique_ptr<Store> replica)
    : primary_(std::move(primary)), replica_(std::move(replica)) {}

ReadReplicaStore::~ReadReplicaStore() { Close(); }

Result<std::unique_ptr<StoreView>> ReadReplicaStore::View() { return replica_->View(); }

Result<std::optional<ResourceVersion>> ReadReplicaStore::ReadCurrent(std::string_view type,
                                                                     std::string_view id) {
  return replica_->ReadCurrent(type, id);
}

Result<std::optional<ResourceVersion>> ReadReplicaStore::ReadVersion(std::string_view type,
                                                                     std::string_view id,
                                                                     int64_t version) {
  return replica_->ReadVersion(type, id, version);
}

Status ReadReplicaStore::Write(const std::function<Status(WriteTxn&)>& fn) {
  return primary_->Write(fn);
}

StoreStats ReadReplicaStore::Stats() { return primary_->Stats(); }

void ReadReplicaStore::Close() {
  primary_->Close();
  replica_->Close();
}

}  // namespace lhcr::store
