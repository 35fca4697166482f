// Picks the kernel set once: AVX-512 when the CPU has F/BW/VL/DQ (plus the
// AVX2 requirements), else AVX2+FMA+F16C, else the portable reference;
// CLOZE_KERNELS=ref|avx2|avx512 overrides at start-up. All sets give bitwise
// identical results, so the choice only changes speed.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "kernels/kernels_internal.h"

namespace cloze::kernels {
namespace {

bool cpu_has_avx2() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("f16c");
#else
  return false;
#endif
}

bool cpu_has_avx512() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return cpu_has_avx2() && __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512dq");
#else
  return false;
#endif
}

KernelSet best_below(KernelSet s) {
  if (s == KernelSet::Avx512 && !avx512_supported()) s = KernelSet::Avx2;
  if (s == KernelSet::Avx2 && !avx2_supported()) s = KernelSet::Ref;
  return s;
}

KernelSet initial_choice() {
  const char* env = std::getenv("CLOZE_KERNELS");
  if (env && std::strcmp(env, "ref") == 0) return KernelSet::Ref;
  if (env && std::strcmp(env, "avx2") == 0) return best_below(KernelSet::Avx2);
  return best_below(KernelSet::Avx512);
}

std::atomic<KernelSet>& set_flag() {
  static std::atomic<KernelSet> flag{initial_choice()};
  return flag;
}

KernelSet cur() { return set_flag().load(std::memory_order_relaxed); }

}  // namespace

bool avx2_supported() {
  static const bool ok = cpu_has_avx2();
  return ok;
}

bool avx512_supported() {
  static const bool ok = cpu_has_avx512();
  return ok;
}

bool supported(KernelSet s) {
  return s == KernelSet::Ref || (s == KernelSet::Avx2 && avx2_supported()) ||
         (s == KernelSet::Avx512 && avx512_supported());
}

void force_reference(bool on) { set_flag().store(on ? KernelSet::Ref : best_below(KernelSet::Avx512)); }

KernelSet force_kernels(KernelSet s) {
  s = best_below(s);
  set_flag().store(s);
  return s;
}

KernelSet kernels_in_use() { return cur(); }

const char* kernel_set() {
  switch (cur()) {
    case KernelSet::Avx512: return "avx512";
    case KernelSet::Avx2: return "avx2";
    default: return "ref";
  }
}

namespace {

// The current set's matmul: one thread's share, and the chunk size it wants.
struct MatmulSet {
  size_t (*grain)(size_t M);
  void (*range)(const float* x, size_t ldx, size_t M, const Weight& w, const int32_t* rows,
                size_t nb, size_t ne, const float* bias, float* y, size_t ldy);
};

MatmulSet matmul_set() {
  switch (cur()) {
    case KernelSet::Avx512: return {avx512::matmul_grain, avx512::matmul_range};
    case KernelSet::Avx2: return {avx2::matmul_grain, avx2::matmul_range};
    default: return {ref::matmul_grain, ref::matmul_range};
  }
}

void matmul_impl(const float* x, size_t ldx, size_t M, const Weight& w, const int32_t* rows,
                 size_t N, const float* bias, float* y, size_t ldy, ThreadPool& pool) {
  if (M == 0 || N == 0) return;
  const MatmulSet k = matmul_set();
  pool.run(N, [&](size_t nb, size_t ne, size_t) { k.range(x, ldx, M, w, rows, nb, ne, bias, y, ldy); },
           k.grain(M));
}

}  // namespace

void matmul(const float* x, size_t ldx, size_t M, const Weight& w, const float* bias, float* y,
            size_t ldy, ThreadPool& pool) {
  matmul_impl(x, ldx, M, w, nullptr, w.rows, bias, y, ldy, pool);
}

void matmul_rows(const float* x, size_t ldx, size_t M, const Weight& w, const int32_t* rows,
                 size_t n_rows, float* y, size_t ldy, ThreadPool& pool) {
  matmul_impl(x, ldx, M, w, rows, n_rows, nullptr, y, ldy, pool);
}

void matmul_multi(const float* x, size_t ldx, size_t M, const MatmulTarget* targets, size_t n_targets,
                  ThreadPool& pool) {
  size_t total = 0;
  for (size_t i = 0; i < n_targets; ++i) total += targets[i].w->rows;
  if (M == 0 || total == 0) return;
  const MatmulSet k = matmul_set();
  // A thread's chunk of the stacked rows, cut at the matrices' boundaries.
  pool.run(total, [&](size_t nb, size_t ne, size_t) {
    for (size_t i = 0, first = 0; i < n_targets && first < ne; first += targets[i].w->rows, ++i) {
      const MatmulTarget& t = targets[i];
      const size_t b = std::max(nb, first), e = std::min(ne, first + t.w->rows);
      if (b < e) k.range(x, ldx, M, *t.w, nullptr, b - first, e - first, t.bias, t.y, t.ldy);
    }
  }, k.grain(M));
}

void swiglu(const float* x, size_t ldx, size_t M, const Weight& w_gate, const Weight& w_up,
            float* gate, float* up, size_t ld, ThreadPool& pool) {
  if (M == 0 || w_gate.rows == 0) return;
  const MatmulSet k = matmul_set();
  pool.run(w_gate.rows, [&](size_t nb, size_t ne, size_t) {
    k.range(x, ldx, M, w_gate, nullptr, nb, ne, nullptr, gate, ld);
    k.range(x, ldx, M, w_up, nullptr, nb, ne, nullptr, up, ld);
    for (size_t m = 0; m < M; ++m) silu_mul(gate + m * ld + nb, up + m * ld + nb, ne - nb);
  }, k.grain(M));
}

void gated_mlp(const float* x, size_t ldx, size_t M, const Weight& w_gate, const Weight& w_up, GateAct act,
               float* gate, float* up, size_t ld, ThreadPool& pool) {
  if (act == GateAct::SiLU) return swiglu(x, ldx, M, w_gate, w_up, gate, up, ld, pool);
  if (M == 0 || w_gate.rows == 0) return;
  const MatmulSet k = matmul_set();
  pool.run(w_gate.rows, [&](size_t nb, size_t ne, size_t) {
    k.range(x, ldx, M, w_gate, nullptr, nb, ne, nullptr, gate, ld);
    k.range(x, ldx, M, w_up, nullptr, nb, ne, nullptr, up, ld);
    for (size_t m = 0; m < M; ++m) gelu_tanh_mul(gate + m * ld + nb, up + m * ld + nb, ne - nb);
  }, k.grain(M));
}

// The row-wise kernels and attention have no AVX-512 version (they are a few
// % of a forward); the avx512 set runs their AVX2 code.
void rmsnorm(const float* x, size_t ldx, size_t M, size_t n, const float* w, float eps, float* y,
             size_t ldy) {
  if (cur() != KernelSet::Ref)
    avx2::rmsnorm(x, ldx, M, n, w, eps, y, ldy);
  else
    ref::rmsnorm(x, ldx, M, n, w, eps, y, ldy);
}

void rope(float* x, size_t ldx, size_t M, size_t n_heads, size_t head_dim, const int32_t* pos,
          const float* inv_freq) {
  if (cur() != KernelSet::Ref)
    avx2::rope(x, ldx, M, n_heads, head_dim, pos, inv_freq);
  else
    ref::rope(x, ldx, M, n_heads, head_dim, pos, inv_freq);
}

void rope_apply(float* x, size_t ldx, size_t M, size_t n_heads, size_t head_dim, const float* cs) {
  if (cur() != KernelSet::Ref)
    avx2::rope_apply(x, ldx, M, n_heads, head_dim, cs);
  else
    ref::rope_apply(x, ldx, M, n_heads, head_dim, cs);
}

void silu_mul(float* gate, const float* up, size_t n) {
  if (cur() != KernelSet::Ref)
    avx2::silu_mul(gate, up, n);
  else
    ref::silu_mul(gate, up, n);
}

float max_value(const float* x, size_t n) {
  return cur() != KernelSet::Ref ? avx2::max_value(x, n) : ref::max_value(x, n);
}

double sum_exp(const float* x, size_t n, float shift) {
  return cur() != KernelSet::Ref ? avx2::sum_exp(x, n, shift) : ref::sum_exp(x, n, shift);
}

void attention(const float* q, size_t ldq, size_t T, const KVSegment* segs, size_t n_segs,
               size_t n_heads, size_t n_kv_heads, size_t head_dim, float scale, float* out,
               size_t ldo, ThreadPool& pool) {
  if (cur() != KernelSet::Ref && head_dim % 8 == 0)
    avx2::attention(q, ldq, T, segs, n_segs, n_heads, n_kv_heads, head_dim, scale, out, ldo, pool);
  else
    ref::attention(q, ldq, T, segs, n_segs, n_heads, n_kv_heads, head_dim, scale, out, ldo, pool);
}

void attention(const float* q, size_t ldq, size_t T, const KVSegment* segs, size_t n_segs,
               size_t n_heads, size_t n_kv_heads, size_t head_dim, const AttentionOpts& opts,
               float* out, size_t ldo, ThreadPool& pool) {
  if (cur() != KernelSet::Ref && head_dim % 8 == 0)
    avx2::attention_opts(q, ldq, T, segs, n_segs, n_heads, n_kv_heads, head_dim, opts, out, ldo, pool);
  else
    ref::attention_opts(q, ldq, T, segs, n_segs, n_heads, n_kv_heads, head_dim, opts, out, ldo, pool);
}

}  // namespace cloze::kernels
