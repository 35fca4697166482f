#pragma once
// What the matmul kernel sets share about reading weights: picking a set's
// loader (its LoadF32 / LoadBF16 / LoadF16 type) from a matrix's stored
// type, so a kernel templated on the loader is written once
// (with_loader<LoadF32, LoadBF16, LoadF16>(w.type, [&](auto l) {
// tile<decltype(l)>(...); })), the same for the x-row count of decode tiles,
// and row addressing.
#include <type_traits>

#include "kernels/kernels.h"

namespace cloze::kernels {

template <class F32, class BF16, class F16, class Fn>
inline void with_loader(WType type, Fn&& fn) {
  switch (type) {
    case WType::F32: return fn(F32{});
    case WType::BF16: return fn(BF16{});
    case WType::F16: return fn(F16{});
  }
}

// Calls fn(std::integral_constant<int, M>{}) for M = 1..4 (M > 4 as 4): the
// decode tiles are templated on their number of x rows.
template <class Fn>
inline void with_small_m(size_t M, Fn&& fn) {
  switch (M) {
    case 1: return fn(std::integral_constant<int, 1>{});
    case 2: return fn(std::integral_constant<int, 2>{});
    case 3: return fn(std::integral_constant<int, 3>{});
    default: return fn(std::integral_constant<int, 4>{});
  }
}

inline size_t elem_size(WType t) { return t == WType::F32 ? 4 : 2; }

// The start of W's row n, or of row rows[n] when rows is given.
inline const void* row_ptr(const Weight& w, const int32_t* rows, size_t n) {
  const size_t r = rows ? size_t(rows[n]) : n;
  return static_cast<const char*>(w.data) + r * w.cols * elem_size(w.type);
}

}  // namespace cloze::kernels
