#pragma once
// The tokenizer endpoints that evaluation harnesses probe before they send
// token-id prompts (lm-evaluation-harness's remote tokenizer backend, in the
// shapes vLLM and llama.cpp serve):
//   GET  /tokenizer_info -> {"eos_token","bos_token","pad_token","chat_template",...}
//   POST /tokenize   {"prompt"|"content", "add_special_tokens"|"add_special"} -> {"tokens","count","max_model_len"}
//   POST /detokenize {"tokens"} -> {"prompt"} (and llama.cpp's "content")
// Parsing and formatting only; the tokenizer does the work.
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "cloze/tokenizer.h"
#include "server/requests.h"

namespace cloze::server {

// The special-token strings and chat template, read once from
// tokenizer_config.json beside the model (HF writes a token either as a
// string or as an AddedToken object {"content": ...}); eos falls back to the
// tokenizer's own end-of-text id.
struct TokenizerInfo {
  std::optional<std::string> eos_token, bos_token, pad_token, unk_token, chat_template;
  bool add_bos_token = false;
  size_t model_max_length = 0;
};
TokenizerInfo read_tokenizer_info(const std::filesystem::path& model_dir, const Tokenizer& tok, size_t max_model_len);

nlohmann::ordered_json tokenizer_info_json(const TokenizerInfo& info);
nlohmann::ordered_json tokenize_json(const nlohmann::json& body, const Tokenizer& tok, const Limits& limits);
nlohmann::ordered_json detokenize_json(const nlohmann::json& body, const Tokenizer& tok, const Limits& limits);

}  // namespace cloze::server
