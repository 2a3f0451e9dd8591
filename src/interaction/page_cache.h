// PageCache: search result sets pinned to the snapshot they were computed
// in, so that following pages neither skip nor repeat resources while
// writes go on (after Blaze). Entries expire after a while and the cache
// holds a bounded number of rids. Thread-safe.
#pragma once

#include <chrono>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "search/search.h"
#include "store/store.h"

namespace lhcr::interaction {

class PageCache {
 public:
  struct Entry {
    std::shared_ptr<const std::vector<store::Rid>> rids;
    int64_t seq = 0;  // the snapshot the search ran in
    search::SearchRequest request;
    // The self link of a result set that is not a type search (an
    // operation's, e.g. "Patient/1/$everything?_count=10"), relative to the
    // base; empty for a search (its self link is built from `request`).
    std::string self;
  };

  explicit PageCache(size_t max_rids = 20'000'000,
                     std::chrono::seconds ttl = std::chrono::minutes(30));

  // Stores a result set and returns its token.
  std::string Put(std::vector<store::Rid> rids, int64_t seq, search::SearchRequest request,
                  std::string self = "");
  std::optional<Entry> Get(const std::string& token);

 private:
  struct Slot {
    Entry entry;
    std::chrono::steady_clock::time_point expires;
    std::list<std::string>::iterator lru;
  };
  void EvictLocked();

  const size_t max_rids_;
  const std::chrono::seconds ttl_;
  std::mutex mu_;
  std::unordered_map<std::string, Slot> slots_;  // guarded by mu_
  std::list<std::string> lru_;                   // guarded by mu_, newest first
  size_t total_rids_ = 0;                        // guarded by mu_
  uint64_t counter_ = 0;                         // guarded by mu_
};

}  // namespace lhcr::interaction
