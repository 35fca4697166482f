#include "server/prompt_scores.h"

#include <algorithm>
#include <cmath>
#include <span>

namespace cloze::server {

namespace {

constexpr size_t kChunk = 64;  // positions per forward: 64 x 151936 floats = 39 MB

// log-sum-exp of one logits row, in double so the log-probabilities of
// unlikely tokens keep their digits.
double logsumexp(std::span<const float> row) {
  float mx = *std::max_element(row.begin(), row.end());
  double s = 0;
  for (float x : row) s += std::exp(double(x) - double(mx));
  return double(mx) + std::log(s);
}

// The n largest entries of `row`, largest first, ties to the lower index: one
// pass with a small sorted buffer (n <= 20 against ~150k entries).
std::vector<std::pair<int32_t, double>> top_n(std::span<const float> row, size_t n, double lse) {
  std::vector<std::pair<float, int32_t>> best;
  best.reserve(n + 1);
  for (size_t j = 0; j < row.size() && n > 0; ++j) {
    float x = row[j];
    if (best.size() == n && !(x > best.back().first)) continue;
    auto at = std::upper_bound(best.begin(), best.end(), x, [](float v, const auto& e) { return v > e.first; });
    best.insert(at, {x, int32_t(j)});
    if (best.size() > n) best.pop_back();
  }
  std::vector<std::pair<int32_t, double>> out;
  for (auto& [x, id] : best) out.emplace_back(id, double(x) - lse);
  return out;
}

}  // namespace

void score_rows(Model& model, KVCache& cache, PromptScores& s, size_t from, size_t n) {
  const size_t len = s.ids.size();
  // Position p's output row predicts token p + 1; the last position's row
  // would predict past the prompt, so it is not asked for.
  for (size_t start = from; start + 1 < len; start += kChunk) {
    const size_t count = std::min(kChunk, len - 1 - start);
    ForwardItem item{&cache, std::span<const int32_t>(s.ids).subspan(start, count), Outputs::All};
    ForwardResult r = std::move(model.forward({&item, 1})[0]);
    for (size_t p = 0; p < count; ++p) {
      std::span<const float> row(r.logits.data() + p * r.cols, r.cols);
      const double lse = logsumexp(row);
      const size_t next = start + p + 1;
      s.logprobs[next] = double(row[size_t(s.ids[next])]) - lse;
      s.top[next] = top_n(row, n, lse);
    }
  }
}

PromptScores score_prompt(Model& model, std::vector<int32_t> ids, size_t n) {
  PromptScores s;
  s.ids = std::move(ids);
  s.logprobs.assign(s.ids.size(), 0.0);
  s.top.assign(s.ids.size(), {});
  KVCache cache(model);
  score_rows(model, cache, s, 0, n);
  return s;
}

}  // namespace cloze::server
