#pragma once
// tokenizer.json "normalizer": Unicode normalization forms (via utf8proc),
// Sequence, or null. Applied to each piece of text between added tokens.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace cloze::tok {

class Normalizer {
 public:
  // `j` is the "normalizer" value (null allowed: identity).
  static Normalizer from_json(const nlohmann::json& j, const std::string& what, const std::string& path = "normalizer");

  // Returns the normalized text: either `in` itself (already normal) or a
  // view of `scratch`, which it overwrites.
  std::string_view apply(std::string_view in, std::string& scratch) const;
  bool is_identity() const { return steps_.empty(); }

 private:
  enum class Form { kNFC, kNFD, kNFKC, kNFKD };
  std::vector<Form> steps_;  // a Sequence flattened
  static void parse_into(const nlohmann::json& j, const std::string& what, const std::string& path,
                         std::vector<Form>& steps);
};

}  // namespace cloze::tok
