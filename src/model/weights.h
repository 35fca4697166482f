#pragma once
// The model's tensors as typed views into the mapped checkpoint, checked
// against the config and its architecture spec once at load time. Read-only
// after load: any number of run contexts read them at once.
#include <vector>

#include "cloze/config.h"
#include "cloze/model.h"
#include "cloze/safetensors.h"
#include "kernels/kernels.h"

namespace cloze {

struct LayerWeights {
  // RMSNorm weights as multiplied in ((1 + w) already added for Gemma), [hidden] each.
  std::vector<float> attn_in_norm;   // before attention (input_layernorm)
  std::vector<float> attn_out_norm;  // on the attention output (sandwich norms only), else empty
  std::vector<float> mlp_in_norm;    // before the MLP
  std::vector<float> mlp_out_norm;   // on the MLP output (sandwich norms only), else empty
  kernels::Weight q, k, v, o;                     // [q_dim|kv_dim|kv_dim, hidden], o: [hidden, q_dim]
  std::vector<float> q_bias, k_bias, v_bias;      // [q_dim], [kv_dim], [kv_dim] or empty
  std::vector<float> o_bias;                      // [hidden] or empty
  std::vector<float> q_norm, k_norm;              // [head_dim] or empty
  kernels::Weight gate, up, down;                 // [inter, hidden] x2, [hidden, inter]
};

struct Model::Weights {
  explicit Weights(TensorStore s) : store(std::move(s)) {}
  TensorStore store;  // owns the mappings every view points into
  kernels::Weight embed;    // [vocab, hidden], raw layout for row lookups
  kernels::Weight lm_head;  // [vocab, hidden], prepared for matmul (embed when tied)
  std::vector<float> final_norm;  // [hidden]
  std::vector<LayerWeights> layers;
  std::vector<std::vector<float>> inv_freq;  // per ArchSpec::ropes: [rotary_dim / 2]
};

// Builds the weights of `config` from `store`; throws cloze::Error naming the
// tensor and the expected vs found shape or dtype.
std::unique_ptr<Model::Weights> load_weights(const ModelConfig& config, TensorStore store);

// RoPE frequencies of one spec over `dim` rotated dims, as transformers
// computes them in float32 (rope_scaling applied).  Returns [dim / 2].
std::vector<float> rope_inv_freq(const RopeSpec& spec, size_t dim);

}  // namespace cloze
