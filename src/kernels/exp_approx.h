#pragma once
// exp(x) for softmax and SiLU, defined by a fixed sequence of IEEE float
// operations (multiply, add, fma, exponent bit tricks) instead of libm's expf,
// so that the scalar reference and the 8-lane AVX2 version (exp8 in
// attention_avx2.cpp / elementwise_avx2.cpp) give bit-identical results.
// Accuracy: within ~2 ulp of expf over [-87, 88]; results below ~2^-126 flush
// to 0; x > 88 is clamped (returns ~1.65e38, never inf).
//
// Every constant and step here is mirrored one for one by the vector version;
// change both together.
#include <cmath>
#include <cstdint>
#include <cstring>

namespace cloze::kernels::expc {
inline constexpr float kLo = -88.0f, kHi = 88.0f;
inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
inline constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
// Taylor coefficients 1/i! of e^r for |r| <= ln2/2 (degree 7: truncation < 1e-8).
inline constexpr float kC[8] = {1.0f,         1.0f,          0.5f,           1.66666672e-1f,
                                4.16666679e-2f, 8.33333377e-3f, 1.38888892e-3f, 1.98412701e-4f};
}  // namespace cloze::kernels::expc

namespace cloze::kernels {

inline float exp_approx(float x) {
  using namespace expc;
  x = x > kLo ? x : kLo;  // same NaN behaviour as _mm256_max_ps(x, lo): NaN -> lo
  x = x < kHi ? x : kHi;
  float n = (x * kLog2e + kRound) - kRound;  // two roundings, like the vector code
  float r = std::fma(n, -kLn2Hi, x);
  r = std::fma(n, -kLn2Lo, r);
  float p = kC[7];
  for (int i = 6; i >= 0; --i) p = std::fma(p, r, kC[i]);
  int32_t e = int32_t(n) + 127;  // in [0, 254]; 0 gives a zero scale (flush)
  uint32_t bits = uint32_t(e) << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  return p * scale;
}

}  // namespace cloze::kernels
