// Multi-label metrics (as scikit-learn's f1_score with average="micro" /
// "macro" and zero_division=0 on a label-indicator matrix).
#include <algorithm>
#include <cstdio>
#include <set>

#include "cloze/error.h"
#include "cloze/metrics.h"

namespace cloze {

namespace {

double ratio(size_t a, size_t b) { return b ? double(a) / double(b) : 0.0; }
double f1_of(size_t tp, size_t fp, size_t fn) { return ratio(2 * tp, 2 * tp + fp + fn); }

}  // namespace

MultiLabelMetrics::MultiLabelMetrics(std::vector<std::string> labels) : labels_(std::move(labels)) {
  if (labels_.empty()) throw Error("multi-label metrics need at least one label");
  std::set<std::string> seen(labels_.begin(), labels_.end());
  if (seen.size() != labels_.size()) throw Error("multi-label metrics: a label is listed twice");
  tp_.assign(labels_.size(), 0);
  fp_.assign(labels_.size(), 0);
  fn_.assign(labels_.size(), 0);
}

void MultiLabelMetrics::add(const std::vector<std::string>& gold, const std::vector<std::string>& predicted) {
  auto indicator = [&](const std::vector<std::string>& names, const char* what) {
    std::vector<bool> on(labels_.size(), false);
    for (const auto& n : names) {
      auto it = std::find(labels_.begin(), labels_.end(), n);
      if (it == labels_.end()) {
        std::string all;
        for (const auto& l : labels_) all += (all.empty() ? "" : ",") + l;
        throw Error(std::string(what) + " label '" + n + "' is not among the labels (" + all + ")");
      }
      on[size_t(it - labels_.begin())] = true;
    }
    return on;
  };
  const auto g = indicator(gold, "gold"), p = indicator(predicted, "predicted");
  for (size_t j = 0; j < labels_.size(); ++j) {
    tp_[j] += g[j] && p[j];
    fp_[j] += !g[j] && p[j];
    fn_[j] += g[j] && !p[j];
  }
  exact_ += g == p;
  ++total_;
}

ClassStats MultiLabelMetrics::stats(size_t j) const {
  ClassStats s;
  s.precision = ratio(tp_[j], tp_[j] + fp_[j]);
  s.recall = ratio(tp_[j], tp_[j] + fn_[j]);
  s.f1 = f1_of(tp_[j], fp_[j], fn_[j]);
  s.support = tp_[j] + fn_[j];
  s.predicted = tp_[j] + fp_[j];
  return s;
}

double MultiLabelMetrics::micro_f1() const {
  size_t tp = 0, fp = 0, fn = 0;
  for (size_t j = 0; j < labels_.size(); ++j) tp += tp_[j], fp += fp_[j], fn += fn_[j];
  return f1_of(tp, fp, fn);
}

double MultiLabelMetrics::macro_f1() const {
  if (!total_) return 0;
  double s = 0;
  for (size_t j = 0; j < labels_.size(); ++j) s += stats(j).f1;
  return s / double(labels_.size());
}

double MultiLabelMetrics::exact_match() const { return ratio(exact_, total_); }

nlohmann::ordered_json MultiLabelMetrics::to_json() const {
  nlohmann::ordered_json j, per = nlohmann::ordered_json::object();
  j["n"] = total_;
  j["exact_match"] = exact_match();
  j["micro_f1"] = micro_f1();
  j["macro_f1"] = macro_f1();
  for (size_t k = 0; k < labels_.size(); ++k) {
    ClassStats s = stats(k);
    per[labels_[k]] = {{"precision", s.precision}, {"recall", s.recall}, {"f1", s.f1}, {"support", s.support},
                       {"predicted", s.predicted}};
  }
  j["per_class"] = per;
  return j;
}

std::string MultiLabelMetrics::format() const {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-20s %9s %9s %9s %9s %9s\n", "label", "precision", "recall", "f1", "support",
                "predicted");
  out += line;
  for (size_t k = 0; k < labels_.size(); ++k) {
    ClassStats s = stats(k);
    std::snprintf(line, sizeof line, "%-20.20s %9.4f %9.4f %9.4f %9zu %9zu\n", labels_[k].c_str(), s.precision, s.recall,
                  s.f1, s.support, s.predicted);
    out += line;
  }
  return out;
}

std::vector<std::string> MultiLabelMetrics::parse_gold(const std::string& field) {
  std::vector<std::string> out;
  const size_t first = field.find_first_not_of(" \t");
  if (first != std::string::npos && field[first] == '[') {
    nlohmann::json j = nlohmann::json::parse(field, nullptr, /*allow_exceptions=*/false);
    if (!j.is_array()) throw Error("gold labels '" + field + "' look like a JSON list but do not parse as one");
    for (const auto& v : j) {
      if (!v.is_string()) throw Error("gold labels '" + field + "': every entry must be a string");
      out.push_back(v.get<std::string>());
    }
    return out;
  }
  size_t at = 0;
  while (at <= field.size()) {
    size_t bar = field.find('|', at);
    if (bar == std::string::npos) bar = field.size();
    std::string name = field.substr(at, bar - at);
    const size_t b = name.find_first_not_of(" \t"), e = name.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(name.substr(b, e - b + 1));
    at = bar + 1;
  }
  return out;
}

}  // namespace cloze
