#include "model/weights.h"

#include <cmath>
#include <numbers>

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
  Loader(const TensorStore& s, NormFlavour norm) : store_(s), norm_(norm) {}

  const TensorInfo& tensor(const std::string& name, std::vector<int64_t> shape) {
    const TensorInfo* t = store_.find(name);
    if (!t)
      throw Error(store_.dir().string() + ": checkpoint has no tensor '" + name + "' (expected shape " +
                  shape_str(shape) + "); does config.json match the weights?", Subject::tensor(name));
    if (t->shape != shape)
      throw Error(t->file + ": tensor '" + name + "' has shape " + shape_str(t->shape) + ", but config.json implies " +
                  shape_str(shape), Subject::tensor(name));
    if (t->dtype != DType::F32 && t->dtype != DType::F16 && t->dtype != DType::BF16)
      throw Error(t->file + ": tensor '" + name + "' has dtype " + std::string(dtype_name(t->dtype)) +
                  "; weights must be F32, F16 or BF16", Subject::tensor(name));
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

  // An RMSNorm weight as the kernel multiplies it: w, or 1 + w (in float32,
  // as transformers' Gemma norm computes it).
  std::vector<float> norm(const std::string& name, size_t n) {
    std::vector<float> w = vec(name, n);
    if (norm_ == NormFlavour::OnePlusW)
      for (float& x : w) x = 1.0f + x;
    return w;
  }

 private:
  static kernels::WType wtype(DType d) {
    return d == DType::F32 ? kernels::WType::F32 : d == DType::F16 ? kernels::WType::F16 : kernels::WType::BF16;
  }
  const TensorStore& store_;
  NormFlavour norm_;
};

// Rows [first, first + n) of a raw checkpoint matrix, as a view (a fused
// tensor's q / k / v or gate / up part: no copy).
kernels::Weight rows_of(const kernels::Weight& w, size_t first, size_t n) {
  const size_t elem = w.type == kernels::WType::F32 ? 4 : 2;
  return {static_cast<const char*>(w.data) + first * w.cols * elem, w.type, n, w.cols};
}

void load_attention(Loader& ld, const ModelConfig& c, const std::string& p, LayerWeights& L) {
  const ArchSpec& a = c.arch;
  const size_t H = c.hidden_size, Q = c.q_dim(), KV = c.kv_dim();
  if (a.fused_qkv) {  // [q | k | v] rows in one tensor
    const kernels::Weight qkv = ld.matrix(p + "self_attn.qkv_proj.weight", Q + 2 * KV, H);
    L.q = kernels::prepare_weight(rows_of(qkv, 0, Q));
    L.k = kernels::prepare_weight(rows_of(qkv, Q, KV));
    L.v = kernels::prepare_weight(rows_of(qkv, Q + KV, KV));
  } else {
    L.q = kernels::prepare_weight(ld.matrix(p + "self_attn.q_proj.weight", Q, H));
    L.k = kernels::prepare_weight(ld.matrix(p + "self_attn.k_proj.weight", KV, H));
    L.v = kernels::prepare_weight(ld.matrix(p + "self_attn.v_proj.weight", KV, H));
  }
  L.o = kernels::prepare_weight(ld.matrix(p + "self_attn.o_proj.weight", H, Q));
  if (a.q_bias) L.q_bias = ld.vec(p + "self_attn.q_proj.bias", Q);
  if (a.k_bias) L.k_bias = ld.vec(p + "self_attn.k_proj.bias", KV);
  if (a.v_bias) L.v_bias = ld.vec(p + "self_attn.v_proj.bias", KV);
  if (a.o_bias) L.o_bias = ld.vec(p + "self_attn.o_proj.bias", H);
  if (a.qk_norm) {
    L.q_norm = ld.norm(p + "self_attn.q_norm.weight", c.head_dim);
    L.k_norm = ld.norm(p + "self_attn.k_norm.weight", c.head_dim);
  }
}

void load_mlp(Loader& ld, const ModelConfig& c, const std::string& p, LayerWeights& L) {
  const size_t H = c.hidden_size, I = c.intermediate_size;
  if (c.arch.fused_gate_up) {  // [gate | up] rows in one tensor
    const kernels::Weight gu = ld.matrix(p + "mlp.gate_up_proj.weight", 2 * I, H);
    L.gate = kernels::prepare_weight(rows_of(gu, 0, I));
    L.up = kernels::prepare_weight(rows_of(gu, I, I));
  } else {
    L.gate = kernels::prepare_weight(ld.matrix(p + "mlp.gate_proj.weight", I, H));
    L.up = kernels::prepare_weight(ld.matrix(p + "mlp.up_proj.weight", I, H));
  }
  L.down = kernels::prepare_weight(ld.matrix(p + "mlp.down_proj.weight", H, I));
}

}  // namespace

std::vector<float> rope_inv_freq(const RopeSpec& s, size_t dim) {
  std::vector<float> inv(dim / 2);
  // 1 / theta^(2i / dim) in float32, as transformers' default RoPE.
  for (size_t i = 0; i < inv.size(); ++i) inv[i] = 1.0f / std::pow(float(s.theta), float(2 * i) / float(dim));
  const float factor = float(s.factor);
  if (s.scaling == "linear")
    for (float& f : inv) f = f / factor;
  if (s.scaling == "llama3") {
    // Long wavelengths slow down by `factor`, short ones stay, and the band
    // between is interpolated (transformers' _compute_llama3_parameters).
    const float orig = float(s.original_max_position_embeddings);
    const float lo = float(s.low_freq_factor), hi = float(s.high_freq_factor);
    const float lo_wl = orig / lo, hi_wl = orig / hi;
    for (float& f : inv) {
      const float wl = float(2 * std::numbers::pi) / f;
      if (wl > lo_wl) {
        f = f / factor;
      } else if (!(wl < hi_wl)) {
        const float smooth = (orig / wl - lo) / (hi - lo);
        f = (1 - smooth) * f / factor + smooth * f;
      }
    }
  }
  return inv;
}

std::unique_ptr<Model::Weights> load_weights(const ModelConfig& c, TensorStore store) {
  auto w = std::make_unique<Model::Weights>(std::move(store));
  const ArchSpec& a = c.arch;
  Loader ld(w->store, a.norm);
  const size_t H = c.hidden_size;
  w->embed = ld.matrix("model.embed_tokens.weight", c.vocab_size, H);
  w->lm_head = kernels::prepare_weight(c.tie_word_embeddings ? w->embed
                                                             : ld.matrix("lm_head.weight", c.vocab_size, H));
  w->final_norm = ld.norm("model.norm.weight", H);
  for (size_t l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    LayerWeights L;
    L.attn_in_norm = ld.norm(p + "input_layernorm.weight", H);
    if (a.sandwich_norms) {  // Gemma: post_attention_layernorm normalises the attention output
      L.attn_out_norm = ld.norm(p + "post_attention_layernorm.weight", H);
      L.mlp_in_norm = ld.norm(p + "pre_feedforward_layernorm.weight", H);
      L.mlp_out_norm = ld.norm(p + "post_feedforward_layernorm.weight", H);
    } else {
      L.mlp_in_norm = ld.norm(p + "post_attention_layernorm.weight", H);
    }
    load_attention(ld, c, p, L);
    load_mlp(ld, c, p, L);
    w->layers.push_back(std::move(L));
  }
  for (const RopeSpec& r : a.ropes) w->inv_freq.push_back(rope_inv_freq(r, a.rotary_dim));
  return w;
}

}  // namespace cloze
