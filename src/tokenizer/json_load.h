#pragma once
// Reading tokenizer.json fast. A DOM parse of Qwen2's 5 MB file with
// nlohmann takes ~110 ms, most of it spent building 150k map nodes for
// model.vocab and 150k strings for model.merges. We parse with the SAX
// interface instead: those two big members stream straight into flat
// vectors; everything else (small) is built as an ordinary nlohmann DOM.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace cloze::tok {

struct TokenizerFile {
  nlohmann::json rest;  // the whole document minus the streamed members
  bool vocab_streamed = false;
  std::vector<std::pair<std::string, int64_t>> vocab;  // model.vocab, in file order
  bool merges_streamed = false;
  std::vector<std::pair<std::string, std::string>> merges;  // model.merges, rank order
};

// Throws cloze::Error naming `what` on malformed JSON or a malformed vocab /
// merges entry.
TokenizerFile parse_tokenizer_file(std::string_view json, const std::string& what);

// "object", "array", "string", ... for error messages.
const char* json_type_name(const nlohmann::json& j);

// Field access that throws cloze::Error("<what>: <path>: expected T, found U").
const nlohmann::json* find(const nlohmann::json& obj, const char* key);
bool get_bool(const nlohmann::json& obj, const char* key, bool dflt, const std::string& what,
              const std::string& path);
std::string get_string(const nlohmann::json& obj, const char* key, const std::string& what,
                       const std::string& path);
// The "type" tag of a component object.
std::string get_type(const nlohmann::json& obj, const std::string& what, const std::string& path);

}  // namespace cloze::tok
