// AVX-512F matmul: y[m, n] = sum_k x[m, k] * W[n, k] (+ bias[n]).
//   x: [M, K] f32 rows (stride ldx); W: [N, K] row-major, F32/F16/BF16 as in the
//   checkpoint (never repacked in memory); y: [M, N] f32 (stride ldy).
//
// Exactness: the same summation as dot_ref in kernels_ref.cpp and the AVX2
// kernels (8 interleaved fma lanes, lane = k % 8, then the fixed tree
// ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7))). A 16-lane register holds the 8 lanes
// of TWO weight rows (n, n+1) against the same 8 x values broadcast to both
// halves, so each half is exactly one reference accumulator: the wider vector
// buys two outputs per instruction without changing any output's order of
// operations. Only exact f32 FMAs are used (no bf16 dot products, no AMX:
// those round x to bf16).
//
// Two paths, as in matmul_avx2.cpp:
//  - direct (M <= 4, decode): streams raw weight rows in pairs, converting
//    while loading; memory bound, threads over N.
//  - panel (M > 4, prefill): each thread converts Nc weight rows at a time to
//    an f32 "pair panel" [Nc/2][ceil(K/8)][16] (rows 2p, 2p+1 interleaved by
//    8, the K % 8 tail padded with -0) that stays in L2, during the first
//    pass of a 6 x 8 register tile (6 x rows, 4 row pairs: 24 accumulators)
//    over it; later passes over blocks of M and K read the panel.
// The K % 8 tail: x lanes past K are loaded as +0 and weight lanes as -0, so
// those lanes add +0 * -0 = -0, which leaves every value (including +0) as is.
//
// fp-contract=off: each a*b+c must round as written (GCC would fuse it, even
// for intrinsics). Must precede the includes so inlined helpers share it.
#pragma GCC optimize("fp-contract=off")
// GCC 12's AVX-512 headers seed results with _mm512_undefined_*(), which
// -Wmaybe-uninitialized flags on inlining (GCC bug 105593): not ours.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/kernels_internal.h"
#include "kernels/scratch.h"
#include "kernels/weight_loader.h"


namespace cloze::kernels::avx512 {
namespace {

// Loaders: 8 consecutive weights of row a and 8 of row b (same k) ->
// [a0..a7 | b0..b7] as f32 (exact conversions).
struct LoadF32 {
  using E = float;
  static constexpr E kNegZero = -0.0f;
  static __m512 load2(const float* a, const float* b) {
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(a)), _mm256_loadu_ps(b), 1);
  }
};
inline __m256i load_halves(const uint16_t* a, const uint16_t* b) {
  return _mm256_inserti128_si256(
      _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a))),
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(b)), 1);
}
struct LoadBF16 {
  using E = uint16_t;
  static constexpr E kNegZero = 0x8000;
  static __m512 load2(const uint16_t* a, const uint16_t* b) {
    // bf16 -> f32 is a 16-bit left shift of the bits.
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(load_halves(a, b)), 16));
  }
};
struct LoadF16 {
  using E = uint16_t;
  static constexpr E kNegZero = 0x8000;
  static __m512 load2(const uint16_t* a, const uint16_t* b) {
    return _mm512_cvtph_ps(load_halves(a, b));
  }
};

// The last r < 8 weights of rows a and b, padded with -0.
template <class L>
inline __m512 load2_tail(const typename L::E* a, const typename L::E* b, size_t r) {
  typename L::E ba[8], bb[8];
  for (size_t i = 0; i < 8; ++i) {
    ba[i] = i < r ? a[i] : L::kNegZero;
    bb[i] = i < r ? b[i] : L::kNegZero;
  }
  return L::load2(ba, bb);
}

// x[k..k+8) in both halves; the masked form reads only the first r floats.
inline __m512 bcast_x(const float* p) { return _mm512_broadcast_f32x8(_mm256_loadu_ps(p)); }
inline __m512 bcast_x_tail(const float* p, size_t r) {
  return _mm512_broadcast_f32x8(_mm256_maskz_loadu_ps(__mmask8((1u << r) - 1), p));
}

// Four pair accumulators (rows 2p, 2p+1 for p = 0..3) -> the 8 sums in row
// order, each half reduced with the reference tree:
//   level 1: a_l + a_{l+4}; level 2: (l0 + l2), (l1 + l3); level 3: their sum.
// Additions are commutative bit for bit, so lane placement is free.
inline __m256 reduce4(__m512 a, __m512 b, __m512 c, __m512 d) {
  // 128-bit chunks: A = [r0 l0-3, r0 l4-7, r1 l0-3, r1 l4-7].
  __m512 s1 = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x88), _mm512_shuffle_f32x4(a, b, 0xDD));
  __m512 s2 = _mm512_add_ps(_mm512_shuffle_f32x4(c, d, 0x88), _mm512_shuffle_f32x4(c, d, 0xDD));
  // s1 chunks: rows (a0, a1, b0, b1), 4 level-1 lanes each; s2: (c0, c1, d0, d1).
  __m512d p1 = _mm512_castps_pd(s1), p2 = _mm512_castps_pd(s2);
  __m512 t = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(p1, p2)),
                           _mm512_castpd_ps(_mm512_unpackhi_pd(p1, p2)));
  // t chunk c: [s1 (l0+l2), s1 (l1+l3), s2 (l0+l2), s2 (l1+l3)].
  __m512 u = _mm512_add_ps(t, _mm512_permute_ps(t, 0xB1));
  // u chunk c: lane 0 = s1 row c, lane 2 = s2 row c.
  const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 2, 6, 10, 14, 0, 0, 0, 0, 0, 0, 0, 0);
  return _mm512_castps512_ps256(_mm512_permutexvar_ps(idx, u));
}

// Stores the 8 outputs of one x row from 4 pair accumulators: y[j] for j < n_ok.
inline void store8(__m512 a, __m512 b, __m512 c, __m512 d, float* y, const float* bias,
                   size_t n_ok) {
  __m256 s = reduce4(a, b, c, d);
  if (n_ok == 8) {
    // With no bias, s + 0 would turn a -0 sum into +0: skip the add.
    _mm256_storeu_ps(y, bias ? _mm256_add_ps(s, _mm256_loadu_ps(bias)) : s);
    return;
  }
  alignas(32) float tmp[8];
  _mm256_store_ps(tmp, s);
  for (size_t j = 0; j < n_ok; ++j) y[j] = bias ? tmp[j] + bias[j] : tmp[j];
}

// Where a tile's sums go.
struct Out {
  float* y = nullptr;  // y[i * ldy + j], j < n_ok
  size_t ldy = 0;
  const float* bias = nullptr;
  size_t n_ok = 0;
};

// ---- direct path: M <= 4 -------------------------------------------------

// Row pairs per tile for M = 1..4 (MR * NP accumulators + MR x + 1 w <= 32 zmm),
// a multiple of 4 for reduce4.
template <int MR>
constexpr int kDirectNP = MR <= 3 ? 8 : 4;

// MR x rows against 2*NP weight rows (wa[j], wb[j]: pair j) over all of K.
// (Software prefetch of the next tile measured no better than the hardware
// prefetcher here: 31 vs 33 ms for the 272 MB lm_head on one core.)
template <int MR, int NP, class L>
inline void direct_tile(const float* const* xr, const typename L::E* const* wa,
                        const typename L::E* const* wb, size_t K, const Out& o) {
  const size_t K8 = K & ~size_t(7), tail = K - K8;
  __m512 acc[MR][NP];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NP; ++j) acc[i][j] = _mm512_setzero_ps();
  for (size_t k = 0; k < K8; k += 8) {
    __m512 xv[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) xv[i] = bcast_x(xr[i] + k);
#pragma GCC unroll 8
    for (int j = 0; j < NP; ++j) {
      __m512 wv = L::load2(wa[j] + k, wb[j] + k);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) acc[i][j] = _mm512_fmadd_ps(xv[i], wv, acc[i][j]);
    }
  }
  if (tail) {
    __m512 xv[MR];
    for (int i = 0; i < MR; ++i) xv[i] = bcast_x_tail(xr[i] + K8, tail);
    for (int j = 0; j < NP; ++j) {
      __m512 wv = load2_tail<L>(wa[j] + K8, wb[j] + K8, tail);
      for (int i = 0; i < MR; ++i) acc[i][j] = _mm512_fmadd_ps(xv[i], wv, acc[i][j]);
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NP; j += 4) {
      if (size_t(2 * j) >= o.n_ok) break;
      store8(acc[i][j], acc[i][j + 1], acc[i][j + 2], acc[i][j + 3], o.y + i * o.ldy + 2 * j,
             o.bias ? o.bias + 2 * j : nullptr, std::min<size_t>(8, o.n_ok - 2 * j));
    }
}

template <int MR, class L>
void direct_range(const float* x, size_t ldx, const Weight& w, const int32_t* rows, size_t nb,
                  size_t ne, const float* bias, float* y, size_t ldy) {
  constexpr int NP = kDirectNP<MR>, NR = 2 * NP;
  using E = typename L::E;
  const float* xr[MR];
  for (int i = 0; i < MR; ++i) xr[i] = x + i * ldx;
  for (size_t n = nb; n < ne; n += NR) {
    const size_t n_ok = std::min<size_t>(NR, ne - n);
    const E *wa[NP], *wb[NP];
    // Past the end, repeat the last row: computed, never stored.
    for (int j = 0; j < NP; ++j) {
      wa[j] = static_cast<const E*>(row_ptr(w, rows, n + std::min<size_t>(2 * j, n_ok - 1)));
      wb[j] = static_cast<const E*>(row_ptr(w, rows, n + std::min<size_t>(2 * j + 1, n_ok - 1)));
    }
    Out o{y + n, ldy, bias ? bias + n : nullptr, n_ok};
    direct_tile<MR, NP, L>(xr, wa, wb, w.cols, o);
  }
}

// ---- panel path: M > 4 ---------------------------------------------------

constexpr int kMR = 6, kNP = 4;  // register tile: 6 x rows x 4 row pairs = 24 accumulators
// Block sizes (measured on Sapphire Rapids, 48 KB L1d / 2 MB L2; flat within a
// few % nearby): Nc weight rows are converted per block (an f32 pair panel of
// Nc * K * 4 bytes, in L2), Mc x rows share it, and K runs in blocks of about
// kKc when longer than kKcMax so a 4-pair panel tile (64 * Kc bytes) stays in L1.
constexpr size_t kNc = 64;
constexpr size_t kMc = 48;
constexpr size_t kKcMax = 1280;
constexpr size_t kKc = 640;
// x rows per pass over the weights (see matmul_impl): about 1 MB of x, at
// least 240 rows (fewer re-reads the weights from DRAM too often: -15% on
// down_proj at 48 or 96 rows).
constexpr size_t kXBlockBytes = size_t(1) << 20;
constexpr size_t kMinXBlockRows = 240;
constexpr size_t kStLd = kNc / 2;  // saved accumulators: [kMc][kNc / 2] of 16 floats

// Where a panel tile's accumulators come from and go to.
struct PanelIO {
  float* st = nullptr;  // saved accumulators: (i, j) at st + (i * kStLd + j) * 16
  bool resume = false;  // start from st instead of zero
  bool last = true;     // reduce and store to `o` (else save to st)
  Out o;
};

// Cache lines of the raw rows the next first pass will read, for a tile to
// prefetch into L2 spread over its K loop: line i is row i % 8, line i / 8.
// Every tile over a panel tile takes its share, so the reads trickle in at
// the rate the FMAs go (all of them in the first pass alone stalled on the
// line fill buffers).
struct Prefetch {
  const char* const* rows = nullptr;  // 8 row pointers at the K start; null: none
  size_t line0 = 0, line1 = 0;        // this tile's lines
};

// The register tile: MR x rows against 4 pair streams over the 8-blocks
// [b0, b1) of K; the last block is the x tail when x_tail > 0.
//   pw[j]: pair j of the f32 panel ([nb8][16]).
//   kFirst: the pairs' raw rows are ra[j], rb[j]; convert them while
//   computing and store them to pw[j] for the later tiles. Fusing the
//   conversion into the first pass, plus the prefetch above, lets the DRAM
//   reads overlap FMA work (a separate conversion pass was memory-stall
//   bound: 63 ms vs 48 ms for the M = 16 lm_head on one core).
//   pf: this tile's share of the next panel's lines to prefetch.
template <int MR, bool kFirst, class L>
void panel_tile(const float* const* xr, float* const* pw, const typename L::E* const* ra,
                const typename L::E* const* rb, size_t b0, size_t b1, size_t x_tail,
                const PanelIO& io, const Prefetch& pf) {
  __m512 acc[MR][kNP];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < kNP; ++j)
      acc[i][j] = io.resume ? _mm512_load_ps(io.st + (i * kStLd + j) * 16) : _mm512_setzero_ps();
  const size_t bf = x_tail ? b1 - 1 : b1;  // blocks with a full 8 x values
  size_t line = pf.line0;
  const size_t per_step = pf.rows && bf > b0 ? (pf.line1 - pf.line0 + (bf - b0) - 1) / (bf - b0) : 0;
  for (size_t b = b0; b < bf; ++b) {
    for (size_t e = std::min(pf.line1, line + per_step); line < e; ++line)
      _mm_prefetch(pf.rows[line % 8] + line / 8 * 64, _MM_HINT_T1);
    __m512 wv[kNP];
#pragma GCC unroll 4
    for (int j = 0; j < kNP; ++j) {
      if constexpr (kFirst) {
        wv[j] = L::load2(ra[j] + 8 * b, rb[j] + 8 * b);
        _mm512_store_ps(pw[j] + b * 16, wv[j]);
      } else {
        wv[j] = _mm512_load_ps(pw[j] + b * 16);
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      __m512 xv = bcast_x(xr[i] + b * 8);
#pragma GCC unroll 4
      for (int j = 0; j < kNP; ++j) acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
    }
  }
  if (x_tail) {
    __m512 wv[kNP];
    for (int j = 0; j < kNP; ++j) {
      if constexpr (kFirst) {
        wv[j] = load2_tail<L>(ra[j] + 8 * bf, rb[j] + 8 * bf, x_tail);
        _mm512_store_ps(pw[j] + bf * 16, wv[j]);
      } else {
        wv[j] = _mm512_load_ps(pw[j] + bf * 16);
      }
    }
    for (int i = 0; i < MR; ++i) {
      __m512 xv = bcast_x_tail(xr[i] + bf * 8, x_tail);
      for (int j = 0; j < kNP; ++j) acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
    }
  }
  if (!io.last) {
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < kNP; ++j) _mm512_store_ps(io.st + (i * kStLd + j) * 16, acc[i][j]);
    return;
  }
  for (int i = 0; i < MR; ++i)
    store8(acc[i][0], acc[i][1], acc[i][2], acc[i][3], io.o.y + i * io.o.ldy, io.o.bias, io.o.n_ok);
}

template <bool kFirst, class L>
void panel_tile_mr(size_t mr, const float* const* xr, float* const* pw,
                   const typename L::E* const* ra, const typename L::E* const* rb, size_t b0,
                   size_t b1, size_t x_tail, const PanelIO& io, const Prefetch& pf) {
  switch (mr) {
    case 6: return panel_tile<6, kFirst, L>(xr, pw, ra, rb, b0, b1, x_tail, io, pf);
    case 5: return panel_tile<5, kFirst, L>(xr, pw, ra, rb, b0, b1, x_tail, io, pf);
    case 4: return panel_tile<4, kFirst, L>(xr, pw, ra, rb, b0, b1, x_tail, io, pf);
    case 3: return panel_tile<3, kFirst, L>(xr, pw, ra, rb, b0, b1, x_tail, io, pf);
    case 2: return panel_tile<2, kFirst, L>(xr, pw, ra, rb, b0, b1, x_tail, io, pf);
    default: return panel_tile<1, kFirst, L>(xr, pw, ra, rb, b0, b1, x_tail, io, pf);
  }
}

// Rows [nb, ne) of y: blocks of Nc weight rows; within one, blocks of Mc x
// rows and K blocks; within those, 4-pair tiles over 6-row tiles. The first
// x tile of the first M block converts each 4-pair tile into the panel.
template <class L>
void panel_range(const float* x, size_t ldx, size_t M, const Weight& w, const int32_t* rows,
                 size_t nb, size_t ne, const float* bias, float* y, size_t ldy) {
  using E = typename L::E;
  static thread_local Scratch panel_buf, state_buf;
  const size_t K = w.cols, tail = K % 8, nb8 = (K + 7) / 8;
  // K blocks, in 8-blocks: one when short, else about kKc / 8 each.
  const size_t n_kb = K <= kKcMax ? 1 : (K + kKc - 1) / kKc;
  const size_t kc8 = (nb8 + n_kb - 1) / n_kb;
  // (Fewer weight rows per block for long K, to fit panel and x block in L2
  // together, measured slower: x is then re-read from L3 more often.)
  const size_t Nc = kNc;
  float* panel = panel_buf.floats(Nc / 2 * nb8 * 16);
  float* state = n_kb == 1 ? nullptr : state_buf.floats(kMc * kNc * 8);
  for (size_t n0 = nb; n0 < ne; n0 += Nc) {
    const size_t nc = std::min(Nc, ne - n0), np = (nc + 1) / 2;
    for (size_t m0 = 0; m0 < M; m0 += kMc) {
      const size_t mc = std::min(kMc, M - m0);
      for (size_t kb = 0; kb < n_kb; ++kb) {
        const size_t b0 = kb * kc8, b1 = std::min(nb8, b0 + kc8);
        const bool last = b1 == nb8;
        for (size_t j = 0; j < np; j += kNP) {
          float* pw[kNP];
          const E *ra[kNP], *rb[kNP];
          // Past the last pair, repeat it (an odd nc repeats its last row):
          // computed, never stored.
          for (int c = 0; c < kNP; ++c) {
            const size_t p = std::min(j + c, np - 1);
            pw[c] = panel + p * nb8 * 16;
            ra[c] = static_cast<const E*>(row_ptr(w, rows, n0 + 2 * p));
            rb[c] = static_cast<const E*>(row_ptr(w, rows, n0 + std::min(2 * p + 1, nc - 1)));
          }
          // The rows the next first pass reads: the next 4 pairs of this
          // block (same K range), else the next K block's first 4 pairs, else
          // the next Nc block's; prefetched by this panel tile's M = 0 block.
          const char* next[8];
          Prefetch pf;
          const size_t n_tiles = (mc + kMR - 1) / kMR;
          size_t nn = n0 + 2 * (j + kNP), nk = b0;
          if (j + kNP >= np) nn = kb + 1 < n_kb ? n0 : n0 + nc, nk = kb + 1 < n_kb ? b1 : 0;
          if (m0 == 0 && nn < ne) {
            const size_t nk1 = std::min(nb8, nk + kc8);
            for (size_t r = 0; r < 8; ++r)
              next[r] = static_cast<const char*>(row_ptr(w, rows, std::min(nn + r, ne - 1))) +
                        nk * 8 * sizeof(E);
            pf.rows = next;
            pf.line1 = 8 * (((nk1 - nk) * 8 * sizeof(E) + 63) / 64);  // all lines, split below
          }
          const size_t lines = pf.line1;
          for (size_t i = 0, t = 0; i < mc; i += kMR, ++t) {
            const size_t mr = std::min<size_t>(kMR, mc - i);
            pf.line0 = lines * t / n_tiles;
            pf.line1 = lines * (t + 1) / n_tiles;
            const float* xr[kMR];
            for (size_t r = 0; r < mr; ++r) xr[r] = x + (m0 + i + r) * ldx;
            PanelIO io;
            io.st = state ? state + (i * kStLd + j) * 16 : nullptr;
            io.resume = kb > 0;
            io.last = last;
            io.o = Out{y + (m0 + i) * ldy + n0 + 2 * j, ldy, bias ? bias + n0 + 2 * j : nullptr,
                       std::min<size_t>(8, nc - 2 * j)};
            const size_t xt = last ? tail : 0;
            if (m0 == 0 && i == 0)
              panel_tile_mr<true, L>(mr, xr, pw, ra, rb, b0, b1, xt, io, pf);
            else
              panel_tile_mr<false, L>(mr, xr, pw, ra, rb, b0, b1, xt, io, pf);
          }
        }
      }
    }
  }
}

}  // namespace

// Grain: whole direct tiles (16 or 8 rows), whole 4-pair panel tiles (8 rows).
size_t matmul_grain(size_t M) { return M <= 4 ? 16 : 8; }

void matmul_range(const float* x, size_t ldx, size_t M, const Weight& w, const int32_t* rows,
                  size_t nb, size_t ne, const float* bias, float* y, size_t ldy) {
  if (M == 0 || nb >= ne) return;
  if (M <= 4)
    return with_loader<LoadF32, LoadBF16, LoadF16>(w.type, [&](auto l) {
      with_small_m(M, [&](auto mr) { direct_range<mr(), decltype(l)>(x, ldx, w, rows, nb, ne, bias, y, ldy); });
    });
  // Rows of x per pass over the weights: as many as fit in about 1 MB of L2
  // next to the panel, so each weight block's passes read x from L2 instead of
  // streaming all of a large batch (a 4096-token classification batch is
  // 15 MB at K = 896) from L3 once per weight block.
  const size_t ms = std::max<size_t>(kMinXBlockRows, kXBlockBytes / (w.cols * 4) / kMc * kMc);
  for (size_t m0 = 0; m0 < M; m0 += ms) {
    const float* xs = x + m0 * ldx;
    float* ys = y + m0 * ldy;
    const size_t mn = std::min(ms, M - m0);
    with_loader<LoadF32, LoadBF16, LoadF16>(w.type, [&](auto l) {
      panel_range<decltype(l)>(xs, ldx, mn, w, rows, nb, ne, bias, ys, ldy);
    });
  }
}

}  // namespace cloze::kernels::avx512
