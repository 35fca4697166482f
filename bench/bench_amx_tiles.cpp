// The tile unit's own costs, with the AMX matmul's step shape and nothing
// else: per k step, two weight tiles and, for each of three x terms, two x
// tiles into four accumulators (12 products, as in matmul_amx.cpp's pass).
// These are the figures docs/performance.md uses to say what bounds the AMX
// set (ns per tile product, one thread; skipped without AMX):
//   - BM_AmxSteps/x_kb:24/...: operands in L1; x_kb:672: x streamed from L2,
//     as a 128-token x block is.
//   - strided:1: weight tiles read from checkpoint rows 1792 bytes apart (a
//     896-column matrix, how the kernel reads them); strided:0: from 1 KB
//     packed tiles.
//   - store_every:28: the four accumulators stored every 28 steps (a pass
//     over K = 896); store_every:0: never.
//   - w_offset:32: the weights 32 bytes past a 64-byte boundary, as in a
//     safetensors file whose data starts there: every 64-byte tile row
//     then spans two cache lines.
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/amx_tiles.h"
#include "kernels/kernels.h"

namespace {

// n random-looking bf16 values near 1 (the unit's speed depends a little on
// the data: zeros run ~10% faster), `offset` bytes past a 64-byte boundary.
struct Buffer {
  std::vector<uint16_t> mem;
  uint16_t* p;
  Buffer(size_t n, size_t offset, uint32_t seed) : mem(n + 64) {
    const uintptr_t a = (reinterpret_cast<uintptr_t>(mem.data()) + 63) & ~uintptr_t(63);
    p = reinterpret_cast<uint16_t*>(a + offset);
    for (size_t i = 0; i < n; ++i) p[i] = uint16_t(0x3c00 + (((i + seed) * 2654435761u >> 20) & 0x3ff));
  }
};

__attribute__((target("amx-tile,amx-bf16"))) void BM_AmxSteps(benchmark::State& state) {
  if (!cloze::kernels::amx_supported()) return state.SkipWithError("CPU or OS lacks AMX-BF16");
  const size_t x_bytes = size_t(state.range(0)) << 10, steps_w = 28;
  const bool strided = state.range(1) != 0;
  const size_t store_every = size_t(state.range(2)), w_offset = size_t(state.range(3));
  const size_t ld = steps_w * 64;  // bytes between weight rows (strided): 896 bf16
  Buffer xb_(x_bytes / 2, 0, 1), wb_(strided ? 32 * ld / 2 : steps_w * 1024, w_offset, 2);
  const uint16_t *x = xb_.p, *w = wb_.p;
  const size_t nx = x_bytes / 6144;  // k steps of x: [2 tiles][3 terms][512]
  alignas(64) float out[4 * 256];
  cloze::kernels::amx::TilesOn tiles_on;
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  size_t ix = 0, iw = 0;
  constexpr size_t kStepsPerIteration = 2800;
  for (auto _ : state) {
    for (size_t s = 0; s < kStepsPerIteration; ++s) {
      const uint16_t* xb = x + ix * 3072;
      const uint16_t *w0, *w1;
      size_t stride;
      if (strided) {
        w0 = w + iw * 32;
        w1 = w0 + 16 * ld / 2;
        stride = ld;
      } else {
        w0 = w + iw * 1024;
        w1 = w0 + 512;
        stride = 64;
      }
      _tile_loadd(6, xb, 64);
      _tile_loadd(4, w0, stride);
      _tile_dpbf16ps(0, 4, 6);
      _tile_loadd(5, w1, stride);
      _tile_dpbf16ps(2, 5, 6);
      _tile_loadd(7, xb + 1536, 64);
      _tile_dpbf16ps(1, 4, 7);
      _tile_dpbf16ps(3, 5, 7);
      for (int t = 1; t < 3; ++t) {
        _tile_loadd(6, xb + t * 512, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(2, 5, 6);
        _tile_loadd(7, xb + 1536 + t * 512, 64);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(3, 5, 7);
      }
      if (++ix == nx) ix = 0;
      if (++iw == steps_w) iw = 0;
      if (store_every && (s + 1) % store_every == 0) {
        _tile_stored(0, out, 64);
        _tile_stored(1, out + 256, 64);
        _tile_stored(2, out + 512, 64);
        _tile_stored(3, out + 768, 64);
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
      }
    }
  }
  _tile_stored(0, out, 64);
  benchmark::DoNotOptimize(out[0]);
  state.counters["ns/product"] = benchmark::Counter(
      double(state.iterations()) * kStepsPerIteration * 12, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_AmxSteps)
    ->ArgsProduct({{24, 672}, {0, 1}, {0, 28}, {0}})
    ->ArgsProduct({{672}, {1}, {0, 28}, {32}})
    ->ArgNames({"x_kb", "strided", "store_every", "w_offset"})
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
