#pragma once
// Internal view of the kernels: the portable reference (ref::), the
// AVX2+FMA+F16C versions (avx2::) and the AVX-512 ones (avx512::) of the
// kernels with the public signatures of kernels.h. dispatch.cpp picks one set
// per call; nothing outside src/kernels/ (and its tests) includes this header.
//
// All sets follow the same summation orders (spelled out in kernels_ref.cpp),
// so they agree bit for bit; tests/kernels_test.cpp checks it.
#include "kernels/kernels.h"

namespace cloze::kernels {

// sum_exp adds its float lanes into the double total every this many elements.
inline constexpr size_t kSumExpBlock = 1024;

namespace ref {
#include "kernels/kernel_set_api.inc"
}  // namespace ref

namespace avx2 {
#include "kernels/kernel_set_api.inc"
}  // namespace avx2

// AVX-512F (+BW/VL/DQ) versions where 16 lanes pay; the other kernels of the
// avx512 set are the avx2:: ones (every AVX-512 CPU has AVX2/FMA/F16C).
namespace avx512 {
size_t matmul_grain(size_t M);
void matmul_range(const float* x, size_t ldx, size_t M, const Weight& w, const int32_t* rows,
                  size_t nb, size_t ne, const float* bias, float* y, size_t ldy);
}  // namespace avx512

}  // namespace cloze::kernels
