#pragma once
// tokenizer.json "pre_tokenizer": Split (a regex or string from the file,
// with its delimiter behaviour and invert flag), ByteLevel, Metaspace
// (SentencePiece's " " -> "▁" with its prepend scheme), Sequence, null.
// Splits normalized text into the words that BPE encodes one by one.
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/regex.h"

namespace cloze::tok {

class PreTokenizer {
 public:
  static PreTokenizer from_json(const nlohmann::json& j, const std::string& what,
                                const std::string& path = "pre_tokenizer");
  PreTokenizer() = default;  // identity (no pre_tokenizer)
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;
  ~PreTokenizer();

  // Appends the words of `text` to `out`. Words view `text` or strings kept
  // in `owned` (deque: growing it never moves earlier strings). `at_start`:
  // the piece begins the input text (no added token before it), which is
  // where Metaspace's prepend_scheme "first" adds its "▁".
  void split(std::string_view text, std::vector<std::string_view>& out, std::deque<std::string>& owned,
             bool at_start = true) const;

  // True when a ByteLevel step is present: words are then raw bytes that the
  // model sees through the byte-level alphabet.
  bool byte_level() const { return byte_level_; }

 private:
  enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };
  enum class Prepend { kAlways, kFirst, kNever };
  struct Step {
    enum class Kind { kSplit, kByteLevel, kMetaspace } kind;
    std::unique_ptr<Regex> regex;   // Split, or ByteLevel with use_regex
    Behavior behavior = Behavior::kIsolated;
    bool invert = false;
    bool add_prefix_space = false;  // ByteLevel
    std::string replacement{};      // Metaspace: the one character that stands for " "
    Prepend prepend = Prepend::kAlways;  // Metaspace
    bool split = true;              // Metaspace: each "▁" starts a new word
  };
  static void parse_into(const nlohmann::json& j, const std::string& what, const std::string& path,
                         std::vector<Step>& steps);
  static void apply(const Step& s, std::string_view piece, std::vector<std::string_view>& out,
                    std::deque<std::string>& owned, bool at_start);
  static void metaspace(const Step& s, std::string_view piece, std::vector<std::string_view>& out,
                        std::deque<std::string>& owned, bool at_start);

  std::vector<Step> steps_;  // a Sequence flattened
  bool byte_level_ = false;
};

}  // namespace cloze::tok
