#pragma once
// The BPE model of tokenizer.json: vocabulary, merge ranks, and the merge
// loop that turns one pre-tokenized word into ids.
//
// In byte-level mode (the pre-tokenizer has a ByteLevel step) a word is raw
// bytes and each byte starts as the vocabulary entry of its alphabet
// character; otherwise a word starts as one symbol per UTF-8 character.
// Either way the loop works on ids only: merges are a hash from an id pair
// to (rank, merged id), so no strings are built while encoding. Characters
// missing from a non-byte-level vocabulary become <0xNN> byte tokens
// (byte_fallback) or the unk token (fused when fuse_unk).
//
// SentencePiece-style files (Llama 2, Gemma) have no pre-tokenizer that cuts
// text into words, so a whole paragraph is one BPE word. We cut it before
// each "▁" that follows another character wherever no vocabulary entry
// could span that point (checked against the few entries with such an inner
// "▁"): BPE of the pieces is then exactly BPE of the whole, and the pieces
// are short and repeat, so the word cache serves most of them.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/json_load.h"

namespace cloze::tok {

// Open-addressing map from a string to the id of a vocabulary entry; keys
// live in the vocabulary itself (passed to each call, so the map stays valid
// when its owner moves), so a slot is just a hash tag and an id.
class StringIdMap {
 public:
  void build(size_t n);
  // Returns the id of a string equal to `key`, or -1.
  int32_t find(std::string_view key, const std::vector<std::string>& tokens) const;
  // Inserts id (tokens[id] must be set); returns the existing id on a clash.
  int32_t insert(int32_t id, const std::vector<std::string>& tokens);

 private:
  static constexpr uint64_t kEmpty = ~uint64_t(0);
  std::vector<uint64_t> slots_;
  size_t mask_ = 0;
};

// Open-addressing map from (left id, right id) to (rank, merged id).
class PairMap {
 public:
  struct Value { int32_t rank, id; };
  void reserve(size_t n);
  void set(int32_t a, int32_t b, Value v);
  const Value* find(int32_t a, int32_t b) const {
    const uint64_t key = pack(a, b);
    for (size_t i = hash(key);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) return &s.value;
      if (s.key == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t(0);
  struct Slot { uint64_t key = kEmpty; Value value{}; };
  static uint64_t pack(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }
  // Fibonacci hashing: the top bits of the product depend on every key bit.
  size_t hash(uint64_t k) const { return static_cast<size_t>((k * 0x9E3779B97F4A7C15ull) >> shift_); }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  int shift_ = 64;
};

class Bpe {
 public:
  // `model` is the "model" object (vocab and merges come from `file`).
  static Bpe from_file(TokenizerFile& file, const std::string& what, bool byte_level);

  // Appends the ids of one word.
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

  int32_t find(std::string_view token) const { return index_.find(token, tokens_); }
  // The vocabulary entry as written in the file, or nullptr for a gap.
  const std::string* token(int32_t id) const {
    return (id >= 0 && size_t(id) < tokens_.size() && present_[size_t(id)]) ? &tokens_[size_t(id)] : nullptr;
  }
  // One past the largest id.
  size_t size() const { return tokens_.size(); }

 private:
  void encode_piece(std::string_view piece, std::vector<int32_t>& out) const;
  void initial_symbols(std::string_view word, std::vector<int32_t>& syms) const;
  bool can_cut_before(std::string_view word, size_t pos) const;
  void prepare_cuts();
  void merge_small(std::vector<int32_t>& syms) const;
  void merge_heap(std::vector<int32_t>& syms) const;

  std::vector<std::string> tokens_;
  std::vector<uint8_t> present_;
  StringIdMap index_;
  PairMap merges_;
  std::array<int32_t, 256> byte_ids_{};  // byte-level: id of each byte's character, -1 if absent
  std::array<int32_t, 256> fallback_ids_{};  // byte_fallback: id of each <0xNN>, -1 if absent
  bool fallback_complete_ = false;           // all 256 <0xNN> are in the vocabulary
  // Cutting words before "▁" (see above): enabled when "▁" is a vocabulary
  // entry and few entries hold a "▁" after another character; `spanning`
  // lists those entries with the byte offsets of such "▁"s.
  bool cut_at_metaspace_ = false;
  struct Spanning { std::string text; std::vector<size_t> offsets; };
  std::vector<Spanning> spanning_;
  bool byte_level_ = false;
  int32_t unk_ = -1;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  uint64_t serial_ = 0;  // identifies this model's entries in the per-thread word cache
};

}  // namespace cloze::tok
