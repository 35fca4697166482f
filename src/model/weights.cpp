#include "model/weights.h"

#include <cmath>

#include "cloze/error.h"

namespace cloze {

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

class Loader {
 public:
  explicit Loader(const TensorStore& s) : store_(s) {}

  const TensorInfo& tensor(const std::string& name, std::vector<int64_t> shape) {
    const TensorInfo* t = store_.find(name);
    if (!t)
      throw Error(store_.dir().string() + ": checkpoint has no tensor '" + name + "' (expected shape " +
                  shape_str(shape) + "); does config.json match the weights?");
    if (t->shape != shape)
      throw Error(t->file + ": tensor '" + name + "' has shape " + shape_str(t->shape) + ", but config.json implies " +
                  shape_str(shape));
    if (t->dtype != DType::F32 && t->dtype != DType::F16 && t->dtype != DType::BF16)
      throw Error(t->file + ": tensor '" + name + "' has dtype " + std::string(dtype_name(t->dtype)) +
                  "; weights must be F32, F16 or BF16");
    return *t;
  }

  kernels::Weight matrix(const std::string& name, size_t rows, size_t cols) {
    const TensorInfo& t = tensor(name, {int64_t(rows), int64_t(cols)});
    return kernels::Weight{t.data, wtype(t.dtype), rows, cols};
  }

  std::vector<float> vec(const std::string& name, size_t n) {
    const TensorInfo& t = tensor(name, {int64_t(n)});
    std::vector<float> out(n);
    kernels::to_f32(t.data, wtype(t.dtype), n, out.data());
    return out;
  }

 private:
  static kernels::WType wtype(DType d) {
    return d == DType::F32 ? kernels::WType::F32 : d == DType::F16 ? kernels::WType::F16 : kernels::WType::BF16;
  }
  const TensorStore& store_;
};

}  // namespace

std::unique_ptr<Model::Weights> load_weights(const ModelConfig& c, TensorStore store, size_t threads) {
  auto w = std::make_unique<Model::Weights>(std::move(store), threads);
  Loader ld(w->store);
  const size_t H = c.hidden_size, I = c.intermediate_size, Q = c.q_dim(), KV = c.kv_dim();
  w->embed = ld.matrix("model.embed_tokens.weight", c.vocab_size, H);
  w->lm_head = kernels::prepare_weight(c.tie_word_embeddings ? w->embed
                                                             : ld.matrix("lm_head.weight", c.vocab_size, H));
  w->final_norm = ld.vec("model.norm.weight", H);
  // Qwen2 has q/k/v biases but none on o_proj; Llama and Qwen3 put the same
  // attention_bias switch on all four projections.
  const bool o_bias = c.attention_bias && c.model_type != "qwen2";
  for (size_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    LayerWeights L;
    L.input_norm = ld.vec(p + "input_layernorm.weight", H);
    L.post_norm = ld.vec(p + "post_attention_layernorm.weight", H);
    L.q = kernels::prepare_weight(ld.matrix(p + "self_attn.q_proj.weight", Q, H));
    L.k = kernels::prepare_weight(ld.matrix(p + "self_attn.k_proj.weight", KV, H));
    L.v = kernels::prepare_weight(ld.matrix(p + "self_attn.v_proj.weight", KV, H));
    L.o = kernels::prepare_weight(ld.matrix(p + "self_attn.o_proj.weight", H, Q));
    if (c.attention_bias) {
      L.q_bias = ld.vec(p + "self_attn.q_proj.bias", Q);
      L.k_bias = ld.vec(p + "self_attn.k_proj.bias", KV);
      L.v_bias = ld.vec(p + "self_attn.v_proj.bias", KV);
    }
    if (o_bias) L.o_bias = ld.vec(p + "self_attn.o_proj.bias", H);
    if (c.qk_norm) {
      L.q_norm = ld.vec(p + "self_attn.q_norm.weight", c.head_dim);
      L.k_norm = ld.vec(p + "self_attn.k_norm.weight", c.head_dim);
    }
    L.gate = kernels::prepare_weight(ld.matrix(p + "mlp.gate_proj.weight", I, H));
    L.up = kernels::prepare_weight(ld.matrix(p + "mlp.up_proj.weight", I, H));
    L.down = kernels::prepare_weight(ld.matrix(p + "mlp.down_proj.weight", H, I));
    w->layers.push_back(std::move(L));
  }
  // As transformers computes it, in float32: 1 / theta^(2i / head_dim).
  const size_t half = c.head_dim / 2;
  w->inv_freq.resize(half);
  for (size_t i = 0; i < half; ++i)
    w->inv_freq[i] = 1.0f / std::pow(float(c.rope_theta), float(2 * i) / float(c.head_dim));
  return w;
}

}  // namespace cloze
