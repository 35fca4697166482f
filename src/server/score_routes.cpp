#include "server/score_routes.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "cloze/classify.h"
#include "cloze/error.h"
#include "server/api_error.h"

namespace cloze::server {

using nlohmann::json;
using nlohmann::ordered_json;

namespace {

std::string model_field(const json& body) {
  auto it = body.find("model");
  if (it == body.end() || it->is_null()) return {};
  if (!it->is_string()) fields::bad("model", "must be a string, got " + fields::type_name(*it));
  return it->get<std::string>();
}

bool flag(const json& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && !it->is_null() && fields::boolean(*it, key);
}

}  // namespace

ScoreRequest parse_score(const json& body, const Tokenizer& tok, const Limits& lim) {
  fields::check(body, {"model", "query", "items", "label_token_ids", "apply_softmax", "item_first"});
  ScoreRequest r;
  r.model = model_field(body);
  if (!body.contains("query")) fields::bad("query", "is required: the text (or token ids) every item is scored with");
  if (!body.contains("items")) fields::bad("items", "is required: a string, a list of strings or a list of token-id lists");
  if (!body.contains("label_token_ids"))
    fields::bad("label_token_ids", "is required: the token ids whose next-token probabilities are wanted");
  const json& q = body["query"];
  const json& items = body["items"];
  r.label_token_ids = fields::ids(body["label_token_ids"], "label_token_ids", lim);
  r.apply_softmax = flag(body, "apply_softmax");
  const bool item_first = flag(body, "item_first");

  if (q.is_string()) {
    // Text: each prompt is the concatenated text, tokenized whole.
    const std::string query = fields::text(q, "query", lim);
    std::vector<std::string> texts;
    if (items.is_string()) texts = {fields::text(items, "items", lim)};
    else if (items.is_array() && !items.empty() && items[0].is_string()) texts = fields::texts(items, "items", lim);
    else fields::bad("items", "must be a string or a list of strings when the query is text");
    for (size_t i = 0; i < texts.size(); ++i) {
      const std::string param = "items[" + std::to_string(i) + "]";
      std::string prompt = item_first ? texts[i] + query : query + texts[i];
      std::vector<int32_t> ids;
      try {
        ids = tok.encode(prompt);
      } catch (const std::exception& e) {
        fields::bad(param, e.what());
      }
      if (ids.empty()) fields::bad(param, "the query and item together are empty (no tokens to score after)");
      r.prompts.push_back(std::move(ids));
    }
  } else if (q.is_array()) {
    // Token ids: the prompts are the concatenated ids.
    std::vector<int32_t> query = q.empty() ? std::vector<int32_t>{} : fields::ids(q, "query", lim);
    if (!items.is_array() || items.empty() || !items[0].is_array())
      fields::bad("items", "must be a list of token-id lists when the query is token ids");
    if (items.size() > lim.max_texts)
      fields::bad("items", "holds " + std::to_string(items.size()) + " items, over the limit of " + std::to_string(lim.max_texts));
    for (size_t i = 0; i < items.size(); ++i) {
      const std::string param = "items[" + std::to_string(i) + "]";
      std::vector<int32_t> item = items[i].is_array() && items[i].empty() ? std::vector<int32_t>{} : fields::ids(items[i], param, lim);
      std::vector<int32_t> ids = item_first ? item : query;
      const auto& tail = item_first ? query : item;
      ids.insert(ids.end(), tail.begin(), tail.end());
      if (ids.empty()) fields::bad(param, "the query and item together are empty (no tokens to score after)");
      r.prompts.push_back(std::move(ids));
    }
  } else {
    fields::bad("query", "must be a string or a list of token ids, got " + fields::type_name(q));
  }
  if (r.prompts.size() > lim.max_texts)
    fields::bad("items", "holds " + std::to_string(r.prompts.size()) + " items, over the limit of " + std::to_string(lim.max_texts));
  for (size_t i = 0; i < r.prompts.size(); ++i)
    if (lim.max_prompt_tokens && r.prompts[i].size() > lim.max_prompt_tokens)
      fields::bad("items[" + std::to_string(i) + "]", "query and item are " + std::to_string(r.prompts[i].size()) +
                                                        " tokens, over the model's context of " +
                                                        std::to_string(lim.max_prompt_tokens));
  return r;
}

ordered_json score_json(const ScoreRequest& req, const std::vector<std::vector<double>>& logprobs,
                        const std::string& model) {
  ordered_json scores = ordered_json::array();
  size_t tokens = 0;
  for (size_t i = 0; i < logprobs.size(); ++i) {
    tokens += req.prompts[i].size();
    // Probabilities over the whole vocabulary, or renormalized over the label tokens.
    std::vector<double> p = req.apply_softmax ? softmax(logprobs[i]) : logprobs[i];
    if (!req.apply_softmax)
      for (double& x : p) x = std::exp(x);
    scores.push_back(p);
  }
  ordered_json j;
  j["scores"] = std::move(scores);
  j["model"] = model;
  j["usage"] = {{"prompt_tokens", tokens}, {"completion_tokens", 0}, {"total_tokens", tokens}};
  j["object"] = "scoring";
  return j;
}

RerankRequest parse_rerank(const json& body, const Limits& lim) {
  fields::check(body, {"model", "query", "documents", "top_n", "return_documents"});
  RerankRequest r;
  r.model = model_field(body);
  if (!body.contains("query")) fields::bad("query", "is required: the text the documents are ranked against");
  r.query = fields::text(body["query"], "query", lim);
  if (!body.contains("documents")) fields::bad("documents", "is required: a list of strings (or {\"text\": ...} objects)");
  const json& docs = body["documents"];
  if (!docs.is_array()) fields::bad("documents", "must be a list, got " + fields::type_name(docs));
  if (docs.empty()) fields::bad("documents", "must hold at least one document");
  if (docs.size() > lim.max_texts)
    fields::bad("documents", "holds " + std::to_string(docs.size()) + " documents, over the limit of " +
                                 std::to_string(lim.max_texts) + " per request");
  for (size_t i = 0; i < docs.size(); ++i) {
    const std::string param = "documents[" + std::to_string(i) + "]";
    if (docs[i].is_object()) {
      if (!docs[i].contains("text")) fields::bad(param + ".text", "is required in a document object");
      r.documents.push_back(fields::text(docs[i]["text"], param + ".text", lim));
    } else {
      r.documents.push_back(fields::text(docs[i], param, lim));
    }
  }
  if (auto it = body.find("top_n"); it != body.end() && !it->is_null())
    r.top_n = size_t(fields::integer(*it, "top_n", 1, INT32_MAX));
  r.return_documents = flag(body, "return_documents");
  return r;
}

ordered_json rerank_json(const RerankRequest& req, const std::vector<double>& relevance, const std::string& id,
                         const std::string& model, size_t prompt_tokens) {
  std::vector<size_t> order(relevance.size());
  std::iota(order.begin(), order.end(), size_t(0));
  // Most relevant first; equal scores keep the documents' order.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return relevance[a] > relevance[b]; });
  if (req.top_n && req.top_n < order.size()) order.resize(req.top_n);
  ordered_json results = ordered_json::array();
  for (size_t i : order) {
    ordered_json r;
    r["index"] = i;
    r["relevance_score"] = relevance[i];
    if (req.return_documents) r["document"] = {{"text", req.documents[i]}};
    results.push_back(std::move(r));
  }
  ordered_json j;
  j["id"] = id;
  j["results"] = std::move(results);
  j["model"] = model;
  j["usage"] = {{"total_tokens", prompt_tokens}};
  j["meta"] = {{"billed_units", {{"search_units", 1}}}};
  return j;
}

ordered_json answer_score(const json& body, const Tokenizer& tok, const Limits& lim, ModelWorker& worker,
                          const std::string& model_id) {
  auto r = std::make_shared<ScoreRequest>(parse_score(body, tok, lim));
  auto lp = worker.submit<std::vector<std::vector<double>>>([r, &worker] {
    try {
      return next_token_logprobs(worker.context(), r->prompts, r->label_token_ids);
    } catch (const Error& e) {
      throw ApiError(400, std::string("items: ") + e.what(), "items");
    }
  }).get();
  return score_json(*r, lp, model_id);
}

ordered_json answer_rerank(const json& body, const Tokenizer& tok, const Limits& lim, ModelWorker& worker,
                           const RerankOptions& options, const std::string& id, const std::string& model_id) {
  auto r = std::make_shared<RerankRequest>(parse_rerank(body, lim));
  auto rel = worker.submit<std::vector<double>>([r, &worker, &tok, options] {
    try {
      return rerank(worker.context(), tok, options, r->query, r->documents);
    } catch (const Error& e) {
      throw ApiError(400, std::string("documents: ") + e.what(), "documents");
    }
  }).get();
  size_t tokens = 0;
  for (const auto& d : r->documents) tokens += tok.encode(fill_rerank_template(options.template_text, r->query, d)).size();
  return rerank_json(*r, rel, id, model_id, tokens);
}

}  // namespace cloze::server
