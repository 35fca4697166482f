// Plain scalar reference versions of every kernel: the portable path and the
// truth the optimized kernels are tested against.
//
// The summation orders below are the specification the AVX2 and AVX-512
// kernels reproduce bit for bit (a reader can check one against the other):
//   dot(x, w, K)   8 interleaved fma lanes (lane = k % 8, the K % 8 tail goes to
//                  lanes 0..r-1), then ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)).
//   rmsnorm        sum of squares = dot(x, x, n).
//   attention      q.k = one fma chain over head_dim in order (then scale,
//                  then soft-cap); softmax sum = 8 lanes over the row's visible
//                  positions (lane = (p - first) % 8) + the same tree;
//                  out = one fma chain over those positions in order, per dim.
//   exp            exp_approx (exp_approx.h), not libm.
//   sum_exp        per 1024-element block: 16 lanes (lane = i % 16), fold
//                  l + (l+8), the tree above; blocks added in double.
// Nothing here depends on M, on which rows share a call, or on threads.
// Bitwise agreement between kernel sets needs every a*b+c to round exactly as
// written: forbid the compiler from fusing it into an fma (GCC does by default,
// even for intrinsics). Must precede the includes so inlined helpers share it.
#pragma GCC optimize("fp-contract=off")
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/exp_approx.h"
#include "kernels/kernels_internal.h"

namespace cloze::kernels {

float bf16_to_f32(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  uint32_t u;
  if (exp == 0) {
    if (man == 0) {
      u = sign;
    } else {  // subnormal: renormalize
      int e = -1;
      do {
        ++e;
        man <<= 1;
      } while (!(man & 0x400));
      u = sign | uint32_t(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
    }
  } else if (exp == 31) {
    u = sign | 0x7f800000u | man << 13;
  } else {
    u = sign | (exp + 127 - 15) << 23 | man << 13;
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

void to_f32(const void* src, WType type, size_t n, float* out) {
  switch (type) {
    case WType::F32:
      std::memcpy(out, src, n * 4);
      return;
    case WType::BF16: {
      auto p = static_cast<const uint16_t*>(src);
      for (size_t i = 0; i < n; ++i) out[i] = bf16_to_f32(p[i]);
      return;
    }
    case WType::F16: {
      auto p = static_cast<const uint16_t*>(src);
      for (size_t i = 0; i < n; ++i) out[i] = f16_to_f32(p[i]);
      return;
    }
  }
}

static size_t elem_size(WType t) { return t == WType::F32 ? 4 : 2; }

void weight_row(const Weight& w, size_t row, float* out) {
  to_f32(static_cast<const char*>(w.data) + row * w.cols * elem_size(w.type), w.type, w.cols, out);
}

// The matmul kernels read the checkpoint layout directly (no repacking: the
// AMX set loads bf16 rows as tiles in place), so load time and memory stay
// those of the mmapped file. Selecting the kernel set here makes a bad
// CLOZE_KERNELS an error at model load.
Weight prepare_weight(const Weight& raw) {
  kernels_in_use();
  return raw;
}

// One implementation for every kernel set: libm's cosf/sinf are not
// vectorized, and sharing the code is what keeps the tables bitwise equal.
void rope_table(const int32_t* pos, size_t M, const float* inv_freq, size_t head_dim, float* cs) {
  const size_t half = head_dim / 2;
  for (size_t m = 0; m < M; ++m)
    for (size_t i = 0; i < half; ++i) {
      float a = float(pos[m]) * inv_freq[i];
      cs[m * head_dim + i] = std::cos(a);
      cs[m * head_dim + half + i] = std::sin(a);
    }
}

// Shared by every set, like rope_table: libm's tanhf is not vectorized.
void softcap(float* x, size_t n, float cap) {
  for (size_t i = 0; i < n; ++i) x[i] = std::tanh(x[i] / cap) * cap;
}

// PyTorch's gelu(approximate="tanh"), then the gating product.
void gelu_tanh_mul(float* gate, const float* up, size_t n) {
  const float kBeta = 0.7978845608028654f;  // sqrt(2 / pi)
  const float kKappa = 0.044715f;
  for (size_t i = 0; i < n; ++i) {
    const float g = gate[i];
    const float inner = kBeta * (g + kKappa * g * g * g);
    gate[i] = 0.5f * g * (1.0f + std::tanh(inner)) * up[i];
  }
}

// The 8-lane tree shared by dot products and the softmax sum.
static float tree8(const float* acc) {
  float a0 = acc[0] + acc[4], a1 = acc[1] + acc[5], a2 = acc[2] + acc[6], a3 = acc[3] + acc[7];
  return (a0 + a2) + (a1 + a3);
}

// Reference dot product: 8 interleaved partial sums (like one AVX register),
// combined in a fixed tree, so optimized kernels can reproduce it bit for bit.
static float dot_ref(const float* x, const float* w, size_t K) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t k = 0;
  for (; k + 8 <= K; k += 8)
    for (int l = 0; l < 8; ++l) acc[l] = std::fma(x[k + l], w[k + l], acc[l]);
  for (int l = 0; k < K; ++k, ++l) acc[l] = std::fma(x[k], w[k], acc[l]);
  return tree8(acc);
}

namespace ref {

size_t matmul_grain(size_t) { return 1; }

void matmul_range(const float* x, size_t ldx, size_t M, const Weight& w, const int32_t* rows,
                  size_t nb, size_t ne, const float* bias, float* y, size_t ldy) {
  const size_t K = w.cols;
  std::vector<float> wrow(K);
  for (size_t n = nb; n < ne; ++n) {
    weight_row(w, rows ? size_t(rows[n]) : n, wrow.data());
    for (size_t m = 0; m < M; ++m) {
      float s = dot_ref(x + m * ldx, wrow.data(), K);
      y[m * ldy + n] = bias ? s + bias[n] : s;
    }
  }
}

void rmsnorm(const float* x, size_t ldx, size_t M, size_t n, const float* w, float eps, float* y,
             size_t ldy) {
  for (size_t m = 0; m < M; ++m) {
    const float* xr = x + m * ldx;
    float* yr = y + m * ldy;
    float ss = dot_ref(xr, xr, n);
    float r = 1.0f / std::sqrt(ss / float(n) + eps);
    for (size_t i = 0; i < n; ++i) yr[i] = w[i] * (xr[i] * r);
  }
}

void rope_apply(float* x, size_t ldx, size_t M, size_t n_heads, size_t head_dim, const float* cs) {
  const size_t half = head_dim / 2;
  for (size_t m = 0; m < M; ++m) {
    const float* c = cs + m * head_dim;
    const float* s = c + half;
    for (size_t h = 0; h < n_heads; ++h) {
      float* v = x + m * ldx + h * head_dim;
      for (size_t i = 0; i < half; ++i) {
        float x1 = v[i], x2 = v[i + half];
        v[i] = x1 * c[i] - x2 * s[i];
        v[i + half] = x2 * c[i] + x1 * s[i];
      }
    }
  }
}

void rope(float* x, size_t ldx, size_t M, size_t n_heads, size_t head_dim, const int32_t* pos,
          const float* inv_freq) {
  std::vector<float> cs(head_dim);
  for (size_t m = 0; m < M; ++m) {
    rope_table(pos + m, 1, inv_freq, head_dim, cs.data());
    rope_apply(x + m * ldx, ldx, 1, n_heads, head_dim, cs.data());
  }
}

void silu_mul(float* gate, const float* up, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    float g = gate[i];
    gate[i] = g / (1.0f + exp_approx(-g)) * up[i];
  }
}

float max_value(const float* x, size_t n) {
  float m = -INFINITY;
  for (size_t i = 0; i < n; ++i) m = std::max(m, x[i]);
  return m;
}

double sum_exp(const float* x, size_t n, float shift) {
  double total = 0;
  for (size_t b = 0; b < n; b += kSumExpBlock) {
    float acc[16] = {};
    for (size_t i = b; i < std::min(n, b + kSumExpBlock); ++i) acc[i % 16] += exp_approx(x[i] - shift);
    float fold[8];
    for (int l = 0; l < 8; ++l) fold[l] = acc[l] + acc[l + 8];
    total += double(tree8(fold));
  }
  return total;
}

void attention(const float* q, size_t ldq, size_t T, const KVSegment* segs, size_t n_segs,
               size_t n_heads, size_t n_kv_heads, size_t head_dim, float scale, float* out,
               size_t ldo, ThreadPool& pool) {
  attention_opts(q, ldq, T, segs, n_segs, n_heads, n_kv_heads, head_dim, AttentionOpts{.scale = scale}, out, ldo,
                 pool);
}

void attention_opts(const float* q, size_t ldq, size_t T, const KVSegment* segs, size_t n_segs,
                    size_t n_heads, size_t n_kv_heads, size_t head_dim, const AttentionOpts& opts,
                    float* out, size_t ldo, ThreadPool& pool) {
  size_t L = 0;
  for (size_t s = 0; s < n_segs; ++s) L += segs[s].n;
  const size_t group = n_heads / n_kv_heads;
  pool.run(n_heads * T, [&](size_t b, size_t e, size_t) {
    std::vector<float> score(L);
    for (size_t job = b; job < e; ++job) {
      size_t h = job / T, t = job % T, kvh = h / group;
      const float* qv = q + t * ldq + h * head_dim;
      // This row sees positions [first, visible).
      const size_t visible = L - T + t + 1;
      const size_t first = opts.window && visible > opts.window ? visible - opts.window : 0;
      float mx = -INFINITY;
      size_t p = 0;
      for (size_t s = 0; s < n_segs && p < visible; ++s)
        for (size_t i = 0; i < segs[s].n && p < visible; ++i, ++p) {
          if (p < first) continue;
          const float* kv = segs[s].k + i * segs[s].ld + kvh * head_dim;
          float d = 0;
          for (size_t j = 0; j < head_dim; ++j) d = std::fma(qv[j], kv[j], d);
          d = d * opts.scale;
          if (opts.softcap > 0) softcap(&d, 1, opts.softcap);
          score[p] = d;
          mx = std::max(mx, score[p]);
        }
      float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (size_t i = first; i < visible; ++i) {
        score[i] = exp_approx(score[i] - mx);
        acc[(i - first) % 8] += score[i];
      }
      float inv = 1.0f / tree8(acc);
      float* o = out + t * ldo + h * head_dim;
      for (size_t j = 0; j < head_dim; ++j) o[j] = 0;
      p = 0;
      for (size_t s = 0; s < n_segs && p < visible; ++s)
        for (size_t i = 0; i < segs[s].n && p < visible; ++i, ++p) {
          if (p < first) continue;
          const float* vv = segs[s].v + i * segs[s].ld + kvh * head_dim;
          float wgt = score[p] * inv;
          for (size_t j = 0; j < head_dim; ++j) o[j] = std::fma(wgt, vv[j], o[j]);
        }
    }
  });
}

}  // namespace ref
}  // namespace cloze::kernels
