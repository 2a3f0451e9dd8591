// ReadReplicaStore: a Store that reads from one store and writes to another,
// for `lhcr serve --store PRIMARY --read-store STANDBY` (docs/STORE.md, "High
// availability"). View, ReadCurrent and ReadVersion go to the replica (a
// read-only store on a streaming standby of the primary); Write, Stats and
// Close to the primary. The interactions see one Store and do not know.
//
// What a reader sees is the replica's: a write acknowledged by the primary
// is visible here once the replica has replayed it (replication lag; with
// synchronous_commit = remote_apply, before Write returns). A Write function
// reads through its WriteTxn, on the primary inside the write transaction,
// so conditional writes (If-None-Exist, conditional update and delete,
// transaction Bundles) always decide on the primary's current state.
//
// Owns both stores. Thread safety: as Store (store.h), given both stores are.
#pragma once

#include <memory>

#include "store/store.h"

namespace lhcr::store {

class ReadReplicaStore : public Store {
 public:
  ReadReplicaStore(std::unique_ptr<Store> primary, std::unique_ptr<Store> replica);
  ~ReadReplicaStore() override;

  Result<std::unique_ptr<StoreView>> View() override;
  Result<std::optional<ResourceVersion>> ReadCurrent(std::string_view type,
                                                     std::string_view id) override;
  Result<std::optional<ResourceVersion>> ReadVersion(std::string_view type, std::string_view id,
                                                     int64_t version) override;
  Status Write(const std::function<Status(WriteTxn&)>& fn) override;
  StoreStats Stats() override;
  // Closes the primary (finishing its queued writes), then the replica.
  void Close() override;

 private:
  std::unique_ptr<Store> primary_;
  std::unique_ptr<Store> replica_;
};

}  // namespace lhcr::store
