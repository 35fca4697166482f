// The sampler on hand-made logits: greedy tie-break, temperature, top-k,
// top-p, min-p, their order, and seeded draws.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>

#include "model/sampler.h"

namespace {

using cloze::gen::Sampler;
using cloze::gen::SamplingParams;

std::vector<double> softmax(std::vector<double> x) {
  double m = *std::max_element(x.begin(), x.end()), s = 0;
  for (double& v : x) s += v = std::exp(v - m);
  for (double& v : x) v /= s;
  return x;
}

// id -> probability, for comparisons that do not care about order.
std::map<int32_t, double> dist(const SamplingParams& p, const std::vector<float>& logits) {
  std::map<int32_t, double> m;
  for (auto t : Sampler(p).distribution(logits)) m[t.id] = t.p;
  return m;
}

TEST(Sampler, GreedyTakesLowestIdOnTies) {
  Sampler s({});
  EXPECT_EQ(s.next(std::vector<float>{1, 3, 2, 3}), 1);
  EXPECT_EQ(s.next(std::vector<float>{5}), 0);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(s.next(std::vector<float>{nan, -1, nan, -2}), 1);
  EXPECT_EQ(cloze::gen::argmax(std::vector<float>{-INFINITY, -INFINITY}), 0);
}

TEST(Sampler, TemperatureScalesLogits) {
  const std::vector<float> logits = {2, 1, 0};
  for (float t : {0.5f, 1.0f, 2.0f}) {
    auto d = dist({.temperature = t}, logits);
    auto want = softmax({2 / t, 1 / t, 0 / t});
    ASSERT_EQ(d.size(), 3u);
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(d[i], want[i], 1e-12) << "T=" << t << " id " << i;
  }
  // Ordered by probability, ties by id.
  auto v = Sampler({.temperature = 1}).distribution(std::vector<float>{0, 1, 1, 0.5f});
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0].id, 1);
  EXPECT_EQ(v[1].id, 2);
  EXPECT_EQ(v[2].id, 3);
  EXPECT_EQ(v[3].id, 0);
}

TEST(Sampler, TopKKeepsKHighestAndTiesWithTheKth) {
  auto d = dist({.temperature = 1, .top_k = 2}, {0, 3, 1, 2, -1});
  ASSERT_EQ(d.size(), 2u);
  auto want = softmax({3, 2});
  EXPECT_NEAR(d[1], want[0], 1e-12);
  EXPECT_NEAR(d[3], want[1], 1e-12);
  // A tie with the k-th value stays in, as in transformers.
  EXPECT_EQ(dist({.temperature = 1, .top_k = 2}, {0, 3, 2, 2, -1}).size(), 3u);
  // k larger than the vocabulary: no effect.
  EXPECT_EQ(dist({.temperature = 1, .top_k = 10}, {0, 1, 2}).size(), 3u);
}

TEST(Sampler, TopPKeepsSmallestSetReachingP) {
  // Probabilities 0.5, 0.3, 0.15, 0.05 (logs of them as logits).
  const std::vector<float> logits = {std::log(0.15f), std::log(0.5f), std::log(0.05f), std::log(0.3f)};
  auto kept = [&](float p) { return dist({.temperature = 1, .top_p = p}, logits); };
  EXPECT_EQ(kept(0.4f).size(), 1u);   // 0.5 >= 0.4
  EXPECT_EQ(kept(0.5f).size(), 1u);   // exactly reached
  EXPECT_EQ(kept(0.6f).size(), 2u);   // 0.5 + 0.3
  EXPECT_EQ(kept(0.9f).size(), 3u);   // + 0.15
  EXPECT_EQ(kept(0.99f).size(), 4u);
  EXPECT_EQ(kept(1e-6f).size(), 1u);  // at least one token
  auto d = kept(0.6f);
  EXPECT_NEAR(d[1], 0.5 / 0.8, 1e-6);  // renormalized over the kept set
  EXPECT_NEAR(d[3], 0.3 / 0.8, 1e-6);
}

TEST(Sampler, MinPIsRelativeToTopProbability) {
  const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  EXPECT_EQ(dist({.temperature = 1, .min_p = 0.2f}, logits).size(), 3u);  // floor 0.1
  EXPECT_EQ(dist({.temperature = 1, .min_p = 0.5f}, logits).size(), 2u);  // floor 0.25
  EXPECT_EQ(dist({.temperature = 1, .min_p = 1.0f}, logits).size(), 1u);
}

TEST(Sampler, FiltersRunInTransformersOrder) {
  // Temperature first: at T=0.5 the top token has 0.5^2/(0.5^2+0.3^2+...) > 0.6,
  // so top-p 0.6 keeps one token; at T=1 it needs two.
  const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  EXPECT_EQ(dist({.temperature = 0.5f, .top_p = 0.6f}, logits).size(), 1u);
  EXPECT_EQ(dist({.temperature = 1, .top_p = 0.6f}, logits).size(), 2u);
  // Top-k before top-p: after top-k 2 the mass is renormalized (0.625, 0.375),
  // so top-p 0.6 keeps only the first.
  EXPECT_EQ(dist({.temperature = 1, .top_k = 2, .top_p = 0.6f}, logits).size(), 1u);
  // Top-p before min-p: top-p 0.82 keeps {0.5,0.3,0.15}; min-p 0.2 (relative
  // floor 0.1) keeps all three. Min-p first would drop 0.05 and renormalize to
  // {0.526,0.316,0.158}, and top-p 0.82 would then stop at two.
  EXPECT_EQ(dist({.temperature = 1, .top_p = 0.82f, .min_p = 0.2f}, logits).size(), 3u);
}

TEST(Sampler, SeededDrawsAreReproducibleAndFollowTheDistribution) {
  const std::vector<float> logits = {std::log(0.6f), std::log(0.3f), std::log(0.1f)};
  Sampler a({.temperature = 1, .seed = 7}), b({.temperature = 1, .seed = 7});
  std::vector<int> counts(3);
  for (int i = 0; i < 20000; ++i) {
    int32_t x = a.next(logits);
    ASSERT_EQ(x, b.next(logits));
    ++counts[x];
  }
  EXPECT_NEAR(counts[0] / 20000.0, 0.6, 0.02);
  EXPECT_NEAR(counts[1] / 20000.0, 0.3, 0.02);
  EXPECT_NEAR(counts[2] / 20000.0, 0.1, 0.02);
  // Our uniform conversion is fixed: the first draws of seed 0 are pinned.
  Sampler z({.temperature = 1, .seed = 0});
  std::mt19937_64 ref(0);
  EXPECT_EQ(z.uniform(), double(ref() >> 11) / 9007199254740992.0);
}

TEST(Sampler, SelectionMatchesFullSortReference) {
  // The sampler finds top-k / top-p boundaries by selection; a plain sort of
  // every token must keep the same set, ties included.
  std::mt19937_64 rng(1);
  for (int trial = 0; trial < 200; ++trial) {
    const size_t V = 1 + rng() % 2000;
    std::vector<float> logits(V);
    for (auto& v : logits) v = float(int(rng() % 64)) / 8.0f;  // many exact ties
    const float top_p = float(rng() % 1000 + 1) / 1000.0f;
    const size_t top_k = rng() % 3 ? 0 : 1 + rng() % V;
    // Reference: sort by (logit desc, id asc); top-k by the k-th value; the
    // smallest prefix reaching top_p.
    std::vector<int32_t> order(V);
    for (size_t i = 0; i < V; ++i) order[i] = int32_t(i);
    std::sort(order.begin(), order.end(),
              [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
    if (top_k) {
      const float kth = logits[order[top_k - 1]];
      while (logits[order.back()] < kth) order.pop_back();
    }
    std::vector<double> w;
    double sum = 0;
    for (int32_t id : order) sum += w.emplace_back(std::exp(double(logits[id]) - double(logits[order[0]])));
    double cum = 0;
    size_t keep = 0;
    while (keep < order.size()) {
      cum += w[keep++];
      if (cum >= double(top_p) * sum) break;
    }
    std::vector<int32_t> want(order.begin(), order.begin() + keep);
    std::sort(want.begin(), want.end());
    std::vector<int32_t> got;
    for (auto t : Sampler({.temperature = 1, .top_k = top_k, .top_p = top_p}).distribution(logits)) got.push_back(t.id);
    std::sort(got.begin(), got.end());
    ASSERT_EQ(got, want) << "trial " << trial << " V=" << V << " top_k=" << top_k << " top_p=" << top_p;
  }
}

TEST(Sampler, NonFiniteLogitsAreNeverSampled) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Sampler s({.temperature = 1, .seed = 1});
  for (int i = 0; i < 100; ++i) EXPECT_EQ(s.next(std::vector<float>{-INFINITY, nan, 0, -INFINITY}), 2);
}

}  // namespace
