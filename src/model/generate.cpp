// generate(): prefill once, then decode one token at a time against the KV
// cache, turning ids into streamed text as they come.
#include "cloze/generate.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cloze/error.h"
#include "model/sampler.h"
#include "model/stop_strings.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/utf8.h"

namespace cloze {

namespace {

// generation_config.json's eos_token_id, where the file has one.
std::optional<std::vector<int32_t>> generation_config_eos(const std::filesystem::path& dir) {
  const auto path = dir / "generation_config.json";
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string() + ": not valid JSON: " + e.what());
  }
  if (!j.is_object() || !j.contains("eos_token_id") || j["eos_token_id"].is_null()) return std::nullopt;
  const auto& e = j["eos_token_id"];
  auto id = [&](const nlohmann::json& v) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX)
      throw Error(path.string() + ": eos_token_id: expected a token id or a list of them, found " + v.dump());
    return v.get<int32_t>();
  };
  std::vector<int32_t> ids;
  if (e.is_array())
    for (const auto& v : e) ids.push_back(id(v));
  else
    ids.push_back(id(e));
  return ids;
}

}  // namespace

std::vector<int32_t> default_eos_ids(const Model& model, const Tokenizer* tok) {
  if (auto ids = generation_config_eos(model.dir())) return *ids;
  if (!model.config().eos_token_ids.empty()) return model.config().eos_token_ids;
  if (tok && tok->eos_id()) return {*tok->eos_id()};
  return {};
}

GenerateResult generate(const Model& model, const Tokenizer* tok, std::span<const int32_t> prompt,
                        const GenerateOptions& opt, const TokenCallback& on_token, const GeneratePrefix& prefix) {
  RunContext ctx(model);
  return generate(ctx, tok, prompt, opt, on_token, prefix);
}

GenerateResult generate(RunContext& ctx, const Tokenizer* tok, std::span<const int32_t> prompt,
                        const GenerateOptions& opt, const TokenCallback& on_token, const GeneratePrefix& prefix) {
  const Model& model = ctx.model();
  validate(opt);
  if (prompt.empty()) throw Error("generate: the prompt has no tokens; give at least one");
  if (!tok && !opt.stop.empty()) throw Error("generate: stop strings need a tokenizer (the model has no tokenizer.json)");
  const ModelConfig& c = model.config();
  for (int32_t id : prompt)
    if (id < 0 || size_t(id) >= c.vocab_size)
      throw Error("prompt: token id " + std::to_string(id) + " is out of range for vocab_size " +
                  std::to_string(c.vocab_size));
  // The longest sequence (prompt + generated) the model supports; generation ends there.
  size_t context = c.max_position_embeddings;
  if (prompt.size() >= context)
    throw Error("prompt: " + std::to_string(prompt.size()) + " tokens leave no room in the model's context of " +
                std::to_string(context) + " (max_position_embeddings)");

  GenerateResult res;
  res.prompt_tokens = prompt.size();
  res.finish_reason = "length";
  if (opt.max_tokens == 0) return res;

  const std::vector<int32_t> eos = opt.ignore_eos ? std::vector<int32_t>{}
                                   : opt.eos_ids.empty() ? default_eos_ids(model, tok) : opt.eos_ids;
  gen::Sampler sampler({.temperature = opt.temperature, .top_k = opt.top_k, .top_p = opt.top_p,
                        .min_p = opt.min_p, .seed = opt.seed});
  std::optional<tok::StreamDecoder> detok;
  if (tok) detok.emplace(*tok);
  gen::StopStrings stops(opt.stop);

  // Prefill: the whole prompt in one pass; full-vocabulary logits of its last position.
  if (prefix.kv && (prefix.len >= prompt.size() || prefix.len > prefix.kv->size()))
    throw Error("generate: a prefix of " + std::to_string(prefix.len) + " tokens does not fit a prompt of " +
                std::to_string(prompt.size()) + " and a cache of " + std::to_string(prefix.kv->size()));
  const size_t reused = prefix.kv ? prefix.len : 0;
  KVCache cache(model, reused ? prefix.kv : nullptr, reused);
  ForwardItem item{&cache, prompt.subspan(reused), Outputs::Last};
  std::vector<float> logits = std::move(ctx.forward({&item, 1})[0].logits);

  for (;;) {
    const int32_t id = sampler.next(logits);
    res.ids.push_back(id);
    std::string piece;
    const char* finish = nullptr;
    if (std::find(eos.begin(), eos.end(), id) != eos.end()) {
      finish = "eos";  // the EOS token itself adds no text
    } else if (detok) {
      piece = stops.push(detok->push(id));
      if (stops.stopped()) finish = "stop";
    }
    if (!finish && (res.ids.size() == opt.max_tokens || cache.size() + 1 >= context))
      finish = "length";
    // The last event carries everything still held back.
    if (finish && detok && !stops.stopped()) piece += stops.push(detok->flush()) + stops.flush();
    res.text += piece;
    if (on_token && !on_token({.id = id, .index = res.ids.size() - 1, .text = piece,
                               .finish_reason = finish ? std::string_view(finish) : std::string_view()})) {
      res.finish_reason = finish ? finish : "cancelled";
      return res;
    }
    if (finish) {
      res.finish_reason = finish;
      return res;
    }
    // Decode: the chosen token alone, against the cache.
    ForwardItem step{&cache, {&id, 1}, Outputs::Last};
    logits = std::move(ctx.forward({&step, 1})[0].logits);
  }
}

}  // namespace cloze
