#include "server/tokenizer_routes.h"

#include <fstream>
#include <sstream>

#include "server/api_error.h"

namespace cloze::server {

using nlohmann::json;
using nlohmann::ordered_json;

namespace {

// A special token in tokenizer_config.json: "<s>" or {"content": "<s>", ...}.
std::optional<std::string> token_field(const json& cfg, const char* key) {
  auto it = cfg.find(key);
  if (it == cfg.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    auto c = it->find("content");
    if (c != it->end() && c->is_string()) return c->get<std::string>();
  }
  return std::nullopt;
}

}  // namespace

TokenizerInfo read_tokenizer_info(const std::filesystem::path& model_dir, const Tokenizer& tok, size_t max_model_len) {
  TokenizerInfo info;
  info.model_max_length = max_model_len;
  std::ifstream in(model_dir / "tokenizer_config.json", std::ios::binary);
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    // A malformed config leaves the fields empty rather than failing the
    // server: the tokenizer itself was already loaded from tokenizer.json.
    json cfg = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
    if (cfg.is_object()) {
      info.eos_token = token_field(cfg, "eos_token");
      info.bos_token = token_field(cfg, "bos_token");
      info.pad_token = token_field(cfg, "pad_token");
      info.unk_token = token_field(cfg, "unk_token");
      if (auto it = cfg.find("add_bos_token"); it != cfg.end() && it->is_boolean()) info.add_bos_token = it->get<bool>();
      // A string, or a list of {"name", "template"} (the one named "default").
      if (auto it = cfg.find("chat_template"); it != cfg.end()) {
        if (it->is_string()) info.chat_template = it->get<std::string>();
        else if (it->is_array())
          for (const auto& t : *it)
            if (t.is_object() && t.value("name", "") == "default" && t.contains("template") && t["template"].is_string())
              info.chat_template = t["template"].get<std::string>();
      }
    }
  }
  if (!info.eos_token)
    if (auto id = tok.eos_id()) info.eos_token = tok.id_to_token(*id);
  return info;
}

ordered_json tokenizer_info_json(const TokenizerInfo& info) {
  auto opt = [](const std::optional<std::string>& s) { return s ? ordered_json(*s) : ordered_json(nullptr); };
  ordered_json j;
  j["eos_token"] = opt(info.eos_token);
  j["bos_token"] = opt(info.bos_token);
  j["pad_token"] = opt(info.pad_token);
  j["unk_token"] = opt(info.unk_token);
  j["chat_template"] = opt(info.chat_template);
  j["add_bos_token"] = info.add_bos_token;
  j["model_max_length"] = info.model_max_length;
  j["tokenizer_class"] = "PreTrainedTokenizerFast";
  return j;
}

ordered_json tokenize_json(const json& body, const Tokenizer& tok, const Limits& lim) {
  fields::check(body, {"model", "prompt", "content", "add_special_tokens", "add_special", "with_pieces"});
  const bool has_prompt = body.contains("prompt"), has_content = body.contains("content");
  if (has_prompt == has_content) fields::bad("prompt", "give exactly one of prompt (vLLM) or content (llama.cpp): the text to tokenize");
  const char* key = has_prompt ? "prompt" : "content";
  const std::string text = fields::text(body[key], key, lim);
  // vLLM and llama.cpp both default to adding the special tokens the
  // tokenizer's post-processor adds (a BOS for Llama; nothing for Qwen2).
  bool add_special = true;
  for (const char* k : {"add_special_tokens", "add_special"})
    if (auto it = body.find(k); it != body.end() && !it->is_null()) add_special = fields::boolean(*it, k);
  bool pieces = false;
  if (auto it = body.find("with_pieces"); it != body.end() && !it->is_null()) pieces = fields::boolean(*it, "with_pieces");
  std::vector<int32_t> ids;
  try {
    ids = tok.encode(text, {.special = true, .add_special_tokens = add_special});
  } catch (const std::exception& e) {
    fields::bad(key, e.what());
  }
  ordered_json j;
  j["tokens"] = ids;
  j["count"] = ids.size();
  j["max_model_len"] = lim.max_prompt_tokens;
  if (pieces) {
    ordered_json p = ordered_json::array();
    for (int32_t id : ids) p.push_back(tok.id_to_token(id).value_or(""));
    j["token_strs"] = std::move(p);
  }
  return j;
}

ordered_json detokenize_json(const json& body, const Tokenizer& tok, const Limits& lim) {
  fields::check(body, {"model", "tokens"});
  if (!body.contains("tokens")) fields::bad("tokens", "is required: the token ids to turn into text");
  const json& t = body["tokens"];
  std::vector<int32_t> ids;
  // An empty list is a valid request with an empty answer.
  if (!(t.is_array() && t.empty())) ids = fields::ids(t, "tokens", lim);
  const std::string text = tok.decode(ids);
  // vLLM answers "prompt", llama.cpp "content"; both, so either client reads it.
  return {{"prompt", text}, {"content", text}};
}

}  // namespace cloze::server
