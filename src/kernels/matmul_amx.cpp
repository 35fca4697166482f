// AMX matmul for bf16 weights: y[m, n] = sum_k x[m, k] * W[n, k] (+ bias[n]),
// float32-accurate by splitting each activation into three bf16 terms.
//   x: [M, K] f32 rows (stride ldx); W: [N, K] bf16, row-major as in the
//   checkpoint (read in place: never repacked); y: [M, N] f32 (stride ldy).
//
// The split (exact mode). Row m of x is scaled by a power of two s_m (exact)
// so that its largest |x| lies in [1, 2); then x' = x * s_m is cut into
//   hi = bf16(x'), mid = bf16(x' - hi), lo = bf16(x' - hi - mid)
// (round to nearest even; both subtractions are exact), and hi + mid + lo ==
// x' exactly: 8 + 8 + 8 significand bits cover float32's 24. A product of two
// bf16 values is exact in float32 and the tile unit adds in float32, so
//   y = (W hi + W mid + W lo) / s_m
// is a float32 sum of exact products: float32 accuracy, in a different order
// from the FMA sets. The scaling keeps mid and lo clear of bf16's subnormal
// range, which the tile unit flushes to zero (it would lose x's low bits for
// |x| below ~2^-110), and keeps huge activations from overflowing in bf16.
// Fast mode (Precision::Bf16) keeps only hi: x rounded to bf16.
//
// Roles: the weights are the tiles' A operand (16 rows of W x 32 consecutive
// k: exactly the checkpoint's row-major layout, loaded with the row stride),
// the split x is the B operand in the tile unit's pair layout
//   B[r][m][2] = x_term[m][32 ks + 2r + {0,1}]   (r < 16 k pairs, m < 16 rows),
// written once per call by split_range (shared by every thread and every
// matrix of a matmul_multi / swiglu step). A tile product gives C[n][m]; the
// output is transposed back when stored.
//
// Order (the determinism contract). Each output element is
//   C = 0; for ks = 0 .. ceil(K / 32) - 1: for t in hi, mid, lo: C += tdp(W_ks, x_t,ks)
// then y = C * (1 / s_m) (+ bias). That sequence depends only on K, never on
// M, on how rows are tiled (one 16-row x tile or pairs of them), on the K
// blocking (accumulators saved to memory between K blocks are float32 values,
// restored exactly), or on the thread split (over N). Rows of x past M and k
// past K are zeros; weight rows past N and k past K are zeros (staged).
// GCC 12 flags the AVX-512 headers' own undefined-then-set vectors (in
// transpose16's shuffles once it is not inlined).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cpuid.h>
#include <cstdlib>
#include <cstring>

#include "kernels/amx_tiles.h"
#include "kernels/kernels_internal.h"
#include "kernels/scratch.h"
#include "kernels/weight_loader.h"

namespace cloze::kernels::amx {
namespace {

// ---- CPU and OS support -----------------------------------------------------

constexpr long kArchReqXcompPerm = 0x1023;
constexpr long kXfeatureXtiledata = 18;

bool detect() {
  unsigned a, b, c, d;
  if (__get_cpuid_max(0, nullptr) < 7) return false;
  __cpuid_count(7, 0, a, b, c, d);
  const bool amx_bf16 = d & (1u << 22), amx_tile = d & (1u << 24);
  if (!amx_bf16 || !amx_tile) return false;
  __cpuid_count(7, 1, a, b, c, d);
  if (!(a & (1u << 5))) return false;  // AVX512_BF16 (the split's conversion)
  __cpuid(1, a, b, c, d);
  if (!(c & (1u << 27))) return false;  // OSXSAVE
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & (3u << 17)) != (3u << 17)) return false;  // XTILECFG, XTILEDATA enabled
  // Linux hands out the 8 KB tile state only on request (per process).
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

// ---- the split ----------------------------------------------------------------

// 16 x 16 transpose of 32-bit lanes: r[i] lane j -> r[j] lane i.
inline void transpose16(__m512i* ri) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_castsi512_ps(ri[i]);
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // s[4g + j], 128-bit lane L: column 4L + j of rows 4g .. 4g + 3.
  for (int g = 0; g < 4; ++g) {
    r[4 * g + 0] = _mm512_shuffle_ps(t[4 * g + 0], t[4 * g + 2], 0x44);
    r[4 * g + 1] = _mm512_shuffle_ps(t[4 * g + 0], t[4 * g + 2], 0xEE);
    r[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
    r[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
  }
  for (int j = 0; j < 4; ++j) {
    const __m512 u = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88);
    const __m512 v = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88);
    const __m512 u2 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xDD);
    const __m512 v2 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xDD);
    t[j] = _mm512_shuffle_f32x4(u, v, 0x88);
    t[8 + j] = _mm512_shuffle_f32x4(u, v, 0xDD);
    t[4 + j] = _mm512_shuffle_f32x4(u2, v2, 0x88);
    t[12 + j] = _mm512_shuffle_f32x4(u2, v2, 0xDD);
  }
  for (int i = 0; i < 16; ++i) ri[i] = _mm512_castps_si512(t[i]);
}

// The exponent e of row m's scaling (x' = x * 2^-e), from its largest |x|:
// max in [2^e, 2^(e+1)), clamped to [-100, 100] (a subnormal max is scaled
// up by 2^100, exactly); 0 for a zero or non-finite row.
int row_exponent(const float* x, size_t K) {
  __m512 mx = _mm512_setzero_ps();
  size_t k = 0;
  for (; k + 16 <= K; k += 16) mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_loadu_ps(x + k)));
  if (k < K) mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_maskz_loadu_ps(__mmask16((1u << (K - k)) - 1), x + k)));
  const float m = _mm512_reduce_max_ps(mx);
  uint32_t u;
  std::memcpy(&u, &m, 4);
  const int field = int(u >> 23) & 0xFF;
  if (m == 0.0f || field == 0xFF) return 0;
  return std::clamp(field - 127, -100, 100);
}

inline float pow2(int e) {
  const uint32_t u = uint32_t(127 + e) << 23;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace

bool available() {
  static const bool ok = detect();
  return ok;
}

size_t split_floats(size_t M, size_t K, size_t terms) {
  const size_t n_mt = (M + 15) / 16, n_ks = (K + 31) / 32;
  return n_mt * n_ks * terms * 256 + n_mt * 16;
}

SplitX split_layout(float* buf, size_t M, size_t K, size_t terms) {
  SplitX s;
  s.M = M;
  s.K = K;
  s.terms = terms;
  s.n_mt = (M + 15) / 16;
  s.n_ks = (K + 31) / 32;
  s.tiles = reinterpret_cast<uint16_t*>(buf);
  s.unscale = buf + s.n_mt * s.n_ks * terms * 256;
  return s;
}

namespace {

// 8 x 8 transpose of 64-bit lanes: r[i] lane j -> r[j] lane i.
inline void transpose8x64(__m512i* r) {
  __m512i t[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm512_unpacklo_epi64(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi64(r[2 * i], r[2 * i + 1]);
  }
  // t[2i + p], 128-bit lane L: lanes 2L + p of rows 2i, 2i + 1.
  for (int p = 0; p < 2; ++p) {
    const __m512i a0 = _mm512_shuffle_i64x2(t[p], t[2 + p], 0x44), a1 = _mm512_shuffle_i64x2(t[p], t[2 + p], 0xEE);
    const __m512i b0 = _mm512_shuffle_i64x2(t[4 + p], t[6 + p], 0x44), b1 = _mm512_shuffle_i64x2(t[4 + p], t[6 + p], 0xEE);
    r[0 + p] = _mm512_shuffle_i64x2(a0, b0, 0x88);
    r[2 + p] = _mm512_shuffle_i64x2(a0, b0, 0xDD);
    r[4 + p] = _mm512_shuffle_i64x2(a1, b1, 0x88);
    r[6 + p] = _mm512_shuffle_i64x2(a1, b1, 0xDD);
  }
}

// One k step of an x tile: the 16 rows' 32 scaled floats are transposed
// as 64-bit pairs (k 2r, 2r + 1), once, into f[r][g] = pair r of rows
// 8g .. 8g + 7; then each tile row r of every term is one rounding of
// f[r][0..1], which already lies in the tile's pair layout. (Rounding rows
// first and transposing each term's bf16 pairs took three 16 x 16
// transposes per k step instead of this one: 1.3-1.4x the time for the
// down_proj input at 128 tokens. At 1024 tokens the split of that input,
// 20 MB in and 30 MB out, runs at the memory's pace either way.)
template <size_t T>
void split_step(const float* x, size_t ldx, size_t m_ok, const float* scale, size_t k0, size_t k_ok,
                uint16_t* dst) {
  const __mmask16 mlo = k_ok >= 16 ? 0xFFFF : __mmask16((1u << k_ok) - 1);
  const __mmask16 mhi = k_ok >= 32 ? 0xFFFF : k_ok <= 16 ? 0 : __mmask16((1u << (k_ok - 16)) - 1);
  alignas(64) float f[16][2][16];  // [pair r][row half g][row 8g + i: k 2r, 2r + 1]
  for (size_t g = 0; g < 2; ++g)
    for (size_t h = 0; h < 2; ++h) {
      __m512i r[8];
      for (size_t i = 0; i < 8; ++i) {
        const size_t m = 8 * g + i;
        r[i] = m < m_ok ? _mm512_castps_si512(_mm512_mul_ps(
                              _mm512_maskz_loadu_ps(h ? mhi : mlo, x + m * ldx + k0 + 16 * h), _mm512_set1_ps(scale[m])))
                        : _mm512_setzero_si512();
      }
      transpose8x64(r);  // r[j] = pair 8h + j of rows 8g .. 8g + 7
      for (size_t j = 0; j < 8; ++j) _mm512_store_si512(f[8 * h + j][g], r[j]);
    }
#pragma GCC unroll 4
  for (size_t r = 0; r < 16; ++r) {
    __m512 a = _mm512_load_ps(f[r][0]), b = _mm512_load_ps(f[r][1]);
#pragma GCC unroll 3
    for (size_t t = 0; t < T; ++t) {
      // bf16 of rows 0..7 (low half) and 8..15, rounded to nearest even.
      // The instruction treats float32 subnormals as zero; those terms
      // would be bf16 subnormals, which the tile unit flushes to zero
      // anyway, so every product is what an exact rounding would give.
      const __m512i v = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(b, a));
      _mm512_store_si512(dst + t * 512 + r * 32, v);
      if (t + 1 == T) break;
      // The remainder (exact: x' and its bf16 rounding share the exponent range).
      a = _mm512_sub_ps(a, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(v)), 16)));
      b = _mm512_sub_ps(b, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(v, 1)), 16)));
    }
  }
}

template <size_t T>
void split_tiles(const float* x, size_t ldx, const SplitX& s, size_t mt_b, size_t mt_e) {
  const size_t K = s.K;
  for (size_t mt = mt_b; mt < mt_e; ++mt) {
    const size_t m0 = mt * 16, m_ok = std::min<size_t>(16, s.M - m0);
    float scale[16];
    for (size_t m = 0; m < 16; ++m) {
      const int e = m < m_ok ? row_exponent(x + (m0 + m) * ldx, K) : 0;
      scale[m] = pow2(-e);
      s.unscale[m0 + m] = pow2(e);
    }
    for (size_t ks = 0; ks < s.n_ks; ++ks)
      split_step<T>(x + m0 * ldx, ldx, m_ok, scale, ks * 32, std::min<size_t>(32, K - ks * 32),
                    s.tiles + (mt * s.n_ks + ks) * T * 512);
  }
}

}  // namespace

void split_range(const float* x, size_t ldx, const SplitX& s, size_t mt_b, size_t mt_e) {
  if (s.terms == 3)
    split_tiles<3>(x, ldx, s, mt_b, mt_e);
  else
    split_tiles<1>(x, ldx, s, mt_b, mt_e);
}

namespace {

// ---- the tile products ---------------------------------------------------

// Blocking (none of it changes a result: see Order). Rows of x are taken
// kMChunkTiles x tiles at a time; K in blocks of about kXBlockBytes of split
// x per chunk (the x block stays in L2 next to the saved accumulators); in a
// K block, each block of 32 weight rows is packed (below) and passes over
// the chunk's x tiles two at a time.
constexpr size_t kNB = 2;                      // weight tiles per block
// 192 rows and 1.5 MB x blocks: x and its weight block stay in L2 (2 MB).
// Measured on eval batches of ~4096 tokens: +1-5% on IMDB and +3-4% on
// SST-2 over 128 rows / 1 MB, level at 128 and 512 tokens; 256 rows with
// 1 MB blocks was 0.8x at 512 tokens; 64 and 96 rows slower at 128.
constexpr size_t kMChunkTiles = 12;
constexpr size_t kXBlockBytes = size_t(3) << 19;
constexpr size_t kMinKsPerBlock = 8;
constexpr size_t kMinGroupsToPrefetch = 3;


// A block's weight rows, packed tile by tile: panel[(ks - ks0) * kNB + j]
// is the 16 x 32 tile (rows 16 j .., k 32 ks ..) as 1 KB, rows 64 bytes
// apart, zero past K and past the block's last row (n_end).
void pack_block(const Weight& w, const int32_t* rows, size_t n0, size_t n_end, size_t ks0, size_t ks1,
                uint16_t* panel) {
  const size_t K = w.cols, nt = std::min<size_t>(kNB, (n_end - n0 + 15) / 16);
  const size_t n_ks = ks1 - ks0;
  for (size_t j = 0; j < kNB; ++j)
    for (size_t r = 0; r < 16; ++r) {
      const size_t n = n0 + 16 * j + r;
      uint16_t* dst = panel + j * 512 + r * 32;
      if (j >= nt || n >= n_end) {
        for (size_t ks = 0; ks < n_ks; ++ks) _mm512_store_si512(dst + ks * kNB * 512, _mm512_setzero_si512());
        continue;
      }
      const uint16_t* src = static_cast<const uint16_t*>(row_ptr(w, rows, n));
      for (size_t ks = ks0; ks < ks1; ++ks) {
        const size_t k0 = ks * 32;
        __m512i v;
        if (k0 + 32 <= K)
          v = _mm512_loadu_si512(src + k0);
        else
          v = _mm512_maskz_loadu_epi16(__mmask32((uint64_t(1) << (K - k0)) - 1), src + k0);
        _mm512_store_si512(dst + (ks - ks0) * kNB * 512, v);
      }
    }
}

// Where weight tile j of k step ks is: p + (ks - kbase) * step, rows
// row_bytes apart; a partial last k step (ks >= n_full) of raw rows is
// staged zero-padded in tail ([16][32]) instead.
struct ASrc {
  const uint16_t* p = nullptr;
  size_t kbase = 0, step = 0, row_bytes = 0;
  const uint16_t* tail = nullptr;
  size_t n_full = ~size_t(0);
  const uint16_t* at(size_t ks, size_t& stride) const {
    if (ks < n_full || !tail) {
      stride = row_bytes;
      return p + (ks - kbase) * step;
    }
    stride = 64;
    return tail;
  }
};

// Where the outputs of one 16 x 16 accumulator go.
struct OutTile {
  float* y;           // y[m * ldy + n] for the tile's first row m and column n
  size_t ldy;
  const float* bias;  // [16] or null
  const float* unscale;  // [16]
  size_t m_ok, n_ok;
};

// C[n][m] (tile, stored row-major in c) -> y[m][n] * unscale[m] + bias[n].
inline void write_out(const float* c, const OutTile& o) {
  __m512i v[16];
  for (int i = 0; i < 16; ++i) v[i] = _mm512_load_si512(c + i * 16);
  transpose16(v);
  const __mmask16 nm = o.n_ok >= 16 ? 0xFFFF : __mmask16((1u << o.n_ok) - 1);
  const __m512 b = o.bias ? _mm512_maskz_loadu_ps(nm, o.bias) : _mm512_setzero_ps();
  for (size_t m = 0; m < o.m_ok; ++m) {
    __m512 r = _mm512_mul_ps(_mm512_castsi512_ps(v[m]), _mm512_set1_ps(o.unscale[m]));
    if (o.bias) r = _mm512_add_ps(r, b);
    _mm512_mask_storeu_ps(o.y + m * o.ldy, nm, r);
  }
}

// A gated pair of tiles, C_gate and C_up ([n][m], no bias): each scaled
// back (the multiply write_out does), act(gate) * up by the set's own
// element-wise kernel (`act`, e.g. silu_mul: it is element-wise, so the
// tile layout gives the same bits), then one transpose into y[m][n]. The
// same values as writing both products out and gating them, without the up
// product's stores or a pass over both.
inline void write_out_gated(float* cg, float* cu, const OutTile& o, GateFn act) {
  const __m512 un = _mm512_loadu_ps(o.unscale);
  for (int i = 0; i < 16; ++i) {
    _mm512_store_ps(cg + i * 16, _mm512_mul_ps(_mm512_load_ps(cg + i * 16), un));
    _mm512_store_ps(cu + i * 16, _mm512_mul_ps(_mm512_load_ps(cu + i * 16), un));
  }
  act(cg, cu, 256);
  __m512i v[16];
  for (int i = 0; i < 16; ++i) v[i] = _mm512_load_si512(cg + i * 16);
  transpose16(v);
  const __mmask16 nm = o.n_ok >= 16 ? 0xFFFF : __mmask16((1u << o.n_ok) - 1);
  for (size_t m = 0; m < o.m_ok; ++m) _mm512_mask_storeu_ps(o.y + m * o.ldy, nm, _mm512_castsi512_ps(v[m]));
}

// The outputs of a finished pass (its accumulators stored in c), written
// during the next pass, a few k steps in: written right away, the transposes
// and the stores into y held up the next pass's tile instructions behind
// them (the gate_proj shape at M = 128, the kernel alone on one thread:
// 12.5 -> 11.0 ns per tile product; outputs unchanged).
struct Pending {
  float* c[2] = {};  // accumulator tiles [4][256]: one matrix, or gate and up
  OutTile o[4];
  bool has[4] = {};
  GateFn act = nullptr;  // null: c[0] alone, written as is
  void flush() {
    if (!c[0]) return;
    for (int q = 0; q < 4; ++q) {
      if (!has[q]) continue;
      if (act) write_out_gated(c[0] + q * 256, c[1] + q * 256, o[q], act);
      else write_out(c[0] + q * 256, o[q]);
    }
    c[0] = nullptr;
  }
};
// The k step of the next pass at which a pending output is written.
constexpr size_t kFlushStep = 2;

// PREFETCHT1 as an asm statement. GCC 12 deletes a loop whose only effect
// is _mm_prefetch calls: until d59a104 no weight block was ever prefetched.
inline void prefetch_l2(const char* p) { __asm__ volatile("prefetcht1 %0" : : "m"(*p)); }

// The next block's raw weight rows, prefetched (into L2) while this block's
// passes run, an even share per k step: tile i (whole tiles of each matrix
// in turn) starts at base[i] (its first row, at the K block's first column),
// rows ld bytes apart; line l is 64-byte piece l / rows_n of row l % rows_n.
// Measured with the pass timed by kind at 128 tokens (cycles per tile
// product, first pass of a block / the others): no prefetch 64 / 26, all of
// it during the first group's pass 72-98 / 26 (the burst stalls that pass),
// spread 36-47 / 26-29; two or three blocks ahead: slower.
struct Prefetch {
  const char* base[2 * kNB] = {};
  size_t rows_n = 0, ld = 0;
  size_t line0 = 0, line1 = 0;  // this pass's share
};

class PrefetchCursor {
 public:
  PrefetchCursor(const Prefetch& pf, size_t n_steps) : pf_(pf) {
    if (pf.line1 <= pf.line0 || n_steps == 0) return;
    left_ = pf.line1 - pf.line0;
    per_ = (left_ + n_steps - 1) / n_steps;
    row_ = pf.line0 % pf.rows_n;
    col_ = pf.line0 / pf.rows_n * 64;
  }
  // This k step's lines.
  void step() {
    for (size_t n = std::min(per_, left_); n > 0; --n) {
      prefetch_l2(pf_.base[row_ / 16] + (row_ % 16) * pf_.ld + col_);
      if (++row_ == pf_.rows_n) {
        row_ = 0;
        col_ += 64;
      }
    }
    left_ -= std::min(per_, left_);
  }

 private:
  const Prefetch& pf_;
  size_t left_ = 0, per_ = 0, row_ = 0, col_ = 0;
};

// Two x tiles (mt, mt + 1; MT = 1 or 2 of them) against NT = 1 or 2 packed
// weight tiles over k steps [ks0, ks1): four independent accumulators
// (C[j][i] = tile 2j + i). Per step the weight tiles are loaded once (A: 4,
// 5) and each term's x tiles in turn (B: 6, 7), so a step loads 8 tiles for
// 12 products. `in`: accumulators saved by the previous K block (null: start
// from zero); they are left in `out` ([2j + i] * 256 floats).
// k steps between the L1 prefetch of a weight tile's rows and its load, in
// pass_one (measured: 2-2.5x the speed at M = 1 and 16; no gain in pass,
// where each weight tile feeds 6 products).
constexpr size_t kAheadOne = 4;

template <int NT, int MT, int T>
void pass(const ASrc* asrc, const SplitX& s, size_t mt, size_t ks0, size_t ks1, const float* in,
          float* out, const Prefetch& pf, Pending& pend) {
  if (in) {
    _tile_loadd(0, in + 0 * 256, 64);
    if constexpr (MT > 1) _tile_loadd(1, in + 1 * 256, 64);
    if constexpr (NT > 1) _tile_loadd(2, in + 2 * 256, 64);
    if constexpr (NT > 1 && MT > 1) _tile_loadd(3, in + 3 * 256, 64);
  } else {
    _tile_zero(0);
    if constexpr (MT > 1) _tile_zero(1);
    if constexpr (NT > 1) _tile_zero(2);
    if constexpr (NT > 1 && MT > 1) _tile_zero(3);
  }
  const size_t xstride = s.n_ks * T * 512;  // the next x tile
  PrefetchCursor cursor(pf, ks1 - ks0);
  for (size_t ks = ks0; ks < ks1; ++ks) {
    cursor.step();
    if (ks == ks0 + kFlushStep) pend.flush();
    const uint16_t* xb = s.tiles + (mt * s.n_ks + ks) * T * 512;
    size_t sa0, sa1;
    // Tile instructions issue in order, and a load into a register waits for
    // the products still reading it: so the first x tile (free since the
    // previous step's second term) loads first, and each weight tile just
    // before its first product (1.08-1.15x over loading both weight tiles
    // first, measured in isolation).
    _tile_loadd(6, xb, 64);
    _tile_loadd(4, asrc[0].at(ks, sa0), sa0);
    _tile_dpbf16ps(0, 4, 6);
    if constexpr (NT > 1) {
      _tile_loadd(5, asrc[1].at(ks, sa1), sa1);
      _tile_dpbf16ps(2, 5, 6);
    }
    if constexpr (MT > 1) {
      _tile_loadd(7, xb + xstride, 64);
      _tile_dpbf16ps(1, 4, 7);
      if constexpr (NT > 1) _tile_dpbf16ps(3, 5, 7);
    }
#pragma GCC unroll 2
    for (int t = 1; t < T; ++t) {
      _tile_loadd(6, xb + t * 512, 64);
      _tile_dpbf16ps(0, 4, 6);
      if constexpr (NT > 1) _tile_dpbf16ps(2, 5, 6);
      if constexpr (MT > 1) {
        _tile_loadd(7, xb + xstride + t * 512, 64);
        _tile_dpbf16ps(1, 4, 7);
        if constexpr (NT > 1) _tile_dpbf16ps(3, 5, 7);
      }
    }
  }
  _tile_stored(0, out + 0 * 256, 64);
  if constexpr (MT > 1) _tile_stored(1, out + 1 * 256, 64);
  if constexpr (NT > 1) _tile_stored(2, out + 2 * 256, 64);
  if constexpr (NT > 1 && MT > 1) _tile_stored(3, out + 3 * 256, 64);
}

// One x tile against NT = 1 or 2 weight tiles (16-token prompts, decode):
// the same products in the same order as pass<NT, 1, T>, with the tiles
// the second x tile would use put to double buffering instead: the weight
// tiles of odd k steps go to 1 and 3 (even: 4 and 5), and the x terms
// alternate between 6 and 7, so the next step's loads need not wait for
// this step's products to finish with their registers.
template <int NT, int T>
void pass_one(const ASrc* asrc, const SplitX& s, size_t mt, size_t ks0, size_t ks1, const float* in,
              float* out, const Prefetch& pf, Pending& pend) {
  if (in) {
    _tile_loadd(0, in + 0 * 256, 64);
    if constexpr (NT > 1) _tile_loadd(2, in + 2 * 256, 64);
  } else {
    _tile_zero(0);
    if constexpr (NT > 1) _tile_zero(2);
  }
  int bsel = 0;  // the x term register to use next: 6 or 7
#define CLOZE_AMX_TERM(A0, A1)                 \
  if (bsel == 0) {                             \
    _tile_loadd(6, xb + t * 512, 64);          \
    _tile_dpbf16ps(0, A0, 6);                  \
    if constexpr (NT > 1) _tile_dpbf16ps(2, A1, 6); \
  } else {                                     \
    _tile_loadd(7, xb + t * 512, 64);          \
    _tile_dpbf16ps(0, A0, 7);                  \
    if constexpr (NT > 1) _tile_dpbf16ps(2, A1, 7); \
  }                                            \
  bsel ^= 1;
  PrefetchCursor cursor(pf, ks1 - ks0);
  for (size_t ks = ks0; ks < ks1; ++ks) {
    cursor.step();
    if (ks == ks0 + kFlushStep) pend.flush();
    const uint16_t* xb = s.tiles + (mt * s.n_ks + ks) * T * 512;
    size_t sa0, sa1;
    // The weight rows kAheadOne steps on, into L1: with one x tile a weight
    // tile feeds only T products, so its load latency shows unless hidden.
    if (ks + kAheadOne < ks1) {
      size_t sp;
      const char* q = reinterpret_cast<const char*>(asrc[0].at(ks + kAheadOne, sp));
      for (int r = 0; r < 16; ++r) _mm_prefetch(q + r * sp, _MM_HINT_T0);
      if constexpr (NT > 1) {
        q = reinterpret_cast<const char*>(asrc[1].at(ks + kAheadOne, sp));
        for (int r = 0; r < 16; ++r) _mm_prefetch(q + r * sp, _MM_HINT_T0);
      }
    }
    if (((ks - ks0) & 1) == 0) {
      _tile_loadd(4, asrc[0].at(ks, sa0), sa0);
      if constexpr (NT > 1) _tile_loadd(5, asrc[1].at(ks, sa1), sa1);
#pragma GCC unroll 3
      for (int t = 0; t < T; ++t) { CLOZE_AMX_TERM(4, 5) }
    } else {
      _tile_loadd(1, asrc[0].at(ks, sa0), sa0);
      if constexpr (NT > 1) _tile_loadd(3, asrc[1].at(ks, sa1), sa1);
#pragma GCC unroll 3
      for (int t = 0; t < T; ++t) { CLOZE_AMX_TERM(1, 3) }
    }
  }
#undef CLOZE_AMX_TERM
  _tile_stored(0, out + 0 * 256, 64);
  if constexpr (NT > 1) _tile_stored(2, out + 2 * 256, 64);
}

// What one range computes: y = x W^T (+ bias) of one matrix, or the gated
// pair y = act(x W_gate^T) * (x W_up^T) (mats = 2, no bias).
struct Job {
  const Weight* w[2] = {};
  size_t mats = 1;
  const int32_t* rows = nullptr;
  const float* bias = nullptr;
  GateFn act = nullptr;
  float* y = nullptr;
  size_t ldy = 0;
};

// Where block [n0, n0 + 32) of w is read: raw rows in place when a tile has
// 16 consecutive rows of W, else packed into panel (gathered rows, the last
// rows of the range). (Packing every block measured 7% slower than loading
// raw rows, at 16 and 128 tokens.)
void block_source(const Weight& w, const int32_t* rows, size_t n0, size_t ne, size_t nt, size_t ks0,
                  size_t ks1, uint16_t* panel, uint16_t* tails, ASrc* asrc) {
  bool direct = true;
  for (size_t j = 0; j < nt && direct; ++j) {
    const size_t first = n0 + 16 * j;
    if (first + 16 > ne) { direct = false; break; }
    const uint16_t* p0 = static_cast<const uint16_t*>(row_ptr(w, rows, first));
    for (size_t i = 1; i < 16 && direct; ++i)
      direct = static_cast<const uint16_t*>(row_ptr(w, rows, first + i)) == p0 + i * w.cols;
  }
  if (!direct) {
    pack_block(w, rows, n0, ne, ks0, ks1, panel);
    for (size_t j = 0; j < nt; ++j) {
      ASrc& a = asrc[j];
      a = ASrc{};
      a.p = panel + j * 512;
      a.kbase = ks0;
      a.step = kNB * 512;
      a.row_bytes = 64;
    }
    return;
  }
  const size_t n_full = w.cols / 32;
  for (size_t j = 0; j < nt; ++j) {
    ASrc& a = asrc[j];
    a = ASrc{};
    a.p = static_cast<const uint16_t*>(row_ptr(w, rows, n0 + 16 * j));
    a.kbase = 0;
    a.step = 32;
    a.row_bytes = w.cols * 2;
    a.n_full = n_full;
    if (n_full * 32 < w.cols && ks1 > n_full) {
      uint16_t* t = tails + j * 512;
      std::memset(t, 0, 1024);
      for (size_t i = 0; i < 16; ++i)
        std::memcpy(t + i * 32, a.p + i * w.cols + n_full * 32, (w.cols - n_full * 32) * 2);
      a.tail = t;
    }
  }
}

template <int T>
void range_t(const SplitX& s, const Job& job, size_t nb, size_t ne) {
  static thread_local Scratch panel_buf[2], state_buf, tail_buf;
  const size_t mats = job.mats, K = job.w[0]->cols;
  uint16_t* tails = reinterpret_cast<uint16_t*>(tail_buf.floats(2 * kNB * 256));
  const size_t n_blocks = (ne - nb + kNB * 16 - 1) / (kNB * 16);
  // Accumulators of finished passes, [ping-pong][matrix][4 tiles][256]: a
  // pass's outputs are written during the next one (Pending).
  alignas(64) float cbuf[2][2][4 * 256];
  size_t cur = 0;
  Pending pend;
  pend.act = mats == 2 ? job.act : nullptr;
  TilesOn tiles_on;
  for (size_t mc0 = 0; mc0 < s.n_mt; mc0 += kMChunkTiles) {
    const size_t mc1 = std::min(s.n_mt, mc0 + kMChunkTiles);
    const size_t n_groups = (mc1 - mc0 + 1) / 2;
    const size_t kss = std::max(kMinKsPerBlock, kXBlockBytes / ((mc1 - mc0) * T * 1024));
    const size_t n_kb = (s.n_ks + kss - 1) / kss;
    uint16_t* panel[2];
    for (size_t q = 0; q < mats; ++q)
      panel[q] = reinterpret_cast<uint16_t*>(panel_buf[q].floats(std::min(kss, s.n_ks) * kNB * 256));
    // Saved accumulators, [n block][group][matrix][4 tiles][256], when K has several blocks.
    float* state = n_kb > 1 ? state_buf.floats(n_blocks * n_groups * mats * 4 * 256) : nullptr;
    // Only from three groups (x chunks of 65+ rows): with one or two, a
    // block's passes are too short to hide the next one's stream and the
    // prefetches only compete with it (16 tokens -15%, 64 -10%).
    const bool prefetch = n_groups >= kMinGroupsToPrefetch && !job.rows;
    for (size_t kb = 0; kb < n_kb; ++kb) {
      const size_t ks0 = kb * kss, ks1 = std::min(s.n_ks, ks0 + kss);
      const bool last = kb + 1 == n_kb;
      for (size_t bi = 0; bi < n_blocks; ++bi) {
        const size_t n0 = nb + bi * kNB * 16;
        const size_t nt = std::min<size_t>(kNB, (ne - n0 + 15) / 16);
        ASrc asrc[2][kNB];
        for (size_t q = 0; q < mats; ++q)
          block_source(*job.w[q], job.rows, n0, ne, nt, ks0, ks1, panel[q], tails + q * kNB * 512, asrc[q]);
        // The next block's whole tiles, of each matrix.
        Prefetch pf;
        const size_t n1 = n0 + kNB * 16;
        if (prefetch && n1 + 16 <= ne) {
          const size_t nt1 = std::min<size_t>(kNB, (ne - n1) / 16);
          for (size_t q = 0; q < mats; ++q)
            for (size_t j = 0; j < nt1; ++j)
              pf.base[q * nt1 + j] = static_cast<const char*>(row_ptr(*job.w[q], nullptr, n1 + 16 * j)) + ks0 * 64;
          pf.ld = K * 2;
          pf.rows_n = mats * nt1 * 16;
        }
        const size_t lines = pf.rows_n * (((std::min(ks1 * 32, K) - ks0 * 32) * 2 + 63) / 64);
        const size_t n_passes = n_groups * mats;
        for (size_t g = 0; g < n_groups; ++g) {
          const size_t mt = mc0 + 2 * g;
          const bool two = mt + 1 < mc1;
          for (size_t q = 0; q < mats; ++q) {
            const size_t pi = g * mats + q;
            pf.line0 = lines * pi / n_passes;
            pf.line1 = lines * (pi + 1) / n_passes;
            float* saved = state ? state + ((bi * n_groups + g) * mats + q) * 4 * 256 : nullptr;
            float* out = last ? cbuf[cur][q] : saved;
            const float* in = kb > 0 ? saved : nullptr;
            const ASrc* a = asrc[q];
            if (nt == 2) {
              if (two) pass<2, 2, T>(a, s, mt, ks0, ks1, in, out, pf, pend);
              else pass_one<2, T>(a, s, mt, ks0, ks1, in, out, pf, pend);
            } else {
              if (two) pass<1, 2, T>(a, s, mt, ks0, ks1, in, out, pf, pend);
              else pass_one<1, T>(a, s, mt, ks0, ks1, in, out, pf, pend);
            }
          }
          if (!last) continue;
          // This group's outputs, written during the next pass: tile (j, i)
          // at cbuf[cur][q] + (2j + i) * 256.
          pend.flush();  // the previous group's, if these passes ended before kFlushStep
          pend.c[0] = cbuf[cur][0];
          pend.c[1] = cbuf[cur][1];
          for (size_t j = 0; j < kNB; ++j)
            for (size_t i = 0; i < 2; ++i) {
              const size_t q = 2 * j + i;
              pend.has[q] = j < nt && (i == 0 || two);
              if (!pend.has[q]) continue;
              const size_t m0 = (mt + i) * 16, ncol = n0 + 16 * j;
              pend.o[q] = OutTile{job.y + m0 * job.ldy + ncol, job.ldy, job.bias ? job.bias + ncol : nullptr,
                                  s.unscale + m0, std::min<size_t>(16, s.M - m0), std::min<size_t>(16, ne - ncol)};
            }
          cur ^= 1;
        }
      }
    }
  }
  pend.flush();
}

void run_job(const SplitX& s, const Job& job, size_t nb, size_t ne) {
  if (s.M == 0 || nb >= ne) return;
  if (s.terms == 3)
    range_t<3>(s, job, nb, ne);
  else
    range_t<1>(s, job, nb, ne);
}

}  // namespace

size_t matmul_grain() { return 64; }

void matmul_range(const SplitX& s, const Weight& w, const int32_t* rows, size_t nb, size_t ne,
                  const float* bias, float* y, size_t ldy) {
  Job job;
  job.w[0] = &w;
  job.rows = rows;
  job.bias = bias;
  job.y = y;
  job.ldy = ldy;
  run_job(s, job, nb, ne);
}

void gated_range(const SplitX& s, const Weight& w_gate, const Weight& w_up, GateFn act, size_t nb,
                 size_t ne, float* y, size_t ldy) {
  Job job;
  job.w[0] = &w_gate;
  job.w[1] = &w_up;
  job.mats = 2;
  job.act = act;
  job.y = y;
  job.ldy = ldy;
  run_job(s, job, nb, ne);
}

}  // namespace cloze::kernels::amx
