// Picks the kernel set once: AVX2+FMA+F16C when the CPU has all three (and
// CLOZE_KERNELS is not "ref"), else the portable reference. Both sets give
// bitwise identical results, so the choice only changes speed.
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

bool initial_choice() {
  const char* env = std::getenv("CLOZE_KERNELS");
  if (env && std::strcmp(env, "ref") == 0) return false;
  return cpu_has_avx2();
}

std::atomic<bool>& use_avx2_flag() {
  static std::atomic<bool> flag{initial_choice()};
  return flag;
}

bool fast() { return use_avx2_flag().load(std::memory_order_relaxed); }

}  // namespace

bool avx2_supported() {
  static const bool ok = cpu_has_avx2();
  return ok;
}

void force_reference(bool on) { use_avx2_flag().store(!on && avx2_supported()); }

const char* kernel_set() { return fast() ? "avx2" : "ref"; }

void matmul(const float* x, size_t ldx, size_t M, const Weight& w, const float* bias, float* y,
            size_t ldy, ThreadPool& pool) {
  if (fast())
    avx2::matmul(x, ldx, M, w, bias, y, ldy, pool);
  else
    ref::matmul(x, ldx, M, w, bias, y, ldy, pool);
}

void matmul_rows(const float* x, size_t ldx, size_t M, const Weight& w, const int32_t* rows,
                 size_t n_rows, float* y, size_t ldy, ThreadPool& pool) {
  if (fast())
    avx2::matmul_rows(x, ldx, M, w, rows, n_rows, y, ldy, pool);
  else
    ref::matmul_rows(x, ldx, M, w, rows, n_rows, y, ldy, pool);
}

void rmsnorm(const float* x, size_t ldx, size_t M, size_t n, const float* w, float eps, float* y,
             size_t ldy) {
  if (fast())
    avx2::rmsnorm(x, ldx, M, n, w, eps, y, ldy);
  else
    ref::rmsnorm(x, ldx, M, n, w, eps, y, ldy);
}

void rope(float* x, size_t ldx, size_t M, size_t n_heads, size_t head_dim, const int32_t* pos,
          const float* inv_freq) {
  if (fast())
    avx2::rope(x, ldx, M, n_heads, head_dim, pos, inv_freq);
  else
    ref::rope(x, ldx, M, n_heads, head_dim, pos, inv_freq);
}

void silu_mul(float* gate, const float* up, size_t n) {
  if (fast())
    avx2::silu_mul(gate, up, n);
  else
    ref::silu_mul(gate, up, n);
}

void attention(const float* q, size_t ldq, size_t T, const KVSegment* segs, size_t n_segs,
               size_t n_heads, size_t n_kv_heads, size_t head_dim, float scale, float* out,
               size_t ldo, ThreadPool& pool) {
  if (fast() && head_dim % 8 == 0)
    avx2::attention(q, ldq, T, segs, n_segs, n_heads, n_kv_heads, head_dim, scale, out, ldo, pool);
  else
    ref::attention(q, ldq, T, segs, n_segs, n_heads, n_kv_heads, head_dim, scale, out, ldo, pool);
}

}  // namespace cloze::kernels
