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

constexpr int kRowBatch = 4;  // query rows scored together (4 x 16 positions)

__m256 exp_groups(float* s, size_t n8, float max) {
  const __m256 vm = _mm256_set1_ps(max);
  __m256 acc = _mm256_setzero_ps();
  for (size_t p = 0; p < n8; p += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(s + p), vm));
    _mm256_storeu_ps(s + p, e);
    acc = _mm256_add_ps(acc, e);
  }
  return acc;
}

void scale_groups(float* s, size_t n8, float c) {
  const __m256 vc = _mm256_set1_ps(c);
  for (size_t p = 0; p < n8; p += 8) _mm256_storeu_ps(s + p, _mm256_mul_ps(_mm256_loadu_ps(s + p), vc));
}

void score_rows(int R, const float* const* qr, const float* kt, size_t ldk, size_t hd, size_t n8, float scale,
                float* S, size_t lds) {
  switch (R) {
    case 4: return scores<4>(qr, kt, ldk, hd, n8, scale, S, lds);
    case 3: return scores<3>(qr, kt, ldk, hd, n8, scale, S, lds);
    case 2: return scores<2>(qr, kt, ldk, hd, n8, scale, S, lds);
    default: return scores<1>(qr, kt, ldk, hd, n8, scale, S, lds);
  }
}

// Row r's weights are S[r][first[r] .. vis[r]); rows with the same first
// position share the V loads, two at a time.
void weigh_rows(int R, const float* S, size_t lds, const float* const* vp, size_t hd, const size_t* first,
                const size_t* vis, float* const* orow) {
  for (int r = 0; r < R;) {
    const bool two = r + 1 < R && first[r + 1] == first[r];
    const size_t f = first[r];
    weighted_sum_rows(S + r * lds + f, lds, vp + f, hd, vis[r] - f, two ? vis[r + 1] - f : 0, two, orow[r],
                      two ? orow[r + 1] : nullptr);
    r += two ? 2 : 1;
  }
}

#include "kernels/attention_jobs.inc"

}  // namespace

void attention(const float* q, size_t ldq, size_t T, const KVSegment* segs, size_t n_segs,
               size_t n_heads, size_t n_kv_heads, size_t head_dim, float scale, float* out,
               size_t ldo, ThreadPool& pool) {
  attention_opts(q, ldq, T, segs, n_segs, n_heads, n_kv_heads, head_dim, AttentionOpts{.scale = scale}, out, ldo,
                 pool);
}

void attention_opts(const float* q, size_t ldq, size_t T, const KVSegment* segs, size_t n_segs,
                    size_t n_heads, size_t n_kv_heads, size_t head_dim, const AttentionOpts& opts,
                    float* out, size_t ldo, ThreadPool& pool) {
  attention_jobs(q, ldq, T, segs, n_segs, n_heads, n_kv_heads, head_dim, opts, out, ldo, pool);
}

}  // namespace cloze::kernels::avx2
