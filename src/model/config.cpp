#include "cloze/config.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cloze/error.h"

namespace cloze {

using json = nlohmann::json;

namespace {

struct Reader {
  const json& j;
  const std::string& what;

  [[noreturn]] void fail(const std::string& field, const std::string& msg) const {
    throw Error(what + ": field '" + field + "' " + msg);
  }
  bool has(const char* k) const { return j.contains(k) && !j[k].is_null(); }
  size_t positive(const char* k) const {
    if (!has(k)) fail(k, "is missing");
    if (!j[k].is_number_integer() || j[k].get<int64_t>() <= 0)
      fail(k, "must be a positive integer, found " + j[k].dump());
    return j[k].get<size_t>();
  }
  size_t positive_or(const char* k, size_t dflt) const { return has(k) ? positive(k) : dflt; }
  double number_or(const char* k, double dflt) const {
    if (!has(k)) return dflt;
    if (!j[k].is_number() || !(j[k].get<double>() > 0)) fail(k, "must be a positive number, found " + j[k].dump());
    return j[k].get<double>();
  }
  bool boolean_or(const char* k, bool dflt) const {
    if (!has(k)) return dflt;
    if (!j[k].is_boolean()) fail(k, "must be true or false, found " + j[k].dump());
    return j[k].get<bool>();
  }
  std::vector<int32_t> ids(const char* k) const {
    std::vector<int32_t> out;
    if (!has(k)) return out;
    auto one = [&](const json& v) {
      if (!v.is_number_integer() || v.get<int64_t>() < 0) fail(k, "must be a token id or a list of ids, found " + j[k].dump());
      out.push_back(v.get<int32_t>());
    };
    if (j[k].is_array())
      for (const auto& v : j[k]) one(v);
    else
      one(j[k]);
    return out;
  }
};

}  // namespace

ModelConfig ModelConfig::from_json(std::string_view text, const std::string& what) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error(what + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object()) throw Error(what + ": must be a JSON object");
  Reader r{j, what};
  ModelConfig c;
  if (!r.has("model_type") || !j["model_type"].is_string()) r.fail("model_type", "is missing (expected qwen2, llama, qwen3 or mistral)");
  c.model_type = j["model_type"].get<std::string>();
  if (c.model_type == "qwen2") {
    c.attention_bias = true;  // Qwen2 always has q/k/v biases and no flag for it
  } else if (c.model_type == "llama" || c.model_type == "mistral") {
    c.attention_bias = r.boolean_or("attention_bias", false);
    if (r.boolean_or("mlp_bias", false)) r.fail("mlp_bias", "is true; MLP biases are not implemented");
  } else if (c.model_type == "qwen3") {
    c.attention_bias = r.boolean_or("attention_bias", false);
    c.qk_norm = true;
  } else {
    r.fail("model_type", "is '" + c.model_type + "', which cloze does not implement (supported: qwen2, llama, qwen3, mistral)");
  }

  c.vocab_size = r.positive("vocab_size");
  c.hidden_size = r.positive("hidden_size");
  c.intermediate_size = r.positive("intermediate_size");
  c.num_layers = r.positive("num_hidden_layers");
  c.num_heads = r.positive("num_attention_heads");
  c.num_kv_heads = r.positive_or("num_key_value_heads", c.num_heads);
  if (c.num_heads % c.num_kv_heads != 0)
    r.fail("num_key_value_heads", "(" + std::to_string(c.num_kv_heads) + ") must divide num_attention_heads (" +
                                      std::to_string(c.num_heads) + ")");
  if (r.has("head_dim")) {
    c.head_dim = r.positive("head_dim");
  } else {
    if (c.hidden_size % c.num_heads != 0)
      r.fail("hidden_size", "is not divisible by num_attention_heads and no head_dim is given");
    c.head_dim = c.hidden_size / c.num_heads;
  }
  if (c.head_dim % 2 != 0) r.fail("head_dim", "must be even for rotary embeddings, found " + std::to_string(c.head_dim));
  c.max_position_embeddings = r.positive_or("max_position_embeddings", 2048);
  c.rms_norm_eps = float(r.number_or("rms_norm_eps", 1e-6));
  c.rope_theta = r.number_or("rope_theta", 10000.0);
  // Qwen2Config, LlamaConfig, Qwen3Config and MistralConfig all default to untied.
  c.tie_word_embeddings = r.boolean_or("tie_word_embeddings", false);

  if (r.has("hidden_act") && j["hidden_act"] != "silu")
    r.fail("hidden_act", "is " + j["hidden_act"].dump() + "; only silu (SwiGLU) is implemented");
  if (r.has("rope_scaling")) {
    const json& rs = j["rope_scaling"];
    std::string type = rs.is_object() ? rs.value("rope_type", rs.value("type", std::string("?"))) : rs.dump();
    if (type != "default")
      r.fail("rope_scaling", "has type '" + type + "', which cloze does not implement (only unscaled RoPE)");
  }
  if (r.boolean_or("use_sliding_window", false))
    r.fail("use_sliding_window", "is true; sliding-window attention is not implemented for " + c.model_type);
  if (c.model_type == "mistral" && r.has("sliding_window")) c.sliding_window = r.positive("sliding_window");
  c.eos_token_ids = r.ids("eos_token_id");
  auto bos = r.ids("bos_token_id");
  if (!bos.empty()) c.bos_token_id = bos[0];
  return c;
}

ModelConfig ModelConfig::from_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string() + ": cannot open (is this a model directory with a config.json?)");
  std::stringstream ss;
  ss << in.rdbuf();
  return from_json(ss.str(), path.string());
}

}  // namespace cloze
