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

namespace {

// The logprobs object for tokens [from, s.ids.size()) of a scored sequence.
// text_offset counts characters from the start of the whole sequence, as
// OpenAI's does (the prompt included, echoed or not).
ordered_json logprobs_json(const Tokenizer& tok, const PromptScores& s, size_t from) {
  ordered_json tokens = ordered_json::array(), lps = ordered_json::array(), tops = ordered_json::array(),
               offsets = ordered_json::array();
  size_t chars = 0;
  for (size_t t = 0; t < s.ids.size(); ++t) {
    const size_t at = chars;
    chars += chars_in(token_bytes(tok, s.ids[t]));
    if (t < from) continue;
    tokens.push_back(token_text(tok, s.ids[t]));
    offsets.push_back(at);
    if (t == 0) {  // no context: nothing to condition on
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
  return {{"tokens", tokens}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

ordered_json envelope(const std::string& id, const std::string& model, long long created, ordered_json choices,
                      size_t prompt_tokens, size_t completion_tokens) {
  ordered_json r;
  r["id"] = id;
  r["object"] = "text_completion";
  r["created"] = created;
  r["model"] = model;
  r["choices"] = std::move(choices);
  r["usage"] = {{"prompt_tokens", prompt_tokens},
                {"completion_tokens", completion_tokens},
                {"total_tokens", prompt_tokens + completion_tokens}};
  return r;
}

// The prompt as echoed: the client's own text, or its token ids decoded.
std::string echoed(const CompletionRequest& req, size_t i, const std::vector<int32_t>& ids, const Tokenizer& tok) {
  auto* given = std::get_if<std::string>(&req.prompts[i]);
  return given ? *given : tok.decode(ids);
}

}  // namespace

ordered_json completion_json(const CompletionRequest& req, const ScoreOutcome& out, const Tokenizer& tok,
                             const std::string& id, const std::string& model, long long created) {
  ordered_json choices = ordered_json::array();
  size_t prompt_tokens = 0;
  for (size_t i = 0; i < out.prompts.size(); ++i) {
    const PromptScores& s = out.prompts[i];
    prompt_tokens += s.ids.size();
    ordered_json c;
    c["index"] = i;
    c["text"] = req.echo ? echoed(req, i, s.ids, tok) : std::string();
    if (req.logprobs) c["logprobs"] = logprobs_json(tok, s, req.echo ? 0 : s.ids.size());
    else c["logprobs"] = nullptr;
    // Nothing was generated because max_tokens (0) allowed nothing.
    c["finish_reason"] = "length";
    choices.push_back(std::move(c));
  }
  return envelope(id, model, created, std::move(choices), prompt_tokens, 0);
}

ordered_json generation_json(const CompletionRequest& req, const GenerateOutcome& out, const Tokenizer& tok,
                             const std::string& id, const std::string& model, long long created) {
  ordered_json choices = ordered_json::array();
  size_t prompt_tokens = 0, completion_tokens = 0;
  for (size_t i = 0; i < out.prompts.size(); ++i) {
    const Generated& g = out.prompts[i];
    prompt_tokens += g.prompt_ids.size();
    completion_tokens += g.result.ids.size();
    ordered_json c;
    c["index"] = i;
    c["text"] = (req.echo ? echoed(req, i, g.prompt_ids, tok) : std::string()) + g.result.text;
    // Without echo only the generated tokens are shown. They may run past a
    // stop string that cut the text: the tokens are what the model chose.
    if (req.logprobs && g.scores) c["logprobs"] = logprobs_json(tok, *g.scores, req.echo ? 0 : g.prompt_ids.size());
    else c["logprobs"] = nullptr;
    // OpenAI has no "eos": its "stop" covers both the end-of-sequence token
    // and a stop string.
    c["finish_reason"] = g.result.finish_reason == "length" ? "length" : "stop";
    choices.push_back(std::move(c));
  }
  return envelope(id, model, created, std::move(choices), prompt_tokens, completion_tokens);
}

}  // namespace cloze::server
