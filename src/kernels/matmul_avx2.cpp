// AVX2+FMA+F16C matmul: y[m, n] = sum_k x[m, k] * W[n, k] (+ bias[n]).
//   x: [M, K] f32 rows (stride ldx); W: [N, K] row-major, F32/F16/BF16 as in the
//   checkpoint (no repacking); y: [M, N] f32 (stride ldy).
//
// Exactness: every y[m, n] is computed exactly like dot_ref in kernels_ref.cpp:
// one 8-lane accumulator per (m, n), lane l takes k = l, l+8, ... with fma in
// increasing k, the K % 8 tail goes to lanes 0..r-1 (the other lanes add
// x * w = (+0) * (-0) = -0, which leaves any value unchanged), then the fixed
// tree ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)). Blocking over K only pauses an
// accumulator (its 8 lanes are saved and reloaded), so the order of operations
// on each lane never depends on M, on the tile a row lands in, or on threads.
//
// Two paths:
//  - direct (M <= 4, decode): a register tile of M rows x NR weight rows that
//    converts the weights while streaming them; memory bound, threads over N.
//  - panel (M > 4, prefill): each thread converts a block of Nc weight rows to
//    f32 once, during its first 3-row pass over them (reused by every later
//    row of x), and runs a 3x4 register tile over L1/L2-sized blocks of M, K.
// Bitwise agreement between kernel sets needs every a*b+c to round exactly as
// written: forbid the compiler from fusing it into an fma (GCC does by default,
// even for intrinsics). Must precede the includes so inlined helpers share it.
#pragma GCC optimize("fp-contract=off")
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/kernels_internal.h"
#include "kernels/scratch.h"
#include "kernels/weight_loader.h"

namespace cloze::kernels::avx2 {
namespace {

// Loaders: 8 consecutive weights -> 8 f32 lanes in order (exact conversions).
struct LoadF32 {
  using E = float;
  static constexpr E kNegZero = -0.0f;
  static __m256 load(const float* p) { return _mm256_loadu_ps(p); }
};
struct LoadBF16 {
  using E = uint16_t;
  static constexpr E kNegZero = 0x8000;
  static __m256 load(const uint16_t* p) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
};
struct LoadF16 {
  using E = uint16_t;
  static constexpr E kNegZero = 0x8000;
  static __m256 load(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
};

// The last r < 8 weights of a row, padded with -0 (see the exactness note).
template <class L>
inline __m256 load_tail(const typename L::E* p, size_t r) {
  typename L::E buf[8];
  for (size_t i = 0; i < 8; ++i) buf[i] = i < r ? p[i] : L::kNegZero;
  return L::load(buf);
}

// Lanes < r set (maskload reads nothing past the row end).
inline __m256i tail_mask(size_t r) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(r)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)), the reference's tree.
inline float tree8(__m256 a) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

// tree8 of four accumulators at once: [tree8(a), tree8(b), tree8(c), tree8(d)],
// each lane summed in exactly the reference's order.
inline __m128 tree8x4(__m256 a, __m256 b, __m256 c, __m256 d) {
  // Level 1, x_l + x_{l+4}: [a0+a4 .. a3+a7 | b0+b4 .. b3+b7], same for c, d.
  __m256 ab = _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
  __m256 cd = _mm256_add_ps(_mm256_permute2f128_ps(c, d, 0x20), _mm256_permute2f128_ps(c, d, 0x31));
  // Level 2, (x0+x4)+(x2+x6) and (x1+x5)+(x3+x7): [a, a, c, c | b, b, d, d].
  __m256d abd = _mm256_castps_pd(ab), cdd = _mm256_castps_pd(cd);
  __m256 t = _mm256_add_ps(_mm256_castpd_ps(_mm256_unpacklo_pd(abd, cdd)),
                           _mm256_castpd_ps(_mm256_unpackhi_pd(abd, cdd)));
  // Level 3, pairwise: [a, c, a, c | b, d, b, d], then reorder to [a, b, c, d].
  __m256 h = _mm256_hadd_ps(t, t);
  return _mm_unpacklo_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

constexpr size_t kPrefetchBytes = 512;

// Where a tile's partial sums come from and go to.
struct TileIO {
  float* st = nullptr;   // saved lanes: (i, j) at st + (i * st_ld + j) * 8
  size_t st_ld = 0;
  bool resume = false;   // start from st instead of zero
  float* y = nullptr;    // null: save to st; else y[i * ldy + j] for j < n_ok
  size_t ldy = 0;
  const float* bias = nullptr;  // bias[j], or null
  size_t n_ok = 0;
};

// The register tile: MR rows of x against NR weight rows over k in [k0, k1)
// (a multiple of 8 long) plus `tail` (< 8) more elements at k1.
//   xr[i]: row i of x; wr[j]: row j of W (same k origin).
//   pw (optional): also store the converted weights of [k0, k1) to pw[j] (the
//   first pass over a weight block fills the f32 panel that later passes read).
//   kStream: the raw weights come from L3/DRAM (first pass): prefetch ahead (+10-40%
//   at M=16; no measurable gain on the decode path, which leaves it off).
template <int MR, int NR, class L, bool kStore = false, bool kStream = kStore>
inline void tile(const float* const* xr, const typename L::E* const* wr, size_t k0, size_t k1,
                 size_t tail, const TileIO& io, float* const* pw = nullptr) {
  __m256 acc[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j)
      acc[i][j] = io.resume ? _mm256_loadu_ps(io.st + (i * io.st_ld + j) * 8) : _mm256_setzero_ps();
  for (size_t k = k0; k < k1; k += 8) {
    __m256 xv[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) xv[i] = _mm256_loadu_ps(xr[i] + k);
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) {
      __m256 wv = L::load(wr[j] + k);
      if constexpr (kStore) _mm256_storeu_ps(pw[j] + k, wv);
      if constexpr (kStream)
        _mm_prefetch(reinterpret_cast<const char*>(wr[j] + k) + kPrefetchBytes, _MM_HINT_T0);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) acc[i][j] = _mm256_fmadd_ps(xv[i], wv, acc[i][j]);
    }
  }
  if (tail) {
    __m256i mask = tail_mask(tail);
    __m256 xv[MR];
    for (int i = 0; i < MR; ++i) xv[i] = _mm256_maskload_ps(xr[i] + k1, mask);
    for (int j = 0; j < NR; ++j) {
      __m256 wv = load_tail<L>(wr[j] + k1, tail);
      for (int i = 0; i < MR; ++i) acc[i][j] = _mm256_fmadd_ps(xv[i], wv, acc[i][j]);
    }
  }
  if (!io.y) {
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) _mm256_storeu_ps(io.st + (i * io.st_ld + j) * 8, acc[i][j]);
    return;
  }
  if constexpr (NR == 4) {
    if (io.n_ok == 4) {  // the common case: four sums per row in one vector
      const __m128 b = io.bias ? _mm_loadu_ps(io.bias) : _mm_setzero_ps();
      for (int i = 0; i < MR; ++i) {
        __m128 s = tree8x4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
        // With no bias, s + 0 would turn a -0 sum into +0: skip the add.
        _mm_storeu_ps(io.y + i * io.ldy, io.bias ? _mm_add_ps(s, b) : s);
      }
      return;
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) {
      if (size_t(j) >= io.n_ok) break;
      float s = tree8(acc[i][j]);
      io.y[i * io.ldy + j] = io.bias ? s + io.bias[j] : s;
    }
}

// ---- direct path: M <= 4 -------------------------------------------------

// Weight rows per tile for M = 1..4: MR * NR accumulators + MR x + 1 w <= 16 ymm.
template <int MR>
constexpr int kDirectNR = MR == 1 ? 8 : MR == 2 ? 6 : MR == 3 ? 4 : 3;

template <int MR, class L>
void direct_range(const float* x, size_t ldx, const Weight& w, const int32_t* rows, size_t nb,
                  size_t ne, const float* bias, float* y, size_t ldy) {
  constexpr int NR = kDirectNR<MR>;
  using E = typename L::E;
  const size_t K = w.cols, K8 = K & ~size_t(7);
  const float* xr[MR];
  for (int i = 0; i < MR; ++i) xr[i] = x + i * ldx;
  for (size_t n = nb; n < ne; n += NR) {
    const size_t n_ok = std::min<size_t>(NR, ne - n);
    const E* wr[NR];
    // Past the end, repeat the last row: computed, never stored.
    for (int j = 0; j < NR; ++j)
      wr[j] = static_cast<const E*>(row_ptr(w, rows, n + std::min<size_t>(j, n_ok - 1)));
    TileIO io;
    io.y = y + n;
    io.ldy = ldy;
    io.bias = bias ? bias + n : nullptr;
    io.n_ok = n_ok;
    tile<MR, NR, L>(xr, wr, 0, K8, K - K8, io);
  }
}

// ---- panel path: M > 4 ---------------------------------------------------

constexpr int kMR = 3, kNR = 4;   // register tile: 12 accumulators + 3 x + 1 w
// Block sizes (measured; flat within a few % around these values):
constexpr size_t kNc = 64;        // weight rows converted per block: f32 panel, 229 KB at K=896
constexpr size_t kMc = 48;        // x rows per block; their K-slice stays in L2
constexpr size_t kKcMax = 1280;   // K up to this runs unblocked (no saved lanes)
constexpr size_t kKc = 1024;      // else K blocks of about this: a 4-row f32 w tile is 16 KB (L1)

// panel[r][K8..K) = the last K % 8 weights of row n0 + r as f32, r < nc (row
// stride K). The rest of the panel is filled by the first tile pass (kStore).
void convert_tails(const Weight& w, const int32_t* rows, size_t n0, size_t nc, float* panel) {
  const size_t K = w.cols, K8 = K & ~size_t(7);
  for (size_t r = 0; r < nc; ++r) {
    const auto* src = static_cast<const uint16_t*>(row_ptr(w, rows, n0 + r));
    for (size_t k = K8; k < K; ++k)
      panel[r * K + k] = w.type == WType::BF16 ? bf16_to_f32(src[k]) : f16_to_f32(src[k]);
  }
}

// The first 3-row pass over 4 raw weight rows: converts and stores them.
template <class L>
void first_tile(const float* const* xr, const void* const* raw, float* const* pw, size_t k0,
                size_t k1, size_t tail, const TileIO& io) {
  using E = typename L::E;
  const E* wr[kNR];
  for (int j = 0; j < kNR; ++j) wr[j] = static_cast<const E*>(raw[j]);
  tile<kMR, kNR, L, true>(xr, wr, k0, k1, tail, io, pw);
}

template <int MR>
void panel_tile(const float* const* xr, const float* const* wr, size_t k0, size_t k1, size_t tail,
                const TileIO& io) {
  tile<MR, kNR, LoadF32>(xr, wr, k0, k1, tail, io);
}

void panel_range(const float* x, size_t ldx, size_t M, const Weight& w, const int32_t* rows,
                 size_t nb, size_t ne, const float* bias, float* y, size_t ldy) {
  static thread_local Scratch panel_buf, state_buf;
  const size_t K = w.cols, K8 = K & ~size_t(7), tail = K - K8;
  const size_t n_kb = K8 <= kKcMax ? 1 : (K8 + kKc - 1) / kKc;
  const size_t kc = n_kb == 1 ? K8 : ((K8 + n_kb - 1) / n_kb + 7) & ~size_t(7);
  float* panel = w.type == WType::F32 ? nullptr : panel_buf.floats(kNc * K);
  float* state = n_kb == 1 ? nullptr : state_buf.floats(kMc * kNc * 8);
  for (size_t n0 = nb; n0 < ne; n0 += kNc) {
    const size_t nc = std::min(kNc, ne - n0);
    const float* wrow[kNc];
    const void* raw[kNc];
    if (panel) {
      convert_tails(w, rows, n0, nc, panel);
      for (size_t r = 0; r < nc; ++r) {
        wrow[r] = panel + r * K;
        raw[r] = row_ptr(w, rows, n0 + r);
      }
    } else {
      for (size_t r = 0; r < nc; ++r) wrow[r] = static_cast<const float*>(row_ptr(w, rows, n0 + r));
    }
    for (size_t m0 = 0; m0 < M; m0 += kMc) {
      const size_t mc = std::min(kMc, M - m0);
      for (size_t kb = 0; kb < n_kb; ++kb) {
        const bool last = kb + 1 == n_kb;
        const size_t k0 = kb * kc, k1 = last ? K8 : std::min(K8, k0 + kc);
        for (size_t j = 0; j < nc; j += kNR) {
          const size_t n_ok = std::min<size_t>(kNR, nc - j);
          const float* wr[kNR];
          const void* rw[kNR];
          float* pw[kNR];
          for (int c = 0; c < kNR; ++c) {
            const size_t r = j + std::min<size_t>(c, n_ok - 1);
            wr[c] = wrow[r];
            rw[c] = panel ? raw[r] : nullptr;
            pw[c] = const_cast<float*>(wrow[r]);
          }
          for (size_t i = 0; i < mc; i += kMR) {
            const size_t mr = std::min<size_t>(kMR, mc - i);
            const float* xr[kMR];
            for (size_t r = 0; r < mr; ++r) xr[r] = x + (m0 + i + r) * ldx;
            TileIO io;
            io.st = state ? state + (i * kNc + j) * 8 : nullptr;
            io.st_ld = kNc;
            io.resume = kb > 0;
            if (last) {
              io.y = y + (m0 + i) * ldy + n0 + j;
              io.ldy = ldy;
              io.bias = bias ? bias + n0 + j : nullptr;
              io.n_ok = n_ok;
            }
            const size_t t = last ? tail : 0;
            if (panel && m0 == 0 && i == 0) {  // mc >= 5 here, so mr == 3
              if (w.type == WType::BF16)
                first_tile<LoadBF16>(xr, rw, pw, k0, k1, t, io);
              else
                first_tile<LoadF16>(xr, rw, pw, k0, k1, t, io);
            } else if (mr == 3)
              panel_tile<3>(xr, wr, k0, k1, t, io);
            else if (mr == 2)
              panel_tile<2>(xr, wr, k0, k1, t, io);
            else
              panel_tile<1>(xr, wr, k0, k1, t, io);
          }
        }
      }
    }
  }
}

}  // namespace

// Grain: whole direct tiles (every width 8, 6, 4, 3 divides 24), whole
// panel tiles (4 rows).
size_t matmul_grain(size_t M) { return M <= 4 ? 24 : kNR; }

void matmul_range(const float* x, size_t ldx, size_t M, const Weight& w, const int32_t* rows,
                  size_t nb, size_t ne, const float* bias, float* y, size_t ldy) {
  if (M == 0 || nb >= ne) return;
  if (M <= 4)
    return with_loader<LoadF32, LoadBF16, LoadF16>(w.type, [&](auto l) {
      with_small_m(M, [&](auto mr) { direct_range<mr(), decltype(l)>(x, ldx, w, rows, nb, ne, bias, y, ldy); });
    });
  panel_range(x, ldx, M, w, rows, nb, ne, bias, y, ldy);
}

}  // namespace cloze::kernels::avx2
