// The decoder forward pass, written to read like the architecture:
// embed -> N x [norm -> attention -> residual -> norm -> SwiGLU MLP -> residual]
// -> final norm -> lm_head (only the rows and positions asked for).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "cloze/error.h"
#include "cloze/model.h"
#include "kernels/kernels.h"
#include "model/weights.h"

namespace cloze {

Model::~Model() = default;

std::unique_ptr<Model> Model::load(const std::filesystem::path& dir, const LoadOptions& opt) {
  if (!std::filesystem::is_directory(dir)) throw Error(dir.string() + ": model directory not found");
  auto m = std::unique_ptr<Model>(new Model());
  m->dir_ = dir;
  m->config_ = ModelConfig::from_file(dir / "config.json");
  m->w_ = load_weights(m->config_, TensorStore::open_dir(dir), opt.threads);
  m->w_->pool.set_precision(opt.precision);
  return m;
}

size_t Model::threads() const { return w_->pool.size(); }
Precision Model::precision() const { return w_->pool.precision(); }

namespace {

// Tokens per MLP step: bounds the [tokens, intermediate] buffers (a 4096-token
// classification batch would need 160 MB) and keeps them cache-sized. Rows are
// independent in every kernel, so the chunking does not change any bit.
constexpr size_t kMlpChunk = 512;
// Vocabulary rows per logsumexp step when only some rows are requested.
constexpr size_t kVocabChunk = 8192;

// v.data() with room for at least n elements (grows, never shrinks).
template <class T>
T* room(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

const float* bias_of(const std::vector<float>& b) { return b.empty() ? nullptr : b.data(); }

void add_into(float* x, const float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] += y[i];
}

// The visible part of each cache from the root prefix down to `c`, root
// first, as (cache, number of its own tokens visible) pairs.
std::vector<std::pair<const KVCache*, size_t>> chain_of(const KVCache* c, size_t own) {
  std::vector<std::pair<const KVCache*, size_t>> chain{{c, own}};
  size_t cap = c->size() - c->own_size();  // positions visible from the ancestors
  for (const KVCache* p = c->parent().get(); p; p = p->parent().get()) {
    const size_t start = p->size() - p->own_size();
    if (cap > start) chain.push_back({p, std::min(p->own_size(), cap - start)});
    cap = std::min(cap, start);
  }
  std::reverse(chain.begin(), chain.end());
  return chain;
}

}  // namespace

std::vector<ForwardResult> Model::forward(std::span<const ForwardItem> items, const ForwardOptions& opt) {
  const ModelConfig& c = config_;
  const size_t H = c.hidden_size, Q = c.q_dim(), KV = c.kv_dim(), I = c.intermediate_size;
  ThreadPool& pool = w_->pool;

  // Validate the batch before touching any cache.
  size_t T = 0;
  std::set<const KVCache*> seen;
  for (const auto& it : items) {
    if (!it.cache) throw Error("forward: item without a KV cache");
    if (it.cache->k_.size() != c.num_layers || it.cache->kv_dim_ != KV)
      throw Error("forward: KV cache was made for a different model");
    if (!seen.insert(it.cache).second) throw Error("forward: the same KV cache appears twice in one batch");
    for (int32_t id : it.ids)
      if (id < 0 || size_t(id) >= c.vocab_size)
        throw Error("token id " + std::to_string(id) + " is out of range for vocab_size " + std::to_string(c.vocab_size));
    if (c.sliding_window && it.cache->size() + it.ids.size() > *c.sliding_window)
      throw Error("sequence of " + std::to_string(it.cache->size() + it.ids.size()) +
                  " tokens exceeds the model's sliding_window (" + std::to_string(*c.sliding_window) + ")");
    T += it.ids.size();
  }
  for (int32_t r : opt.rows)
    if (r < 0 || size_t(r) >= c.vocab_size)
      throw Error("vocabulary row " + std::to_string(r) + " is out of range for vocab_size " + std::to_string(c.vocab_size));

  // x: [T, H] embeddings of every new token, items stacked in order.
  ForwardScratch& a = w_->scratch;
  float* x = room(a.x, T * H);
  float* h = room(a.h, T * H);
  float* q = room(a.q, T * Q);
  float* k = room(a.k, T * KV);
  float* v = room(a.v, T * KV);
  float* attn = room(a.attn, T * Q);
  int32_t* pos = room(a.pos, T);
  std::vector<size_t> offset(items.size());
  for (size_t i = 0, t = 0; i < items.size(); ++i) {
    offset[i] = t;
    for (size_t j = 0; j < items[i].ids.size(); ++j, ++t) {
      kernels::weight_row(w_->embed, size_t(items[i].ids[j]), x + t * H);
      pos[t] = int32_t(items[i].cache->size() + j);
    }
  }
  for (const auto& it : items)
    for (size_t l = 0; l < c.num_layers && it.keep_kv; ++l) {
      it.cache->k_[l].resize((it.cache->n_ + it.ids.size()) * KV);
      it.cache->v_[l].resize((it.cache->n_ + it.ids.size()) * KV);
    }
  // The K/V segments each item attends over, per layer (rebuilt per layer: only the data pointers change).
  std::vector<std::vector<std::pair<const KVCache*, size_t>>> chains(items.size());
  for (size_t i = 0; i < items.size(); ++i)
    chains[i] = chain_of(items[i].cache, items[i].cache->n_ + (items[i].keep_kv ? items[i].ids.size() : 0));
  std::vector<kernels::KVSegment> segs;
  // RoPE cos/sin of every token's position, shared by all layers.
  float* cs = room(a.rope_cs, T * c.head_dim);
  kernels::rope_table(pos, T, w_->inv_freq.data(), c.head_dim, cs);
  const size_t chunk = std::min(T, kMlpChunk);
  float* gate = room(a.gate, chunk * I);
  float* up = room(a.up, chunk * I);

  const float scale = 1.0f / std::sqrt(float(c.head_dim));
  for (size_t l = 0; l < c.num_layers; ++l) {
    const LayerWeights& L = w_->layers[l];
    // --- attention block ---
    kernels::rmsnorm(x, H, T, H, L.input_norm.data(), c.rms_norm_eps, h, H);
    const kernels::MatmulTarget qkv[] = {{&L.q, bias_of(L.q_bias), q, Q},
                                         {&L.k, bias_of(L.k_bias), k, KV},
                                         {&L.v, bias_of(L.v_bias), v, KV}};
    kernels::matmul_multi(h, H, T, qkv, 3, pool);
    if (c.qk_norm) {  // per-head RMSNorm: view q as [T * heads, head_dim]
      kernels::rmsnorm(q, c.head_dim, T * c.num_heads, c.head_dim, L.q_norm.data(), c.rms_norm_eps, q, c.head_dim);
      kernels::rmsnorm(k, c.head_dim, T * c.num_kv_heads, c.head_dim, L.k_norm.data(), c.rms_norm_eps, k, c.head_dim);
    }
    kernels::rope_apply(q, Q, T, c.num_heads, c.head_dim, cs);
    kernels::rope_apply(k, KV, T, c.num_kv_heads, c.head_dim, cs);
    for (size_t i = 0; i < items.size(); ++i) {
      KVCache& cache = *items[i].cache;
      const size_t n = items[i].ids.size();
      float* ki = k + offset[i] * KV;
      float* vi = v + offset[i] * KV;
      if (items[i].keep_kv) {
        std::copy_n(ki, n * KV, &cache.k_[l][cache.n_ * KV]);
        std::copy_n(vi, n * KV, &cache.v_[l][cache.n_ * KV]);
      }
      segs.clear();
      for (auto [p, len] : chains[i])
        if (len) segs.push_back({p->k_[l].data(), p->v_[l].data(), len, KV});
      // Not kept: the new tokens' K/V are read from the pass's own buffers
      // (the attention sum does not depend on where its segments split).
      if (!items[i].keep_kv && n) segs.push_back({ki, vi, n, KV});
      if (n)
        kernels::attention(q + offset[i] * Q, Q, n, segs.data(), segs.size(), c.num_heads, c.num_kv_heads,
                           c.head_dim, scale, attn + offset[i] * Q, Q, pool);
    }
    kernels::matmul(attn, Q, T, L.o, bias_of(L.o_bias), h, H, pool);
    add_into(x, h, T * H);
    // --- MLP block: down(silu(gate(h)) * up(h)), a chunk of tokens at a time ---
    kernels::rmsnorm(x, H, T, H, L.post_norm.data(), c.rms_norm_eps, h, H);
    for (size_t t0 = 0; t0 < T; t0 += chunk) {
      const size_t n = std::min(chunk, T - t0);
      kernels::swiglu(h + t0 * H, H, n, L.gate, L.up, gate, up, I, pool);
      kernels::matmul(gate, I, n, L.down, nullptr, h + t0 * H, H, pool);
    }
    add_into(x, h, T * H);
  }
  for (const auto& it : items)
    if (it.keep_kv) it.cache->n_ += it.ids.size();

  // Final norm and lm_head, only at the positions somebody reads.
  std::vector<size_t> out_rows;  // stacked token index of each output position
  std::vector<size_t> first(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    first[i] = out_rows.size();
    const size_t n = items[i].ids.size();
    if (items[i].outputs == Outputs::All)
      for (size_t j = 0; j < n; ++j) out_rows.push_back(offset[i] + j);
    else if (items[i].outputs == Outputs::Last && n)
      out_rows.push_back(offset[i] + n - 1);
  }
  const size_t P = out_rows.size();
  float* xf = room(a.xf, P * H);
  for (size_t p = 0; p < P; ++p) std::copy_n(x + out_rows[p] * H, H, xf + p * H);
  kernels::rmsnorm(xf, H, P, H, w_->final_norm.data(), c.rms_norm_eps, xf, H);

  const bool full = opt.rows.empty();
  const size_t cols = full ? c.vocab_size : opt.rows.size();
  std::vector<float> logits(P * cols);
  if (P) {
    if (full)
      kernels::matmul(xf, H, P, w_->lm_head, nullptr, logits.data(), cols, pool);
    else
      kernels::matmul_rows(xf, H, P, w_->lm_head, opt.rows.data(), cols, logits.data(), cols, pool);
  }
  std::vector<float> lse;
  if (opt.logsumexp && P) {
    // Stream the full vocabulary in chunks (the full logits when we have
    // them); a running max keeps exp() in range, sums are kept in double.
    lse.assign(P, 0.0f);
    std::vector<float> mx(P, -INFINITY);
    std::vector<double> sum(P, 0.0);
    const size_t vchunk = full ? c.vocab_size : kVocabChunk;
    int32_t* ids = full ? nullptr : room(a.ids, vchunk);
    float* buf = full ? nullptr : room(a.chunk, P * vchunk);
    for (size_t v0 = 0; v0 < c.vocab_size; v0 += vchunk) {
      const size_t nv = std::min(vchunk, c.vocab_size - v0);
      const float* y = logits.data();
      if (!full) {
        std::iota(ids, ids + nv, int32_t(v0));
        kernels::matmul_rows(xf, H, P, w_->lm_head, ids, nv, buf, nv, pool);
        y = buf;
      }
      for (size_t p = 0; p < P; ++p) {
        const float* row = y + p * nv;
        const float m = kernels::max_value(row, nv);
        if (m > mx[p]) {
          sum[p] *= std::exp(double(mx[p]) - double(m));
          mx[p] = m;
        }
        sum[p] += kernels::sum_exp(row, nv, mx[p]);
      }
    }
    for (size_t p = 0; p < P; ++p) lse[p] = float(double(mx[p]) + std::log(sum[p]));
  }

  std::vector<ForwardResult> results(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    ForwardResult& r = results[i];
    size_t end = i + 1 < items.size() ? first[i + 1] : P;
    r.positions = end - first[i];
    r.cols = cols;
    r.logits.assign(logits.begin() + first[i] * cols, logits.begin() + end * cols);
    if (!lse.empty()) r.lse.assign(lse.begin() + first[i], lse.begin() + end);
  }
  return results;
}

}  // namespace cloze
