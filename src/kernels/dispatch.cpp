// Picks the kernel set once: AMX when the CPU has AMX-BF16 (and AVX512-BF16) and Linux grants
// the tile state (plus AVX-512), else AVX-512 when the CPU has F/BW/VL/DQ
// (plus the AVX2 requirements), else AVX2+FMA+F16C, else the portable
// reference; CLOZE_KERNELS=ref|avx2|avx512|amx overrides at start-up (an
// unknown name or a set this CPU cannot run is an error). The FMA sets give
// bitwise identical results; the AMX set agrees with them within float32
// rounding (kernels.h).
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cloze/error.h"
#include "kernels/kernels_internal.h"
#include "kernels/scratch.h"

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
  if (s == KernelSet::Amx && !amx_supported()) s = KernelSet::Avx512;
  if (s == KernelSet::Avx512 && !avx512_supported()) s = KernelSet::Avx2;
  if (s == KernelSet::Avx2 && !avx2_supported()) s = KernelSet::Ref;
  return s;
}

KernelSet initial_choice() {
  const char* env = std::getenv("CLOZE_KERNELS");
  if (!env || !*env) return best_below(KernelSet::Amx);
  const std::string name = env;
  KernelSet s;
  if (name == "ref") s = KernelSet::Ref;
  else if (name == "avx2") s = KernelSet::Avx2;
  else if (name == "avx512") s = KernelSet::Avx512;
  else if (name == "amx") s = KernelSet::Amx;
  else throw Error("CLOZE_KERNELS=" + name + ": unknown kernel set (use ref, avx2, avx512 or amx)");
  if (!supported(s))
    throw Error("CLOZE_KERNELS=" + name + ": this CPU cannot run that kernel set" +
                (s == KernelSet::Amx ? " (needs AMX-TILE, AMX-BF16, AVX-512 with AVX512-BF16, and the OS's grant of the tile state)"
                                     : ""));
  return s;
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

bool amx_supported() {
#if defined(__x86_64__)
  static const bool ok = avx512_supported() && amx::available();
  return ok;
#else
  return false;
#endif
}

bool supported(KernelSet s) {
  return s == KernelSet::Ref || (s == KernelSet::Avx2 && avx2_supported()) ||
         (s == KernelSet::Avx512 && avx512_supported()) || (s == KernelSet::Amx && amx_supported());
}

void force_reference(bool on) { set_flag().store(on ? KernelSet::Ref : best_below(KernelSet::Amx)); }

KernelSet force_kernels(KernelSet s) {
  s = best_below(s);
  set_flag().store(s);
  return s;
}

KernelSet kernels_in_use() { return cur(); }

const char* kernel_set() {
  switch (cur()) {
    case KernelSet::Amx: return "amx";
    case KernelSet::Avx512: return "avx512";
    case KernelSet::Avx2: return "avx2";
    default: return "ref";
  }
}

static std::atomic<unsigned> g_paths{0};
unsigned matmul_paths_used() { return g_paths.load(std::memory_order_relaxed); }
static void note_path(unsigned p) {
  if (!(g_paths.load(std::memory_order_relaxed) & p)) g_paths.fetch_or(p, std::memory_order_relaxed);
}

// Whether the AMX kernel computes this matrix (bf16 weights on the AMX set).
static bool takes_weight(const Weight& w) { return cur() == KernelSet::Amx && w.type == WType::BF16; }

namespace {

// The current set's matmul: one thread's share, and the chunk size it wants.
struct MatmulSet {
  size_t (*grain)(size_t M);
  void (*range)(const float* x, size_t ldx, size_t M, const Weight& w, const int32_t* rows,
                size_t nb, size_t ne, const float* bias, float* y, size_t ldy);
};

MatmulSet matmul_set() {
  switch (cur()) {
    case KernelSet::Amx:  // its matmuls of F16/F32 weights
    case KernelSet::Avx512: return {avx512::matmul_grain, avx512::matmul_range};
    case KernelSet::Avx2: return {avx2::matmul_grain, avx2::matmul_range};
    default: return {ref::matmul_grain, ref::matmul_range};
  }
}

// The AMX set's split of x (see kernels_internal.h), in the calling thread's
// scratch, cut by the pool's threads: one parallel step, shared by every
// matrix that multiplies this x.
amx::SplitX amx_split(const float* x, size_t ldx, size_t M, size_t K, ThreadPool& pool) {
  static thread_local Scratch buf;
  const size_t terms = pool.precision() == Precision::Bf16 ? 1 : 3;
  const amx::SplitX s = amx::split_layout(buf.floats(amx::split_floats(M, K, terms)), M, K, terms);
  pool.run(s.n_mt, [&](size_t b, size_t e, size_t) { amx::split_range(x, ldx, s, b, e); });
  return s;
}

// One thread's share of one matrix: the AMX kernel when it takes the weight
// (s is then the split of x), else the FMA set's.
void range_of(const MatmulSet& k, const amx::SplitX* s, const float* x, size_t ldx, size_t M,
              const Weight& w, const int32_t* rows, size_t nb, size_t ne, const float* bias, float* y,
              size_t ldy) {
  if (s && w.type == WType::BF16) {
    note_path(s->terms == 3 ? kPathAmxExact : kPathAmxBf16);
    amx::matmul_range(*s, w, rows, nb, ne, bias, y, ldy);
  } else {
    note_path(kPathFma);
    k.range(x, ldx, M, w, rows, nb, ne, bias, y, ldy);
  }
}

size_t grain_of(const MatmulSet& k, bool amx_step, size_t M) {
  return amx_step ? std::max(amx::matmul_grain(), k.grain(M)) : k.grain(M);
}

void matmul_impl(const float* x, size_t ldx, size_t M, const Weight& w, const int32_t* rows,
                 size_t N, const float* bias, float* y, size_t ldy, ThreadPool& pool) {
  if (M == 0 || N == 0) return;
  const MatmulSet k = matmul_set();
  amx::SplitX split;
  const bool amx_step = takes_weight(w);
  if (amx_step) split = amx_split(x, ldx, M, w.cols, pool);
  const amx::SplitX* s = amx_step ? &split : nullptr;
  pool.run(N, [&](size_t nb, size_t ne, size_t) { range_of(k, s, x, ldx, M, w, rows, nb, ne, bias, y, ldy); },
           grain_of(k, amx_step, M));
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
  bool amx_step = false;
  for (size_t i = 0; i < n_targets; ++i) {
    total += targets[i].w->rows;
    amx_step = amx_step || takes_weight(*targets[i].w);
  }
  if (M == 0 || total == 0) return;
  const MatmulSet k = matmul_set();
  amx::SplitX split;
  if (amx_step) split = amx_split(x, ldx, M, targets[0].w->cols, pool);
  const amx::SplitX* s = amx_step ? &split : nullptr;
  // A thread's chunk of the stacked rows, cut at the matrices' boundaries.
  pool.run(total, [&](size_t nb, size_t ne, size_t) {
    for (size_t i = 0, first = 0; i < n_targets && first < ne; first += targets[i].w->rows, ++i) {
      const MatmulTarget& t = targets[i];
      const size_t b = std::max(nb, first), e = std::min(ne, first + t.w->rows);
      if (b < e) range_of(k, s, x, ldx, M, *t.w, nullptr, b - first, e - first, t.bias, t.y, t.ldy);
    }
  }, grain_of(k, amx_step, M));
}

// Gate and up matmuls over the same row blocks (on the AMX set from one
// split of x, as matmul does: the same products as two matmul calls), then the
// gate activation times up, row block by row block while it is in cache.
void gated_mlp(const float* x, size_t ldx, size_t M, const Weight& w_gate, const Weight& w_up, GateAct act,
               float* gate, float* up, size_t ld, ThreadPool& pool) {
  if (M == 0 || w_gate.rows == 0) return;
  const MatmulSet k = matmul_set();
  amx::SplitX split;
  const bool amx_step = takes_weight(w_gate) || takes_weight(w_up);
  if (amx_step) split = amx_split(x, ldx, M, w_gate.cols, pool);
  const amx::SplitX* s = amx_step ? &split : nullptr;
  if (amx_step && w_gate.type == WType::BF16 && w_up.type == WType::BF16) {
    // Both on the tile unit: gated as the accumulators are written out (up
    // is not needed).
    const amx::GateFn fn = act == GateAct::SiLU ? &silu_mul : &gelu_tanh_mul;
    note_path(s->terms == 3 ? kPathAmxExact : kPathAmxBf16);
    pool.run(w_gate.rows, [&](size_t nb, size_t ne, size_t) { amx::gated_range(*s, w_gate, w_up, fn, nb, ne, gate, ld); },
             grain_of(k, true, M));
    return;
  }
  pool.run(w_gate.rows, [&](size_t nb, size_t ne, size_t) {
    range_of(k, s, x, ldx, M, w_gate, nullptr, nb, ne, nullptr, gate, ld);
    range_of(k, s, x, ldx, M, w_up, nullptr, nb, ne, nullptr, up, ld);
    for (size_t m = 0; m < M; ++m) {
      if (act == GateAct::SiLU) silu_mul(gate + m * ld + nb, up + m * ld + nb, ne - nb);
      else gelu_tanh_mul(gate + m * ld + nb, up + m * ld + nb, ne - nb);
    }
  }, grain_of(k, amx_step, M));
}

void swiglu(const float* x, size_t ldx, size_t M, const Weight& w_gate, const Weight& w_up,
            float* gate, float* up, size_t ld, ThreadPool& pool) {
  gated_mlp(x, ldx, M, w_gate, w_up, GateAct::SiLU, gate, up, ld, pool);
}

// The row-wise kernels other than silu_mul have no AVX-512 version (they are
// a few % of a forward); the avx512 and amx sets run their AVX2 code.
static bool wide() { return cur() == KernelSet::Avx512 || cur() == KernelSet::Amx; }
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
  if (wide())
    avx512::silu_mul(gate, up, n);
  else if (cur() != KernelSet::Ref)
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
  if (wide() && head_dim % 16 == 0)
    avx512::attention_opts(q, ldq, T, segs, n_segs, n_heads, n_kv_heads, head_dim, AttentionOpts{.scale = scale},
                           out, ldo, pool);
  else if (cur() != KernelSet::Ref && head_dim % 8 == 0)
    avx2::attention(q, ldq, T, segs, n_segs, n_heads, n_kv_heads, head_dim, scale, out, ldo, pool);
  else
    ref::attention(q, ldq, T, segs, n_segs, n_heads, n_kv_heads, head_dim, scale, out, ldo, pool);
}

void attention(const float* q, size_t ldq, size_t T, const KVSegment* segs, size_t n_segs,
               size_t n_heads, size_t n_kv_heads, size_t head_dim, const AttentionOpts& opts,
               float* out, size_t ldo, ThreadPool& pool) {
  if (wide() && head_dim % 16 == 0)
    avx512::attention_opts(q, ldq, T, segs, n_segs, n_heads, n_kv_heads, head_dim, opts, out, ldo, pool);
  else if (cur() != KernelSet::Ref && head_dim % 8 == 0)
    avx2::attention_opts(q, ldq, T, segs, n_segs, n_heads, n_kv_heads, head_dim, opts, out, ldo, pool);
  else
    ref::attention_opts(q, ldq, T, segs, n_segs, n_heads, n_kv_heads, head_dim, opts, out, ldo, pool);
}

}  // namespace cloze::kernels
