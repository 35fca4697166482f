#pragma once
// The numeric hot loops of the forward pass. Model code calls only these; it
// never holds intrinsics. Every function states the shapes it takes.
//
// Determinism contract: each output element is reduced in a fixed order that
// depends only on the sizes of the reduction (K, head_dim, kv length), never
// on M (how many rows are batched together), on which rows share a call, or
// on the thread count. Batched and one-at-a-time forwards are bitwise equal
// within a kernel set. Across sets: ref, avx2 and avx512 are bitwise equal to
// each other; the amx set's matmuls of bf16 weights sum the same exact
// products in another order (tile products of bf16x3-split activations,
// matmul_amx.cpp), so it agrees with them within float32 rounding (and
// flushes float32 subnormal partial sums, as the tile unit does).
#include <cstddef>
#include <cstdint>

#include "kernels/thread_pool.h"

namespace cloze::kernels {

enum class WType : uint8_t { F32, F16, BF16 };

// A weight matrix as stored in the checkpoint: row-major [rows][cols]
// (PyTorch's Linear layout: rows = out_features, cols = in_features).
struct Weight {
  const void* data = nullptr;
  WType type = WType::F32;
  size_t rows = 0, cols = 0;
};

// Hook for kernels that want a different layout: the model passes every
// matrix through this once at load time and keeps the result alive.
Weight prepare_weight(const Weight& raw);

// Kernel selection. The best set the CPU supports is used (AMX-BF16 with the
// OS's grant of the tile state, else AVX-512F/BW/VL/DQ, else AVX2+FMA+F16C,
// else the portable reference) unless the environment variable
// CLOZE_KERNELS=ref|avx2|avx512|amx names another at start-up (an unknown
// name, or a set the CPU lacks, is a cloze::Error from the first kernel call:
// prepare_weight at model load), or force_kernels() / force_reference(true)
// was called. The amx set runs matmuls of bf16 weights on the tile unit
// (exact: activations split into three bf16 terms; with a pool whose
// precision is Bf16, rounded to one) and everything else with the avx512
// set's code.
enum class KernelSet : uint8_t { Ref, Avx2, Avx512, Amx };
bool avx2_supported();
bool avx512_supported();
bool amx_supported();
bool supported(KernelSet s);
void force_reference(bool on);  // true: Ref; false: the best supported set
// Selects `s`, or the best supported set below it; returns the set now in use.
KernelSet force_kernels(KernelSet s);
const char* kernel_set();  // "amx", "avx512", "avx2" or "ref": what the next call will use
KernelSet kernels_in_use();

// Which matmul paths have run in this process (a bit set of kPath*): what
// `cloze bench` reports, since F16/F32 weights stay on the FMA code under amx.
inline constexpr unsigned kPathFma = 1, kPathAmxExact = 2, kPathAmxBf16 = 4;
unsigned matmul_paths_used();

float bf16_to_f32(uint16_t h);
float f16_to_f32(uint16_t h);

// out[0..cols) = W[row, :] converted exactly to float32 (embedding lookup).
void weight_row(const Weight& w, size_t row, float* out);
// out[0..n) = raw vector of `type` converted to float32 (norm weights, biases).
void to_f32(const void* src, WType type, size_t n, float* out);

// y[m, n] = sum_k x[m, k] * W[n, k] + (bias ? bias[n] : 0)
//   x: [M, K] with row stride ldx; W: [N, K]; y: [M, N] with row stride ldy.
void matmul(const float* x, size_t ldx, size_t M, const Weight& w, const float* bias,
            float* y, size_t ldy, ThreadPool& pool);

// y[m, j] = sum_k x[m, k] * W[rows[j], k]  for j < n_rows (an lm_head restricted
// to the label tokens).  y: [M, n_rows] with row stride ldy.
void matmul_rows(const float* x, size_t ldx, size_t M, const Weight& w, const int32_t* rows,
                 size_t n_rows, float* y, size_t ldy, ThreadPool& pool);

// Several matmuls over the same x as one parallel step (the q, k and v
// projections): the pool splits their rows together, so small matrices (k, v
// of a GQA model) share a step instead of paying a synchronization each.
// Every output is computed exactly as matmul() computes it.
struct MatmulTarget {
  const Weight* w = nullptr;
  const float* bias = nullptr;  // may be null
  float* y = nullptr;           // [M, w->rows] with row stride ldy
  size_t ldy = 0;
};
void matmul_multi(const float* x, size_t ldx, size_t M, const MatmulTarget* targets, size_t n_targets,
                  ThreadPool& pool);

// The first half of a SwiGLU MLP as one parallel step:
//   gate[m, n] = silu(x W_gate^T)[m, n] * (x W_up^T)[m, n]
// Each thread computes the same rows n of both products and gates them, so
// the element-wise step needs no synchronization of its own. Bitwise equal to
// matmul(gate), matmul(up), silu_mul.  gate, up: [M, N] with row stride ld
// (up is scratch; the AMX set gates its accumulator tiles as it writes them
// and leaves up untouched).
void swiglu(const float* x, size_t ldx, size_t M, const Weight& w_gate, const Weight& w_up,
            float* gate, float* up, size_t ld, ThreadPool& pool);

// y[m, :] = x[m, :] / sqrt(mean(x[m, :]^2) + eps) * w      x, y: [M, n]; may alias.
void rmsnorm(const float* x, size_t ldx, size_t M, size_t n, const float* w, float eps, float* y,
             size_t ldy);

// In-place rotary embedding, transformers' rotate-half convention, on each of
// n_heads heads of width head_dim in row m, at position pos[m].
//   x: [M, n_heads * head_dim] with row stride ldx; inv_freq: [head_dim / 2].
void rope(float* x, size_t ldx, size_t M, size_t n_heads, size_t head_dim, const int32_t* pos,
          const float* inv_freq);

// The cos/sin tables rope() uses, computed once per forward instead of once
// per layer: cs[m * head_dim + i] = cos(pos[m] * inv_freq[i]) and
// cs[m * head_dim + half + i] = sin(...) for i < half = head_dim / 2 (float
// product, then libm in float, exactly as rope() does).  cs: [M, head_dim].
void rope_table(const int32_t* pos, size_t M, const float* inv_freq, size_t head_dim, float* cs);
// rope() with the tables of rope_table (bitwise equal to rope()).
//   x: [M, n_heads * head_dim] with row stride ldx; cs: [M, head_dim].
void rope_apply(float* x, size_t ldx, size_t M, size_t n_heads, size_t head_dim, const float* cs);

// gate[i] = silu(gate[i]) * up[i] for i < n.
void silu_mul(float* gate, const float* up, size_t n);

// gate[i] = gelu_tanh(gate[i]) * up[i] for i < n, with PyTorch's tanh form
// gelu_tanh(g) = 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3))) (libm tanhf;
// one implementation for every set).
void gelu_tanh_mul(float* gate, const float* up, size_t n);

// The activation of a gated MLP: down(act(gate(x)) * up(x)).
enum class GateAct : uint8_t { SiLU, GeluTanh };
// swiglu() with the activation as a parameter (GeluTanh: GeGLU). Bitwise
// equal to matmul(gate), matmul(up), then silu_mul / gelu_tanh_mul.
void gated_mlp(const float* x, size_t ldx, size_t M, const Weight& w_gate, const Weight& w_up, GateAct act,
               float* gate, float* up, size_t ld, ThreadPool& pool);

// x[i] = cap * tanh(x[i] / cap) for i < n (logit soft-capping; libm tanhf,
// one implementation for every set).
void softcap(float* x, size_t n, float cap);

// For a logsumexp streamed over row chunks.  max_value: the largest of
// x[0..n) (-inf when n == 0).  sum_exp: sum of exp_approx(x[i] - shift) for
// i < n, in a fixed order: per block of 1024 elements, 16 float lanes (lane =
// i % 16) added in increasing i, folded (l + l+8, then the dot-product tree),
// and the blocks' sums added in double.
float max_value(const float* x, size_t n);
double sum_exp(const float* x, size_t n, float shift);

// A run of consecutive cached positions for one layer: k, v are [n, ld] rows,
// of which the first n_kv_heads * head_dim floats are used.
struct KVSegment {
  const float* k = nullptr;
  const float* v = nullptr;
  size_t n = 0;
  size_t ld = 0;
};

// Causal grouped-query attention for T new tokens of one sequence.
// The key/value sequence is the concatenation of segs[0..n_segs) (positions
// 0..L-1); the new tokens are its last T positions (their K/V already written).
// Query head h reads KV head h / (n_heads / n_kv_heads); token t sees kv
// positions <= L - T + t.
//   q: [T, n_heads * head_dim] (stride ldq), out: [T, n_heads * head_dim] (stride ldo).
void attention(const float* q, size_t ldq, size_t T, const KVSegment* segs, size_t n_segs,
               size_t n_heads, size_t n_kv_heads, size_t head_dim, float scale, float* out,
               size_t ldo, ThreadPool& pool);

// What attention does besides the scale.
//   softcap > 0: score = softcap * tanh(score / softcap) after scaling (Gemma 2).
//   window > 0:  the token at kv position i sees only positions j with
//                i - window < j <= i (a sliding-window layer).
// A row's softmax and output run over its visible range [s, i] alone, with
// the reference orders counted from s (softmax lane = (p - s) % 8), so a row
// gets the same bits however many earlier positions the segments hold.
struct AttentionOpts {
  float scale = 1.0f;
  float softcap = 0.0f;
  size_t window = 0;
};
void attention(const float* q, size_t ldq, size_t T, const KVSegment* segs, size_t n_segs,
               size_t n_heads, size_t n_kv_heads, size_t head_dim, const AttentionOpts& opts,
               float* out, size_t ldo, ThreadPool& pool);

}  // namespace cloze::kernels
