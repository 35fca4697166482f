// AVX-512 causal grouped-query attention: the jobs of attention_avx2.cpp
// (attention_jobs.inc) with 16-lane scores and weighted sums. Each lane runs
// the same fma chain as the AVX2 and reference code (a position's dot
// product over j, an output element's sum over p), so results are bitwise
// equal to theirs. Requires head_dim % 16 == 0 (dispatch uses avx2:: else).
#pragma GCC optimize("fp-contract=off")  // a*b+c must round as written
// GCC 12 flags the AVX-512 headers' own undefined-then-set vectors.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/exp16_avx512.h"
#include "kernels/exp8_avx2.h"
#include "kernels/kernels_internal.h"
#include "kernels/scratch.h"

namespace cloze::kernels::avx512 {
namespace {

using avx2::exp8;  // softmax (attention_jobs.inc) stays 8 lanes wide

// S[r][p] = (sum_j q_r[j] * KT[j][p]) * scale for p < n8 (a multiple of 8),
// one fma chain over j per position: 32, then 16, then 8 positions a pass.
template <int R>
void scores(const float* const* qr, const float* kt, size_t ldk, size_t hd, size_t n8,
            float scale, float* S, size_t lds) {
  const __m512 sc = _mm512_set1_ps(scale);
  size_t p = 0;
  for (; p + 32 <= n8; p += 32) {
    __m512 acc[R][2];
    for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (size_t j = 0; j < hd; ++j) {
      const __m512 k0 = _mm512_loadu_ps(kt + j * ldk + p), k1 = _mm512_loadu_ps(kt + j * ldk + p + 16);
      for (int r = 0; r < R; ++r) {
        const __m512 qj = _mm512_set1_ps(qr[r][j]);
        acc[r][0] = _mm512_fmadd_ps(qj, k0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_ps(qj, k1, acc[r][1]);
      }
    }
    for (int r = 0; r < R; ++r) {
      _mm512_storeu_ps(S + r * lds + p, _mm512_mul_ps(acc[r][0], sc));
      _mm512_storeu_ps(S + r * lds + p + 16, _mm512_mul_ps(acc[r][1], sc));
    }
  }
  for (; p < n8; p += 16) {  // 16 or, last, 8 positions
    const __mmask16 m = p + 16 <= n8 ? 0xFFFF : 0x00FF;
    __m512 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
    for (size_t j = 0; j < hd; ++j) {
      const __m512 k0 = _mm512_maskz_loadu_ps(m, kt + j * ldk + p);
      for (int r = 0; r < R; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(qr[r][j]), k0, acc[r]);
    }
    for (int r = 0; r < R; ++r) _mm512_mask_storeu_ps(S + r * lds + p, m, _mm512_mul_ps(acc[r], sc));
  }
}

constexpr int kRowBatch = 8;  // query rows scored together (8 x 32 positions)

// 16 exps at a time; the sum still takes them 8 at a time, low half first,
// so its lanes add the same values in the same order as exp8's loop.
__m256 exp_groups(float* s, size_t n8, float max) {
  const __m512 vm = _mm512_set1_ps(max);
  __m256 acc = _mm256_setzero_ps();
  size_t p = 0;
  for (; p + 16 <= n8; p += 16) {
    const __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(s + p), vm));
    _mm512_storeu_ps(s + p, e);
    acc = _mm256_add_ps(acc, _mm512_castps512_ps256(e));
    acc = _mm256_add_ps(acc, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1)));
  }
  if (p < n8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(s + p), _mm512_castps512_ps256(vm)));
    _mm256_storeu_ps(s + p, e);
    acc = _mm256_add_ps(acc, e);
  }
  return acc;
}

void scale_groups(float* s, size_t n8, float c) {
  const __m512 vc = _mm512_set1_ps(c);
  size_t p = 0;
  for (; p + 16 <= n8; p += 16) _mm512_storeu_ps(s + p, _mm512_mul_ps(_mm512_loadu_ps(s + p), vc));
  if (p < n8) _mm256_storeu_ps(s + p, _mm256_mul_ps(_mm256_loadu_ps(s + p), _mm512_castps512_ps256(vc)));
}

void score_rows(int R, const float* const* qr, const float* kt, size_t ldk, size_t hd, size_t n8, float scale,
                float* S, size_t lds) {
  switch (R) {
    case 8: return scores<8>(qr, kt, ldk, hd, n8, scale, S, lds);
    case 7: return scores<7>(qr, kt, ldk, hd, n8, scale, S, lds);
    case 6: return scores<6>(qr, kt, ldk, hd, n8, scale, S, lds);
    case 5: return scores<5>(qr, kt, ldk, hd, n8, scale, S, lds);
    case 4: return scores<4>(qr, kt, ldk, hd, n8, scale, S, lds);
    case 3: return scores<3>(qr, kt, ldk, hd, n8, scale, S, lds);
    case 2: return scores<2>(qr, kt, ldk, hd, n8, scale, S, lds);
    default: return scores<1>(qr, kt, ldk, hd, n8, scale, S, lds);
  }
}

// o_i[d0 .. d0 + 16*NV) = sum over p < n[i] of w_i[p] * v_p[d0 ..] for NR rows
// that start at the same position: one fma chain per element in increasing
// p; every row takes each V load up to the shortest row's end, then each
// row goes on alone.  w[i]: row i's weights; vp[p]: V row of p.
template <int NR, int NV>
void weighted_sum(const float* const* w, const float* const* vp, size_t d0, const size_t* n, float* const* o) {
  __m512 a[NR][NV];
  for (int i = 0; i < NR; ++i)
    for (int v = 0; v < NV; ++v) a[i][v] = _mm512_setzero_ps();
  const size_t both = *std::min_element(n, n + NR);
  for (size_t p = 0; p < both; ++p) {
    __m512 wi[NR];
    for (int i = 0; i < NR; ++i) wi[i] = _mm512_set1_ps(w[i][p]);
    for (int v = 0; v < NV; ++v) {
      const __m512 x = _mm512_loadu_ps(vp[p] + d0 + 16 * v);
      for (int i = 0; i < NR; ++i) a[i][v] = _mm512_fmadd_ps(wi[i], x, a[i][v]);
    }
  }
  for (int i = 0; i < NR; ++i) {
    for (size_t p = both; p < n[i]; ++p) {
      const __m512 wp = _mm512_set1_ps(w[i][p]);
      for (int v = 0; v < NV; ++v) a[i][v] = _mm512_fmadd_ps(wp, _mm512_loadu_ps(vp[p] + d0 + 16 * v), a[i][v]);
    }
    for (int v = 0; v < NV; ++v) _mm512_storeu_ps(o[i] + d0 + 16 * v, a[i][v]);
  }
}

// NR x NV accumulators stay at 16 (of 32 registers): up to 4 rows take 64
// dimensions a pass, more rows 32 (each V load then feeds more rows).
template <int NR>
void weighted_sum_dims(const float* const* w, const float* const* vp, size_t hd, const size_t* n, float* const* o) {
  constexpr size_t kMaxNV = NR > 4 ? 2 : 4;
  for (size_t d0 = 0; d0 < hd; d0 += 16 * kMaxNV) {
    switch (std::min<size_t>(kMaxNV, (hd - d0) / 16)) {
      case 4: weighted_sum<NR, 4>(w, vp, d0, n, o); break;
      case 3: weighted_sum<NR, 3>(w, vp, d0, n, o); break;
      case 2: weighted_sum<NR, 2>(w, vp, d0, n, o); break;
      default: weighted_sum<NR, 1>(w, vp, d0, n, o); break;
    }
  }
}

// Row r's weights are S[r][first[r] .. vis[r]); rows with the same first
// position (the query heads of one token, and tokens before any window
// slides) share the V loads, up to kRowBatch at a time.
void weigh_rows(int R, const float* S, size_t lds, const float* const* vp, size_t hd, const size_t* first,
                const size_t* vis, float* const* orow) {
  for (int r = 0; r < R;) {
    int nr = 1;
    while (nr < kRowBatch && r + nr < R && first[r + nr] == first[r]) ++nr;
    const size_t f = first[r];
    const float* w[kRowBatch];
    size_t n[kRowBatch];
    for (int i = 0; i < nr; ++i) {
      w[i] = S + (r + i) * lds + f;
      n[i] = vis[r + i] - f;
    }
    switch (nr) {
      case 8: weighted_sum_dims<8>(w, vp + f, hd, n, orow + r); break;
      case 7: weighted_sum_dims<7>(w, vp + f, hd, n, orow + r); break;
      case 6: weighted_sum_dims<6>(w, vp + f, hd, n, orow + r); break;
      case 5: weighted_sum_dims<5>(w, vp + f, hd, n, orow + r); break;
      case 4: weighted_sum_dims<4>(w, vp + f, hd, n, orow + r); break;
      case 3: weighted_sum_dims<3>(w, vp + f, hd, n, orow + r); break;
      case 2: weighted_sum_dims<2>(w, vp + f, hd, n, orow + r); break;
      default: weighted_sum_dims<1>(w, vp + f, hd, n, orow + r); break;
    }
    r += nr;
  }
}

#include "kernels/attention_jobs.inc"

}  // namespace

void attention_opts(const float* q, size_t ldq, size_t T, const KVSegment* segs, size_t n_segs,
                    size_t n_heads, size_t n_kv_heads, size_t head_dim, const AttentionOpts& opts,
                    float* out, size_t ldo, ThreadPool& pool) {
  attention_jobs(q, ldq, T, segs, n_segs, n_heads, n_kv_heads, head_dim, opts, out, ldo, pool);
}

}  // namespace cloze::kernels::avx512
