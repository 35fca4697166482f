#pragma once
// tokenizer.json "post_processor": what is added around the ids of one
// sequence. ByteLevel only adjusts offsets (no ids); TemplateProcessing adds
// special tokens such as Llama 3's <|begin_of_text|>; Sequence chains them.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cloze::tok {

class PostProcessor {
 public:
  static PostProcessor from_json(const nlohmann::json& j, const std::string& what,
                                 const std::string& path = "post_processor");
  // The template transformers' Llama and Gemma tokenizer classes build from
  // tokenizer_config.json in place of the file's: [bos] A [eos] for one
  // sequence, [bos] A [eos] [bos] B [eos] for a pair (absent ids left out).
  static PostProcessor bos_eos(std::optional<int32_t> bos, std::optional<int32_t> eos);

  // Rewrites `ids` (one sequence) in place.
  void apply(std::vector<int32_t>& ids) const;
  // The ids of a pair of sequences by the "pair" template: a, then b.
  // Throws cloze::Error when a TemplateProcessing has no pair template.
  std::vector<int32_t> apply_pair(const std::vector<int32_t>& a, const std::vector<int32_t>& b) const;

 private:
  // A template flattened: the special ids before, between and after the
  // sequences (between stays empty for a single-sequence template).
  struct Template {
    std::vector<int32_t> before, between, after;
  };
  struct Processor {
    Template single, pair;
    bool has_pair = true;
  };
  static void parse_into(const nlohmann::json& j, const std::string& what, const std::string& path,
                         std::vector<Processor>& out);
  static Template parse_template(const nlohmann::json& pieces, const nlohmann::json& specials, size_t sequences,
                                 const std::string& what, const std::string& path);
  std::vector<Processor> processors_;
};

}  // namespace cloze::tok
