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
// 16-lane versions, bitwise equal to avx2:: and ref:: (attention needs
// head_dim % 16 == 0).
void silu_mul(float* gate, const float* up, size_t n);
void attention_opts(const float* q, size_t ldq, size_t T, const KVSegment* segs, size_t n_segs,
                    size_t n_heads, size_t n_kv_heads, size_t head_dim, const AttentionOpts& opts,
                    float* out, size_t ldo, ThreadPool& pool);
}  // namespace avx512

// The AMX set's matmul for bf16 weights (matmul_amx.cpp; the set's other
// kernels, and its matmuls of F16/F32 weights, are the avx512 ones).
// A call is two parallel steps: split_range cuts x into bf16 terms in the
// tile layout (once, shared by every matrix of the step), then matmul_range
// runs one thread's share of the weight rows against it.
namespace amx {
// The CPU has AMX-TILE, AMX-BF16 and AVX512-BF16 and Linux granted the tile state.
bool available();
// x split into `terms` bf16 terms (3: hi, mid, lo; 1: hi only), per x tile of
// 16 rows and k step of 32: tiles[((mt * n_ks + ks) * terms + t) * 512 + r * 32 + 2 * m + p]
// = term t of x'[16 mt + m][32 ks + 2 r + p]; unscale[m]: the power of two
// that undoes row m's scaling (see matmul_amx.cpp).
struct SplitX {
  uint16_t* tiles = nullptr;
  float* unscale = nullptr;  // [n_mt * 16]
  size_t M = 0, K = 0, n_mt = 0, n_ks = 0, terms = 3;
};
size_t split_floats(size_t M, size_t K, size_t terms);  // buffer size, in floats
SplitX split_layout(float* buf, size_t M, size_t K, size_t terms);  // buf: 64-byte aligned
void split_range(const float* x, size_t ldx, const SplitX& s, size_t mt_b, size_t mt_e);
size_t matmul_grain();
// y[m, n] (+ bias[n]) for n in [nb, ne), W's row n being rows ? rows[n] : n; W is BF16.
void matmul_range(const SplitX& s, const Weight& w, const int32_t* rows, size_t nb, size_t ne,
                  const float* bias, float* y, size_t ldy);
// The first half of a gated MLP for rows n in [nb, ne), both weights BF16:
//   y[m, n] = act(x W_gate^T)[m, n] * (x W_up^T)[m, n]
// with act an element-wise gate kernel (silu_mul, gelu_tanh_mul): the same
// bits as matmul_range of each followed by act over the rows.
using GateFn = void (*)(float* gate, const float* up, size_t n);
void gated_range(const SplitX& s, const Weight& w_gate, const Weight& w_up, GateFn act, size_t nb,
                 size_t ne, float* y, size_t ldy);
}  // namespace amx

}  // namespace cloze::kernels
