#pragma once
// POST /v1/chat/completions in OpenAI's shape, and POST /apply-template (as
// llama.cpp's server: {"messages"} -> {"prompt"}). The messages are rendered
// through the model's chat template (cloze/chat.h) and the rendering is
// tokenized without adding special tokens a second time; generation is the
// same as /v1/completions'.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloze/chat.h"
#include "cloze/tokenizer.h"
#include "server/model_worker.h"
#include "server/requests.h"

namespace cloze::server {

struct ChatRequest {
  CompletionRequest completion;  // sampling, max_tokens, stop, seed, stream; prompts set by chat_prompt
  nlohmann::ordered_json messages;
  nlohmann::ordered_json tools = nullptr;
  nlohmann::ordered_json kwargs = nlohmann::ordered_json::object();  // chat_template_kwargs
  bool add_generation_prompt = true;
};

// Fields and types checked; 400 naming the field otherwise. `body` keeps key
// order (a template's tojson prints keys in the order the client sent them).
ChatRequest parse_chat(const nlohmann::ordered_json& body, const Limits& lim);
// The body of /apply-template: messages, optional tools, add_generation_prompt, chat_template_kwargs.
ChatRequest parse_apply_template(const nlohmann::ordered_json& body, const Limits& lim);

// The rendered chat; a template error is a 400 on "messages".
std::string render_chat(const ChatRequest& r, const ChatTemplate& tmpl, const ModelChatTemplate& tokens);
// The rendering's token ids (special tokens parsed, none added); 400 when
// empty or over the context.
std::vector<int32_t> chat_prompt_ids(const std::string& rendered, const Tokenizer& tok, const Limits& lim);

// {"id","object":"chat.completion","created","model","choices":[{"index",
//  "message":{"role":"assistant","content"},"logprobs":{"content":[...]}|null,
//  "finish_reason"}],"usage"}
nlohmann::ordered_json chat_json(const ChatRequest& r, const GenerateOutcome& out, const Tokenizer& tok,
                                 const std::string& id, const std::string& model, long long created);

// One "chat.completion.chunk" with one choice (delta, finish_reason or null).
nlohmann::ordered_json chat_chunk(const std::string& id, const std::string& model, long long created,
                                  nlohmann::ordered_json delta, const std::optional<std::string>& finish_reason);

// OpenAI's finish_reason for ours ("eos" and "stop" are both "stop").
std::string openai_finish_reason(const std::string& ours);

}  // namespace cloze::server
