#pragma once
// One forward pass in flight: the stacked new tokens of every item, where
// they came from, and the buffers the blocks work in. The blocks
// (forward.cpp) and the head (head.cpp) each take a Pass.
#include <span>
#include <vector>

#include "cloze/model.h"
#include "model/run_state.h"
#include "model/weights.h"

namespace cloze {

struct Pass {
  const ModelConfig& c;
  const Model::Weights& w;
  ThreadPool& pool;
  ForwardScratch& a;
  std::span<const ForwardItem> items;
  std::vector<size_t> offset;  // first stacked token of each item
  size_t T = 0;                // stacked tokens
  float* x = nullptr;          // [T, hidden] the residual stream
  float* h = nullptr;          // [T, hidden] a block's normed input, then its output
};

// The stacked rows the head reads (every token of an Outputs::All item, the
// last of an Outputs::Last one, none of an Outputs::None one), in order;
// first[i]: item i's first entry in them. The head and the last layer (which
// computes only these rows) share this one rule.
std::vector<size_t> output_rows(const Pass& p, std::vector<size_t>& first);

// Final norm and lm_head at the positions the items ask for (restricted to
// opt.rows when given), final soft-capping, and the logsumexp over the whole
// vocabulary: the one numeric path from hidden states to scores.
std::vector<ForwardResult> head(Pass& p, const ForwardOptions& opt);

// v.data() with room for at least n elements (grows, never shrinks).
template <class T>
T* room(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

}  // namespace cloze
