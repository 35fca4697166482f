#pragma once
// How the matmuls treat activations (set per model: LoadOptions::precision).
#include <cstdint>
#include <optional>
#include <string_view>

namespace cloze {

enum class Precision : uint8_t {
  // float32-accurate: every product of a float32 activation and a weight is
  // exact and sums are float32 (the FMA sets, or the AMX set's bf16x3 split).
  Exact,
  // Activations rounded to bf16 before the matmuls of bf16 weights (one AMX
  // pass, what torch's bf16 autocast does): faster, not exact. Kernel sets
  // without AMX ignore it and stay exact.
  Bf16,
};

inline const char* precision_name(Precision p) { return p == Precision::Bf16 ? "bf16" : "exact"; }
inline std::optional<Precision> parse_precision(std::string_view s) {
  if (s == "exact") return Precision::Exact;
  if (s == "bf16") return Precision::Bf16;
  return std::nullopt;
}

}  // namespace cloze
