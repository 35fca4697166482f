// AVX2 versions of the row-wise kernels: rmsnorm, rope, silu_mul. Each does
// exactly the float operations of its reference in kernels_ref.cpp, in the
// same order per element, so results are bitwise equal.
// Bitwise agreement between kernel sets needs every a*b+c to round exactly as
// written: forbid the compiler from fusing it into an fma (GCC does by default,
// even for intrinsics). Must precede the includes so inlined helpers share it.
#pragma GCC optimize("fp-contract=off")
#include <immintrin.h>

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

// Rotate-half RoPE in place; cos/sin come from libm exactly as in the
// reference, only the per-head arithmetic is vectorized.
//   x: [M, n_heads * head_dim] (stride ldx); inv_freq: [head_dim / 2].
void rope(float* x, size_t ldx, size_t M, size_t n_heads, size_t head_dim, const int32_t* pos,
          const float* inv_freq) {
  const size_t half = head_dim / 2, h8 = half & ~size_t(7);
  std::vector<float> c(half), s(half);
  for (size_t m = 0; m < M; ++m) {
    for (size_t i = 0; i < half; ++i) {
      float a = float(pos[m]) * inv_freq[i];
      c[i] = std::cos(a);
      s[i] = std::sin(a);
    }
    for (size_t h = 0; h < n_heads; ++h) {
      float* v = x + m * ldx + h * head_dim;
      for (size_t i = 0; i < h8; i += 8) {
        __m256 x1 = _mm256_loadu_ps(v + i), x2 = _mm256_loadu_ps(v + i + half);
        __m256 cv = _mm256_loadu_ps(&c[i]), sv = _mm256_loadu_ps(&s[i]);
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

}  // namespace cloze::kernels::avx2
