#pragma once
// A model's config.json, validated once into plain data. Architecture
// differences within the Llama family are small switches here, not copies
// of the forward pass.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cloze {

struct ModelConfig {
  std::string model_type;  // qwen2, llama, qwen3, mistral
  size_t vocab_size = 0;
  size_t hidden_size = 0;
  size_t intermediate_size = 0;
  size_t num_layers = 0;
  size_t num_heads = 0;
  size_t num_kv_heads = 0;
  size_t head_dim = 0;  // given, or hidden_size / num_heads
  size_t max_position_embeddings = 0;
  float rms_norm_eps = 1e-6f;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v projections carry biases (Qwen2)
  bool qk_norm = false;         // per-head RMSNorm on q and k before RoPE (Qwen3)
  std::optional<size_t> sliding_window;  // attention window, where the model uses one
  std::vector<int32_t> eos_token_ids;
  std::optional<int32_t> bos_token_id;

  size_t q_dim() const { return num_heads * head_dim; }
  size_t kv_dim() const { return num_kv_heads * head_dim; }

  // Throws cloze::Error naming the file and field on anything missing,
  // inconsistent or not implemented (unknown model_type, rope_scaling, ...).
  static ModelConfig from_file(const std::filesystem::path& config_json);
  static ModelConfig from_json(std::string_view json, const std::string& what = "config.json");
};

}  // namespace cloze
