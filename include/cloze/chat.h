#pragma once
// Chat templates: the Jinja programs in tokenizer_config.json, rendered byte
// for byte as transformers' `tokenizer.apply_chat_template(..., tokenize=False)`
// renders them (Jinja2 in an immutable sandbox, trim_blocks, lstrip_blocks,
// loop controls, `tojson` keeping non-ASCII, raise_exception, strftime_now).
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cloze/classify.h"
#include "cloze/error.h"

namespace cloze {

// A template that failed to parse or render. what() names the line and
// column in the template; for raise_exception(msg), `raised()` is true and
// `message()` is msg verbatim (what transformers' TemplateError carries).
class ChatTemplateError : public Error {
 public:
  ChatTemplateError(std::string what, std::string message, bool raised)
      : Error(std::move(what)), message_(std::move(message)), raised_(raised) {}
  const std::string& message() const { return message_; }
  bool raised() const { return raised_; }

 private:
  std::string message_;
  bool raised_;
};

struct ChatRenderOptions {
  // What strftime_now() formats (local time); unset: the clock.
  std::optional<std::time_t> now;
  size_t max_output_bytes = size_t{16} << 20;
  uint64_t max_steps = 1'000'000;
};

class ChatTemplate {
 public:
  // Parses the template; throws ChatTemplateError naming line and column.
  explicit ChatTemplate(std::string_view source);
  ChatTemplate(const ChatTemplate&) = default;
  ChatTemplate& operator=(const ChatTemplate&) = default;
  ~ChatTemplate();

  // Renders with `variables` (a JSON object; key order is kept, as Python
  // dicts keep it). Throws ChatTemplateError.
  std::string render(const nlohmann::ordered_json& variables, const ChatRenderOptions& options = {}) const;

  const std::string& source() const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

// What apply_chat_template passes: messages, add_generation_prompt, tools and
// documents (None when absent), bos_token / eos_token where the tokenizer has
// them (otherwise not defined at all), and any extra keyword variables.
struct ChatInput {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  bool add_generation_prompt = false;
  nlohmann::ordered_json tools = nullptr;
  nlohmann::ordered_json documents = nullptr;
  nlohmann::ordered_json kwargs = nlohmann::ordered_json::object();
};

struct ModelChatTemplate {
  std::string source;  // the Jinja text
  std::optional<std::string> bos_token, eos_token;
  std::string origin;  // where it was read, for messages
};

std::string apply_chat_template(const ChatTemplate& tmpl, const ModelChatTemplate& tokens, const ChatInput& input,
                                const ChatRenderOptions& options = {});

// Where a model's chat template comes from: `file` (--chat-template) wins;
// otherwise tokenizer_config.json's `chat_template` (a string, or a list of
// {"name","template"} from which `name` is picked, "default" when unset),
// then chat_template.jinja. bos/eos come from tokenizer_config.json either
// way. Throws cloze::Error saying where it looked and how to pass
// --chat-template when there is none.
ModelChatTemplate find_chat_template(const std::filesystem::path& model_dir,
                                     const std::optional<std::filesystem::path>& file = std::nullopt,
                                     const std::optional<std::string>& name = std::nullopt);

// Classifying through the chat template (classify --chat): the prompt of a
// text is the chat [system] + user(`user_template` with {text} filled),
// rendered with add_generation_prompt=true, followed by answer_prefix.
struct ChatPromptOptions {
  std::optional<std::string> system;
  std::string answer_prefix;  // e.g. "The sentiment is"; labels follow after label_prefix
  ChatRenderOptions render;
};

// The prompt of one text.
std::string render_chat_prompt(const ChatTemplate& tmpl, const ModelChatTemplate& tokens,
                               const PromptTemplate& user_template, const ChatPromptOptions& chat,
                               const std::string& text);

// Turns `options` (whose template_text becomes the user message) into chat
// prompting: sets render_prompt, and template_text to the rendering with
// {text} in the text's place (so the part before it is the shared prefix).
// Throws ChatTemplateError if the template cannot render such a chat.
void use_chat_prompt(ClassifierOptions& options, const ModelChatTemplate& tokens, const ChatPromptOptions& chat);

}  // namespace cloze
