#include "model/sampler.h"

#include <algorithm>
#include <cmath>
#include <functional>

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
  double w;  // exp(logit / temperature - max): the unnormalized probability, top token = 1
};

// More probable first; equal by lower id, so the order (and with it the
// draw) never depends on the sort algorithm.
bool before(const Cand& a, const Cand& b) { return a.w > b.w || (a.w == b.w && a.id < b.id); }

double total(const std::vector<Cand>& c) {
  double s = 0;
  for (const auto& x : c) s += x.w;
  return s;
}

}  // namespace

// The kept tokens with unnormalized weights, in id order. Nothing here sorts
// the vocabulary: sorting 150k entries per token would cost more than a
// decode step of a small model. Selection (nth_element) finds each filter's
// boundary instead, and the draw walks the kept tokens by id.
static std::vector<Cand> filter(const SamplingParams& p, std::span<const float> logits) {
  // Temperature. Non-finite logits (-inf masks, NaN) are never sampled.
  double mx = -INFINITY;
  for (float v : logits)
    if (std::isfinite(v)) mx = std::max(mx, double(v));
  if (mx == -INFINITY) return {{argmax(logits), 1.0}};
  const double inv_t = 1.0 / double(p.temperature);
  std::vector<Cand> c;
  c.reserve(logits.size());
  for (size_t i = 0; i < logits.size(); ++i)
    if (std::isfinite(logits[i])) c.push_back({int32_t(i), std::exp((double(logits[i]) - mx) * inv_t)});

  // Top-k: keep weights >= the k-th largest, so ties with it stay in, as
  // transformers' TopKLogitsWarper does.
  if (p.top_k > 0 && p.top_k < c.size()) {
    std::vector<double> w(c.size());
    for (size_t i = 0; i < c.size(); ++i) w[i] = c[i].w;
    std::nth_element(w.begin(), w.begin() + (p.top_k - 1), w.end(), std::greater<>());
    const double kth = w[p.top_k - 1];
    std::erase_if(c, [&](const Cand& x) { return x.w < kth; });
  }

  // Top-p: the smallest most-probable prefix (in `before` order) whose mass
  // reaches top_p, at least one token. Bisect on prefix length with
  // nth_element: s[0, lo) precede s[lo, hi), which precede s[hi, n);
  // mass(s[0, lo)) = acc < need, and the answer is at most hi.
  if (p.top_p < 1) {
    std::vector<Cand> s = c;
    const double need = double(p.top_p) * total(c);
    size_t lo = 0, hi = s.size();
    double acc = 0;
    while (hi - lo > 1) {
      const size_t mid = lo + (hi - lo) / 2;
      std::nth_element(s.begin() + lo, s.begin() + mid, s.begin() + hi, before);
      double m = acc;
      for (size_t i = lo; i < mid; ++i) m += s[i].w;
      if (m >= need) hi = mid;
      else acc = m, lo = mid;
    }
    const Cand last = s[lo];  // the hi-th most probable token: the last one kept
    std::erase_if(c, [&](const Cand& x) { return before(last, x); });
  }

  // Min-p: relative to the most probable token, whose weight is 1 (top-k and
  // top-p always keep it). Renormalizing leaves ratios alone, so no sum is needed.
  if (p.min_p > 0) std::erase_if(c, [&](const Cand& x) { return x.w < double(p.min_p); });
  return c;
}

std::vector<TokenProb> Sampler::distribution(std::span<const float> logits) const {
  std::vector<Cand> c = filter(p_, logits);
  std::sort(c.begin(), c.end(), before);
  const double sum = total(c);
  std::vector<TokenProb> out(c.size());
  for (size_t i = 0; i < c.size(); ++i) out[i] = {c[i].id, c[i].w / sum};
  return out;
}

int32_t Sampler::next(std::span<const float> logits) {
  if (p_.temperature == 0) return argmax(logits);
  const std::vector<Cand> c = filter(p_, logits);
  // Walk the cumulative weight in id order; rounding can leave
  // the total a hair under u * sum, in which case the last token is taken.
  const double target = uniform() * total(c);
  double cum = 0;
  for (const auto& x : c) {
    cum += x.w;
    if (target < cum) return x.id;
  }
  return c.back().id;
}

}  // namespace cloze::gen
