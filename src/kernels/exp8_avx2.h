#pragma once
// 8-lane exp_approx (exp_approx.h): the same operations in the same order, so
// every lane equals the scalar result bit for bit. Include only from files
// built with at least -mavx2 -mfma (*_avx2.cpp, *_avx512.cpp); internal
// linkage, so each such file keeps the code its own flags produced.
#include <immintrin.h>

#include "kernels/exp_approx.h"

namespace cloze::kernels::avx2 {
namespace {

inline __m256 exp8(__m256 x) {
  using namespace expc;
  x = _mm256_max_ps(x, _mm256_set1_ps(kLo));  // x > lo ? x : lo (NaN -> lo)
  x = _mm256_min_ps(x, _mm256_set1_ps(kHi));  // x < hi ? x : hi
  const __m256 round = _mm256_set1_ps(kRound);
  __m256 n = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)), round), round);
  __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-kLn2Hi), x);
  r = _mm256_fmadd_ps(n, _mm256_set1_ps(-kLn2Lo), r);
  __m256 p = _mm256_set1_ps(kC[7]);
  for (int i = 6; i >= 0; --i) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kC[i]));
  __m256i e = _mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127));
  return _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(e, 23)));
}

}  // namespace
}  // namespace cloze::kernels::avx2
