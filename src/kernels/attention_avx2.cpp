// AVX2 causal grouped-query attention (see kernels.h for the contract).
//   q: [T, n_heads * hd] (stride ldq); K/V: segments of [n, ld] rows, KV head
//   g at columns [g * hd, (g + 1) * hd); out: [T, n_heads * hd] (stride ldo).
//
// Work is split into jobs of (KV head, block of 16 new tokens); a job serves
// all the query heads of its group from one transposed copy of the keys, so
// repeated K/V heads are never materialized. Every output element follows
// the reference order exactly (kernels_ref.cpp):
//   score[p] = (fma chain over j of q[j] * k_p[j]) * scale   (8 positions per vector)
//   e[p] = exp_approx(score[p] - max), sum = 8 lanes over p + tree
//   out[j] = fma chain over p of (e[p] * (1 / sum)) * v_p[j]  (8 dims per vector)
// so results do not depend on threads, on the job a row lands in, or on how
// the sequence's tokens were split across calls. Requires hd % 8 == 0.
//
// Bitwise agreement with the reference needs every a*b+c to round exactly as
// written: forbid the compiler from fusing it into an fma (GCC does by default,
// even for intrinsics). Must precede the includes so inlined helpers share it.
#pragma GCC optimize("fp-contract=off")
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/exp8_avx2.h"
#include "kernels/kernels_internal.h"
#include "kernels/scratch.h"

namespace cloze::kernels::avx2 {
namespace {

constexpr size_t kTokBlock = 16;  // new tokens per job
constexpr int kRowBatch = 4;      // query rows scored together (4 x 16 positions)

inline float tree8(__m256 a) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

inline __m256i lanes_below(size_t r) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(r)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// S[r][p] = (sum_j q_r[j] * KT[j][p]) * scale for p < n8 (a multiple of 16
// or 8), one fma chain over j per position.  KT: [hd][ldk]; S: [R][lds].
template <int R>
void scores(const float* const* qr, const float* kt, size_t ldk, size_t hd, size_t n8,
            float scale, float* S, size_t lds) {
  const __m256 sc = _mm256_set1_ps(scale);
  size_t p = 0;
  for (; p + 16 <= n8; p += 16) {
    __m256 acc[R][2];
    for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (size_t j = 0; j < hd; ++j) {
      __m256 k0 = _mm256_loadu_ps(kt + j * ldk + p), k1 = _mm256_loadu_ps(kt + j * ldk + p + 8);
      for (int r = 0; r < R; ++r) {
        __m256 qj = _mm256_broadcast_ss(qr[r] + j);
        acc[r][0] = _mm256_fmadd_ps(qj, k0, acc[r][0]);
        acc[r][1] = _mm256_fmadd_ps(qj, k1, acc[r][1]);
      }
    }
    for (int r = 0; r < R; ++r) {
      _mm256_storeu_ps(S + r * lds + p, _mm256_mul_ps(acc[r][0], sc));
      _mm256_storeu_ps(S + r * lds + p + 8, _mm256_mul_ps(acc[r][1], sc));
    }
  }
  if (p < n8) {  // one last group of 8
    __m256 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
    for (size_t j = 0; j < hd; ++j) {
      __m256 k0 = _mm256_loadu_ps(kt + j * ldk + p);
      for (int r = 0; r < R; ++r) acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(qr[r] + j), k0, acc[r]);
    }
    for (int r = 0; r < R; ++r) _mm256_storeu_ps(S + r * lds + p, _mm256_mul_ps(acc[r], sc));
  }
}

// In place over s[0..n): s[p] = exp_approx(s[p] - max) * (1 / sum of those).
void softmax(float* s, size_t n) {
  const size_t n8 = n & ~size_t(7), rem = n - n8;
  const __m256i tail = lanes_below(rem);
  __m256 mx = _mm256_set1_ps(-INFINITY);
  for (size_t p = 0; p < n8; p += 8) mx = _mm256_max_ps(mx, _mm256_loadu_ps(s + p));
  float m = -INFINITY;
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, mx);
  for (float v : lanes) m = std::max(m, v);
  for (size_t p = n8; p < n; ++p) m = std::max(m, s[p]);
  const __m256 vm = _mm256_set1_ps(m);
  __m256 acc = _mm256_setzero_ps();
  for (size_t p = 0; p < n8; p += 8) {
    __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(s + p), vm));
    _mm256_storeu_ps(s + p, e);
    acc = _mm256_add_ps(acc, e);
  }
  if (rem) {  // lanes past the end add +0 to sums of exps (>= +0): no change
    __m256 e = exp8(_mm256_sub_ps(_mm256_maskload_ps(s + n8, tail), vm));
    e = _mm256_and_ps(e, _mm256_castsi256_ps(tail));
    _mm256_maskstore_ps(s + n8, tail, e);
    acc = _mm256_add_ps(acc, e);
  }
  const __m256 inv = _mm256_set1_ps(1.0f / tree8(acc));
  for (size_t p = 0; p < n8; p += 8) _mm256_storeu_ps(s + p, _mm256_mul_ps(_mm256_loadu_ps(s + p), inv));
  if (rem) _mm256_maskstore_ps(s + n8, tail, _mm256_mul_ps(_mm256_maskload_ps(s + n8, tail), inv));
}

// o_r[d0 .. d0 + 8*NV) = sum over p < n_r of w_r[p] * v_p[d0 ..], one fma chain
// per element in increasing p; rows 0 and 1 share the V loads while both run.
//   w: [2][ldw] weights (row 1 unused when two == false); vp[p]: V row of p.
template <int NV>
void weighted_sum(const float* w, size_t ldw, const float* const* vp, size_t d0, size_t n0,
                  size_t n1, bool two, float* o0, float* o1) {
  __m256 a[NV], b[NV];
  for (int i = 0; i < NV; ++i) a[i] = b[i] = _mm256_setzero_ps();
  const size_t both = two ? std::min(n0, n1) : 0;
  size_t p = 0;
  for (; p < both; ++p) {
    __m256 w0 = _mm256_broadcast_ss(w + p), w1 = _mm256_broadcast_ss(w + ldw + p);
    for (int i = 0; i < NV; ++i) {
      __m256 v = _mm256_loadu_ps(vp[p] + d0 + 8 * i);
      a[i] = _mm256_fmadd_ps(w0, v, a[i]);
      b[i] = _mm256_fmadd_ps(w1, v, b[i]);
    }
  }
  for (size_t q = p; q < n0; ++q) {
    __m256 w0 = _mm256_broadcast_ss(w + q);
    for (int i = 0; i < NV; ++i) a[i] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(vp[q] + d0 + 8 * i), a[i]);
  }
  if (two)
    for (size_t q = p; q < n1; ++q) {
      __m256 w1 = _mm256_broadcast_ss(w + ldw + q);
      for (int i = 0; i < NV; ++i) b[i] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(vp[q] + d0 + 8 * i), b[i]);
    }
  for (int i = 0; i < NV; ++i) {
    _mm256_storeu_ps(o0 + d0 + 8 * i, a[i]);
    if (two) _mm256_storeu_ps(o1 + d0 + 8 * i, b[i]);
  }
}

void weighted_sum_rows(const float* w, size_t ldw, const float* const* vp, size_t hd, size_t n0,
                       size_t n1, bool two, float* o0, float* o1) {
  for (size_t d0 = 0; d0 < hd; d0 += 32) {
    switch (std::min<size_t>(4, (hd - d0) / 8)) {
      case 4: weighted_sum<4>(w, ldw, vp, d0, n0, n1, two, o0, o1); break;
      case 3: weighted_sum<3>(w, ldw, vp, d0, n0, n1, two, o0, o1); break;
      case 2: weighted_sum<2>(w, ldw, vp, d0, n0, n1, two, o0, o1); break;
      default: weighted_sum<1>(w, ldw, vp, d0, n0, n1, two, o0, o1); break;
    }
  }
}

}  // namespace

void attention(const float* q, size_t ldq, size_t T, const KVSegment* segs, size_t n_segs,
               size_t n_heads, size_t n_kv_heads, size_t head_dim, float scale, float* out,
               size_t ldo, ThreadPool& pool) {
  attention_opts(q, ldq, T, segs, n_segs, n_heads, n_kv_heads, head_dim, AttentionOpts{.scale = scale}, out, ldo,
                 pool);
}

// With a window, row r sees absolute positions [first_r, vis_r); a job keeps
// keys from p0 (its first row's first position) on, and S / KT columns are
// positions relative to p0.
void attention_opts(const float* q, size_t ldq, size_t T, const KVSegment* segs, size_t n_segs,
                    size_t n_heads, size_t n_kv_heads, size_t head_dim, const AttentionOpts& opts,
                    float* out, size_t ldo, ThreadPool& pool) {
  if (T == 0) return;
  size_t L = 0;
  for (size_t s = 0; s < n_segs; ++s) L += segs[s].n;
  const size_t hd = head_dim, group = n_heads / n_kv_heads, past = L - T, W = opts.window;
  const auto first_of = [W](size_t vis) { return W && vis > W ? vis - W : 0; };
  const size_t n_tb = (T + kTokBlock - 1) / kTokBlock;
  // Jobs run in order kv head, then token blocks zig-zagging first/last, so
  // the contiguous chunk each thread takes mixes short and long causal rows.
  pool.run(n_kv_heads * n_tb, [&](size_t jb, size_t je, size_t) {
    static thread_local Scratch kt_buf, s_buf;
    static thread_local std::vector<const float*> kp, vp;
    for (size_t job = jb; job < je; ++job) {
      const size_t g = job / n_tb, i = job % n_tb;
      const size_t tb = i % 2 == 0 ? i / 2 : n_tb - 1 - i / 2;
      const size_t t0 = tb * kTokBlock, t1 = std::min(T, t0 + kTokBlock);
      const size_t Lj = past + t1;                   // positions the last token sees
      const size_t p0 = first_of(past + t0 + 1);     // the first position any row sees
      const size_t Lp = (Lj - p0 + 15) & ~size_t(15);  // scored in groups of 16
      // Row pointers of K and V for this KV head, positions [p0, Lj).
      kp.resize(Lj - p0);
      vp.resize(Lj - p0);
      for (size_t s = 0, p = 0; s < n_segs && p < Lj; ++s)
        for (size_t r = 0; r < segs[s].n && p < Lj; ++r, ++p)
          if (p >= p0) {
            kp[p - p0] = segs[s].k + r * segs[s].ld + g * hd;
            vp[p - p0] = segs[s].v + r * segs[s].ld + g * hd;
          }
      // KT[j][p] = k_p[j] (zero past Lj): keys as columns for 8-wide scoring.
      float* kt = kt_buf.floats(hd * Lp);
      for (size_t p = 0; p < Lj - p0; ++p)
        for (size_t j = 0; j < hd; ++j) kt[j * Lp + p] = kp[p][j];
      for (size_t j = 0; j < hd; ++j)
        for (size_t p = Lj - p0; p < Lp; ++p) kt[j * Lp + p] = 0.0f;
      float* S = s_buf.floats(kRowBatch * Lp);
      // Query rows of the job: (t, head in group), t-major.
      const size_t rows = (t1 - t0) * group;
      for (size_t r0 = 0; r0 < rows; r0 += kRowBatch) {
        const int R = int(std::min<size_t>(kRowBatch, rows - r0));
        const float* qr[kRowBatch];
        float* orow[kRowBatch];
        size_t vis[kRowBatch], first[kRowBatch];  // relative to p0
        for (int r = 0; r < R; ++r) {
          size_t t = t0 + (r0 + r) / group, h = g * group + (r0 + r) % group;
          qr[r] = q + t * ldq + h * hd;
          orow[r] = out + t * ldo + h * hd;
          vis[r] = past + t + 1 - p0;
          first[r] = first_of(past + t + 1) - p0;
        }
        const size_t n8 = (*std::max_element(vis, vis + R) + 7) & ~size_t(7);
        switch (R) {
          case 4: scores<4>(qr, kt, Lp, hd, n8, opts.scale, S, Lp); break;
          case 3: scores<3>(qr, kt, Lp, hd, n8, opts.scale, S, Lp); break;
          case 2: scores<2>(qr, kt, Lp, hd, n8, opts.scale, S, Lp); break;
          default: scores<1>(qr, kt, Lp, hd, n8, opts.scale, S, Lp); break;
        }
        for (int r = 0; r < R; ++r) {
          float* row = S + r * Lp + first[r];
          if (opts.softcap > 0) softcap(row, vis[r] - first[r], opts.softcap);
          softmax(row, vis[r] - first[r]);
        }
        for (int r = 0; r < R;) {
          // Rows with the same first position share the V loads.
          const bool two = r + 1 < R && first[r + 1] == first[r];
          const size_t f = first[r];
          weighted_sum_rows(S + r * Lp + f, Lp, vp.data() + f, hd, vis[r] - f, two ? vis[r + 1] - f : 0, two,
                            orow[r], two ? orow[r + 1] : nullptr);
          r += two ? 2 : 1;
        }
      }
    }
  });
}

}  // namespace cloze::kernels::avx2
