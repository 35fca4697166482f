// Turning label scores into probabilities, with the two calibrations of the
// zero-shot literature.
#include <algorithm>
#include <cmath>

#include "cloze/classify.h"

namespace cloze {

std::vector<double> softmax(std::span<const double> s) {
  std::vector<double> p(s.size());
  if (s.empty()) return p;
  double m = *std::max_element(s.begin(), s.end());
  double z = 0;
  for (size_t i = 0; i < s.size(); ++i) z += p[i] = std::exp(s[i] - m);
  for (auto& v : p) v /= z;
  return p;
}

// Zhao et al. 2021, "Calibrate Before Use": W = diag(p_cf)^-1, b = 0, and the
// decision is argmax(W p). We report W p normalized to sum to 1, so that a
// uniform p_cf leaves p unchanged and the decision is the paper's.
std::vector<double> contextual_calibrate(std::span<const double> p, std::span<const double> ref) {
  std::vector<double> q(p.size());
  double z = 0;
  for (size_t i = 0; i < p.size(); ++i) z += q[i] = p[i] / ref[i];
  for (auto& v : q) v /= z;
  return q;
}

// Holtzman et al. 2021, "Surface Form Competition": score each label by
// log P(label | prompt) - log P(label | domain premise).
std::vector<double> pmi_calibrate(std::span<const double> scores, std::span<const double> ref) {
  std::vector<double> d(scores.size());
  for (size_t i = 0; i < d.size(); ++i) d[i] = scores[i] - ref[i];
  return softmax(d);
}

size_t argmax(std::span<const double> v) {
  return size_t(std::max_element(v.begin(), v.end()) - v.begin());
}

}  // namespace cloze
