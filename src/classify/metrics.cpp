// Classification metrics from a confusion matrix, and the --label-map parser.
// Definitions follow scikit-learn's classification_report with
// zero_division=0, so numbers can be checked against it.
#include "cloze/metrics.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <stdexcept>

#include "cloze/error.h"

namespace cloze {

namespace {

std::string label_list(const std::vector<std::string>& labels) {
  std::string s;
  for (size_t i = 0; i < labels.size(); ++i) s += (i ? ", \"" : "\"") + labels[i] + "\"";
  return s;
}

double ratio(size_t num, size_t den) { return den ? double(num) / double(den) : 0.0; }

std::string fixed4(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

std::string pad_right(const std::string& s, size_t w) {
  return s.size() >= w ? s : s + std::string(w - s.size(), ' ');
}
std::string pad_left(const std::string& s, size_t w) {
  return s.size() >= w ? s : std::string(w - s.size(), ' ') + s;
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

}  // namespace

ConfusionMatrix::ConfusionMatrix(std::vector<std::string> labels) : labels_(std::move(labels)) {
  if (labels_.empty()) throw Error("metrics: the label list is empty; need at least one label");
  std::set<std::string> seen;
  for (const auto& l : labels_)
    if (!seen.insert(l).second) throw Error("metrics: label \"" + l + "\" is listed twice");
  counts_.assign(labels_.size() * labels_.size(), 0);
}

size_t ConfusionMatrix::index_of(const std::string& label) const {
  return static_cast<size_t>(std::find(labels_.begin(), labels_.end(), label) - labels_.begin());
}

void ConfusionMatrix::add(const std::string& gold, const std::string& predicted) {
  const size_t g = index_of(gold), p = index_of(predicted);
  if (g == labels_.size())
    throw Error("gold label \"" + gold + "\" is not one of the labels (" + label_list(labels_) +
                "); rename dataset labels with a label map, e.g. pos=positive", Subject::option("label_map"));
  if (p == labels_.size())
    throw Error("predicted label \"" + predicted + "\" is not one of the labels (" +
                label_list(labels_) + ")");
  add(g, p);
}

void ConfusionMatrix::add(size_t gold, size_t predicted) {
  if (gold >= labels_.size() || predicted >= labels_.size())
    throw std::out_of_range("ConfusionMatrix::add: label position past the end");
  ++counts_[gold * labels_.size() + predicted];
  ++total_;
}

size_t ConfusionMatrix::count(size_t gold, size_t predicted) const {
  return counts_.at(gold * labels_.size() + predicted);
}

size_t ConfusionMatrix::correct() const {
  size_t c = 0;
  for (size_t i = 0; i < labels_.size(); ++i) c += count(i, i);
  return c;
}

double ConfusionMatrix::accuracy() const { return ratio(correct(), total_); }

ClassStats ConfusionMatrix::stats(size_t label) const {
  ClassStats s;
  for (size_t j = 0; j < labels_.size(); ++j) {
    s.support += count(label, j);
    s.predicted += count(j, label);
  }
  const size_t tp = count(label, label);
  s.precision = ratio(tp, s.predicted);
  s.recall = ratio(tp, s.support);
  const double sum = s.precision + s.recall;
  s.f1 = sum > 0 ? 2 * s.precision * s.recall / sum : 0.0;
  return s;
}

double ConfusionMatrix::macro_f1() const {
  if (total_ == 0) return 0.0;
  double sum = 0;
  for (size_t i = 0; i < labels_.size(); ++i) sum += stats(i).f1;
  return sum / double(labels_.size());
}

nlohmann::ordered_json ConfusionMatrix::to_json() const {
  nlohmann::ordered_json j;
  j["n"] = total_;
  j["accuracy"] = accuracy();
  j["macro_f1"] = macro_f1();
  auto& per = j["per_class"] = nlohmann::ordered_json::object();
  for (size_t i = 0; i < labels_.size(); ++i) {
    const ClassStats s = stats(i);
    per[labels_[i]] = {{"precision", s.precision}, {"recall", s.recall}, {"f1", s.f1},
                       {"support", s.support}};
  }
  auto matrix = nlohmann::ordered_json::array();
  for (size_t g = 0; g < labels_.size(); ++g) {
    auto row = nlohmann::ordered_json::array();
    for (size_t p = 0; p < labels_.size(); ++p) row.push_back(count(g, p));
    matrix.push_back(std::move(row));
  }
  j["confusion"] = {{"labels", labels_}, {"matrix", std::move(matrix)}};
  return j;
}

std::string ConfusionMatrix::format() const {
  std::string out;
  out += "accuracy  " + fixed4(accuracy()) + "  (" + std::to_string(correct()) + "/" +
         std::to_string(total_) + ")\n";
  out += "macro-F1  " + fixed4(macro_f1()) + "\n\n";

  // Appending piece by piece (rather than "  " + string) also sidesteps a
  // GCC 12 -Wrestrict false positive on operator+(const char*, string&&).
  auto cell = [&out](const std::string& s, size_t w) {
    out += "  ";
    out += pad_left(s, w);
  };
  size_t name_w = std::string("gold \\ predicted").size();
  for (const auto& l : labels_) name_w = std::max(name_w, l.size());
  out += pad_right("label", name_w);
  for (const char* h : {"precision", "recall", "f1", "support"}) cell(h, 9);
  out += "\n";
  for (size_t i = 0; i < labels_.size(); ++i) {
    const ClassStats s = stats(i);
    out += pad_right(labels_[i], name_w);
    cell(fixed4(s.precision), 9);
    cell(fixed4(s.recall), 9);
    cell(fixed4(s.f1), 9);
    cell(std::to_string(s.support), 9);
    out += "\n";
  }

  // Each count column is as wide as its label or its largest count.
  std::vector<size_t> col_w(labels_.size());
  for (size_t p = 0; p < labels_.size(); ++p) {
    col_w[p] = labels_[p].size();
    for (size_t g = 0; g < labels_.size(); ++g)
      col_w[p] = std::max(col_w[p], std::to_string(count(g, p)).size());
  }
  out += "\n";
  out += pad_right("gold \\ predicted", name_w);
  for (size_t p = 0; p < labels_.size(); ++p) cell(labels_[p], col_w[p]);
  out += "\n";
  for (size_t g = 0; g < labels_.size(); ++g) {
    out += pad_right(labels_[g], name_w);
    for (size_t p = 0; p < labels_.size(); ++p) cell(std::to_string(count(g, p)), col_w[p]);
    out += "\n";
  }
  return out;
}

LabelMap LabelMap::parse(const std::string& spec) {
  LabelMap m;
  if (trim(spec).empty()) return m;
  size_t start = 0;
  for (;;) {
    const size_t comma = spec.find(',', start);
    const std::string entry = spec.substr(start, comma == std::string::npos ? comma : comma - start);
    const size_t eq = entry.find('=');
    const std::string from = trim(entry.substr(0, eq));
    const std::string to = eq == std::string::npos ? "" : trim(entry.substr(eq + 1));
    if (eq == std::string::npos || from.empty() || to.empty() ||
        to.find('=') != std::string::npos)
      throw Error("label map: entry \"" + entry +
                  "\" is malformed; expected DATASET_LABEL=LABEL, e.g. pos=positive,neg=negative",
                  Subject::option("label_map"));
    if (!m.map_.emplace(from, to).second)
      throw Error("label map: label \"" + from + "\" is mapped twice", Subject::option("label_map"));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return m;
}

const std::string& LabelMap::map(const std::string& label) const {
  const auto it = map_.find(label);
  return it == map_.end() ? label : it->second;
}

}  // namespace cloze
