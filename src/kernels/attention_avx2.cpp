// Bitwise agreement between kernel sets needs every a*b+c to round exactly as
// written: forbid the compiler from fusing it into an fma (GCC does by default,
// even for intrinsics). Must precede the includes so inlined helpers share it.
#pragma GCC optimize("fp-contract=off")
#include "kernels/kernels_internal.h"
namespace cloze::kernels::avx2 {
void attention(const float* q, size_t ldq, size_t T, const KVSegment* segs, size_t n_segs,
               size_t n_heads, size_t n_kv_heads, size_t head_dim, float scale, float* out,
               size_t ldo, ThreadPool& pool) {
  ref::attention(q, ldq, T, segs, n_segs, n_heads, n_kv_heads, head_dim, scale, out, ldo, pool);
}
}
