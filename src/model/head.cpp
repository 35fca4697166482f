// From the last hidden states to scores: final norm, lm_head (only the rows
// and positions asked for), final soft-capping, logsumexp. Classification,
// prompt scoring and generation all read their numbers from here.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "cloze/model.h"
#include "kernels/kernels.h"
#include "model/pass.h"

namespace cloze {

namespace {

// Vocabulary rows per logsumexp step when only some rows are requested.
constexpr size_t kVocabChunk = 8192;

// logsumexp over the full vocabulary of each of P rows of xf: [P, hidden],
// streamed in chunks (over `full` logits when given); a running max keeps
// exp() in range, sums are kept in double.
std::vector<float> logsumexp(Pass& p, const float* xf, size_t P, const float* full) {
  const size_t V = p.c.vocab_size, H = p.c.hidden_size;
  std::vector<float> mx(P, -INFINITY), lse(P);
  std::vector<double> sum(P, 0.0);
  const size_t vchunk = full ? V : kVocabChunk;
  int32_t* ids = full ? nullptr : room(p.a.ids, vchunk);
  float* buf = full ? nullptr : room(p.a.chunk, P * vchunk);
  for (size_t v0 = 0; v0 < V; v0 += vchunk) {
    const size_t nv = std::min(vchunk, V - v0);
    const float* y = full;
    if (!full) {
      std::iota(ids, ids + nv, int32_t(v0));
      kernels::matmul_rows(xf, H, P, p.w.lm_head, ids, nv, buf, nv, p.pool);
      if (p.c.arch.final_softcap > 0) kernels::softcap(buf, P * nv, p.c.arch.final_softcap);
      y = buf;
    }
    for (size_t r = 0; r < P; ++r) {
      const float* row = y + r * nv;
      const float m = kernels::max_value(row, nv);
      if (m > mx[r]) {
        sum[r] *= std::exp(double(mx[r]) - double(m));
        mx[r] = m;
      }
      sum[r] += kernels::sum_exp(row, nv, mx[r]);
    }
  }
  for (size_t r = 0; r < P; ++r) lse[r] = float(double(mx[r]) + std::log(sum[r]));
  return lse;
}

}  // namespace

std::vector<size_t> output_rows(const Pass& p, std::vector<size_t>& first) {
  std::vector<size_t> rows;
  first.resize(p.items.size());
  for (size_t i = 0; i < p.items.size(); ++i) {
    first[i] = rows.size();
    const size_t n = p.items[i].ids.size();
    if (p.items[i].outputs == Outputs::All)
      for (size_t j = 0; j < n; ++j) rows.push_back(p.offset[i] + j);
    else if (p.items[i].outputs == Outputs::Last && n)
      rows.push_back(p.offset[i] + n - 1);
  }
  return rows;
}

std::vector<ForwardResult> head(Pass& p, const ForwardOptions& opt) {
  const ModelConfig& c = p.c;
  const size_t H = c.hidden_size;
  std::vector<size_t> first;
  const std::vector<size_t> rows = output_rows(p, first);
  const size_t P = rows.size();
  float* xf = room(p.a.xf, P * H);
  for (size_t r = 0; r < P; ++r) std::copy_n(p.x + rows[r] * H, H, xf + r * H);
  kernels::rmsnorm(xf, H, P, H, p.w.final_norm.data(), c.rms_norm_eps, xf, H);

  // logits: [P, cols], all vocabulary rows or those asked for.
  const bool full = opt.rows.empty();
  const size_t cols = full ? c.vocab_size : opt.rows.size();
  std::vector<float> logits(P * cols);
  if (P) {
    if (full)
      kernels::matmul(xf, H, P, p.w.lm_head, nullptr, logits.data(), cols, p.pool);
    else
      kernels::matmul_rows(xf, H, P, p.w.lm_head, opt.rows.data(), cols, logits.data(), cols, p.pool);
    if (c.arch.final_softcap > 0) kernels::softcap(logits.data(), logits.size(), c.arch.final_softcap);
  }
  std::vector<float> lse;
  if (opt.logsumexp && P) lse = logsumexp(p, xf, P, full ? logits.data() : nullptr);

  std::vector<ForwardResult> results(p.items.size());
  for (size_t i = 0; i < p.items.size(); ++i) {
    ForwardResult& r = results[i];
    const size_t end = i + 1 < p.items.size() ? first[i + 1] : P;
    r.positions = end - first[i];
    r.cols = cols;
    r.logits.assign(logits.begin() + ptrdiff_t(first[i] * cols), logits.begin() + ptrdiff_t(end * cols));
    if (!lse.empty()) r.lse.assign(lse.begin() + ptrdiff_t(first[i]), lse.begin() + ptrdiff_t(end));
  }
  return results;
}

std::vector<std::pair<int32_t, double>> top_logprobs(std::span<const float> row, size_t n, float lse) {
  // One pass with a small sorted buffer (n is ~20 against ~150k entries).
  std::vector<std::pair<float, int32_t>> best;
  best.reserve(n + 1);
  for (size_t j = 0; j < row.size() && n > 0; ++j) {
    const float x = row[j];
    if (best.size() == n && !(x > best.back().first)) continue;
    auto at = std::upper_bound(best.begin(), best.end(), x, [](float v, const auto& e) { return v > e.first; });
    best.insert(at, {x, int32_t(j)});
    if (best.size() > n) best.pop_back();
  }
  std::vector<std::pair<int32_t, double>> out;
  for (auto& [x, id] : best) out.emplace_back(id, double(x) - double(lse));
  return out;
}

}  // namespace cloze
