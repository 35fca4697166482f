#include "tokenizer/word_cache.h"

#include <cstring>

namespace cloze::tok {

WordCache& WordCache::for_model(uint64_t serial) {
  thread_local WordCache cache;
  if (cache.owner_ != serial) {
    cache.clear();
    cache.owner_ = serial;
  }
  return cache;
}

void WordCache::clear() {
  slots_.assign(kSlots, Slot{});
  keys_.clear();
  ids_.clear();
  entries_ = 0;
}

uint64_t WordCache::hash(std::string_view w) {
  // FNV-1a over 8-byte chunks, then a final mix: words are short, and this
  // is cheaper than a general-purpose string hash.
  uint64_t h = 0xcbf29ce484222325ull ^ w.size();
  size_t i = 0;
  for (; i + 8 <= w.size(); i += 8) {
    uint64_t c;
    std::memcpy(&c, w.data() + i, 8);
    h = (h ^ c) * 0x100000001b3ull;
    h ^= h >> 29;
  }
  if (i < w.size()) {
    uint64_t c = 0;
    std::memcpy(&c, w.data() + i, w.size() - i);
    h = (h ^ c) * 0x100000001b3ull;
  }
  h ^= h >> 32;
  h *= 0x9E3779B97F4A7C15ull;
  h ^= h >> 29;
  return h;
}

std::span<const int32_t> WordCache::find(std::string_view word, uint64_t h) const {
  for (size_t i = h & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
    const Slot& s = slots_[i];
    if (s.ids_len == 0) return {};
    if (s.hash == h && s.key_len == word.size() && std::memcmp(keys_.data() + s.key_off, word.data(), word.size()) == 0)
      return {ids_.data() + s.ids_off, s.ids_len};
  }
}

void WordCache::insert(std::string_view word, uint64_t h, std::span<const int32_t> ids) {
  if (ids.empty() || ids.size() > UINT16_MAX || word.size() > kMaxWordBytes) return;
  if (entries_ >= kMaxEntries || keys_.size() + word.size() > UINT32_MAX) {
    // Full: start over. Frequent words come straight back.
    const uint64_t owner = owner_;
    clear();
    owner_ = owner;
  }
  size_t i = h & (kSlots - 1);
  while (slots_[i].ids_len != 0) i = (i + 1) & (kSlots - 1);
  Slot& s = slots_[i];
  s.hash = h;
  s.key_off = static_cast<uint32_t>(keys_.size());
  s.key_len = static_cast<uint16_t>(word.size());
  s.ids_off = static_cast<uint32_t>(ids_.size());
  s.ids_len = static_cast<uint16_t>(ids.size());
  keys_.append(word);
  ids_.insert(ids_.end(), ids.begin(), ids.end());
  ++entries_;
}

}  // namespace cloze::tok
