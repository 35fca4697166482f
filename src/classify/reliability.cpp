// Reliability diagrams (is "0.9" right nine times in ten?), the expected
// calibration error, and equal-width histograms.
#include <algorithm>
#include <cmath>

#include "cloze/error.h"
#include "cloze/eval_metrics.h"

namespace cloze {

namespace {

// Bin of v among `bins` equal-width bins over [low, high]; the end bins take
// anything beyond them, and `high` itself falls in the last bin.
size_t bin_of(double v, size_t bins, double low, double high) {
  const double x = (v - low) / (high - low) * double(bins);
  if (!(x > 0)) return 0;  // also NaN
  return std::min(size_t(x), bins - 1);
}

}  // namespace

Reliability reliability(std::span<const double> confidence, const std::vector<bool>& correct, size_t bins) {
  if (confidence.size() != correct.size())
    throw Error("reliability: " + std::to_string(confidence.size()) + " confidences but " +
                std::to_string(correct.size()) + " outcomes");
  if (bins == 0) throw Error("reliability: need at least one bin");
  Reliability r;
  r.n = confidence.size();
  r.bins.resize(bins);
  std::vector<double> sum_conf(bins, 0.0);
  std::vector<size_t> right(bins, 0);
  for (size_t i = 0; i < confidence.size(); ++i) {
    const size_t b = bin_of(confidence[i], bins, 0.0, 1.0);
    ++r.bins[b].count;
    sum_conf[b] += confidence[i];
    right[b] += correct[i];
  }
  for (size_t b = 0; b < bins; ++b) {
    ReliabilityBin& x = r.bins[b];
    x.low = double(b) / double(bins);
    x.high = double(b + 1) / double(bins);
    if (x.count == 0) continue;
    x.confidence = sum_conf[b] / double(x.count);
    x.accuracy = double(right[b]) / double(x.count);
    r.ece += double(x.count) / double(r.n) * std::abs(x.accuracy - x.confidence);
  }
  return r;
}

Histogram histogram(std::span<const double> values, size_t bins, double low, double high) {
  if (bins == 0) throw Error("histogram: need at least one bin");
  if (!(high > low)) throw Error("histogram: the range must have high > low");
  Histogram h;
  h.low = low;
  h.high = high;
  h.counts.assign(bins, 0);
  for (double v : values) ++h.counts[bin_of(v, bins, low, high)];
  return h;
}

nlohmann::ordered_json to_json(const Reliability& r) {
  auto bins = nlohmann::ordered_json::array();
  for (const auto& b : r.bins)
    bins.push_back({{"low", b.low}, {"high", b.high}, {"count", b.count}, {"confidence", b.confidence},
                    {"accuracy", b.accuracy}});
  return {{"bins", std::move(bins)}, {"n", r.n}, {"ece", r.ece}};
}

}  // namespace cloze
