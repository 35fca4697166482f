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
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cpuid.h>
#include <cstdlib>
#include <cstring>

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

// Palette 1, every tile 16 rows x 64 bytes.
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// Loads the tile configuration for this thread while in scope, then releases
// the tile state (so the OS need not save 8 KB per context switch).
struct TilesOn {
  TilesOn() {
    TileConfig c;
    for (int i = 0; i < 8; ++i) {
      c.colsb[i] = 64;
      c.rows[i] = 16;
    }
    _tile_loadconfig(&c);
  }
  ~TilesOn() { _tile_release(); }
};

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

void split_range(const float* x, size_t ldx, const SplitX& s, size_t mt_b, size_t mt_e) {
  const size_t K = s.K, T = s.terms;
  alignas(64) uint32_t rows[3][16][16];  // [term][m][k pair] for one k step
  for (size_t mt = mt_b; mt < mt_e; ++mt) {
    const size_t m0 = mt * 16, m_ok = std::min<size_t>(16, s.M - m0);
    float scale[16];
    for (size_t m = 0; m < 16; ++m) {
      const int e = m < m_ok ? row_exponent(x + (m0 + m) * ldx, K) : 0;
      scale[m] = pow2(-e);
      s.unscale[m0 + m] = pow2(e);
    }
    for (size_t ks = 0; ks < s.n_ks; ++ks) {
      const size_t k0 = ks * 32, k_ok = std::min<size_t>(32, K - k0);
      const __mmask16 mlo = k_ok >= 16 ? 0xFFFF : __mmask16((1u << k_ok) - 1);
      const __mmask16 mhi = k_ok >= 32 ? 0xFFFF : k_ok <= 16 ? 0 : __mmask16((1u << (k_ok - 16)) - 1);
      for (size_t m = 0; m < 16; ++m) {
        __m512 a = _mm512_setzero_ps(), b = _mm512_setzero_ps();
        if (m < m_ok) {
          const float* xr = x + (m0 + m) * ldx + k0;
          const __m512 sc = _mm512_set1_ps(scale[m]);
          a = _mm512_mul_ps(_mm512_maskz_loadu_ps(mlo, xr), sc);
          b = _mm512_mul_ps(_mm512_maskz_loadu_ps(mhi, xr + 16), sc);
        }
        for (size_t t = 0; t < T; ++t) {
          // bf16 of k = 0..15 (low half) and 16..31, rounded to nearest
          // even. The instruction treats float32 subnormals as zero; those
          // terms would be bf16 subnormals, which the tile unit flushes to
          // zero anyway, so every product is what an exact rounding would give.
          const __m512i r = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(b, a));
          _mm512_store_si512(rows[t][m], r);
          // The remainder (exact: x' and its bf16 rounding share the exponent range).
          const __m512 ra = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(r)), 16));
          const __m512 rb = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(r, 1)), 16));
          a = _mm512_sub_ps(a, ra);
          b = _mm512_sub_ps(b, rb);
        }
      }
      uint16_t* dst = s.tiles + (mt * s.n_ks + ks) * T * 512;
      for (size_t t = 0; t < T; ++t) {
        __m512i v[16];
        for (int m = 0; m < 16; ++m) v[m] = _mm512_load_si512(rows[t][m]);
        transpose16(v);  // v[r] = pair r of rows 0..15
        for (int r = 0; r < 16; ++r) _mm512_store_si512(dst + t * 512 + r * 32, v[r]);
      }
    }
  }
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

// PREFETCHT1 as an asm statement. GCC 12 deleted the loop below when it
// called _mm_prefetch (a loop whose only effect is prefetching): until then
// no weight block was ever prefetched, and every block's first pass waited
// on memory (2.4x the time of the block's other passes at 128 tokens).
inline void prefetch_l2(const char* p) { __asm__ volatile("prefetcht1 %0" : : "m"(*p)); }

// Prefetch (into L2) of the raw rows the next block's packing reads,
// spread over the k steps of this block's passes: line i is row i % rows_n,
// 64-byte line i / rows_n from the K block's start.
struct Prefetch {
  const char* base[kNB] = {};  // tile j's first row at the K block's start; null: none
  size_t ld = 0;               // row stride, bytes
  size_t rows_n = 0;
  size_t line0 = 0, line1 = 0;  // this pass's share
  void issue(size_t step, size_t n_steps) const {
    if (line1 <= line0) return;
    const size_t per = (line1 - line0 + n_steps - 1) / n_steps;
    const size_t b = line0 + step * per, e = std::min(line1, b + per);
    for (size_t i = b; i < e; ++i) {
      const size_t r = i % rows_n, l = i / rows_n;
      prefetch_l2(base[r / 16] + (r % 16) * ld + l * 64);
    }
  }
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
          float* out, const Prefetch& pf) {
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
  for (size_t ks = ks0; ks < ks1; ++ks) {
    pf.issue(ks - ks0, ks1 - ks0);
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
              float* out, const Prefetch& pf) {
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
  for (size_t ks = ks0; ks < ks1; ++ks) {
    pf.issue(ks - ks0, ks1 - ks0);
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

template <int T>
void range_t(const SplitX& s, const Weight& w, const int32_t* rows, size_t nb, size_t ne,
             const float* bias, float* y, size_t ldy) {
  static thread_local Scratch panel_buf, state_buf, tail_buf;
  uint16_t* tails = reinterpret_cast<uint16_t*>(tail_buf.floats(kNB * 256));
  const size_t n_blocks = (ne - nb + kNB * 16 - 1) / (kNB * 16);
  alignas(64) float cbuf[4 * 256];
  TilesOn tiles_on;
  for (size_t mc0 = 0; mc0 < s.n_mt; mc0 += kMChunkTiles) {
    const size_t mc1 = std::min(s.n_mt, mc0 + kMChunkTiles);
    const size_t n_groups = (mc1 - mc0 + 1) / 2;
    const size_t kss = std::max(kMinKsPerBlock, kXBlockBytes / ((mc1 - mc0) * T * 1024));
    const size_t n_kb = (s.n_ks + kss - 1) / kss;
    uint16_t* panel = reinterpret_cast<uint16_t*>(panel_buf.floats(std::min(kss, s.n_ks) * kNB * 256));
    // Saved accumulators, [n block][group][4 tiles][256], when K has several blocks.
    float* state = n_kb > 1 ? state_buf.floats(n_blocks * n_groups * 4 * 256) : nullptr;
    for (size_t kb = 0; kb < n_kb; ++kb) {
      const size_t ks0 = kb * kss, ks1 = std::min(s.n_ks, ks0 + kss);
      const bool last = kb + 1 == n_kb;
      for (size_t bi = 0; bi < n_blocks; ++bi) {
        const size_t n0 = nb + bi * kNB * 16;
        const size_t nt = std::min<size_t>(kNB, (ne - n0 + 15) / 16);
        // Raw rows in place when a tile has 16 consecutive rows of W, else
        // packed (gathered rows, the last rows of the range). (Packing every
        // block measured 7% slower than loading raw rows, at 16 and 128 tokens.)
        ASrc asrc[kNB];
        bool direct = true;
        for (size_t j = 0; j < nt && direct; ++j) {
          const size_t first = n0 + 16 * j;
          if (first + 16 > ne) { direct = false; break; }
          const uint16_t* p0 = static_cast<const uint16_t*>(row_ptr(w, rows, first));
          for (size_t i = 1; i < 16 && direct; ++i)
            direct = static_cast<const uint16_t*>(row_ptr(w, rows, first + i)) == p0 + i * w.cols;
        }
        if (direct) {
          const size_t n_full = w.cols / 32;
          for (size_t j = 0; j < nt; ++j) {
            ASrc& a = asrc[j];
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
        } else {
          pack_block(w, rows, n0, ne, ks0, ks1, panel);
          for (size_t j = 0; j < nt; ++j) {
            ASrc& a = asrc[j];
            a.p = panel + j * 512;
            a.kbase = ks0;
            a.step = kNB * 512;
            a.row_bytes = 64;
          }
        }
        // The next block's rows (plain rows of W, whole tiles), for its packing.
        Prefetch pf;
        const size_t n1 = n0 + kNB * 16;
        const size_t k_end = std::min(ks1 * 32, w.cols);
        if (!rows && n1 + 16 <= ne) {
          const size_t nt1 = std::min<size_t>(kNB, (ne - n1) / 16);
          for (size_t j = 0; j < nt1; ++j)
            pf.base[j] = static_cast<const char*>(row_ptr(w, nullptr, n1 + 16 * j)) + ks0 * 64;
          pf.ld = w.cols * 2;
          pf.rows_n = nt1 * 16;
        }
        const size_t lines = pf.rows_n * ((k_end - ks0 * 32) * 2 + 63) / 64;
        for (size_t g = 0; g < n_groups; ++g) {
          // Spread over every group's pass. Measured with the pass timed by
          // kind at 128 tokens (cycles per tile product, first pass of a
          // block / the others): no prefetch 64 / 26, all of it during the
          // first group's pass 72-98 / 26 (the burst stalls that pass),
          // spread 36-47 / 26-29; two or three blocks ahead: slower.
          // Only from three groups (x chunks of 65+ rows): with one or two,
          // a block's passes are too short to hide the next one's stream and
          // the prefetches only compete with it (16 tokens -15%, 64 -10%).
          const bool ahead = n_groups >= kMinGroupsToPrefetch;
          pf.line0 = ahead ? lines * g / n_groups : 0;
          pf.line1 = ahead ? lines * (g + 1) / n_groups : 0;
          float* saved = state ? state + (bi * n_groups + g) * 4 * 256 : nullptr;
          float* out = last ? cbuf : saved;
          const float* in = kb > 0 ? saved : nullptr;
          const size_t mt = mc0 + 2 * g;
          const bool two = mt + 1 < mc1;
          if (nt == 2) {
            if (two) pass<2, 2, T>(asrc, s, mt, ks0, ks1, in, out, pf);
            else pass_one<2, T>(asrc, s, mt, ks0, ks1, in, out, pf);
          } else {
            if (two) pass<1, 2, T>(asrc, s, mt, ks0, ks1, in, out, pf);
            else pass_one<1, T>(asrc, s, mt, ks0, ks1, in, out, pf);
          }
          if (!last) continue;
          // The outputs: tile (j, i) of this pass at cbuf + (2j + i) * 256.
          for (size_t j = 0; j < nt; ++j)
            for (size_t i = 0; i < (two ? 2u : 1u); ++i) {
              const size_t m0 = (mt + i) * 16, ncol = n0 + 16 * j;
              OutTile o{y + m0 * ldy + ncol, ldy, bias ? bias + ncol : nullptr, s.unscale + m0,
                        std::min<size_t>(16, s.M - m0), std::min<size_t>(16, ne - ncol)};
              write_out(cbuf + (2 * j + i) * 256, o);
            }
        }
      }
    }
  }
}

}  // namespace

size_t matmul_grain() { return 64; }

void matmul_range(const SplitX& s, const Weight& w, const int32_t* rows, size_t nb, size_t ne,
                  const float* bias, float* y, size_t ldy) {
  if (s.M == 0 || nb >= ne) return;
  if (s.terms == 3)
    range_t<3>(s, w, rows, nb, ne, bias, y, ldy);
  else
    range_t<1>(s, w, rows, nb, ne, bias, y, ldy);
}

}  // namespace cloze::kernels::amx
