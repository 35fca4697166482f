#pragma once
// Counters the server exposes at GET /metrics in Prometheus' text format.
// Cheap enough to update on every request (one mutex, a handful of adds).
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace cloze::server {

class Metrics {
 public:
  // `endpoint` is a route of ours or "other", so the label set stays small
  // whatever paths clients try.
  void request(std::string_view endpoint, int status);
  // Wall time of a scoring request, parse to answer.
  void latency(std::string_view endpoint, double seconds);
  // One classify call / completions prompt run on the model thread.
  void batch(size_t texts, size_t tokens);

  std::string render(size_t queue_depth, bool ready) const;

  static constexpr std::array<double, 13> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                      1, 2.5, 5, 10, 30, 60};

 private:
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> le{};  // counts per bucket, not cumulative
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::map<std::string, Histogram> latency_;
  uint64_t batches_ = 0, texts_ = 0, tokens_ = 0;
};

}  // namespace cloze::server
