#pragma once
// A per-thread cache of word -> ids for the BPE model. Natural text repeats
// a small set of words (Zipf), and the merge loop costs one hash probe per
// pair, mostly cache misses in a multi-megabyte merge table, so remembering
// finished words makes encoding several times faster.
//
// The cache is thread_local (encode is const and runs on many threads; no
// locks) and tagged with the owning model's serial number: a thread that
// switches to another tokenizer simply starts a fresh cache.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cloze::tok {

class WordCache {
 public:
  static constexpr size_t kMaxWordBytes = 128;

  // The cache for the calling thread, emptied if it belonged to another model.
  static WordCache& for_model(uint64_t serial);

  // The ids of `word`, or an empty span if absent (words never encode to
  // nothing except when every symbol is unknown, which is not cached).
  std::span<const int32_t> find(std::string_view word, uint64_t hash) const;
  void insert(std::string_view word, uint64_t hash, std::span<const int32_t> ids);

  static uint64_t hash(std::string_view word);

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t key_off = 0, ids_off = 0;
    uint16_t key_len = 0, ids_len = 0;  // ids_len == 0: empty slot
  };
  static constexpr size_t kSlots = 1 << 17;  // power of two; 3 MB per thread
  static constexpr size_t kMaxEntries = kSlots / 2;
  void clear();

  uint64_t owner_ = 0;
  size_t entries_ = 0;
  std::vector<Slot> slots_;
  std::string keys_;           // word bytes, back to back
  std::vector<int32_t> ids_;   // ids, back to back
};

}  // namespace cloze::tok
