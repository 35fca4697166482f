#pragma once
// Text generation: prefill the prompt once, then one token at a time against
// the KV cache, choosing each token greedily or by seeded sampling, until
// max_tokens, an end-of-sequence id or a stop string.
//
// Sampling applies, in this order (as transformers' logits warpers do):
//   temperature -> top-k -> top-p (nucleus) -> min-p,
// then draws from the softmax of what is left. Each filter renormalizes over
// the tokens the previous ones kept. The draw uses our own RNG (mt19937_64
// with an explicit 53-bit uniform conversion), so a seed gives the same tokens
// on every platform, standard library and thread count.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cloze/model.h"
#include "cloze/tokenizer.h"

namespace cloze {

struct GenerateOptions {
  size_t max_tokens = 64;
  // 0: greedy (argmax; ties go to the lowest id). > 0: sample at this temperature.
  float temperature = 0;
  size_t top_k = 0;   // 0: off. Keeps the k highest logits (and any tied with the k-th).
  float top_p = 1;    // 1: off. Keeps the smallest most-probable set with mass >= top_p (>= 1 token).
  float min_p = 0;    // 0: off. Drops tokens with probability < min_p * the top probability.
  uint64_t seed = 0;
  // Generation ends when the text contains one of these; the stop string and
  // anything after it are left out of the text. Needs a tokenizer.
  std::vector<std::string> stop{};
  // End-of-sequence ids; empty: default_eos_ids(). The EOS token ends
  // generation and is kept in `ids` but adds nothing to the text.
  std::vector<int32_t> eos_ids{};
  bool ignore_eos = false;  // run to max_tokens whatever is generated (benchmarks)
};

// One generated token, reported as soon as it is chosen.
struct TokenEvent {
  int32_t id = 0;
  size_t index = 0;  // 0 for the first generated token
  // Text that became final with this token: complete UTF-8 characters only,
  // holding back bytes of a character split across tokens and any tail that
  // might be the start of a stop string. Often empty. The concatenation of all
  // events' text is exactly GenerateResult::text. Empty without a tokenizer.
  std::string_view text;
  // Set on the last event only: "length", "eos" or "stop".
  std::string_view finish_reason;
};

// Called once per generated token; return false to end generation early
// (finish_reason "cancelled"), e.g. when a client has gone away.
using TokenCallback = std::function<bool(const TokenEvent&)>;

struct GenerateResult {
  std::vector<int32_t> ids;    // the generated ids (not the prompt)
  std::string text;            // their text, cut before a stop string; empty without a tokenizer
  std::string finish_reason;   // "length" | "eos" | "stop" | "cancelled"
  size_t prompt_tokens = 0;
};

// Throws cloze::Error naming the field when an option is out of range
// (temperature < 0, top_p not in (0, 1], min_p not in [0, 1], a stop string
// empty or not valid UTF-8).
void validate(const GenerateOptions& opt);

// End-of-sequence ids of a model: generation_config.json's eos_token_id (an
// int or a list) in the model directory when present, else config.json's,
// else the tokenizer's (tok may be null). May be empty.
std::vector<int32_t> default_eos_ids(const Model& model, const Tokenizer* tok);

// Generates up to opt.max_tokens tokens after `prompt` (at least one id).
// `tok` may be null (ids only; then opt.stop must be empty). Stops early at
// the context limit (max_position_embeddings) with finish_reason "length".
// The KV of the prompt's first `len` tokens, already computed (a server's
// prefix cache): the prefill runs only the rest. len < prompt size; the
// results are bitwise those without it.
struct GeneratePrefix {
  std::shared_ptr<const KVCache> kv;
  size_t len = 0;
};

GenerateResult generate(RunContext& ctx, const Tokenizer* tok, std::span<const int32_t> prompt,
                        const GenerateOptions& opt, const TokenCallback& on_token = {},
                        const GeneratePrefix& prefix = {});
// The same on a run context of its own (the model's default thread count).
GenerateResult generate(const Model& model, const Tokenizer* tok, std::span<const int32_t> prompt,
                        const GenerateOptions& opt, const TokenCallback& on_token = {},
                        const GeneratePrefix& prefix = {});

}  // namespace cloze
