// AVX-512 silu_mul: the reference's float operations per element, 16 lanes at
// a time, so the result is bitwise equal to ref:: and avx2:: (the gate of
// every MLP touches M x intermediate elements: ~4% of an AMX forward).
#pragma GCC optimize("fp-contract=off")  // a*b+c must round as written
// GCC 12 flags the AVX-512 headers' own undefined-then-set vectors.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "kernels/exp16_avx512.h"
#include "kernels/kernels_internal.h"

namespace cloze::kernels::avx512 {

void silu_mul(float* gate, const float* up, size_t n) {
  const __m512 one = _mm512_set1_ps(1.0f), sign = _mm512_set1_ps(-0.0f);
  auto step = [&](__m512 g, __m512 u) {
    const __m512 e = exp16(_mm512_xor_ps(g, sign));
    return _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(one, e)), u);
  };
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(gate + i, step(_mm512_loadu_ps(gate + i), _mm512_loadu_ps(up + i)));
  if (i < n) {
    const __mmask16 m = __mmask16((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(gate + i, m, step(_mm512_maskz_loadu_ps(m, gate + i), _mm512_maskz_loadu_ps(m, up + i)));
  }
}

}  // namespace cloze::kernels::avx512
