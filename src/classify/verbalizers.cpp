// Verbalizers: a label said in several ways scores as the log of the summed
// probability of its ways (Schick & Schuetze 2021 sum the verbalizers'
// probabilities the same way).
#include <algorithm>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "cloze/classify.h"
#include "cloze/error.h"

namespace cloze {

double logsumexp(std::span<const double> v) {
  if (v.empty()) return -std::numeric_limits<double>::infinity();
  const double m = *std::max_element(v.begin(), v.end());
  if (!std::isfinite(m)) return m;
  double s = 0;
  for (double x : v) s += std::exp(x - m);
  return m + std::log(s);
}

std::vector<double> label_scores(std::span<const double> seq_scores, std::span<const size_t> seq_label, size_t n_labels) {
  std::vector<std::vector<double>> per(n_labels);
  for (size_t k = 0; k < seq_scores.size(); ++k) per[seq_label[k]].push_back(seq_scores[k]);
  std::vector<double> out(n_labels);
  // One verbalizer: its score exactly (no round trip through exp/log), so a
  // classifier without verbalizers gives the numbers it always gave.
  for (size_t j = 0; j < n_labels; ++j) out[j] = per[j].size() == 1 ? per[j][0] : logsumexp(per[j]);
  return out;
}

LabelSet parse_label_set(std::string_view text, const std::string& what) {
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(text);
  } catch (const std::exception& e) {
    throw Error(what + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object() || j.empty())
    throw Error(what + ": expected a JSON object {\"label\": [\"verbalizer\", ...], ...} with at least one label");
  LabelSet s;
  for (auto& [label, ways] : j.items()) {
    s.labels.push_back(label);
    std::vector<std::string> list;
    if (ways.is_string()) {
      list.push_back(ways.get<std::string>());
    } else if (ways.is_array()) {
      for (size_t i = 0; i < ways.size(); ++i) {
        if (!ways[i].is_string())
          throw Error(what + ": label '" + label + "' verbalizer " + std::to_string(i) + " must be a string");
        list.push_back(ways[i].get<std::string>());
      }
    } else {
      throw Error(what + ": label '" + label + "' must map to a string or a list of strings");
    }
    if (list.empty()) throw Error(what + ": label '" + label + "' has no verbalizers");
    s.verbalizers.push_back(std::move(list));
  }
  return s;
}

}  // namespace cloze
