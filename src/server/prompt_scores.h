#pragma once
// What a language model thinks of each token of a prompt: log p(token | the
// tokens before it) and the likeliest alternatives, the numbers
// lm-evaluation-harness reads from an echoed completion to score choices.
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "cloze/model.h"

namespace cloze::server {

struct PromptScores {
  std::vector<int32_t> ids;
  // logprobs[i] = log p(ids[i] | ids[0..i)); logprobs[0] is unused (no context).
  std::vector<double> logprobs;
  // top[i]: the top_n (id, log-probability) at position i, likeliest first
  // (ties: lower id first); top[0] is empty.
  std::vector<std::vector<std::pair<int32_t, double>>> top;
};

// Runs `ids` through the model (full vocabulary rows, a chunk of positions at
// a time so memory stays ~chunk x vocab floats whatever the prompt length).
// A RunContext is not thread-safe: call from the thread that owns `ctx`.
PromptScores score_prompt(RunContext& ctx, std::vector<int32_t> ids, size_t top_n);

// The core of score_prompt: runs s.ids[from .. size-1) on `cache`, which
// holds the KV of s.ids[0 .. from), and fills s.logprobs / s.top for
// positions from + 1 .. size-1 (s sized by the caller). The cache ends
// holding size-1 tokens: the last token's row would predict past the prompt.
void score_rows(RunContext& ctx, KVCache& cache, PromptScores& s, size_t from, size_t top_n);

}  // namespace cloze::server
