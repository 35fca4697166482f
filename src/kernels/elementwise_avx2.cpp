// AVX2 versions of the row-wise kernels: rmsnorm, rope, silu_mul, max_value,
// sum_exp. Each does
// exactly the float operations of its reference in kernels_ref.cpp, in the
// same order per element, so results are bitwise equal.
// Bitwise agreement between kernel sets needs every a*b+c to round exactly as
// written: forbid the compiler from fusing it into an fma (GCC does by default,
// even for intrinsics). Must precede the includes so inlined helpers share it.
#pragma GCC optimize("fp-contract=off")
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/exp8_avx2.h"
#include "kernels/kernels_internal.h"

namespace cloze::kernels::avx2 {
namespace {

// ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)), the reference's tree.
inline float tree8(__m256 a) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

inline __m256i tail_mask(size_t r) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(r)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

}  // namespace

// y[m, :] = x[m, :] * (1 / sqrt(dot(x, x) / n + eps)) * w    x, y: [M, n]; may alias.
void rmsnorm(const float* x, size_t ldx, size_t M, size_t n, const float* w, float eps, float* y,
             size_t ldy) {
  const size_t n8 = n & ~size_t(7), r = n - n8;
  const __m256i mask = tail_mask(r);
  for (size_t m = 0; m < M; ++m) {
    const float* xr = x + m * ldx;
    float* yr = y + m * ldy;
    __m256 acc = _mm256_setzero_ps();
    for (size_t i = 0; i < n8; i += 8) {
      __m256 v = _mm256_loadu_ps(xr + i);
      acc = _mm256_fmadd_ps(v, v, acc);
    }
    if (r) {  // masked lanes add 0*0 = +0 to lanes that hold sums of squares (>= +0)
      __m256 v = _mm256_maskload_ps(xr + n8, mask);
      acc = _mm256_fmadd_ps(v, v, acc);
    }
    // Scalar steps as in the reference (no a*b+c here, so nothing to contract).
    float ms = tree8(acc) / float(n);
    float inv = 1.0f / std::sqrt(ms + eps);
    __m256 vr = _mm256_set1_ps(inv);
    for (size_t i = 0; i < n8; i += 8)
      _mm256_storeu_ps(yr + i, _mm256_mul_ps(_mm256_loadu_ps(w + i),
                                             _mm256_mul_ps(_mm256_loadu_ps(xr + i), vr)));
    for (size_t i = n8; i < n; ++i) yr[i] = _mm_cvtss_f32(_mm_mul_ss(
        _mm_set_ss(w[i]), _mm_mul_ss(_mm_set_ss(xr[i]), _mm_set_ss(inv))));
  }
}

// Rotate-half RoPE in place with precomputed tables (rope_table), the
// reference's per-element arithmetic, 8 dimensions at a time.
//   x: [M, n_heads * head_dim] (stride ldx); cs: [M, head_dim] = [cos | sin].
void rope_apply(float* x, size_t ldx, size_t M, size_t n_heads, size_t head_dim, const float* cs) {
  const size_t half = head_dim / 2, h8 = half & ~size_t(7);
  for (size_t m = 0; m < M; ++m) {
    const float* c = cs + m * head_dim;
    const float* s = c + half;
    for (size_t h = 0; h < n_heads; ++h) {
      float* v = x + m * ldx + h * head_dim;
      for (size_t i = 0; i < h8; i += 8) {
        __m256 x1 = _mm256_loadu_ps(v + i), x2 = _mm256_loadu_ps(v + i + half);
        __m256 cv = _mm256_loadu_ps(c + i), sv = _mm256_loadu_ps(s + i);
        _mm256_storeu_ps(v + i, _mm256_sub_ps(_mm256_mul_ps(x1, cv), _mm256_mul_ps(x2, sv)));
        _mm256_storeu_ps(v + i + half, _mm256_add_ps(_mm256_mul_ps(x2, cv), _mm256_mul_ps(x1, sv)));
      }
      for (size_t i = h8; i < half; ++i) {
        __m128 x1 = _mm_set_ss(v[i]), x2 = _mm_set_ss(v[i + half]);
        __m128 cv = _mm_set_ss(c[i]), sv = _mm_set_ss(s[i]);
        v[i] = _mm_cvtss_f32(_mm_sub_ss(_mm_mul_ss(x1, cv), _mm_mul_ss(x2, sv)));
        v[i + half] = _mm_cvtss_f32(_mm_add_ss(_mm_mul_ss(x2, cv), _mm_mul_ss(x1, sv)));
      }
    }
  }
}

void rope(float* x, size_t ldx, size_t M, size_t n_heads, size_t head_dim, const int32_t* pos,
          const float* inv_freq) {
  std::vector<float> cs(M * head_dim);
  rope_table(pos, M, inv_freq, head_dim, cs.data());
  rope_apply(x, ldx, M, n_heads, head_dim, cs.data());
}

// gate[i] = gate[i] / (1 + exp_approx(-gate[i])) * up[i]    gate, up: [n].
void silu_mul(float* gate, const float* up, size_t n) {
  const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
  size_t i = 0;
  auto step = [&](__m256 g, __m256 u) {
    __m256 e = exp8(_mm256_xor_ps(g, sign));
    return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), u);
  };
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(gate + i, step(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
  if (i < n) {
    __m256i mask = tail_mask(n - i);
    __m256 r = step(_mm256_maskload_ps(gate + i, mask), _mm256_maskload_ps(up + i, mask));
    _mm256_maskstore_ps(gate + i, mask, r);
  }
}

// max of x[0..n): 8 lanes, then the lanes (max is exact in any order).
float max_value(const float* x, size_t n) {
  __m256 mx = _mm256_set1_ps(-INFINITY);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) mx = _mm256_max_ps(mx, _mm256_loadu_ps(x + i));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, mx);
  float m = -INFINITY;
  for (float v : lanes) m = std::max(m, v);
  for (; i < n; ++i) m = std::max(m, x[i]);
  return m;
}

// The reference's order: per 1024-block, lanes 0-7 in lo and 8-15 in hi
// (16 consecutive elements per step), fold lo + hi, tree8, add in double.
double sum_exp(const float* x, size_t n, float shift) {
  const __m256 sh = _mm256_set1_ps(shift);
  double total = 0;
  for (size_t b = 0; b < n; b += kSumExpBlock) {
    const size_t e = std::min(n, b + kSumExpBlock);
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    size_t i = b;
    for (; i + 16 <= e; i += 16) {
      lo = _mm256_add_ps(lo, exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), sh)));
      hi = _mm256_add_ps(hi, exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), sh)));
    }
    // The tail: lanes past e add +0 (the lane sums are >= +0, so no change).
    for (int half = 0; half < 2 && i < e; ++half, i += 8) {
      const size_t r = std::min<size_t>(8, e - i);
      const __m256i mask = tail_mask(r);
      __m256 v = _mm256_and_ps(exp8(_mm256_sub_ps(_mm256_maskload_ps(x + i, mask), sh)),
                               _mm256_castsi256_ps(mask));
      if (half == 0)
        lo = _mm256_add_ps(lo, v);
      else
        hi = _mm256_add_ps(hi, v);
    }
    total += double(tree8(_mm256_add_ps(lo, hi)));
  }
  return total;
}

}  // namespace cloze::kernels::avx2
