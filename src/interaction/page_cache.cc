#include "interaction/page_cache.h"

#include <random>

namespace lhcr::interaction {

PageCache::PageCache(size_t max_rids, std::chrono::seconds ttl) : max_rids_(max_rids), ttl_(ttl) {}

std::string PageCache::Put(std::vector<store::Rid> rids, int64_t seq,
                           search::SearchRequest request, std::string self) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard<std::mutex> lock(mu_);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016llx%08llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(++counter_ & 0xffffffff));
  std::string token = buf;
  total_rids_ += rids.size();
  lru_.push_front(token);
  Slot slot{Entry{std::make_shared<const std::vector<store::Rid>>(std::move(rids)), seq,
                  std::move(request), std::move(self)},
            std::chrono::steady_clock::now() + ttl_, lru_.begin()};
  slots_.emplace(token, std::move(slot));
  EvictLocked();
  return token;
}

std::optional<PageCache::Entry> PageCache::Get(const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = slots_.find(token);
  if (it == slots_.end()) return std::nullopt;
  if (std::chrono::steady_clock::now() > it->second.expires) {
    total_rids_ -= it->second.entry.rids->size();
    lru_.erase(it->second.lru);
    slots_.erase(it);
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  it->second.expires = std::chrono::steady_clock::now() + ttl_;
  return it->second.entry;
}

void PageCache::EvictLocked() {
  const auto now = std::chrono::steady_clock::now();
  while (!lru_.empty()) {
    auto it = slots_.find(lru_.back());
    bool expired = it->second.expires < now;
    if (!expired && total_rids_ <= max_rids_ && slots_.size() <= 100000) break;
    total_rids_ -= it->second.entry.rids->size();
    slots_.erase(it);
    lru_.pop_back();
  }
}

}  // namespace lhcr::interaction
