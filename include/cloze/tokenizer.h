#pragma once
// Hugging Face tokenizer.json, producing exactly the ids that the
// `tokenizers` library produces: byte-level BPE (GPT-2, Qwen2/2.5/3, Llama 3)
// and SentencePiece-style BPE with byte fallback (Llama 2, Mistral,
// TinyLlama, Phi-3, Gemma 2/3).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cloze {

struct EncodeOptions {
  // true: added special-token strings inside the text become their ids (the
  // `tokenizers` default). false: they are tokenized as plain text.
  bool special = true;
  // true: apply the post-processor's template (e.g. Llama 3 prepends
  // <|begin_of_text|>, Llama 2 and Gemma their BOS), like `tokenizers`'
  // add_special_tokens=True, the default of HF's tokenizer(text). false:
  // add_special_tokens=False (for text that continues a sequence). Qwen2's
  // post-processor adds nothing.
  bool add_special_tokens = true;
};

class Tokenizer {
 public:
  // Reads tokenizer.json (and tokenizer_config.json beside it, where present).
  // Throws cloze::Error naming the file and the field on anything malformed or
  // unsupported.
  static Tokenizer from_file(const std::filesystem::path& tokenizer_json);
  // Parse from JSON text; `what` names the source in error messages.
  static Tokenizer from_json(std::string_view json, std::string what = "tokenizer.json");

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Throws cloze::Error with the byte offset if `text` is not valid UTF-8.
  std::vector<int32_t> encode(std::string_view text, const EncodeOptions& opt = {}) const;
  // Two texts by the post-processor's "pair" template (e.g. [BOS] a [BOS] b);
  // throws cloze::Error when the file has none.
  std::vector<int32_t> encode_pair(std::string_view a, std::string_view b, const EncodeOptions& opt = {}) const;
  std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;
  std::optional<std::string> id_to_token(int32_t id) const;
  // One past the largest id (regular vocabulary and added tokens).
  size_t vocab_size() const;
  // End-of-text / end-of-sequence id where the files name one.
  std::optional<int32_t> eos_id() const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cloze
