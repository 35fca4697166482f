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
void matmul(const float* x, size_t ldx, size_t M, const Weight& w, const float* bias, float* y,
            size_t ldy, ThreadPool& pool);
void matmul_rows(const float* x, size_t ldx, size_t M, const Weight& w, const int32_t* rows,
                 size_t n_rows, float* y, size_t ldy, ThreadPool& pool);
void rmsnorm(const float* x, size_t ldx, size_t M, size_t n, const float* w, float eps, float* y,
             size_t ldy);
void rope(float* x, size_t ldx, size_t M, size_t n_heads, size_t head_dim, const int32_t* pos,
          const float* inv_freq);
void rope_apply(float* x, size_t ldx, size_t M, size_t n_heads, size_t head_dim, const float* cs);
void silu_mul(float* gate, const float* up, size_t n);
float max_value(const float* x, size_t n);
double sum_exp(const float* x, size_t n, float shift);
void attention(const float* q, size_t ldq, size_t T, const KVSegment* segs, size_t n_segs,
               size_t n_heads, size_t n_kv_heads, size_t head_dim, float scale, float* out,
               size_t ldo, ThreadPool& pool);
}  // namespace ref

namespace avx2 {
void matmul(const float* x, size_t ldx, size_t M, const Weight& w, const float* bias, float* y,
            size_t ldy, ThreadPool& pool);
void matmul_rows(const float* x, size_t ldx, size_t M, const Weight& w, const int32_t* rows,
                 size_t n_rows, float* y, size_t ldy, ThreadPool& pool);
void rmsnorm(const float* x, size_t ldx, size_t M, size_t n, const float* w, float eps, float* y,
             size_t ldy);
void rope(float* x, size_t ldx, size_t M, size_t n_heads, size_t head_dim, const int32_t* pos,
          const float* inv_freq);
void rope_apply(float* x, size_t ldx, size_t M, size_t n_heads, size_t head_dim, const float* cs);
void silu_mul(float* gate, const float* up, size_t n);
float max_value(const float* x, size_t n);
double sum_exp(const float* x, size_t n, float shift);
// head_dim must be a multiple of 8 (dispatch falls back to ref:: otherwise).
void attention(const float* q, size_t ldq, size_t T, const KVSegment* segs, size_t n_segs,
               size_t n_heads, size_t n_kv_heads, size_t head_dim, float scale, float* out,
               size_t ldo, ThreadPool& pool);
}  // namespace avx2

// AVX-512F (+BW/VL/DQ) versions where 16 lanes pay; the other kernels of the
// avx512 set are the avx2:: ones (every AVX-512 CPU has AVX2/FMA/F16C).
namespace avx512 {
void matmul(const float* x, size_t ldx, size_t M, const Weight& w, const float* bias, float* y,
            size_t ldy, ThreadPool& pool);
void matmul_rows(const float* x, size_t ldx, size_t M, const Weight& w, const int32_t* rows,
                 size_t n_rows, float* y, size_t ldy, ThreadPool& pool);
}  // namespace avx512

}  // namespace cloze::kernels
