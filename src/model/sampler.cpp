#include "model/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace cloze::gen {

int32_t argmax(std::span<const float> logits) {
  size_t best = 0;
  // Start from the first non-NaN value so that a NaN at 0 cannot win.
  while (best + 1 < logits.size() && std::isnan(logits[best])) ++best;
  for (size_t i = best + 1; i < logits.size(); ++i)
    if (logits[i] > logits[best]) best = i;  // strict: ties keep the lower id
  return int32_t(best);
}

Sampler::Sampler(const SamplingParams& p) : p_(p), rng_(p.seed) {}

double Sampler::uniform() { return double(rng_() >> 11) * 0x1.0p-53; }

namespace {

struct Cand {
  int32_t id;
  double score;  // logit / temperature
};

// Higher score first; equal scores by lower id, so that the order (and with
// it the draw) never depends on the sort algorithm.
bool before(const Cand& a, const Cand& b) { return a.score > b.score || (a.score == b.score && a.id < b.id); }

// Softmax of the candidates' scores (c sorted, c[0] the largest).
std::vector<double> softmax(const std::vector<Cand>& c) {
  std::vector<double> p(c.size());
  double sum = 0;
  for (size_t i = 0; i < c.size(); ++i) sum += p[i] = std::exp(c[i].score - c[0].score);
  for (double& v : p) v /= sum;
  return p;
}

}  // namespace

std::vector<TokenProb> Sampler::distribution(std::span<const float> logits) const {
  // Temperature. Non-finite logits (-inf masks, NaN) never get sampled.
  std::vector<Cand> c;
  c.reserve(logits.size());
  for (size_t i = 0; i < logits.size(); ++i)
    if (std::isfinite(logits[i])) c.push_back({int32_t(i), double(logits[i]) / double(p_.temperature)});
  if (c.empty()) return {{argmax(logits), 1.0}};

  // Top-k: keep scores >= the k-th largest, so ties with it stay in, as
  // transformers' TopKLogitsWarper does. nth_element first keeps this O(V).
  if (p_.top_k > 0 && p_.top_k < c.size()) {
    std::nth_element(c.begin(), c.begin() + (p_.top_k - 1), c.end(), before);
    const double kth = c[p_.top_k - 1].score;
    std::erase_if(c, [&](const Cand& x) { return x.score < kth; });
  }
  std::sort(c.begin(), c.end(), before);
  std::vector<double> prob = softmax(c);

  // Top-p: the smallest prefix of the sorted tokens whose mass reaches top_p;
  // at least one token.
  if (p_.top_p < 1) {
    double cum = 0;
    size_t keep = 0;
    while (keep < c.size()) {
      cum += prob[keep++];
      if (cum >= double(p_.top_p)) break;
    }
    c.resize(keep);
    prob = softmax(c);
  }

  // Min-p: relative to the most probable token, over what top-p kept.
  if (p_.min_p > 0) {
    const double floor = double(p_.min_p) * prob[0];
    size_t keep = 1;
    while (keep < c.size() && prob[keep] >= floor) ++keep;
    c.resize(keep);
    prob = softmax(c);
  }

  std::vector<TokenProb> out(c.size());
  for (size_t i = 0; i < c.size(); ++i) out[i] = {c[i].id, prob[i]};
  return out;
}

int32_t Sampler::next(std::span<const float> logits) {
  if (p_.temperature == 0) return argmax(logits);
  const auto dist = distribution(logits);
  // Walk the cumulative mass in the distribution's fixed order; rounding can
  // leave the total a hair under u, in which case the last token is taken.
  const double u = uniform();
  double cum = 0;
  for (const auto& t : dist) {
    cum += t.p;
    if (u < cum) return t.id;
  }
  return dist.back().id;
}

}  // namespace cloze::gen
