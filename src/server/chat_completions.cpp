// /v1/chat/completions and /apply-template: request checks, rendering, and
// the answer's shape. See chat_completions.h.
#include "server/chat_completions.h"

#include "server/api_error.h"
#include "server/completion_json.h"

namespace cloze::server {

using nlohmann::ordered_json;

namespace {

[[noreturn]] void bad(const std::string& param, const std::string& msg) { throw ApiError(400, param + ": " + msg, param); }

std::string type_of(const ordered_json& v) {
  if (v.is_string()) return "a string";
  if (v.is_number()) return "a number";
  if (v.is_boolean()) return "a boolean";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "null";
}

void check_known(const ordered_json& body, std::initializer_list<const char*> known) {
  if (!body.is_object()) throw ApiError(400, "the request body must be a JSON object");
  for (const auto& [k, v] : body.items()) {
    bool ok = false;
    for (const char* n : known) ok = ok || k == n;
    if (ok) continue;
    std::string list;
    for (const char* n : known) list += (list.empty() ? "" : ", ") + std::string(n);
    bad(k, "unknown field (this endpoint accepts " + list + ")");
  }
}

// messages: a non-empty list of {"role": str, "content": str | list | null, ...}.
ordered_json get_messages(const ordered_json& body, const Limits& lim) {
  auto it = body.find("messages");
  if (it == body.end()) bad("messages", "is required: a list of {\"role\", \"content\"}");
  if (!it->is_array() || it->empty()) bad("messages", "must be a non-empty list, got " + type_of(*it));
  if (it->size() > lim.max_texts) bad("messages", "holds " + std::to_string(it->size()) + " messages, over the limit of " + std::to_string(lim.max_texts));
  for (size_t i = 0; i < it->size(); ++i) {
    const auto& m = (*it)[i];
    const std::string p = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) bad(p, "must be an object, got " + type_of(m));
    if (!m.contains("role") || !m["role"].is_string()) bad(p + ".role", "is required: a string");
    if (m.contains("content")) {
      const auto& c = m["content"];
      if (!c.is_string() && !c.is_array() && !c.is_null()) bad(p + ".content", "must be a string, a list of parts or null");
      if (c.is_string() && c.get_ref<const std::string&>().size() > lim.max_text_bytes)
        bad(p + ".content", "is over the limit of " + std::to_string(lim.max_text_bytes) + " bytes");
    }
  }
  return *it;
}

void get_template_extras(const ordered_json& body, ChatRequest& r) {
  if (auto it = body.find("tools"); it != body.end() && !it->is_null()) {
    if (!it->is_array()) bad("tools", "must be a list, got " + type_of(*it));
    r.tools = *it;
  }
  if (auto it = body.find("chat_template_kwargs"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) bad("chat_template_kwargs", "must be an object, got " + type_of(*it));
    r.kwargs = *it;
  }
  if (auto it = body.find("add_generation_prompt"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean()) bad("add_generation_prompt", "must be a boolean, got " + type_of(*it));
    r.add_generation_prompt = it->get<bool>();
  }
}

}  // namespace

ChatRequest parse_chat(const ordered_json& body, const Limits& lim) {
  check_known(body, {"model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k",
                     "min_p", "seed", "stop", "logprobs", "top_logprobs", "n", "stream", "stream_options",
                     "presence_penalty", "frequency_penalty", "logit_bias", "user", "tools", "chat_template_kwargs"});
  ChatRequest r;
  r.messages = get_messages(body, lim);
  get_template_extras(body, r);
  // The sampling fields are /v1/completions' own: parse them with its parser
  // (same checks, same messages) over a body with a stand-in prompt.
  nlohmann::json c = nlohmann::json::object();
  for (const auto& [k, v] : body.items()) {
    if (k == "messages" || k == "tools" || k == "chat_template_kwargs" || k == "logprobs" || k == "top_logprobs" ||
        k == "max_completion_tokens")
      continue;
    c[k] = nlohmann::json::parse(v.dump());
  }
  c["prompt"] = "-";
  if (auto it = body.find("max_completion_tokens"); it != body.end() && !it->is_null()) {
    if (body.contains("max_tokens")) bad("max_completion_tokens", "give max_tokens or max_completion_tokens, not both");
    c["max_tokens"] = nlohmann::json::parse(it->dump());
  }
  if (!c.contains("max_tokens") || c["max_tokens"].is_null()) c["max_tokens"] = 512;  // documented default
  bool logprobs = false;
  if (auto it = body.find("logprobs"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean()) bad("logprobs", "must be a boolean, got " + type_of(*it));
    logprobs = it->get<bool>();
  }
  std::optional<int> top;
  if (auto it = body.find("top_logprobs"); it != body.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > 20)
      bad("top_logprobs", "must be an integer from 0 to 20");
    if (!logprobs) bad("top_logprobs", "needs \"logprobs\": true");
    top = int(it->get<int64_t>());
  }
  r.completion = parse_completion(c, lim);
  if (r.completion.max_tokens == 0) bad("max_tokens", "must be at least 1 for a chat completion");
  if (logprobs) {
    if (r.completion.stream) bad("logprobs", "is not supported with stream");
    r.completion.logprobs = top.value_or(0);
  }
  r.completion.prompts.clear();
  return r;
}

ChatRequest parse_apply_template(const ordered_json& body, const Limits& lim) {
  check_known(body, {"messages", "tools", "add_generation_prompt", "chat_template_kwargs", "model"});
  ChatRequest r;
  r.messages = get_messages(body, lim);
  get_template_extras(body, r);
  return r;
}

std::string render_chat(const ChatRequest& r, const ChatTemplate& tmpl, const ModelChatTemplate& tokens) {
  ChatInput in;
  in.messages = r.messages;
  in.add_generation_prompt = r.add_generation_prompt;
  in.tools = r.tools;
  for (const auto& [k, v] : r.kwargs.items()) {
    if (k == "documents") in.documents = v;
    else in.kwargs[k] = v;
  }
  try {
    return apply_chat_template(tmpl, tokens, in);
  } catch (const ChatTemplateError& e) {
    throw ApiError(400, std::string("messages: ") + e.what(), "messages");
  } catch (const Error& e) {
    throw ApiError(400, std::string("chat_template_kwargs: ") + e.what(), "chat_template_kwargs");
  }
}

std::vector<int32_t> chat_prompt_ids(const std::string& rendered, const Tokenizer& tok, const Limits& lim) {
  std::vector<int32_t> ids;
  try {
    ids = tok.encode(rendered, {.special = true, .add_special_tokens = false});
  } catch (const Error& e) {
    throw ApiError(400, std::string("messages: ") + e.what(), "messages");
  }
  if (ids.empty()) bad("messages", "the rendered chat is empty");
  if (lim.max_prompt_tokens && ids.size() >= lim.max_prompt_tokens)
    bad("messages", "the rendered chat is " + std::to_string(ids.size()) + " tokens, which leaves no room in the model's context of " +
                        std::to_string(lim.max_prompt_tokens));
  return ids;
}

std::string openai_finish_reason(const std::string& ours) { return ours == "length" ? "length" : "stop"; }

namespace {

ordered_json token_entry(const Tokenizer& tok, int32_t id, double lp) {
  ordered_json e;
  std::string text = token_text(tok, id);
  e["token"] = text;
  e["logprob"] = lp;
  ordered_json bytes = ordered_json::array();
  std::string raw = tok.decode(std::span<const int32_t>(&id, 1));
  if (text.rfind("bytes:", 0) != 0) raw = text;
  for (unsigned char c : raw) bytes.push_back(int(c));
  e["bytes"] = bytes;
  return e;
}

}  // namespace

ordered_json chat_json(const ChatRequest& r, const GenerateOutcome& out, const Tokenizer& tok, const std::string& id,
                       const std::string& model, long long created) {
  const Generated& g = out.prompts.at(0);
  ordered_json choice;
  choice["index"] = 0;
  choice["message"] = {{"role", "assistant"}, {"content", g.result.text}};
  if (r.completion.logprobs && g.scores) {
    ordered_json content = ordered_json::array();
    const PromptScores& s = *g.scores;
    for (size_t i = g.prompt_ids.size(); i < s.ids.size(); ++i) {
      ordered_json e = token_entry(tok, s.ids[i], s.logprobs[i]);
      ordered_json top = ordered_json::array();
      for (size_t k = 0; k < s.top[i].size() && k < size_t(*r.completion.logprobs); ++k)
        top.push_back(token_entry(tok, s.top[i][k].first, s.top[i][k].second));
      e["top_logprobs"] = top;
      content.push_back(std::move(e));
    }
    choice["logprobs"] = {{"content", content}};
  } else {
    choice["logprobs"] = nullptr;
  }
  choice["finish_reason"] = openai_finish_reason(g.result.finish_reason);
  ordered_json j;
  j["id"] = id;
  j["object"] = "chat.completion";
  j["created"] = created;
  j["model"] = model;
  j["choices"] = ordered_json::array({choice});
  j["usage"] = {{"prompt_tokens", g.prompt_ids.size()},
                {"completion_tokens", g.result.ids.size()},
                {"total_tokens", g.prompt_ids.size() + g.result.ids.size()}};
  return j;
}

ordered_json chat_chunk(const std::string& id, const std::string& model, long long created, ordered_json delta,
                        const std::optional<std::string>& finish_reason) {
  ordered_json choice;
  choice["index"] = 0;
  choice["delta"] = std::move(delta);
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = finish_reason ? ordered_json(*finish_reason) : ordered_json(nullptr);
  ordered_json j;
  j["id"] = id;
  j["object"] = "chat.completion.chunk";
  j["created"] = created;
  j["model"] = model;
  j["choices"] = ordered_json::array({choice});
  return j;
}

}  // namespace cloze::server
