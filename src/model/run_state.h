#pragma once
// What a RunContext owns: the thread pool and the buffers a forward pass
// reuses from call to call, so steady-state forwards do not allocate (they
// only grow, to the largest batch seen).
#include <vector>

#include "cloze/model.h"
#include "kernels/kernels.h"
#include "kernels/thread_pool.h"

namespace cloze {

struct ForwardScratch {
  std::vector<float> x, h, q, k, v, attn;  // [T, width] activations of all stacked tokens
  std::vector<float> gate, up;             // [chunk, intermediate] MLP activations
  std::vector<std::vector<float>> rope_cs; // per RoPE spec: [T, rotary_dim] cos | sin per token
  std::vector<float> xf, chunk;            // final-norm rows, a vocabulary chunk of logits
  std::vector<float> xr, hr, cs_rows;      // the last layer's read rows (forward.cpp last_layer)
  std::vector<int32_t> pos, ids;           // [T] positions, chunk row ids
  std::vector<KVSpan> spans;               // one item's K/V segments
  std::vector<kernels::KVSegment> segs;
};

struct RunContext::State {
  explicit State(size_t threads) : pool(threads) {}
  ThreadPool pool;
  ForwardScratch scratch;
};

}  // namespace cloze
