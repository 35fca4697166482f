// The decoder forward pass, written to read like the architecture:
//   embed -> N x [attention block, MLP block] -> head
// where each block is  x += out_norm?(f(in_norm(x)))  and the architecture
// spec (ModelConfig::arch) supplies the switches: biases, q/k norm, the
// norms after the blocks (Gemma), the gate activation, windows, RoPE per layer.
#include <algorithm>
#include <cmath>
#include <set>

#include "cloze/error.h"
#include "cloze/model.h"
#include "kernels/kernels.h"
#include "model/pass.h"

namespace cloze {

namespace {

// Tokens per MLP step: bounds the [tokens, intermediate] buffers (a 4096-token
// classification batch would need 160 MB) and keeps them cache-sized. Rows are
// independent in every kernel, so the chunking does not change any bit.
constexpr size_t kMlpChunk = 512;

const float* bias_of(const std::vector<float>& b) { return b.empty() ? nullptr : b.data(); }

// Row-wise steps (norms, residual adds, RoPE) are split over the pool by
// rows: no row's bits depend on the split. Left serial, they kept the other
// thread idle for ~4% of a 128-token forward. A chunk has at least this many
// elements, so short passes (decode) run inline without a hand-off.
constexpr size_t kRowStepElems = 8192;

template <class Fn>
void for_rows(const Pass& p, size_t T, size_t row_elems, Fn&& fn) {
  const size_t grain = std::max<size_t>(1, kRowStepElems / std::max<size_t>(1, row_elems));
  p.pool.run(T, [&](size_t b, size_t e, size_t) { fn(b, e); }, grain);
}

// x += y over [T, n] rows.
void add_into(const Pass& p, float* x, const float* y, size_t T, size_t n) {
  for_rows(p, T, n, [&](size_t b, size_t e) {
    for (size_t i = b * n; i < e * n; ++i) x[i] += y[i];
  });
}

// y = rmsnorm(x) * w over [T, n] rows (in place when x == y).
void norm(const Pass& p, const float* x, const std::vector<float>& w, float* y, size_t T, size_t n) {
  for_rows(p, T, n, [&](size_t b, size_t e) {
    kernels::rmsnorm(x + b * n, n, e - b, n, w.data(), p.c.rms_norm_eps, y + b * n, n);
  });
}

// Checks the whole batch before any cache is touched; returns the token count.
size_t validate(const ModelConfig& c, std::span<const ForwardItem> items, const ForwardOptions& opt) {
  size_t T = 0;
  std::set<const KVCache*> seen;
  for (size_t i = 0; i < items.size(); ++i) {
    const ForwardItem& it = items[i];
    if (!it.cache) throw Error("forward: item without a KV cache", Subject::input(i));
    if (it.cache->layers() != c.num_layers || it.cache->kv_dim() != c.kv_dim())
      throw Error("forward: KV cache was made for a different model", Subject::input(i));
    if (!seen.insert(it.cache).second)
      throw Error("forward: the same KV cache appears twice in one batch", Subject::input(i));
    for (int32_t id : it.ids)
      if (id < 0 || size_t(id) >= c.vocab_size)
        throw Error("token id " + std::to_string(id) + " is out of range for vocab_size " +
                    std::to_string(c.vocab_size), Subject::input(i));
    T += it.ids.size();
  }
  for (int32_t r : opt.rows)
    if (r < 0 || size_t(r) >= c.vocab_size)
      throw Error("vocabulary row " + std::to_string(r) + " is out of range for vocab_size " +
                  std::to_string(c.vocab_size), Subject::option("rows"));
  return T;
}

// Stacks the items' tokens, reserves cache room, and computes each RoPE
// spec's cos/sin of every token's position once for all layers.
Pass begin_pass(const Model& m, RunContext::State& s, std::span<const ForwardItem> items,
                const ForwardOptions& opt) {
  const ModelConfig& c = m.config();
  Pass p{c, m.weights(), s.pool, s.scratch, items, std::vector<size_t>(items.size())};
  p.T = validate(c, items, opt);
  p.x = room(p.a.x, p.T * c.hidden_size);
  p.h = room(p.a.h, p.T * c.hidden_size);
  int32_t* pos = room(p.a.pos, p.T);
  for (size_t i = 0, t = 0; i < items.size(); ++i) {
    p.offset[i] = t;
    for (size_t j = 0; j < items[i].ids.size(); ++j) pos[t++] = int32_t(items[i].cache->size() + j);
    if (items[i].keep_kv) items[i].cache->reserve(items[i].ids.size());
  }
  const size_t rot = c.arch.rotary_dim;
  p.a.rope_cs.resize(p.w.inv_freq.size());
  for (size_t r = 0; r < p.w.inv_freq.size(); ++r)
    kernels::rope_table(pos, p.T, p.w.inv_freq[r].data(), rot, room(p.a.rope_cs[r], p.T * rot));
  return p;
}

// x: [T, hidden] = embedding rows (* embed_scale).
void embed(Pass& p) {
  const size_t H = p.c.hidden_size;
  for (size_t i = 0; i < p.items.size(); ++i)
    for (size_t j = 0; j < p.items[i].ids.size(); ++j)
      kernels::weight_row(p.w.embed, size_t(p.items[i].ids[j]), p.x + (p.offset[i] + j) * H);
  if (p.c.arch.embed_scale != 1.0f)
    for (size_t e = 0; e < p.T * H; ++e) p.x[e] *= p.c.arch.embed_scale;
}

// Rotates the first rotary_dim dims of each head.  x: [T, heads * head_dim].
void rope(const Pass& p, float* x, size_t heads, const float* cs) {
  const size_t hd = p.c.head_dim, rot = p.c.arch.rotary_dim, ld = heads * hd;
  for_rows(p, p.T, ld, [&](size_t b, size_t e) {
    float* xb = x + b * ld;
    const float* cb = cs + b * rot;
    if (rot == hd) return kernels::rope_apply(xb, ld, e - b, heads, hd, cb);
    for (size_t h = 0; h < heads; ++h) kernels::rope_apply(xb + h * hd, ld, e - b, 1, rot, cb);
  });
}

// Each item's queries attend over its cache plus its new K/V (written to the
// cache first when kept).  k, v: [T, kv_dim]; q, out: [T, q_dim], or with
// `qoff` (the last layer, see last_layer) only the rows the head reads, item
// i's from row qoff[i] to qoff[i + 1] (the end for the last item): always
// the item's last tokens.
void attend(Pass& p, size_t l, const float* q, const float* k, const float* v, float* out,
            const std::vector<size_t>* qoff = nullptr, size_t n_read = 0) {
  const ModelConfig& c = p.c;
  const size_t Q = c.q_dim(), KV = c.kv_dim();
  const kernels::AttentionOpts opts{.scale = c.arch.attn_scale, .softcap = c.arch.attn_softcap,
                                    .window = c.arch.layers[l].window.value_or(0)};
  for (size_t i = 0; i < p.items.size(); ++i) {
    const ForwardItem& it = p.items[i];
    const size_t n = it.ids.size(), t0 = p.offset[i];
    if (!n) continue;
    if (it.keep_kv) it.cache->append(l, k + t0 * KV, v + t0 * KV, n);
    p.a.spans.clear();
    it.cache->segments(l, it.cache->own_size() + (it.keep_kv ? n : 0), p.a.spans);
    // Not kept: the new tokens' K/V are read from the pass's own buffers
    // (the attention sum does not depend on where its segments split).
    if (!it.keep_kv) p.a.spans.push_back({k + t0 * KV, v + t0 * KV, n});
    p.a.segs.clear();
    for (const KVSpan& s : p.a.spans) p.a.segs.push_back({s.k, s.v, s.n, KV});
    // The kernel takes its queries as the sequence's last ones; a query's
    // result does not depend on how many others come with it.
    const size_t q0 = qoff ? (*qoff)[i] : t0;
    const size_t nq = !qoff ? n : (i + 1 < qoff->size() ? (*qoff)[i + 1] : n_read) - q0;
    if (!nq) continue;
    kernels::attention(q + q0 * Q, Q, nq, p.a.segs.data(), p.a.segs.size(), c.num_heads, c.num_kv_heads,
                       c.head_dim, opts, out + q0 * Q, Q, p.pool);
  }
}

// x += out_norm?(o(attention(rope(qk_norm?(qkv(in_norm(x))))))).
void attention_block(Pass& p, size_t l) {
  const ModelConfig& c = p.c;
  const LayerWeights& L = p.w.layers[l];
  const size_t H = c.hidden_size, Q = c.q_dim(), KV = c.kv_dim(), T = p.T;
  float* q = room(p.a.q, T * Q);
  float* k = room(p.a.k, T * KV);
  float* v = room(p.a.v, T * KV);
  float* attn = room(p.a.attn, T * Q);
  norm(p, p.x, L.attn_in_norm, p.h, T, H);
  const kernels::MatmulTarget qkv[] = {{&L.q, bias_of(L.q_bias), q, Q},
                                       {&L.k, bias_of(L.k_bias), k, KV},
                                       {&L.v, bias_of(L.v_bias), v, KV}};
  kernels::matmul_multi(p.h, H, T, qkv, 3, p.pool);
  if (c.arch.qk_norm) {  // per-head RMSNorm: view q as [T * heads, head_dim]
    norm(p, q, L.q_norm, q, T * c.num_heads, c.head_dim);
    norm(p, k, L.k_norm, k, T * c.num_kv_heads, c.head_dim);
  }
  const float* cs = p.a.rope_cs[c.arch.layers[l].rope].data();
  rope(p, q, c.num_heads, cs);
  rope(p, k, c.num_kv_heads, cs);
  attend(p, l, q, k, v, attn);
  kernels::matmul(attn, Q, T, L.o, bias_of(L.o_bias), p.h, H, p.pool);
  if (!L.attn_out_norm.empty()) norm(p, p.h, L.attn_out_norm, p.h, T, H);
  add_into(p, p.x, p.h, T, H);
}

// x += out_norm?(down(act(gate(h)) * up(h))), h = in_norm(x), a chunk of tokens at a time.
void mlp_block(Pass& p, size_t l) {
  const ModelConfig& c = p.c;
  const LayerWeights& L = p.w.layers[l];
  const size_t H = c.hidden_size, I = c.intermediate_size, chunk = std::min(p.T, kMlpChunk);
  const auto act = c.arch.activation == Activation::GeluTanh ? kernels::GateAct::GeluTanh : kernels::GateAct::SiLU;
  float* gate = room(p.a.gate, chunk * I);
  float* up = room(p.a.up, chunk * I);
  norm(p, p.x, L.mlp_in_norm, p.h, p.T, H);
  for (size_t t0 = 0; t0 < p.T; t0 += chunk) {
    const size_t n = std::min(chunk, p.T - t0);
    kernels::gated_mlp(p.h + t0 * H, H, n, L.gate, L.up, act, gate, up, I, p.pool);
    kernels::matmul(gate, I, n, L.down, nullptr, p.h + t0 * H, H, p.pool);
  }
  if (!L.mlp_out_norm.empty()) norm(p, p.h, L.mlp_out_norm, p.h, p.T, H);
  add_into(p, p.x, p.h, p.T, H);
}

// The last layer when the head reads fewer rows than there are tokens (a
// classification batch: one row per text). Keys and values are still made
// for every token (the attention and the cache need them); queries, the
// attention output, o_proj and the MLP only for the read rows, which are
// then put back in place for the head. Rows are independent through every
// kernel, so the read rows get the same bits as a full pass.
void last_layer(Pass& p, size_t l, const std::vector<size_t>& read, const std::vector<size_t>& qoff) {
  const ModelConfig& c = p.c;
  const LayerWeights& L = p.w.layers[l];
  const size_t H = c.hidden_size, Q = c.q_dim(), KV = c.kv_dim(), T = p.T, rot = c.arch.rotary_dim;
  const size_t P = read.size();
  float* k = room(p.a.k, T * KV);
  float* v = room(p.a.v, T * KV);
  float* xr = room(p.a.xr, P * H);
  float* hr = room(p.a.hr, P * H);
  float* q = room(p.a.q, P * Q);
  float* attn = room(p.a.attn, P * Q);
  norm(p, p.x, L.attn_in_norm, p.h, T, H);
  const kernels::MatmulTarget kv[] = {{&L.k, bias_of(L.k_bias), k, KV}, {&L.v, bias_of(L.v_bias), v, KV}};
  kernels::matmul_multi(p.h, H, T, kv, 2, p.pool);
  for (size_t r = 0; r < P; ++r) std::copy_n(p.h + read[r] * H, H, hr + r * H);
  kernels::matmul(hr, H, P, L.q, bias_of(L.q_bias), q, Q, p.pool);
  if (c.arch.qk_norm) {
    norm(p, q, L.q_norm, q, P * c.num_heads, c.head_dim);
    norm(p, k, L.k_norm, k, T * c.num_kv_heads, c.head_dim);
  }
  const float* cs = p.a.rope_cs[c.arch.layers[l].rope].data();
  float* cs_read = room(p.a.cs_rows, P * rot);
  for (size_t r = 0; r < P; ++r) std::copy_n(cs + read[r] * rot, rot, cs_read + r * rot);
  rope(p, k, c.num_kv_heads, cs);
  Pass sub = p;  // the read rows as a pass of their own
  sub.T = P;
  rope(sub, q, c.num_heads, cs_read);
  attend(p, l, q, k, v, attn, &qoff, P);
  kernels::matmul(attn, Q, P, L.o, bias_of(L.o_bias), hr, H, p.pool);
  if (!L.attn_out_norm.empty()) norm(p, hr, L.attn_out_norm, hr, P, H);
  for (size_t r = 0; r < P; ++r) std::copy_n(p.x + read[r] * H, H, xr + r * H);
  add_into(p, xr, hr, P, H);
  sub.x = xr;
  sub.h = hr;
  mlp_block(sub, l);
  for (size_t r = 0; r < P; ++r) std::copy_n(xr + r * H, H, p.x + read[r] * H);
}

}  // namespace

std::vector<ForwardResult> RunContext::forward(std::span<const ForwardItem> items, const ForwardOptions& opt) {
  Pass p = begin_pass(model_, *s_, items, opt);
  embed(p);
  std::vector<size_t> qoff;
  const std::vector<size_t> read = output_rows(p, qoff);
  for (size_t l = 0; l < p.c.num_layers; ++l) {
    if (l + 1 == p.c.num_layers && read.size() < p.T) {
      last_layer(p, l, read, qoff);
      break;
    }
    attention_block(p, l);
    mlp_block(p, l);
  }
  for (const ForwardItem& it : items)
    if (it.keep_kv) it.cache->commit(it.ids.size());
  return head(p, opt);
}

}  // namespace cloze
