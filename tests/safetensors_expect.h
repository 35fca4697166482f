#pragma once
// What a checkpoint in the Hugging Face layout must hold, derived from its
// config.json alone: the tensor names and shapes of Qwen2 / Llama / Qwen3
// causal LMs. Shared by the safetensors and random-model tests so both check
// the same rules.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cloze/safetensors.h"

namespace cloze::test {

inline nlohmann::json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

inline DType dtype_of_config(const nlohmann::json& cfg) {
  const std::string t = cfg.at("torch_dtype");
  return t == "bfloat16" ? DType::BF16 : t == "float16" ? DType::F16 : DType::F32;
}

// name -> shape, with the layout transformers writes (Linear weights are
// [out_features, in_features]).
inline std::map<std::string, std::vector<int64_t>> expected_tensors(const nlohmann::json& cfg) {
  const std::string arch = cfg.at("model_type");
  const int64_t vocab = cfg.at("vocab_size"), hidden = cfg.at("hidden_size");
  const int64_t layers = cfg.at("num_hidden_layers"), heads = cfg.at("num_attention_heads");
  const int64_t kv = cfg.at("num_key_value_heads"), inter = cfg.at("intermediate_size");
  const int64_t hd = cfg.contains("head_dim") ? cfg.at("head_dim").get<int64_t>() : hidden / heads;
  const bool bias = arch == "qwen2" || cfg.value("attention_bias", false);
  std::map<std::string, std::vector<int64_t>> m;
  m["model.embed_tokens.weight"] = {vocab, hidden};
  m["model.norm.weight"] = {hidden};
  if (!cfg.value("tie_word_embeddings", false)) m["lm_head.weight"] = {vocab, hidden};
  for (int64_t l = 0; l < layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    m[p + "input_layernorm.weight"] = {hidden};
    m[p + "post_attention_layernorm.weight"] = {hidden};
    if (arch == "gemma2" || arch == "gemma3_text") {
      m[p + "pre_feedforward_layernorm.weight"] = {hidden};
      m[p + "post_feedforward_layernorm.weight"] = {hidden};
    }
    if (arch == "phi3") {  // fused q|k|v and gate|up
      m[p + "self_attn.qkv_proj.weight"] = {(heads + 2 * kv) * hd, hidden};
      m[p + "mlp.gate_up_proj.weight"] = {2 * inter, hidden};
    } else {
      m[p + "mlp.gate_proj.weight"] = {inter, hidden};
      m[p + "mlp.up_proj.weight"] = {inter, hidden};
      m[p + "self_attn.q_proj.weight"] = {heads * hd, hidden};
      m[p + "self_attn.k_proj.weight"] = {kv * hd, hidden};
      m[p + "self_attn.v_proj.weight"] = {kv * hd, hidden};
    }
    m[p + "mlp.down_proj.weight"] = {hidden, inter};
    m[p + "self_attn.o_proj.weight"] = {hidden, heads * hd};
    if (bias) {
      m[p + "self_attn.q_proj.bias"] = {heads * hd};
      m[p + "self_attn.k_proj.bias"] = {kv * hd};
      m[p + "self_attn.v_proj.bias"] = {kv * hd};
    }
    if (arch == "qwen3" || arch == "gemma3_text") {
      m[p + "self_attn.q_norm.weight"] = {hd};
      m[p + "self_attn.k_norm.weight"] = {hd};
    }
  }
  return m;
}

}  // namespace cloze::test
