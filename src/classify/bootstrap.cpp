// Percentile-bootstrap intervals for accuracy and macro-F1. Every resample is
// scored by ConfusionMatrix, the same code as the point estimates.
#include <algorithm>
#include <cmath>
#include <random>

#include "cloze/error.h"
#include "cloze/eval_metrics.h"

namespace cloze {

double quantile(std::vector<double>& values, double q) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const double pos = std::clamp(q, 0.0, 1.0) * double(values.size() - 1);
  const size_t lo = size_t(std::floor(pos));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (pos - double(lo)) * (values[hi] - values[lo]);
}

BootstrapIntervals bootstrap_intervals(const std::vector<std::string>& labels, std::span<const size_t> gold,
                                       std::span<const size_t> predicted, const BootstrapOptions& o) {
  if (gold.size() != predicted.size())
    throw Error("bootstrap: " + std::to_string(gold.size()) + " gold labels but " + std::to_string(predicted.size()) +
                " predictions");
  if (o.resamples == 0) throw Error("bootstrap: resamples must be at least 1");
  if (!(o.level > 0 && o.level < 1)) throw Error("bootstrap: level must be between 0 and 1, got " + std::to_string(o.level));
  BootstrapIntervals out;
  out.options = o;
  const size_t n = gold.size();
  if (n == 0) return out;
  std::mt19937_64 rng(o.seed);
  std::vector<double> acc(o.resamples), f1(o.resamples);
  for (size_t r = 0; r < o.resamples; ++r) {
    ConfusionMatrix cm(labels);
    for (size_t k = 0; k < n; ++k) {
      const size_t i = size_t(rng() % n);  // modulo bias < n / 2^64: negligible
      cm.add(gold[i], predicted[i]);
    }
    acc[r] = cm.accuracy();
    f1[r] = cm.macro_f1();
  }
  const double lo = (1 - o.level) / 2, hi = (1 + o.level) / 2;
  out.accuracy = {quantile(acc, lo), quantile(acc, hi)};
  out.macro_f1 = {quantile(f1, lo), quantile(f1, hi)};
  return out;
}

}  // namespace cloze
