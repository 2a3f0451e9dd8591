#include "store/write_queue.h"

namespace lhcr::store {

Status WriteQueue::Submit(const std::function<Status(WriteTxn&)>& fn) {
  Job job{&fn, {}};
  std::future<Status> done = job.promise.get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return Status::Unavailable("the store is closing");
    jobs_.push_back(&job);
  }
  cv_.notify_one();
  return done.get();
}

std::vector<WriteQueue::Job*> WriteQueue::TakeBatch(int max) {
  std::vector<Job*> batch;
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return closed_ || !jobs_.empty(); });
  while (!jobs_.empty() && static_cast<int>(batch.size()) < max) {
    batch.push_back(jobs_.front());
    jobs_.pop_front();
  }
  return batch;
}

bool WriteQueue::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    closed_ = true;
  }
  cv_.notify_all();
  return true;
}

}  // namespace lhcr::store
