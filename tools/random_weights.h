#pragma once
// The tensors of a random-weight Qwen2 / Llama / Qwen3 / Gemma 2 / Gemma 3 /
// Phi-3 checkpoint and the
// deterministic values in them. Values depend only on (seed, tensor name,
// element index), never on thread count, shard layout or standard library.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace cloze::tools {

enum class Arch { Qwen2, Llama, Qwen3, Gemma2, Gemma3, Phi3 };
enum class OutDType { BF16, F16, F32 };

struct ModelShape {
  Arch arch = Arch::Qwen2;
  int64_t vocab = 0, hidden = 0, layers = 0, heads = 0, kv_heads = 0, inter = 0;
  int64_t head_dim = 0;        // 0: hidden / heads
  bool tied = true;
  bool attention_bias = false;  // q/k/v biases; always on for qwen2
  int64_t effective_head_dim() const { return head_dim ? head_dim : hidden / heads; }
  bool has_qkv_bias() const { return arch == Arch::Qwen2 || attention_bias; }
};

// How a tensor's elements are drawn: mean + std * z, z ~ approximately N(0, 1).
struct Init {
  double mean = 0, std = 1;
};

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;  // transformers' layout: Linear weights are [out, in]
  Init init;
  uint64_t numel() const;
};

// Scales of the draw. With std_override <= 0 matrices get gain / sqrt(fan_in)
// (so every projection keeps activations near unit scale and logits are not
// flat) and embeddings gain / sqrt(hidden) (so a tied lm_head gives logits of
// std ~ gain). RMSNorm weights are 1 + 0.1 z, biases 0.1 z.
struct InitScales {
  double gain = 1.0;
  double std_override = 0;  // > 0: every matrix and embedding uses this std
};

// Every tensor of the checkpoint, sorted by name (the order written to disk).
std::vector<TensorSpec> model_tensors(const ModelShape& s, const InitScales& scales);

size_t out_dtype_size(OutDType t);
const char* out_dtype_safetensors_name(OutDType t);  // "BF16"
const char* out_dtype_torch_name(OutDType t);        // "bfloat16"

uint16_t float_to_bf16(float f);  // round to nearest, ties to even
uint16_t float_to_f16(float f);   // round to nearest, ties to even; overflow -> inf

// Elements are generated in chunks of this many, each chunk from its own
// generator, so chunks can be filled in parallel and in any order.
constexpr uint64_t kChunkElems = uint64_t(1) << 20;

// Writes elements [chunk * kChunkElems, min(numel, (chunk + 1) * kChunkElems))
// of `t`, converted to `dtype`, little-endian, into `out`.
void fill_chunk(const TensorSpec& t, uint64_t seed, uint64_t chunk, OutDType dtype, std::byte* out);

}  // namespace cloze::tools
