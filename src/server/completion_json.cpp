#include "server/completion_json.h"

#include "cloze/records.h"
#include "tokenizer/byte_level.h"

namespace cloze::server {

using nlohmann::ordered_json;

namespace {

// The token's raw bytes: vocabulary entries are stored in GPT-2's byte
// alphabet; added tokens outside it are their own text.
std::string token_bytes(const Tokenizer& tok, int32_t id) {
  std::string s = tok.id_to_token(id).value_or(std::string());
  std::string raw;
  return tok::byte_level::decode(s, raw) ? raw : s;
}

// Characters before each token in the echoed text: UTF-8 lead bytes counted,
// so a token that splits a character starts inside it, like OpenAI's offsets.
size_t chars_in(const std::string& bytes) {
  size_t n = 0;
  for (unsigned char c : bytes) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

std::string token_text(const Tokenizer& tok, int32_t id) {
  std::string raw = token_bytes(tok, id);
  if (valid_utf8(raw)) return raw;
  static const char* hex = "0123456789abcdef";
  std::string out = "bytes:";
  for (unsigned char c : raw) out += std::string("\\x") + hex[c >> 4] + hex[c & 15];
  return out;
}

ordered_json completion_json(const CompletionRequest& req, const ScoreOutcome& out, const Tokenizer& tok,
                             const std::string& id, const std::string& model, long long created) {
  ordered_json choices = ordered_json::array();
  size_t prompt_tokens = 0;
  for (size_t i = 0; i < out.prompts.size(); ++i) {
    const PromptScores& s = out.prompts[i];
    prompt_tokens += s.ids.size();
    ordered_json c;
    c["index"] = i;
    std::string text;
    if (req.echo) {
      auto* given = std::get_if<std::string>(&req.prompts[i]);
      text = given ? *given : tok.decode(s.ids);
    }
    c["text"] = text;
    if (req.logprobs) {
      ordered_json tokens = ordered_json::array(), lps = ordered_json::array(), tops = ordered_json::array(),
                   offsets = ordered_json::array();
      size_t chars = 0;
      for (size_t t = 0; req.echo && t < s.ids.size(); ++t) {
        tokens.push_back(token_text(tok, s.ids[t]));
        offsets.push_back(chars);
        chars += chars_in(token_bytes(tok, s.ids[t]));
        if (t == 0) {
          lps.push_back(nullptr);
          tops.push_back(nullptr);
          continue;
        }
        lps.push_back(s.logprobs[t]);
        ordered_json top = ordered_json::object();
        for (auto& [alt, lp] : s.top[t]) {
          std::string name = token_text(tok, alt);
          if (!top.contains(name)) top[name] = lp;  // two ids may print alike; keep the likelier
        }
        tops.push_back(std::move(top));
      }
      c["logprobs"] = {{"tokens", tokens}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offsets}};
    } else {
      c["logprobs"] = nullptr;
    }
    // Nothing was generated because max_tokens (0) allowed nothing.
    c["finish_reason"] = "length";
    choices.push_back(std::move(c));
  }
  ordered_json r;
  r["id"] = id;
  r["object"] = "text_completion";
  r["created"] = created;
  r["model"] = model;
  r["choices"] = std::move(choices);
  r["usage"] = {{"prompt_tokens", prompt_tokens}, {"completion_tokens", 0}, {"total_tokens", prompt_tokens}};
  return r;
}

}  // namespace cloze::server
