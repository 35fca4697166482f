// Next-token scores for many prompts at once: the shared leading tokens run
// once as a parent KV, every prompt's own tail in stacked batches, and only
// the asked-for vocabulary rows (plus the full logsumexp) are computed.
#include <algorithm>
#include <memory>
#include <set>

#include "cloze/classify.h"
#include "cloze/error.h"
#include "cloze/score.h"

namespace cloze {

std::vector<std::vector<double>> next_token_logprobs(RunContext& ctx, std::span<const std::vector<int32_t>> prompts,
                                                     std::span<const int32_t> tokens, size_t max_batch_tokens) {
  std::vector<std::vector<double>> out(prompts.size());
  const Model& model = ctx.model();
  if (prompts.empty()) return out;
  for (size_t i = 0; i < prompts.size(); ++i)
    if (prompts[i].empty()) throw Error("prompt " + std::to_string(i) + " has no tokens to score after");
    else if (const size_t ctx = model.config().max_position_embeddings; ctx && prompts[i].size() > ctx)
      throw Error("prompt " + std::to_string(i) + " is " + std::to_string(prompts[i].size()) +
                  " tokens, over the model's context of " + std::to_string(ctx));
  // Distinct rows, sorted; col[j] is tokens[j]'s column.
  const std::set<int32_t> distinct(tokens.begin(), tokens.end());
  const std::vector<int32_t> rows(distinct.begin(), distinct.end());
  std::vector<size_t> col(tokens.size());
  for (size_t j = 0; j < tokens.size(); ++j)
    col[j] = size_t(std::lower_bound(rows.begin(), rows.end(), tokens[j]) - rows.begin());

  // The tokens every prompt begins with, run once.
  size_t shared = prompts[0].size();
  for (const auto& p : prompts) {
    size_t i = 0;
    while (i < shared && i < p.size() && p[i] == prompts[0][i]) ++i;
    shared = i;
  }
  auto prefix = std::make_shared<KVCache>(model);
  // Each prompt computes at least its last token (its row is the answer).
  size_t run = shared;
  for (const auto& p : prompts) run = std::min(run, p.size() - 1);
  if (run) {
    ForwardItem item{prefix.get(), std::span<const int32_t>(prompts[0]).first(run), Outputs::None};
    ctx.forward({&item, 1});
  }
  std::shared_ptr<const KVCache> parent = prefix;

  for (size_t begin = 0; begin < prompts.size();) {
    std::vector<std::unique_ptr<KVCache>> caches;
    std::vector<ForwardItem> items;
    size_t end = begin, batch_tokens = 0;
    while (end < prompts.size() && (items.empty() || batch_tokens + prompts[end].size() - run <= max_batch_tokens)) {
      caches.push_back(std::make_unique<KVCache>(model, parent, run));
      items.push_back({caches.back().get(), std::span<const int32_t>(prompts[end]).subspan(run), Outputs::Last,
                       /*keep_kv=*/false});
      batch_tokens += prompts[end].size() - run;
      ++end;
    }
    auto res = ctx.forward(items, {.rows = rows, .logsumexp = true});
    for (size_t k = 0; k < items.size(); ++k) {
      auto& lp = out[begin + k];
      lp.resize(tokens.size());
      for (size_t j = 0; j < tokens.size(); ++j) lp[j] = double(res[k].logits[col[j]]) - double(res[k].lse[0]);
    }
    begin = end;
  }
  return out;
}

std::string fill_rerank_template(std::string_view tmpl, std::string_view query, std::string_view document) {
  std::string out;
  for (size_t i = 0; i < tmpl.size();) {
    if (tmpl.substr(i, 7) == "{query}") {
      out += query;
      i += 7;
    } else if (tmpl.substr(i, 10) == "{document}") {
      out += document;
      i += 10;
    } else {
      out += tmpl[i++];
    }
  }
  return out;
}

std::vector<std::vector<double>> next_token_logprobs(const Model& model, std::span<const std::vector<int32_t>> prompts,
                                                     std::span<const int32_t> tokens, size_t max_batch_tokens) {
  RunContext ctx(model);
  return next_token_logprobs(ctx, prompts, tokens, max_batch_tokens);
}

std::vector<double> rerank(const Model& model, const Tokenizer& tok, const RerankOptions& opt, std::string_view query,
                           std::span<const std::string> documents) {
  RunContext ctx(model);
  return rerank(ctx, tok, opt, query, documents);
}

std::vector<double> rerank(RunContext& ctx, const Tokenizer& tok, const RerankOptions& opt, std::string_view query,
                           std::span<const std::string> documents) {
  if (opt.template_text.find("{document}") == std::string::npos)
    throw Error("rerank template has no {document} placeholder: '" + opt.template_text + "'");
  int32_t answer[2];
  const std::string* words[2] = {&opt.yes, &opt.no};
  for (int a = 0; a < 2; ++a) {
    auto ids = tok.encode(*words[a], {.special = false, .add_special_tokens = false});
    if (ids.size() != 1)
      throw Error("rerank answer '" + *words[a] + "' is " + std::to_string(ids.size()) + " tokens; it must be one");
    answer[a] = ids[0];
  }
  std::vector<std::vector<int32_t>> prompts;
  prompts.reserve(documents.size());
  for (const auto& d : documents) prompts.push_back(tok.encode(fill_rerank_template(opt.template_text, query, d)));
  auto lp = next_token_logprobs(ctx, prompts, answer);
  std::vector<double> out;
  out.reserve(lp.size());
  // p(yes) / (p(yes) + p(no)): the softmax over the two answers.
  for (auto& l : lp) out.push_back(softmax(l)[0]);
  return out;
}

}  // namespace cloze
