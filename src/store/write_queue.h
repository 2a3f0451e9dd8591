// WriteQueue: the hand-over between Store::Write callers and a store's one
// writer thread, which takes the calls queued while it was busy and runs
// them in one transaction (group commit). Shared by every Store
// implementation; inside the store room only. Thread-safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <vector>

#include "base/status.h"
#include "store/store.h"

namespace lhcr::store {

class WriteQueue {
 public:
  // One Write call: the function to run and where its result goes.
  struct Job {
    const std::function<Status(WriteTxn&)>* fn;
    std::promise<Status> promise;
  };

  // Caller side: queues `fn` and blocks until the writer set its result;
  // kUnavailable once the queue is closed.
  Status Submit(const std::function<Status(WriteTxn&)>& fn);

  // Writer side: waits for work and takes up to `max` jobs in arrival
  // order. Empty only when the queue is closed and drained: the writer ends.
  std::vector<Job*> TakeBatch(int max);

  // Refuses new jobs; those queued are still taken. False if it already was.
  bool Close();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job*> jobs_;  // guarded by mu_
  bool closed_ = false;    // guarded by mu_
};

}  // namespace lhcr::store
