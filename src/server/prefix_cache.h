#pragma once
// Automatic prefix reuse across prompts and requests. A multiple-choice
// harness sends one context with N continuations, each as its own prompt
// (often its own request); the KV of the tokens they share is computed once
// and kept here, with each prompt's per-position scores, in an LRU bounded in
// bytes (`--prefix-cache-mb`).
//
// An entry holds a prompt's token ids, the KV of its first kv_len tokens (a
// KVCache that may sit on another entry's KV: a continuation's cache is a
// child of its context's), and, when it was scored, log p(ids[p] | ids[<p])
// and the top_n alternatives for every position. A later prompt that shares
// L leading tokens with it reuses the KV of up to L - 1 tokens and the scores
// of positions < L; only the rest runs. Results are bitwise those of a run
// from scratch (RunContext::forward is batch- and split-invariant).
//
// Parents are touched whenever a child is, so a parent is always more
// recently used than its children and eviction (from the cold end) never
// frees a parent that a cached child still needs: the byte count is the
// memory the cache really holds. Used from the model thread only.
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "cloze/model.h"
#include "server/prompt_scores.h"

namespace cloze::server {

class PrefixCache {
 public:
  struct Entry {
    std::vector<int32_t> ids;
    std::shared_ptr<const KVCache> kv;  // kv->size() == kv_len
    size_t kv_len = 0;
    std::optional<size_t> top_n;        // scored with this many alternatives; none: KV only
    PromptScores scores;                // positions 1..ids.size()-1 when scored
    size_t bytes = 0;                   // this entry's own KV and scores
  };
  struct Hit {
    const Entry* entry = nullptr;  // null: nothing shared
    size_t common = 0;             // leading tokens shared with entry->ids
  };

  PrefixCache(const Model& model, size_t max_bytes);

  // The entry sharing the longest token prefix with `ids` (at least one
  // token), among those scored with at least `need_top_n` alternatives when
  // given; touches it and its ancestors.
  Hit lookup(std::span<const int32_t> ids, std::optional<size_t> need_top_n);
  // Stores a prompt's KV (and scores); evicts the least recently used
  // entries beyond the byte bound. An entry larger than the bound is not kept.
  void insert(Entry e);

  size_t bytes() const { return bytes_; }
  size_t size() const { return lru_.size(); }
  size_t max_bytes() const { return max_bytes_; }
  static constexpr size_t kMaxEntries = 4096;
  // Tokens whose KV (and rows) came from the cache, and tokens run.
  size_t reused_tokens = 0, computed_tokens = 0;

 private:
  void touch(const KVCache* kv);
  size_t kv_token_bytes_;
  size_t max_bytes_;
  size_t bytes_ = 0;
  std::list<Entry> lru_;  // most recent first
  std::unordered_map<const KVCache*, std::list<Entry>::iterator> by_kv_;
};

// PromptScores for `ids` as score_prompt computes them, reusing and filling
// `cache` (may be null: computed from scratch, nothing kept). top_n: the
// alternatives per position; none: only the KV is wanted (no rows computed).
// kv_out, when given, receives KV of the first kv_len tokens (kv_len =
// ids.size() - 1 at least when scoring) for a generation to continue from.
struct PromptKV {
  std::shared_ptr<const KVCache> kv;
  size_t len = 0;
};
PromptScores score_prompt_cached(RunContext& ctx, std::vector<int32_t> ids, size_t top_n, PrefixCache* cache,
                                 PromptKV* kv_out = nullptr);

}  // namespace cloze::server
