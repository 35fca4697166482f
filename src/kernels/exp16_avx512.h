#pragma once
// 16-lane exp_approx (exp_approx.h): the operations of exp8 (exp8_avx2.h) on
// 16 lanes, so every lane equals the scalar result bit for bit. Include only
// from *_avx512.cpp files; internal linkage, like exp8.
#include <immintrin.h>

#include "kernels/exp_approx.h"

namespace cloze::kernels::avx512 {
namespace {

inline __m512 exp16(__m512 x) {
  using namespace expc;
  x = _mm512_max_ps(x, _mm512_set1_ps(kLo));  // x > lo ? x : lo (NaN -> lo, as in exp8)
  x = _mm512_min_ps(x, _mm512_set1_ps(kHi));
  const __m512 round = _mm512_set1_ps(kRound);
  __m512 n = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)), round), round);
  __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-kLn2Hi), x);
  r = _mm512_fmadd_ps(n, _mm512_set1_ps(-kLn2Lo), r);
  __m512 p = _mm512_set1_ps(kC[7]);
  for (int i = 6; i >= 0; --i) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kC[i]));
  __m512i e = _mm512_add_epi32(_mm512_cvttps_epi32(n), _mm512_set1_epi32(127));
  return _mm512_mul_ps(p, _mm512_castsi512_ps(_mm512_slli_epi32(e, 23)));
}

}  // namespace
}  // namespace cloze::kernels::avx512
