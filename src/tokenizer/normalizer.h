#pragma once
// tokenizer.json "normalizer": Unicode normalization forms (via utf8proc),
// Replace (a string or regex -> content, e.g. SentencePiece's " " -> "▁"),
// Prepend (Llama 2's leading "▁"), Sequence, or null. Applied to each piece
// of text between added tokens.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/regex.h"

namespace cloze::tok {

class Normalizer {
 public:
  // `j` is the "normalizer" value (null allowed: identity).
  static Normalizer from_json(const nlohmann::json& j, const std::string& what, const std::string& path = "normalizer");
  Normalizer() = default;
  Normalizer(Normalizer&&) noexcept;
  Normalizer& operator=(Normalizer&&) noexcept;
  ~Normalizer();

  // Returns the normalized text: either `in` itself (already normal) or a
  // view of `scratch`, which it overwrites.
  std::string_view apply(std::string_view in, std::string& scratch) const;
  bool is_identity() const { return steps_.empty(); }

 private:
  struct Step {
    enum class Kind { kNFC, kNFD, kNFKC, kNFKD, kReplace, kPrepend } kind;
    std::string text{};              // Replace: the literal pattern; Prepend: what to prepend
    std::unique_ptr<Regex> regex{};  // Replace with a {"Regex": ...} pattern
    std::string content{};           // Replace: the replacement
  };
  static void parse_into(const nlohmann::json& j, const std::string& what, const std::string& path,
                         std::vector<Step>& steps);
  std::vector<Step> steps_;  // a Sequence flattened
};

}  // namespace cloze::tok
