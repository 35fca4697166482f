#pragma once
// What an evaluation reports beyond the confusion matrix: 95% bootstrap
// intervals for accuracy and macro-F1, reliability-diagram bins with the
// expected calibration error (ECE), a fixed-width histogram, and EvalSummary,
// which gathers one run's per-text results into all of them. `cloze eval
// --json` and the HTML report read the same EvalSummary, and every accuracy
// or F1 here is ConfusionMatrix's, so there is one definition of each.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloze/classify.h"
#include "cloze/metrics.h"

namespace cloze {

struct Interval {
  double low = 0, high = 0;
};

struct BootstrapOptions {
  size_t resamples = 1000;
  double level = 0.95;  // central interval: percentiles (1-level)/2 and (1+level)/2
  uint64_t seed = 12345;
};

struct BootstrapIntervals {
  Interval accuracy, macro_f1;
  BootstrapOptions options;
};

// Percentile bootstrap: `resamples` times, draw n (gold, predicted) pairs with
// replacement (std::mt19937_64, index = draw % n), score the resample with a
// ConfusionMatrix over `labels`, and take the percentiles of the scores with
// linear interpolation between order statistics (numpy.percentile's default).
// gold[i] / predicted[i] are positions in `labels`. Deterministic for a seed;
// with no pairs both intervals are [0, 0]. Throws cloze::Error when the spans
// differ in length, resamples is 0, or level is outside (0, 1).
BootstrapIntervals bootstrap_intervals(const std::vector<std::string>& labels, std::span<const size_t> gold,
                                       std::span<const size_t> predicted, const BootstrapOptions& options = {});

// The value at quantile q in [0, 1] of `values` (sorted in place), linear
// between order statistics; 0 for no values.
double quantile(std::vector<double>& values, double q);

struct ReliabilityBin {
  double low = 0, high = 0;  // confidence range [low, high); the last bin includes 1
  size_t count = 0;
  double confidence = 0;  // mean confidence of the bin's texts (0 when empty)
  double accuracy = 0;    // fraction of them predicted right (0 when empty)
};

struct Reliability {
  std::vector<ReliabilityBin> bins;
  size_t n = 0;
  // Expected calibration error: sum over bins of count/n * |accuracy - confidence|.
  double ece = 0;
};

// confidence[i] in [0, 1] is the probability the classifier gave its own
// decision; correct[i] whether that decision was the gold label. Equal-width
// bins over [0, 1]; bin b holds b/bins <= confidence < (b+1)/bins.
Reliability reliability(std::span<const double> confidence, const std::vector<bool>& correct, size_t bins = 10);

struct Histogram {
  double low = 0, high = 1;
  std::vector<size_t> counts;  // equal-width bins; values outside [low, high] land in the end bins
};
Histogram histogram(std::span<const double> values, size_t bins, double low = 0, double high = 1);

// One wrong decision kept for the report, with the text it was made on.
struct Mistake {
  size_t line = 0;  // input line of the row
  std::string text;
  size_t gold = 0, predicted = 0;  // label positions
  std::vector<double> probs;      // per label (calibrated when calibration is on)
  double label_mass = 0;
};

// Accumulates the scored texts of an evaluation.
class EvalSummary {
 public:
  // `calibrated`: the classifier calibrates, so the reliability of the raw
  // decisions (softmax of the label scores) is kept too. `keep_mistakes`: how
  // many of the most confident mistakes to keep with their texts.
  EvalSummary(std::vector<std::string> labels, bool calibrated, size_t keep_mistakes = 20);

  // A scored text (c.error empty) whose gold label is at position `gold`.
  void add(size_t gold, const Classification& c, size_t line, std::string_view text);

  const ConfusionMatrix& confusion() const { return cm_; }
  const std::vector<std::string>& labels() const { return cm_.labels(); }
  bool calibrated() const { return calibrated_; }
  size_t size() const { return gold_.size(); }
  double mean_label_mass() const;

  // Computed once, then cached (not thread-safe).
  const BootstrapIntervals& intervals() const;
  // Of the decisions as made (calibrated probabilities when calibrating).
  Reliability reliability(size_t bins = 10) const;
  // Of softmax(scores), the decisions without calibration; none when not calibrating.
  std::optional<Reliability> reliability_uncalibrated(size_t bins = 10) const;
  Histogram label_mass_histogram(size_t bins = 20) const;
  // Most confident first; ties in input order.
  const std::vector<Mistake>& confident_mistakes() const { return mistakes_; }

  // {"accuracy_ci":[lo,hi],"macro_f1_ci":[lo,hi],"bootstrap":{resamples,level,seed},
  //  "reliability":{"bins":[{low,high,count,confidence,accuracy}],"ece"},
  //  ["reliability_uncalibrated":{...},] "label_mass_histogram":{low,high,counts}}
  nlohmann::ordered_json to_json() const;
  // [{line,text,gold,predicted,probs:{label:p},label_mass}], texts as read:
  // dump with error_handler_t::replace so invalid UTF-8 becomes U+FFFD.
  nlohmann::ordered_json mistakes_json() const;

 private:
  ConfusionMatrix cm_;
  bool calibrated_;
  size_t keep_;
  std::vector<size_t> gold_, predicted_, predicted_raw_;
  std::vector<double> confidence_, confidence_raw_, label_mass_;
  std::vector<Mistake> mistakes_;
  mutable std::optional<BootstrapIntervals> intervals_;
};

nlohmann::ordered_json to_json(const Reliability& r);

}  // namespace cloze
