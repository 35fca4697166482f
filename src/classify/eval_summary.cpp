// EvalSummary: one evaluation's scored texts, kept as the few numbers per
// text that intervals, reliability and histograms need, plus the texts of the
// most confident mistakes.
#include <algorithm>

#include "cloze/error.h"
#include "cloze/eval_metrics.h"

namespace cloze {

EvalSummary::EvalSummary(std::vector<std::string> labels, bool calibrated, size_t keep_mistakes)
    : cm_(std::move(labels)), calibrated_(calibrated), keep_(keep_mistakes) {}

void EvalSummary::add(size_t gold, const Classification& c, size_t line, std::string_view text) {
  const size_t k = cm_.labels().size();
  if (!c.error.empty()) throw Error("EvalSummary::add: line " + std::to_string(line) + " was not scored: " + c.error);
  if (c.probs.size() != k || c.scores.size() != k || c.label_index >= k)
    throw Error("EvalSummary::add: line " + std::to_string(line) + " has " + std::to_string(c.probs.size()) +
                " probabilities for " + std::to_string(k) + " labels");
  cm_.add(gold, c.label_index);
  gold_.push_back(gold);
  predicted_.push_back(c.label_index);
  confidence_.push_back(c.probs[c.label_index]);
  label_mass_.push_back(c.label_mass);
  intervals_.reset();
  if (calibrated_) {
    // What the classifier decides without calibration (classifier.cpp: probs = softmax(scores)).
    const std::vector<double> raw = softmax(c.scores);
    const size_t p = argmax(raw);
    predicted_raw_.push_back(p);
    confidence_raw_.push_back(raw[p]);
  }

  if (c.label_index == gold || keep_ == 0) return;
  const double conf = c.probs[c.label_index];
  // Most confident first; an equal confidence goes after the ones already kept (input order).
  auto at = std::find_if(mistakes_.begin(), mistakes_.end(),
                         [&](const Mistake& m) { return m.probs[m.predicted] < conf; });
  if (at == mistakes_.end() && mistakes_.size() >= keep_) return;
  mistakes_.insert(at, Mistake{line, std::string(text), gold, c.label_index, c.probs, c.label_mass});
  if (mistakes_.size() > keep_) mistakes_.pop_back();
}

double EvalSummary::mean_label_mass() const {
  if (label_mass_.empty()) return 0.0;
  double s = 0;
  for (double v : label_mass_) s += v;
  return s / double(label_mass_.size());
}

const BootstrapIntervals& EvalSummary::intervals() const {
  if (!intervals_) intervals_ = bootstrap_intervals(cm_.labels(), gold_, predicted_);
  return *intervals_;
}

Reliability EvalSummary::reliability(size_t bins) const {
  std::vector<bool> right(gold_.size());
  for (size_t i = 0; i < gold_.size(); ++i) right[i] = gold_[i] == predicted_[i];
  return cloze::reliability(confidence_, right, bins);
}

std::optional<Reliability> EvalSummary::reliability_uncalibrated(size_t bins) const {
  if (!calibrated_) return std::nullopt;
  std::vector<bool> right(gold_.size());
  for (size_t i = 0; i < gold_.size(); ++i) right[i] = gold_[i] == predicted_raw_[i];
  return cloze::reliability(confidence_raw_, right, bins);
}

Histogram EvalSummary::label_mass_histogram(size_t bins) const { return histogram(label_mass_, bins, 0.0, 1.0); }

nlohmann::ordered_json EvalSummary::to_json() const {
  const BootstrapIntervals& ci = intervals();
  nlohmann::ordered_json j;
  j["accuracy_ci"] = {ci.accuracy.low, ci.accuracy.high};
  j["macro_f1_ci"] = {ci.macro_f1.low, ci.macro_f1.high};
  j["bootstrap"] = {{"resamples", ci.options.resamples}, {"level", ci.options.level}, {"seed", ci.options.seed}};
  j["reliability"] = cloze::to_json(reliability());
  if (auto raw = reliability_uncalibrated()) j["reliability_uncalibrated"] = cloze::to_json(*raw);
  const Histogram h = label_mass_histogram();
  j["label_mass_histogram"] = {{"low", h.low}, {"high", h.high}, {"counts", h.counts}};
  return j;
}

nlohmann::ordered_json EvalSummary::mistakes_json() const {
  auto out = nlohmann::ordered_json::array();
  for (const Mistake& m : mistakes_) {
    nlohmann::ordered_json probs = nlohmann::ordered_json::object();
    for (size_t i = 0; i < m.probs.size(); ++i) probs[labels()[i]] = m.probs[i];
    out.push_back({{"line", m.line},
                   {"text", m.text},
                   {"gold", labels()[m.gold]},
                   {"predicted", labels()[m.predicted]},
                   {"probs", std::move(probs)},
                   {"label_mass", m.label_mass}});
  }
  return out;
}

}  // namespace cloze
