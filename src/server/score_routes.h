#pragma once
// POST /v1/score in SGLang's shape and POST /v1/rerank in Cohere's / Jina's.
// Parsing and formatting only; the numbers come from the library's
// next_token_logprobs / rerank (cloze/score.h), run on the model thread.
//
//   /v1/score  {"query": str | [ids], "items": str | [str] | [[ids]],
//               "label_token_ids": [ids], "apply_softmax": false,
//               "item_first": false, "model"}
//     -> {"scores": [[p per label token] per item], "model", "usage", "object": "scoring"}
//     Each item's prompt is query + item (item + query with item_first), as
//     text or as concatenated ids; p is the next-token probability of each
//     label token (softmax over just the label tokens with apply_softmax).
//   /v1/rerank {"query": str, "documents": [str | {"text": str}], "top_n",
//               "return_documents": false, "model"}
//     -> {"id", "results": [{"index", "relevance_score", "document": {"text"}?}]
//         sorted by relevance, "model", "usage", "meta"}
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloze/score.h"
#include "server/model_worker.h"
#include "server/requests.h"

namespace cloze::server {

struct ScoreRequest {
  std::string model;
  std::vector<std::vector<int32_t>> prompts;  // one per item, tokenized
  std::vector<int32_t> label_token_ids;
  bool apply_softmax = false;
};
// Tokenizes on the HTTP thread (the tokenizer is thread-safe). Prompts over
// the model's context are a 400 naming the item.
ScoreRequest parse_score(const nlohmann::json& body, const Tokenizer& tok, const Limits& limits);
nlohmann::ordered_json score_json(const ScoreRequest& req, const std::vector<std::vector<double>>& logprobs,
                                  const std::string& model);

struct RerankRequest {
  std::string model;
  std::string query;
  std::vector<std::string> documents;
  size_t top_n = 0;  // 0: all
  bool return_documents = false;
};
RerankRequest parse_rerank(const nlohmann::json& body, const Limits& limits);
nlohmann::ordered_json rerank_json(const RerankRequest& req, const std::vector<double>& relevance,
                                   const std::string& id, const std::string& model, size_t prompt_tokens);

// Whole requests: parse, score on the model thread, format. The library's
// errors about the prompts become 400s naming items / documents.
nlohmann::ordered_json answer_score(const nlohmann::json& body, const Tokenizer& tok, const Limits& limits,
                                    ModelWorker& worker, const std::string& model_id);
nlohmann::ordered_json answer_rerank(const nlohmann::json& body, const Tokenizer& tok, const Limits& limits,
                                     ModelWorker& worker, const RerankOptions& options,
                                     const std::string& id, const std::string& model_id);

}  // namespace cloze::server
