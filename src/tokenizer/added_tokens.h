#pragma once
// tokenizer.json "added_tokens": strings matched in the text before any
// other processing and mapped straight to their ids (special tokens like
// <|endoftext|>, and plain added tokens like Qwen3's <think>).
//
// As in `tokenizers`, tokens with normalized=false are matched in the raw
// text; the pieces between them are normalized and then searched for the
// tokens with normalized=true (whose content is normalized too). Matching is
// leftmost-longest; single_word, lstrip and rstrip then apply.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/normalizer.h"

namespace cloze::tok {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool single_word = false, lstrip = false, rstrip = false, normalized = true, special = false;
};

class AddedTokens {
 public:
  // `list` is the "added_tokens" value (null or missing: none).
  static AddedTokens from_json(const nlohmann::json* list, const std::string& what, const Normalizer& normalizer);

  struct Segment {
    std::string_view text;  // the piece of text
    int32_t id;             // the added token's id, or -1 for ordinary text
  };
  // Splits `text` around the added tokens of one pass (normalized or not).
  // With skip_special, special tokens are left in the text as plain text.
  void split(std::string_view text, bool normalized_pass, bool skip_special, std::vector<Segment>& out) const;
  bool has_pass(bool normalized_pass) const { return !matcher(normalized_pass).patterns.empty(); }

  const AddedToken* by_id(int32_t id) const;
  const AddedToken* by_content(std::string_view content) const;
  int32_t max_id() const { return max_id_; }

 private:
  // A byte trie of the patterns of one pass: at each text position one walk
  // finds the longest pattern starting there (Gemma 3 has 6,400 added
  // tokens, 6,300 of them starting with '<').
  struct Matcher {
    std::vector<std::string> patterns;  // content (normalized for that pass)
    std::vector<size_t> token;          // index into tokens_ per pattern
    struct Node {
      int32_t pattern = -1;             // the pattern ending here, or -1
      uint32_t first_child = 0, n_children = 0;  // a range of `edges`
    };
    std::vector<Node> nodes;                      // nodes[0] is the root
    std::vector<std::pair<uint8_t, uint32_t>> edges;  // (byte, child node), sorted per node
    std::array<int32_t, 256> root_child{};        // the root's children by byte, -1 if none
    // Longest pattern at s[i..]: its index and length, or -1.
    int32_t longest_at(std::string_view s, size_t i, size_t& len) const;
  };
  const Matcher& matcher(bool normalized_pass) const { return normalized_pass ? norm_ : raw_; }
  static void build(Matcher& m);

  std::vector<AddedToken> tokens_;
  std::unordered_map<int32_t, size_t> by_id_;
  std::unordered_map<std::string, size_t> by_content_;
  Matcher raw_, norm_;
  int32_t max_id_ = -1;
};

}  // namespace cloze::tok
