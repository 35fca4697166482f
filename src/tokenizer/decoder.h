#pragma once
// tokenizer.json "decoder": turns token strings back into text, as
// `tokenizers`' decode_chain does: each step maps the list of token strings
// to a new list, and the result is their concatenation.
//   ByteLevel    alphabet characters back to bytes (all tokens fused, lossy UTF-8)
//   ByteFallback runs of <0xNN> tokens back to UTF-8 (one U+FFFD per byte if invalid)
//   Replace      a string or regex -> content in every token ("▁" -> " ")
//   Strip        up to `start` / `stop` copies of a character off each token's ends
//   Metaspace    "▁" -> " " (dropped in the first token unless prepend_scheme is never)
//   Fuse         all tokens into one
//   Sequence     the steps in order
// With no decoder at all, tokens are joined with spaces.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/regex.h"

namespace cloze::tok {

class Decoder {
 public:
  static Decoder from_json(const nlohmann::json& j, const std::string& what, const std::string& path = "decoder");
  Decoder() = default;
  Decoder(Decoder&&) noexcept;
  Decoder& operator=(Decoder&&) noexcept;
  ~Decoder();

  // `tokens` are vocabulary entries / added-token contents, in order.
  std::string decode(const std::vector<std::string_view>& tokens) const;

 private:
  struct Step {
    enum class Kind { kByteLevel, kByteFallback, kReplace, kStrip, kMetaspace, kFuse } kind;
    std::string pattern{}, content{};  // Replace (literal pattern); Strip/Metaspace: the character
    std::unique_ptr<Regex> regex{};    // Replace with a regex pattern
    size_t start = 0, stop = 0;    // Strip
    bool first_prefix = true;      // Metaspace: prepend_scheme is not "never"
  };
  static void parse_into(const nlohmann::json& j, const std::string& what, const std::string& path,
                         std::vector<Step>& steps);
  static void run(const Step& s, std::vector<std::string>& tokens);

  std::vector<Step> steps_;
  bool none_ = true;  // no decoder in the file
};

}  // namespace cloze::tok
