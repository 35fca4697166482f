#pragma once
// The tile configuration every AMX kernel of cloze uses (palette 1, eight
// tiles of 16 rows x 64 bytes), loaded for the calling thread while a
// TilesOn is in scope. Shared by the AMX matmul and its step benchmark
// (bench/bench_amx_tiles.cpp). Call only once amx_supported() is true: that
// check also asks Linux for the tile state.
#include <immintrin.h>

#include <cstdint>

namespace cloze::kernels::amx {

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
  __attribute__((target("amx-tile"))) TilesOn() {
    TileConfig c;
    for (int i = 0; i < 8; ++i) {
      c.colsb[i] = 64;
      c.rows[i] = 16;
    }
    _tile_loadconfig(&c);
  }
  __attribute__((target("amx-tile"))) ~TilesOn() { _tile_release(); }
  TilesOn(const TilesOn&) = delete;
  TilesOn& operator=(const TilesOn&) = delete;
};

}  // namespace cloze::kernels::amx
