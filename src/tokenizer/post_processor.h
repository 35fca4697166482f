#pragma once
// tokenizer.json "post_processor": what is added around the ids of one
// sequence. ByteLevel only adjusts offsets (no ids); TemplateProcessing adds
// special tokens such as Llama 3's <|begin_of_text|>; Sequence chains them.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cloze::tok {

class PostProcessor {
 public:
  static PostProcessor from_json(const nlohmann::json& j, const std::string& what,
                                 const std::string& path = "post_processor");
  // Rewrites `ids` (one sequence) in place.
  void apply(std::vector<int32_t>& ids) const;

 private:
  // A single-sequence template, flattened: ids to put before and after.
  struct Template {
    std::vector<int32_t> before, after;
  };
  static void parse_into(const nlohmann::json& j, const std::string& what, const std::string& path,
                         std::vector<Template>& out);
  std::vector<Template> templates_;
};

}  // namespace cloze::tok
