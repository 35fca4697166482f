#pragma once
// The answer of POST /v1/completions in OpenAI's legacy completions shape:
//   {"id","object":"text_completion","created","model",
//    "choices":[{"index","text","logprobs":{"tokens","token_logprobs",
//                "top_logprobs","text_offset"} | null,"finish_reason"}],
//    "usage":{"prompt_tokens","completion_tokens","total_tokens"}}
// With echo the text and logprobs cover the prompt; the first token has no
// context, so its token_logprobs and top_logprobs entries are null.
#include <string>

#include <nlohmann/json.hpp>

#include "cloze/tokenizer.h"
#include "server/model_worker.h"
#include "server/requests.h"

namespace cloze::server {

// A token as OpenAI shows it: its text, or "bytes:\xNN..." when the token is
// part of a UTF-8 character and its bytes are not text by themselves.
std::string token_text(const Tokenizer& tok, int32_t id);

nlohmann::ordered_json completion_json(const CompletionRequest& req, const ScoreOutcome& out, const Tokenizer& tok,
                                       const std::string& id, const std::string& model, long long created);

// The same shape for max_tokens > 0: text is the generated text (after the
// prompt with echo); logprobs cover the generated tokens (all with echo).
nlohmann::ordered_json generation_json(const CompletionRequest& req, const GenerateOutcome& out, const Tokenizer& tok,
                                       const std::string& id, const std::string& model, long long created);

}  // namespace cloze::server
