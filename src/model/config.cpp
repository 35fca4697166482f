// config.json -> ModelConfig. The shape fields are common to every family;
// each family then states, in one small function of the table below, how it
// departs from the plain Llama block. This file is the only place that looks
// at model_type: everything downstream reads ModelConfig::arch.
#include "cloze/config.h"

#include <cmath>
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
    throw Error(what + ": field '" + field + "' " + msg, Subject::field(field));
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
  // A key whose absence means `dflt` and whose null means "off" (0).
  double number_or_null(const char* k, double dflt) const {
    if (!j.contains(k)) return dflt;
    return j[k].is_null() ? 0.0 : number_or(k, dflt);
  }
  bool boolean_or(const char* k, bool dflt) const {
    if (!has(k)) return dflt;
    if (!j[k].is_boolean()) fail(k, "must be true or false, found " + j[k].dump());
    return j[k].get<bool>();
  }
  std::string string_or(const char* k, const std::string& dflt) const {
    if (!has(k)) return dflt;
    if (!j[k].is_string()) fail(k, "must be a string, found " + j[k].dump());
    return j[k].get<std::string>();
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

// rope_scaling: none, "linear" or "llama3"; anything else is named and refused.
RopeSpec read_rope(const Reader& r, double theta) {
  RopeSpec s;
  s.theta = theta;
  if (!r.has("rope_scaling")) return s;
  const json& rs = r.j["rope_scaling"];
  if (!rs.is_object()) r.fail("rope_scaling", "must be an object or null, found " + rs.dump());
  Reader sub{rs, r.what};
  s.scaling = sub.string_or("rope_type", sub.string_or("type", "?"));
  if (s.scaling == "default") return s;
  if (s.scaling != "linear" && s.scaling != "llama3")
    r.fail("rope_scaling", "has type '" + s.scaling +
                               "', which cloze does not implement (implemented: default, linear, llama3)");
  auto need = [&](const char* k) {
    if (!sub.has(k)) r.fail(std::string("rope_scaling.") + k, "is missing (needed by rope_type '" + s.scaling + "')");
    if (!rs[k].is_number() || !(rs[k].get<double>() > 0))
      r.fail(std::string("rope_scaling.") + k, "must be a positive number, found " + rs[k].dump());
    return rs[k].get<double>();
  };
  s.factor = need("factor");
  if (s.scaling == "llama3") {
    s.low_freq_factor = need("low_freq_factor");
    s.high_freq_factor = need("high_freq_factor");
    s.original_max_position_embeddings = need("original_max_position_embeddings");
    if (!(s.high_freq_factor > s.low_freq_factor))
      r.fail("rope_scaling.high_freq_factor", "must exceed low_freq_factor");
  }
  return s;
}

void require_act(const Reader& r, const char* key, const std::string& want) {
  if (r.has(key) && r.j[key] != want)
    r.fail(key, "is " + r.j[key].dump() + "; only " + want + " is implemented for this family");
}

void windows_from(ModelConfig& c, size_t window, auto is_sliding) {
  for (size_t l = 0; l < c.num_layers; ++l)
    if (is_sliding(l)) c.arch.layers[l].window = window;
}

// --- the families: how each departs from Llama (plain norms, SiLU, one RoPE) ---

void llama(const Reader& r, ModelConfig& c) {
  const bool bias = r.boolean_or("attention_bias", false);
  c.arch.q_bias = c.arch.k_bias = c.arch.v_bias = c.arch.o_bias = bias;
  if (r.boolean_or("mlp_bias", false)) r.fail("mlp_bias", "is true; MLP biases are not implemented");
  require_act(r, "hidden_act", "silu");
}

void mistral(const Reader& r, ModelConfig& c) {
  llama(r, c);
  if (r.has("sliding_window")) windows_from(c, r.positive("sliding_window"), [](size_t) { return true; });
}

// Qwen2/Qwen3: with use_sliding_window, layers from max_window_layers on slide.
void qwen_windows(const Reader& r, ModelConfig& c) {
  if (!r.boolean_or("use_sliding_window", false) || !r.has("sliding_window")) return;
  const size_t first = r.has("max_window_layers") ? r.positive("max_window_layers") : 28;
  windows_from(c, r.positive("sliding_window"), [&](size_t l) { return l >= first; });
}

void qwen2(const Reader& r, ModelConfig& c) {
  c.arch.q_bias = c.arch.k_bias = c.arch.v_bias = true;  // always, with no flag for it
  require_act(r, "hidden_act", "silu");
  qwen_windows(r, c);
}

void qwen3(const Reader& r, ModelConfig& c) {
  llama(r, c);
  c.arch.qk_norm = true;
  qwen_windows(r, c);
}

void phi3(const Reader& r, ModelConfig& c) {
  require_act(r, "hidden_act", "silu");
  c.arch.fused_qkv = c.arch.fused_gate_up = true;
  const double f = r.number_or("partial_rotary_factor", 1.0);
  c.arch.rotary_dim = size_t(double(c.head_dim) * f);
  if (f > 1.0 || c.arch.rotary_dim == 0 || c.arch.rotary_dim % 2)
    r.fail("partial_rotary_factor", "gives " + std::to_string(c.arch.rotary_dim) +
                                        " rotated dims of head_dim " + std::to_string(c.head_dim) +
                                        "; it must be a positive even number");
  if (r.has("sliding_window")) windows_from(c, r.positive("sliding_window"), [](size_t) { return true; });
}

// Gemma 2 and 3 share the block: (1+w) norms before and after attention and
// MLP, tanh-GELU gating, sqrt(hidden) embedding scale, query_pre_attn_scalar.
void gemma_common(const Reader& r, ModelConfig& c) {
  const bool bias = r.boolean_or("attention_bias", false);
  c.arch.q_bias = c.arch.k_bias = c.arch.v_bias = c.arch.o_bias = bias;
  c.arch.norm = NormFlavour::OnePlusW;
  c.arch.sandwich_norms = true;
  c.arch.activation = Activation::GeluTanh;
  // hidden_activation is the key the modeling code reads.
  require_act(r, r.has("hidden_activation") ? "hidden_activation" : "hidden_act", "gelu_pytorch_tanh");
  // transformers multiplies by sqrt(hidden) held as a float32 tensor.
  c.arch.embed_scale = float(std::sqrt(double(c.hidden_size)));
  c.arch.attn_scale = float(std::pow(r.number_or("query_pre_attn_scalar", 256.0), -0.5));
}

void gemma2(const Reader& r, ModelConfig& c) {
  gemma_common(r, c);
  c.arch.attn_softcap = float(r.number_or_null("attn_logit_softcapping", 50.0));
  c.arch.final_softcap = float(r.number_or_null("final_logit_softcapping", 30.0));
  // Even layers slide, odd layers are global (no config key for the rule).
  windows_from(c, r.positive_or("sliding_window", 4096), [](size_t l) { return l % 2 == 0; });
}

void gemma3_text(const Reader& r, ModelConfig& c) {
  gemma_common(r, c);
  c.arch.qk_norm = true;
  // transformers' Gemma 3 never applies attn_logit_softcapping; the final cap it does.
  c.arch.final_softcap = float(r.number_or_null("final_logit_softcapping", 0.0));
  const size_t window = r.positive_or("sliding_window", 4096);
  std::vector<bool> sliding(c.num_layers);
  if (r.has("layer_types")) {
    const json& t = r.j["layer_types"];
    if (!t.is_array() || t.size() != c.num_layers)
      r.fail("layer_types", "must list one type per layer (" + std::to_string(c.num_layers) + ")");
    for (size_t l = 0; l < c.num_layers; ++l) {
      if (t[l] != "sliding_attention" && t[l] != "full_attention")
        r.fail("layer_types", "has " + t[l].dump() + " (expected sliding_attention or full_attention)");
      sliding[l] = t[l] == "sliding_attention";
    }
  } else {
    const size_t pattern = r.positive_or("sliding_window_pattern", 6);
    for (size_t l = 0; l < c.num_layers; ++l) sliding[l] = (l + 1) % pattern != 0;
  }
  // Local layers rotate with their own base and no scaling: a second RoPE.
  RopeSpec local;
  local.theta = r.number_or("rope_local_base_freq", 10000.0);
  c.arch.ropes.push_back(local);
  for (size_t l = 0; l < c.num_layers; ++l)
    if (sliding[l]) c.arch.layers[l] = {window, 1};
}

struct Family {
  const char* model_type;
  bool tied_by_default;       // the transformers config class's tie_word_embeddings default
  size_t head_dim_default;    // 0: hidden_size / num_attention_heads
  double rope_theta_default;
  void (*apply)(const Reader&, ModelConfig&);
};

constexpr Family kFamilies[] = {
    {"qwen2", false, 0, 10000.0, qwen2},     {"qwen3", false, 0, 10000.0, qwen3},
    {"llama", false, 0, 10000.0, llama},     {"mistral", false, 0, 10000.0, mistral},
    {"phi3", false, 0, 10000.0, phi3},       {"gemma2", true, 256, 10000.0, gemma2},
    {"gemma3_text", true, 256, 1000000.0, gemma3_text},
};

std::string family_names() {
  std::string s;
  for (const Family& f : kFamilies) s += (s.empty() ? "" : ", ") + std::string(f.model_type);
  return s;
}

const Family& family_of(const Reader& r) {
  if (!r.has("model_type") || !r.j["model_type"].is_string())
    r.fail("model_type", "is missing (expected one of " + family_names() + ")");
  const std::string t = r.j["model_type"].get<std::string>();
  for (const Family& f : kFamilies)
    if (t == f.model_type) return f;
  r.fail("model_type", "is '" + t + "', which cloze does not implement (supported: " + family_names() + ")");
}

void read_shape(const Reader& r, const Family& f, ModelConfig& c) {
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
  } else if (f.head_dim_default) {
    c.head_dim = f.head_dim_default;
  } else {
    if (c.hidden_size % c.num_heads != 0)
      r.fail("hidden_size", "is not divisible by num_attention_heads and no head_dim is given");
    c.head_dim = c.hidden_size / c.num_heads;
  }
  if (c.head_dim % 2 != 0) r.fail("head_dim", "must be even for rotary embeddings, found " + std::to_string(c.head_dim));
  c.max_position_embeddings = r.positive_or("max_position_embeddings", 2048);
  c.rms_norm_eps = float(r.number_or("rms_norm_eps", 1e-6));
  c.tie_word_embeddings = r.boolean_or("tie_word_embeddings", f.tied_by_default);
  c.eos_token_ids = r.ids("eos_token_id");
  auto bos = r.ids("bos_token_id");
  if (!bos.empty()) c.bos_token_id = bos[0];
}

}  // namespace

ModelConfig ModelConfig::from_json(std::string_view text, const std::string& what) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error(what + ": not valid JSON (" + e.what() + ")", Subject::file(what));
  }
  if (!j.is_object()) throw Error(what + ": must be a JSON object", Subject::file(what));
  Reader r{j, what};
  const Family& f = family_of(r);
  ModelConfig c;
  c.model_type = f.model_type;
  read_shape(r, f, c);
  // The Llama defaults every family starts from.
  c.arch.attn_scale = 1.0f / std::sqrt(float(c.head_dim));
  c.arch.rotary_dim = c.head_dim;
  c.arch.ropes = {read_rope(r, r.number_or("rope_theta", f.rope_theta_default))};
  c.arch.layers.assign(c.num_layers, LayerSpec{});
  f.apply(r, c);
  return c;
}

ModelConfig ModelConfig::from_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(path.string() + ": cannot open (is this a model directory with a config.json?)",
                Subject::file(path.string()));
  std::stringstream ss;
  ss << in.rdbuf();
  return from_json(ss.str(), path.string());
}

}  // namespace cloze
