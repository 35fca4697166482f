// Deterministic random weights. std::normal_distribution differs between
// standard libraries and libm's log/cos may differ between platforms, so the
// normal draw is built from integer arithmetic only: the sum of four uniform
// 16-bit fields of one mt19937_64 output (Irwin-Hall, n = 4), centred and
// scaled to unit variance. It is bounded at +-3.46 sigma, which is harmless
// for random weights, and costs one generator call per element.
#include "random_weights.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <random>

namespace cloze::tools {

uint64_t TensorSpec::numel() const {
  uint64_t n = 1;
  for (auto d : shape) n *= uint64_t(d);
  return n;
}

std::vector<TensorSpec> model_tensors(const ModelShape& s, const InitScales& sc) {
  const int64_t hd = s.effective_head_dim();
  auto matrix = [&](int64_t in) {
    const double std = sc.std_override > 0 ? sc.std_override : sc.gain / std::sqrt(double(in));
    return Init{0, std};
  };
  const Init emb{0, sc.std_override > 0 ? sc.std_override : sc.gain / std::sqrt(double(s.hidden))};
  const bool gemma = s.arch == Arch::Gemma2 || s.arch == Arch::Gemma3;
  // Gemma multiplies by (1 + w): its stored norm weights sit around 0.
  const Init norm{gemma ? 0.0 : 1.0, 0.1}, bias{0, 0.1};
  std::vector<TensorSpec> v;
  auto add = [&](std::string name, std::vector<int64_t> shape, Init init) {
    v.push_back({std::move(name), std::move(shape), init});
  };
  auto linear = [&](const std::string& name, int64_t out, int64_t in) { add(name, {out, in}, matrix(in)); };
  add("model.embed_tokens.weight", {s.vocab, s.hidden}, emb);
  add("model.norm.weight", {s.hidden}, norm);
  if (!s.tied) add("lm_head.weight", {s.vocab, s.hidden}, emb);
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {s.hidden}, norm);
    add(p + "post_attention_layernorm.weight", {s.hidden}, norm);
    if (gemma) {
      add(p + "pre_feedforward_layernorm.weight", {s.hidden}, norm);
      add(p + "post_feedforward_layernorm.weight", {s.hidden}, norm);
    }
    if (s.arch == Arch::Phi3) {  // fused q|k|v and gate|up
      linear(p + "self_attn.qkv_proj.weight", (s.heads + 2 * s.kv_heads) * hd, s.hidden);
      linear(p + "mlp.gate_up_proj.weight", 2 * s.inter, s.hidden);
    } else {
      linear(p + "self_attn.q_proj.weight", s.heads * hd, s.hidden);
      linear(p + "self_attn.k_proj.weight", s.kv_heads * hd, s.hidden);
      linear(p + "self_attn.v_proj.weight", s.kv_heads * hd, s.hidden);
      linear(p + "mlp.gate_proj.weight", s.inter, s.hidden);
      linear(p + "mlp.up_proj.weight", s.inter, s.hidden);
    }
    linear(p + "self_attn.o_proj.weight", s.hidden, s.heads * hd);
    if (s.has_qkv_bias()) {
      add(p + "self_attn.q_proj.bias", {s.heads * hd}, bias);
      add(p + "self_attn.k_proj.bias", {s.kv_heads * hd}, bias);
      add(p + "self_attn.v_proj.bias", {s.kv_heads * hd}, bias);
    }
    if (s.arch == Arch::Qwen3 || s.arch == Arch::Gemma3) {
      add(p + "self_attn.q_norm.weight", {hd}, norm);
      add(p + "self_attn.k_norm.weight", {hd}, norm);
    }
    linear(p + "mlp.down_proj.weight", s.hidden, s.inter);
  }
  std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.name < b.name; });
  return v;
}

size_t out_dtype_size(OutDType t) { return t == OutDType::F32 ? 4 : 2; }

const char* out_dtype_safetensors_name(OutDType t) {
  return t == OutDType::BF16 ? "BF16" : t == OutDType::F16 ? "F16" : "F32";
}

const char* out_dtype_torch_name(OutDType t) {
  return t == OutDType::BF16 ? "bfloat16" : t == OutDType::F16 ? "float16" : "float32";
}

uint16_t float_to_bf16(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // NaN stays a (quiet) NaN
  // Adding 0x7fff plus the lowest kept bit rounds to nearest, ties to even;
  // a carry out of the mantissa correctly bumps the exponent (up to inf).
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

uint16_t float_to_f16(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | 0x7e00u;  // NaN
  if (a >= 0x477ff000u) return sign | 0x7c00u;  // rounds to >= 65520: inf
  const int32_t exp = int32_t(a >> 23) - 127;
  if (exp >= -14) {
    // Normal half: keep 10 of 23 mantissa bits, round the 13 dropped ones.
    uint32_t h = (uint32_t(exp + 15) << 10) | ((a >> 13) & 0x3ffu);
    const uint32_t rest = a & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // carry may reach the exponent: correct
    return uint16_t(sign | h);
  }
  if (exp < -25) return sign;  // below half the smallest subnormal: +-0
  // Subnormal half: value = m * 2^-24 with the implicit bit made explicit.
  const uint32_t m = (a & 0x7fffffu) | 0x800000u;
  const int shift = -exp - 1;  // 14..24: bits of m dropped to reach units of 2^-24
  uint32_t h = m >> shift;
  const uint32_t rest = m & ((1u << shift) - 1), half = 1u << (shift - 1);
  if (rest > half || (rest == half && (h & 1u))) ++h;
  return uint16_t(sign | h);
}

namespace {

// SplitMix64 finaliser: spreads nearby seeds (0, 1, 2, ...) to unrelated states.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// The element loop, specialised per dtype so the conversion is inlined and
// the per-element branch disappears (this loop is the tool's whole cost).
template <OutDType D>
void fill_range(std::mt19937_64& gen, const Init& init, uint64_t n, std::byte* out) {
  // z = ((s + 2) / 65536 - 2) * sqrt(3) for the sum s of four 16-bit fields
  // (each U(0,1) as (k + 0.5) / 65536: mean 2, variance 1/3), folded into
  // value = s * a + b. Separate statements: no fused multiply-add may change
  // the rounding between compilers.
  const double sqrt3 = 1.7320508075688772, inv = 1.0 / 65536.0;
  const double a = sqrt3 * inv * init.std;
  const double b = init.mean + (2.0 * inv - 2.0) * sqrt3 * init.std;
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t r = gen();
    const uint64_t s = (r & 0xffff) + ((r >> 16) & 0xffff) + ((r >> 32) & 0xffff) + (r >> 48);
    const double scaled = double(s) * a;
    const float v = float(scaled + b);
    if constexpr (D == OutDType::F32) {
      std::memcpy(out + 4 * i, &v, 4);
    } else {
      const uint16_t h = D == OutDType::BF16 ? float_to_bf16(v) : float_to_f16(v);
      std::memcpy(out + 2 * i, &h, 2);
    }
  }
}

}  // namespace

// safetensors is little-endian; the memcpy stores above assume the host is too.
static_assert(std::endian::native == std::endian::little, "cloze-random-model assumes a little-endian host");

void fill_chunk(const TensorSpec& t, uint64_t seed, uint64_t chunk, OutDType dtype, std::byte* out) {
  const uint64_t n = t.numel();
  const uint64_t begin = chunk * kChunkElems, end = std::min(n, begin + kChunkElems);
  // Each chunk has its own generator, seeded from (seed, tensor name, chunk).
  std::mt19937_64 gen(mix(mix(seed ^ fnv1a(t.name)) + chunk));
  switch (dtype) {
    case OutDType::BF16: return fill_range<OutDType::BF16>(gen, t.init, end - begin, out);
    case OutDType::F16: return fill_range<OutDType::F16>(gen, t.init, end - begin, out);
    case OutDType::F32: return fill_range<OutDType::F32>(gen, t.init, end - begin, out);
  }
}

}  // namespace cloze::tools
