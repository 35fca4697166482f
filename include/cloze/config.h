#pragma once
// A model's config.json, validated once into plain data: the shape of the
// network plus an architecture spec (ArchSpec) that says, as switches and
// numbers, how this family differs from the plain Llama block. The forward
// pass reads only the spec; the family name (model_type) is looked at in
// exactly one place, where the spec is built (src/model/config.cpp).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cloze {

// RMSNorm flavour: y = x / rms(x) * w (Llama, Qwen) or * (1 + w) (Gemma).
enum class NormFlavour : uint8_t { W, OnePlusW };
// The MLP's gate activation: down(act(gate(x)) * up(x)).
enum class Activation : uint8_t { SiLU, GeluTanh };

// One set of rotary frequencies (layers may use different ones).
struct RopeSpec {
  double theta = 10000.0;
  // rope_scaling: "default" (none), "linear" (inv_freq / factor) or "llama3"
  // (per-band rescaling of the frequencies, done once at load).
  std::string scaling = "default";
  double factor = 1.0;
  double low_freq_factor = 1.0, high_freq_factor = 4.0;
  double original_max_position_embeddings = 8192;
};

struct LayerSpec {
  std::optional<size_t> window;  // sliding attention: query i sees keys i - window < j <= i
  size_t rope = 0;               // index into ArchSpec::ropes
};

struct ArchSpec {
  bool q_bias = false, k_bias = false, v_bias = false, o_bias = false;
  bool qk_norm = false;              // per-head RMSNorm on q and k before RoPE (Qwen3, Gemma 3)
  NormFlavour norm = NormFlavour::W;
  bool sandwich_norms = false;       // Gemma: norms after attention and MLP as well as before
  Activation activation = Activation::SiLU;
  float embed_scale = 1.0f;          // embedding rows are multiplied by this (Gemma: sqrt(hidden))
  float attn_scale = 0.0f;           // score = q.k * attn_scale
  float attn_softcap = 0.0f;         // score = cap * tanh(score / cap) when > 0 (Gemma 2)
  float final_softcap = 0.0f;        // logit = cap * tanh(logit / cap) when > 0 (Gemma 2/3)
  size_t rotary_dim = 0;             // leading dims of each head that RoPE rotates (<= head_dim)
  bool fused_qkv = false;            // one qkv_proj [q_dim + 2 kv_dim, hidden] (Phi-3)
  bool fused_gate_up = false;        // one gate_up_proj [2 intermediate, hidden] (Phi-3)
  std::vector<RopeSpec> ropes;       // at least one
  std::vector<LayerSpec> layers;     // one per layer
};

struct ModelConfig {
  std::string model_type;  // qwen2, qwen3, llama, mistral, gemma2, gemma3_text, phi3
  size_t vocab_size = 0;
  size_t hidden_size = 0;
  size_t intermediate_size = 0;
  size_t num_layers = 0;
  size_t num_heads = 0;
  size_t num_kv_heads = 0;
  size_t head_dim = 0;  // given, or hidden_size / num_heads
  size_t max_position_embeddings = 0;
  float rms_norm_eps = 1e-6f;
  bool tie_word_embeddings = false;
  std::vector<int32_t> eos_token_ids;
  std::optional<int32_t> bos_token_id;
  ArchSpec arch;

  size_t q_dim() const { return num_heads * head_dim; }
  size_t kv_dim() const { return num_kv_heads * head_dim; }
  // Throws cloze::Error naming the file and field on anything missing,
  // inconsistent or not implemented (unknown model_type, rope_scaling, ...).
  static ModelConfig from_file(const std::filesystem::path& config_json);
  static ModelConfig from_json(std::string_view json, const std::string& what = "config.json");
};

}  // namespace cloze
