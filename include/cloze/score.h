#pragma once
// Scoring what comes next: the log-probabilities of chosen tokens right after
// each of many prompts (SGLang's /v1/score), and generative reranking
// (Qwen3-Reranker style: how likely the model answers " yes" rather than
// " no" when asked whether a document answers a query).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cloze/model.h"
#include "cloze/tokenizer.h"

namespace cloze {

// logprobs[i][j] = log P(tokens[j] | prompts[i]), over the full vocabulary.
// Prompts that begin with the same tokens (one query, many items) run the
// shared tokens once; results are bitwise those of scoring each alone.
// Throws cloze::Error on an empty prompt or an out-of-range token.
// Runs on `ctx` (one thread at a time per context).
std::vector<std::vector<double>> next_token_logprobs(RunContext& ctx, std::span<const std::vector<int32_t>> prompts,
                                                     std::span<const int32_t> tokens, size_t max_batch_tokens = 4096);
// The same on a run context of its own (the model's default thread count).
std::vector<std::vector<double>> next_token_logprobs(const Model& model, std::span<const std::vector<int32_t>> prompts,
                                                     std::span<const int32_t> tokens, size_t max_batch_tokens = 4096);

// A base-model relevance prompt; {query} and {document} are filled in.
inline constexpr std::string_view kRerankTemplate =
    "Query: {query}\nDocument: {document}\nDoes the document answer the query? Answer yes or no.\nAnswer:";

struct RerankOptions {
  std::string template_text = std::string(kRerankTemplate);
  std::string yes = " yes", no = " no";  // each must be one token
};

// relevance[i] = p(yes) / (p(yes) + p(no)) after the template filled with the
// query and documents[i]. Throws cloze::Error on a template without
// {document}, or a yes/no that is not one token.
std::vector<double> rerank(RunContext& ctx, const Tokenizer& tok, const RerankOptions& opt, std::string_view query,
                           std::span<const std::string> documents);
std::vector<double> rerank(const Model& model, const Tokenizer& tok, const RerankOptions& opt, std::string_view query,
                           std::span<const std::string> documents);

// The prompt rerank() scores for one document.
std::string fill_rerank_template(std::string_view tmpl, std::string_view query, std::string_view document);

}  // namespace cloze
