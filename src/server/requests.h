#pragma once
// The bodies of POST /v1/classify and POST /v1/completions: parsed, type- and
// limit-checked on the HTTP thread, so the model thread only sees requests
// that are well formed. Every problem throws ApiError(400) naming the field.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloze/classify.h"
#include "cloze/generate.h"

namespace cloze::server {

struct Limits {
  size_t max_texts = 256;        // texts / prompts per request
  size_t max_text_bytes = 100000;
  size_t vocab_size = 0;         // token-id prompts must be below it
  size_t max_prompt_tokens = 0;  // 0: no limit
};

// Parses a request body. Malformed JSON throws ApiError naming the byte
// offset and the field it happened in (e.g. invalid UTF-8 inside texts[2]).
nlohmann::json parse_body(std::string_view body);

struct ClassifyRequest {
  std::vector<std::string> texts;
  std::optional<std::vector<std::string>> labels;
  // "labels": {"positive": ["great", "good"], ...}: labels with verbalizers.
  std::optional<std::vector<std::vector<std::string>>> verbalizers;
  std::optional<std::string> template_text;
  std::optional<Calibration> calibration;
  // "chat": true prompts through the model's chat template (see classify --chat).
  bool chat = false;
  std::optional<std::string> system;
  std::string answer_prefix;
};
ClassifyRequest parse_classify(const nlohmann::json& body, const Limits& limits);

// A prompt is text (tokenized by the server) or token ids (as
// lm-evaluation-harness sends them).
using Prompt = std::variant<std::string, std::vector<int32_t>>;

struct CompletionRequest {
  std::string model;
  std::vector<Prompt> prompts;
  size_t max_tokens = 16;        // OpenAI's default
  bool echo = false;
  std::optional<int> logprobs;   // top alternatives per token; none: no logprobs
  // Sampling for max_tokens > 0. max_tokens and eos_ids are filled in by the
  // server. An absent temperature is OpenAI's default, 1 (sampling): clients
  // written for OpenAI expect that, and the ones that want reproducible
  // greedy output (lm-evaluation-harness) send temperature 0. An absent seed
  // is 0, so even sampled answers repeat unless the client varies the seed.
  GenerateOptions sampling{.temperature = 1};
  // "stream": true: server-sent events (one prompt, max_tokens > 0, no echo/logprobs).
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
};

// Fields OpenAI defines that this server does not implement: a non-default
// value is a 400 naming the field (presence_penalty, frequency_penalty,
// logit_bias, n / best_of != 1), never silently ignored.
void refuse_unsupported_sampling(const nlohmann::json& body);
// stream / stream_options of a completion or chat request.
void parse_stream(const nlohmann::json& body, CompletionRequest& r);
CompletionRequest parse_completion(const nlohmann::json& body, const Limits& limits);

std::string_view calibration_name(Calibration c);

// The field checks above, for the parsers of other endpoints (score, rerank,
// tokenize): each throws ApiError(400) naming `param`.
namespace fields {
std::string type_name(const nlohmann::json& v);
void check(const nlohmann::json& body, std::initializer_list<const char*> known);
std::string text(const nlohmann::json& v, const std::string& param, const Limits& limits);
std::vector<std::string> texts(const nlohmann::json& v, const std::string& param, const Limits& limits);
int64_t integer(const nlohmann::json& v, const std::string& param, int64_t lo, int64_t hi);
std::vector<int32_t> ids(const nlohmann::json& v, const std::string& param, const Limits& limits);
bool boolean(const nlohmann::json& v, const std::string& param);
[[noreturn]] void bad(const std::string& param, const std::string& message);
}  // namespace fields

}  // namespace cloze::server
