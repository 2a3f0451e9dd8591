// Progress of long work (synth, ingest) on stderr: a bar redrawn in place on
// a terminal, otherwise a line at every tenth of the way, so logs stay short.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>

namespace lhcr {

class Progress {
 public:
  // `what` names the work ("ingest"); `unit` what is counted ("MB").
  Progress(std::string what, std::string unit, double scale = 1.0)
      : what_(std::move(what)), unit_(std::move(unit)), scale_(scale),
        tty_(isatty(fileno(stderr)) != 0), start_(std::chrono::steady_clock::now()) {}

  // Thread-safe. `done` of `total` (in counted units before scaling).
  void Update(int64_t done, int64_t total, const std::string& detail = "") {
    std::lock_guard<std::mutex> lock(mu_);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (tty_) {
      int width = 40;
      int fill = total <= 0 ? width : static_cast<int>(width * std::min(done, total) / total);
      std::fprintf(stderr, "\r[%s%s] %.1f/%.1f %s %5.0f s %s\033[K", std::string(fill, '#').c_str(),
                   std::string(width - fill, ' ').c_str(), done / scale_, total / scale_,
                   unit_.c_str(), secs, detail.c_str());
      if (done >= total) std::fprintf(stderr, "\n");
    } else if (int64_t step = total <= 0 ? 10 : done * 10 / total; step != last_step_) {
      last_step_ = step;
      std::fprintf(stderr, "%s: %.1f/%.1f %s (%lld%%) after %.0f s %s\n", what_.c_str(),
                   done / scale_, total / scale_, unit_.c_str(),
                   static_cast<long long>(total <= 0 ? 100 : done * 100 / total), secs,
                   detail.c_str());
    }
  }

 private:
  std::mutex mu_;
  const std::string what_;
  const std::string unit_;
  const double scale_;
  const bool tty_;
  const std::chrono::steady_clock::time_point start_;
  int64_t last_step_ = -1;
};

}  // namespace lhcr
