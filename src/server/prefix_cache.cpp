#include "server/prefix_cache.h"

#include <algorithm>

namespace cloze::server {

PrefixCache::PrefixCache(const Model& model, size_t max_bytes)
    // Keys and values, float32, every layer.
    : kv_token_bytes_(2 * model.config().num_layers * model.config().kv_dim() * sizeof(float)), max_bytes_(max_bytes) {}

void PrefixCache::touch(const KVCache* kv) {
  // Child first, then each ancestor in turn, so ancestors end up in front.
  for (const KVCache* k = kv; k; k = k->parent().get())
    if (auto it = by_kv_.find(k); it != by_kv_.end()) lru_.splice(lru_.begin(), lru_, it->second);
}

PrefixCache::Hit PrefixCache::lookup(std::span<const int32_t> ids, std::optional<size_t> need_top_n) {
  Hit best;
  for (const Entry& e : lru_) {
    if (need_top_n && (!e.top_n || *e.top_n < *need_top_n)) continue;
    const size_t n = std::min(e.ids.size(), ids.size());
    size_t i = 0;
    while (i < n && e.ids[i] == ids[i]) ++i;
    if (i > best.common) best = {&e, i};
  }
  if (best.entry) touch(best.entry->kv.get());
  return best;
}

void PrefixCache::insert(Entry e) {
  e.bytes = e.kv->own_size() * kv_token_bytes_ + e.ids.size() * (sizeof(int32_t) + sizeof(double));
  if (e.top_n) e.bytes += e.ids.size() * *e.top_n * sizeof(std::pair<int32_t, double>);
  if (e.bytes > max_bytes_) return;
  const KVCache* key = e.kv.get();
  if (by_kv_.count(key)) return;
  bytes_ += e.bytes;
  lru_.push_front(std::move(e));
  by_kv_[key] = lru_.begin();
  touch(key);
  // Bytes bound the memory; the entry count bounds lookup's linear scan.
  while ((bytes_ > max_bytes_ || lru_.size() > kMaxEntries) && !lru_.empty()) {
    bytes_ -= lru_.back().bytes;
    by_kv_.erase(lru_.back().kv.get());
    lru_.pop_back();
  }
}

PromptScores score_prompt_cached(RunContext& ctx, std::vector<int32_t> ids, size_t top_n, PrefixCache* cache,
                                 PromptKV* kv_out) {
  PromptScores s;
  s.ids = std::move(ids);
  const size_t len = s.ids.size();
  s.logprobs.assign(len, 0.0);
  s.top.assign(len, {});
  PrefixCache::Hit hit;
  if (cache) hit = cache->lookup(s.ids, top_n);
  // Reuse the KV of m tokens: rows from position m on are computed, the
  // scores of positions 1..m come from the entry (they depend only on the
  // shared tokens: position p's score is log p(ids[p] | ids[<p]), p < common).
  size_t m = 0;
  if (hit.entry) m = std::min({hit.common - 1, hit.entry->kv_len, len > 0 ? len - 1 : 0});
  for (size_t p = 1; p <= m; ++p) {
    s.logprobs[p] = hit.entry->scores.logprobs[p];
    const auto& t = hit.entry->scores.top[p];
    s.top[p].assign(t.begin(), t.begin() + std::min(t.size(), top_n));
  }
  std::shared_ptr<const KVCache> parent = m ? hit.entry->kv : nullptr;
  const size_t target = len > 0 ? len - 1 : 0;  // score_rows leaves this many tokens of KV
  if (m == target && parent) {
    // Nothing new to run (the same prompt again, or a prefix of one seen).
    if (cache) cache->reused_tokens += m;
    if (kv_out) *kv_out = {parent, m};
    return s;
  }
  auto kv = std::make_shared<KVCache>(ctx.model(), parent, m);
  score_rows(ctx, *kv, s, m, top_n);
  if (cache) {
    cache->reused_tokens += m;
    cache->computed_tokens += target - m;
    cache->insert({.ids = s.ids, .kv = kv, .kv_len = target, .top_n = top_n, .scores = s});
  }
  if (kv_out) *kv_out = {kv, target};
  return s;
}

}  // namespace cloze::server
