#pragma once
// The model's tensors as typed views into the mapped checkpoint, checked
// against the config once at load time.
#include <vector>

#include "cloze/config.h"
#include "cloze/model.h"
#include "cloze/safetensors.h"
#include "kernels/kernels.h"
#include "kernels/thread_pool.h"

namespace cloze {

struct LayerWeights {
  std::vector<float> input_norm, post_norm;      // [hidden]
  kernels::Weight q, k, v, o;                     // [q_dim|kv_dim|kv_dim, hidden], o: [hidden, q_dim]
  std::vector<float> q_bias, k_bias, v_bias;      // [q_dim], [kv_dim], [kv_dim] or empty
  std::vector<float> o_bias;                      // [hidden] or empty
  std::vector<float> q_norm, k_norm;              // [head_dim] (Qwen3) or empty
  kernels::Weight gate, up, down;                 // [inter, hidden] x2, [hidden, inter]
};

// Buffers the forward pass reuses from call to call (Model::forward runs on
// one thread at a time), so steady-state forwards do not allocate: they only
// grow, to the largest batch seen.
struct ForwardScratch {
  std::vector<float> x, h, q, k, v, attn;  // [T, width] activations of all stacked tokens
  std::vector<float> gate, up;             // [chunk, intermediate] MLP activations
  std::vector<float> rope_cs;              // [T, head_dim] RoPE cos | sin per token
  std::vector<float> xf, chunk;            // final-norm rows, a vocabulary chunk of logits
  std::vector<int32_t> pos, ids;           // [T] positions, chunk row ids
};

struct Model::Weights {
  Weights(TensorStore s, size_t threads) : store(std::move(s)), pool(threads) {}
  TensorStore store;  // owns the mappings every view points into
  ThreadPool pool;
  kernels::Weight embed;    // [vocab, hidden], raw layout for row lookups
  kernels::Weight lm_head;  // [vocab, hidden], prepared for matmul (embed when tied)
  std::vector<float> final_norm;  // [hidden]
  std::vector<LayerWeights> layers;
  std::vector<float> inv_freq;  // [head_dim / 2] RoPE frequencies
  ForwardScratch scratch;
};

// Builds the weights of `config` from `store`; throws cloze::Error naming the
// tensor and the expected vs found shape or dtype.
std::unique_ptr<Model::Weights> load_weights(const ModelConfig& config, TensorStore store, size_t threads);

}  // namespace cloze
