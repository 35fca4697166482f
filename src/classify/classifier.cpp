// The classification engine: tokenize prompts, reuse the template prefix's
// KV, run many prompts per forward pass, read only the label rows.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "cloze/classify.h"
#include "cloze/error.h"

namespace cloze {

struct Classifier::Prepared {
  std::vector<int32_t> ids;  // the whole prompt
  size_t shared = 0;         // leading tokens taken from the prefix cache
  bool truncated = false;
  std::string error;
};

namespace {

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t n = std::min(a.size(), b.size()), i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

std::string in_quotes(const std::string& s) { return "'" + s + "'"; }

}  // namespace

Classifier::Classifier(RunContext& ctx, const Tokenizer& tokenizer, ClassifierOptions options)
    : Classifier(nullptr, &ctx, tokenizer, std::move(options)) {}

Classifier::Classifier(const Model& model, const Tokenizer& tokenizer, ClassifierOptions options)
    : Classifier(std::make_unique<RunContext>(model), nullptr, tokenizer, std::move(options)) {}

Classifier::Classifier(std::unique_ptr<RunContext> own, RunContext* ctx, const Tokenizer& tokenizer,
                       ClassifierOptions options)
    : own_ctx_(std::move(own)), ctx_(ctx ? *ctx : *own_ctx_), model_(ctx_.model()), tok_(tokenizer), opt_(std::move(options)), template_(opt_.template_text) {
  max_tokens_ = opt_.max_tokens ? opt_.max_tokens : model_.config().max_position_embeddings;
  if (opt_.labels.size() < 2)
    throw Error("need at least two labels to choose between, got " + std::to_string(opt_.labels.size()), Subject::option("labels"));
  if (!opt_.verbalizers.empty() && opt_.verbalizers.size() != opt_.labels.size())
    throw Error("verbalizers: " + std::to_string(opt_.verbalizers.size()) + " lists for " +
                std::to_string(opt_.labels.size()) + " labels; give one list per label", Subject::option("labels"));
  std::map<std::vector<int32_t>, std::string> seen;
  for (size_t j = 0; j < opt_.labels.size(); ++j) {
    const auto& label = opt_.labels[j];
    if (label.empty()) throw Error("labels: an empty label cannot be scored (a stray comma in the list?)", Subject::option("labels"));
    const std::vector<std::string> ways = opt_.verbalizers.empty() ? std::vector<std::string>{label} : opt_.verbalizers[j];
    if (ways.empty()) throw Error("label " + in_quotes(label) + " has no verbalizers (give at least one way to say it)", Subject::option("labels"));
    for (const auto& way : ways) {
      if (way.empty()) throw Error("label " + in_quotes(label) + " has an empty verbalizer", Subject::option("labels"));
      auto ids = label_ids(way);
      if (ids.empty()) throw Error("label " + in_quotes(way) + " tokenizes to nothing", Subject::option("labels"));
      auto [it, fresh] = seen.emplace(ids, way);
      if (!fresh)
        throw Error(it->second == way ? "label " + in_quotes(way) + " is given twice"
                                      : "labels " + in_quotes(it->second) + " and " + in_quotes(way) +
                                            " tokenize identically, so they cannot be told apart",
                    Subject::option("labels"));
      if (ids.size() > 1) single_token_ = false;
      if (seq_label_.empty() || seq_label_.back() != j) label_ids_.push_back(ids);
      seq_ids_.push_back(std::move(ids));
      seq_label_.push_back(j);
    }
  }
  std::set<int32_t> rows;
  for (const auto& ids : seq_ids_) rows.insert(ids.begin(), ids.end());
  rows_.assign(rows.begin(), rows.end());

  if (opt_.multi_label) check_multi_label();

  // The template's text before {text}, run once. Prompts share as many of its
  // tokens as their own tokenization agrees with (usually all but the last);
  // the BOS that the tokenizer's post-processor adds is part of it (a rendered
  // chat carries its own).
  prefix_ids_ = tok_.encode(template_.prefix(), {.special = true, .add_special_tokens = !opt_.render_prompt});
  auto prefix = std::make_shared<KVCache>(model_);
  if (!prefix_ids_.empty()) {
    ForwardItem item{prefix.get(), prefix_ids_, Outputs::None};
    ctx_.forward({&item, 1});
  }
  prefix_cache_ = prefix;

  if (opt_.calibration == Calibration::Contextual) {
    if (opt_.content_free.empty())
      throw Error("contextual calibration needs at least one content-free input", Subject::option("content_free"));
    auto res = run(opt_.content_free, /*allow_empty=*/true, /*calibrate=*/false);
    calib_ref_.assign(opt_.labels.size(), 0.0);
    for (const auto& r : res) {
      if (!r.error.empty())
        throw Error("contextual calibration input could not be scored: " + r.error, Subject::option("content_free"));
      for (size_t j = 0; j < calib_ref_.size(); ++j) calib_ref_[j] += r.probs[j] / double(res.size());
    }
  } else if (opt_.calibration == Calibration::Pmi) {
    // Score the labels after the premise alone, as log-probabilities.
    std::string premise = opt_.pmi_premise.value_or(template_.suffix());
    while (!premise.empty() && isspace(static_cast<unsigned char>(premise.front()))) premise.erase(0, 1);
    if (premise.empty())
      throw Error("PMI calibration needs a domain premise (pmi_premise); the template has no text after {text}",
                  Subject::option("pmi_premise"));
    Prepared p;
    p.ids = tok_.encode(premise, {.special = true});
    std::vector<Prepared> batch{std::move(p)};
    std::vector<std::vector<double>> logprobs;
    auto r = score_batch(batch, false, &logprobs);
    if (!r[0].error.empty()) throw Error("PMI premise could not be scored: " + r[0].error, Subject::option("pmi_premise"));
    // Single-token scores are logits, which differ from log-probabilities by a
    // per-prompt constant that softmax cancels; the reference must be a
    // log-probability (or the same mean-of-log-probs score) to be comparable.
    calib_ref_ = single_token_ ? logprobs[0] : r[0].scores;
  }
}

// A label is scored as the continuation of the prompt, so it is tokenized in
// context (as lm-evaluation-harness does): the ids that the template's end
// plus the label add to those of the template's end alone, without BOS.
// Byte-level tokenizers give the same ids as the label alone; SentencePiece
// ones would give a lone " positive" a "▁" token of its own. Where the
// context's ids are not a prefix, the label alone is used.
std::vector<int32_t> Classifier::label_ids(const std::string& label) const {
  const EncodeOptions plain{.special = false, .add_special_tokens = false};
  const std::string& context = template_.suffix();
  const auto alone = tok_.encode(opt_.label_prefix + label, plain);
  if (context.empty()) return alone;
  const auto ctx = tok_.encode(context, plain);
  auto both = tok_.encode(context + opt_.label_prefix + label, plain);
  if (both.size() <= ctx.size() || !std::equal(ctx.begin(), ctx.end(), both.begin())) return alone;
  return {both.begin() + std::ptrdiff_t(ctx.size()), both.end()};
}

std::vector<int32_t> Classifier::encode_prompt(const std::string& text) const {
  if (opt_.render_prompt)  // a rendered chat: its special tokens are the template's, BOS included
    return tok_.encode(opt_.render_prompt(text), {.special = true, .add_special_tokens = false});
  return tok_.encode(template_.fill(text), {.special = opt_.parse_special});
}

Classifier::Prepared Classifier::prepare(const std::string& text, bool allow_empty) const {
  Prepared p;
  if (text.empty() && !allow_empty) {
    p.error = "empty text";
    return p;
  }
  try {
    p.ids = encode_prompt(text);
    if (p.ids.size() > max_tokens_) {
      if (opt_.truncate == Truncate::None) {
        p.error = "prompt is " + std::to_string(p.ids.size()) + " tokens, over the limit of " +
                  std::to_string(max_tokens_) + " (truncate it left or right, or give a shorter text)";
        p.ids.clear();
        return p;
      }
      // Cut the text's own tokens, then re-tokenize the whole prompt: the
      // prompt's tokens must be exactly those of tokenizing the prompt.
      auto tids = tok_.encode(text, {.special = opt_.parse_special, .add_special_tokens = false});
      size_t over = p.ids.size() - max_tokens_;
      for (;;) {
        if (over >= tids.size()) {
          p.error = "the template alone is longer than the limit of " + std::to_string(max_tokens_) + " tokens";
          p.ids.clear();
          return p;
        }
        const size_t keep = tids.size() - over;
        std::span<const int32_t> kept = opt_.truncate == Truncate::Right
                                            ? std::span<const int32_t>(tids.data(), keep)
                                            : std::span<const int32_t>(tids.data() + over, keep);
        p.ids = encode_prompt(tok_.decode(kept));
        if (p.ids.size() <= max_tokens_) break;
        over += p.ids.size() - max_tokens_;
      }
      p.truncated = true;
    }
  } catch (const Error& e) {
    p.error = e.what();
    p.ids.clear();
    return p;
  }
  if (p.ids.empty()) {
    p.error = "prompt is empty (empty text with a template that is only {text})";
    return p;
  }
  // At least the last prompt token must be computed: its logits are the answer.
  p.shared = std::min(common_prefix(p.ids, prefix_ids_), p.ids.size() - 1);
  return p;
}

std::vector<Classification> Classifier::classify(std::span<const std::string> texts) {
  if (opt_.multi_label && !opt_.label_template.empty()) return ask_each_label(texts);
  return run(texts, /*allow_empty=*/false, /*calibrate=*/true);
}

std::vector<Classification> Classifier::run(std::span<const std::string> texts, bool allow_empty, bool calibrate) {
  std::vector<Classification> out;
  out.reserve(texts.size());
  std::vector<Prepared> batch;
  size_t batch_tokens = 0;
  auto flush = [&] {
    auto r = score_batch(batch, calibrate);
    for (auto& c : r) out.push_back(std::move(c));
    batch.clear();
    batch_tokens = 0;
  };
  for (const auto& text : texts) {
    Prepared p = prepare(text, allow_empty);
    size_t n = p.ids.size() - p.shared;
    if (!batch.empty() && batch_tokens + n > opt_.max_batch_tokens) flush();
    batch_tokens += p.error.empty() ? n : 0;
    batch.push_back(std::move(p));
  }
  if (!batch.empty()) flush();
  return out;
}

std::vector<Classification> Classifier::score_batch(std::vector<Prepared>& batch, bool calibrate,
                                                    std::vector<std::vector<double>>* logprobs_out) {
  // Scores are per verbalizer (`seq`) until the end, where each label's
  // verbalizers are combined (label_scores).
  const size_t n_labels = label_ids_.size(), n_seqs = seq_ids_.size();
  std::vector<Classification> res(batch.size());
  // Column of each vocabulary row in the restricted logits (every row, in
  // vocabulary order, when the top alternatives are wanted).
  const bool full_row = opt_.top_alternatives > 0;
  std::map<int32_t, size_t> col;
  for (size_t j = 0; j < rows_.size(); ++j) col[rows_[j]] = full_row ? size_t(rows_[j]) : j;

  // Pass 1: every prompt, answer position only.
  std::vector<std::shared_ptr<KVCache>> caches;
  std::vector<ForwardItem> items;
  std::vector<size_t> which;  // batch index of each item
  for (size_t i = 0; i < batch.size(); ++i) {
    res[i].prompt_tokens = batch[i].ids.size();
    res[i].truncated = batch[i].truncated;
    if (!batch[i].error.empty()) {
      res[i].error = batch[i].error;
      continue;
    }
    caches.push_back(std::make_shared<KVCache>(model_, prefix_cache_, batch[i].shared));
    // Multi-token labels continue from the prompt's cache (pass 2); a
    // one-token answer needs nothing after this pass.
    items.push_back({caches.back().get(), std::span<const int32_t>(batch[i].ids).subspan(batch[i].shared),
                     Outputs::Last, /*keep_kv=*/!single_token_});
    which.push_back(i);
  }
  const bool need_lse = opt_.label_mass || !single_token_ || opt_.calibration == Calibration::Pmi || logprobs_out ||
                        opt_.multi_label || full_row;
  auto first = ctx_.forward(items, {.rows = full_row ? std::span<const int32_t>() : std::span<const int32_t>(rows_),
                                      .logsumexp = need_lse});

  // logprob[k][j]: log P(verbalizer j | prompt k), token by token.
  std::vector<std::vector<double>> logprob(items.size(), std::vector<double>(n_seqs, 0.0));
  std::vector<std::vector<double>> first_logit(items.size(), std::vector<double>(n_seqs, 0.0));
  for (size_t k = 0; k < items.size(); ++k)
    for (size_t j = 0; j < n_seqs; ++j) {
      first_logit[k][j] = first[k].logits[col[seq_ids_[j][0]]];
      if (need_lse) logprob[k][j] = first_logit[k][j] - first[k].lse[0];
    }

  // Pass 2 (multi-token labels): teacher-force each label after each prompt,
  // on top of the prompt's cache, all in one batch.
  if (!single_token_) {
    std::vector<std::unique_ptr<KVCache>> conts;
    std::vector<ForwardItem> citems;
    std::vector<std::pair<size_t, size_t>> owner;  // (prompt k, label j)
    for (size_t k = 0; k < items.size(); ++k)
      for (size_t j = 0; j < n_seqs; ++j) {
        const auto& lab = seq_ids_[j];
        if (lab.size() < 2) continue;
        conts.push_back(std::make_unique<KVCache>(model_, caches[k]));
        citems.push_back({conts.back().get(), std::span<const int32_t>(lab).first(lab.size() - 1), Outputs::All});
        owner.push_back({k, j});
      }
    auto more = ctx_.forward(citems, {.rows = rows_, .logsumexp = true});
    for (size_t c = 0; c < citems.size(); ++c) {
      auto [k, j] = owner[c];
      const auto& lab = seq_ids_[j];
      for (size_t p = 0; p + 1 < lab.size(); ++p)
        logprob[k][j] += more[c].logits[p * more[c].cols + col[lab[p + 1]]] - more[c].lse[p];
    }
  }

  for (size_t k = 0; k < items.size(); ++k) {
    Classification& r = res[which[k]];
    std::vector<double> seq_scores;
    if (single_token_) {
      seq_scores = first_logit[k];
    } else {
      seq_scores = logprob[k];
      if (opt_.label_score == LabelScore::Mean)
        for (size_t j = 0; j < n_seqs; ++j) seq_scores[j] /= double(seq_ids_[j].size());
    }
    r.scores = label_scores(seq_scores, seq_label_, n_labels);
    if (need_lse) {
      r.label_mass = 0;
      for (double lp : logprob[k]) r.label_mass += std::exp(lp);
    }
    r.probs = softmax(r.scores);
    if (calibrate && opt_.calibration == Calibration::Contextual)
      r.probs = contextual_calibrate(r.probs, calib_ref_);
    else if (calibrate && opt_.calibration == Calibration::Pmi)
      r.probs = pmi_calibrate(r.scores, calib_ref_);
    if (opt_.multi_label) {
      // Each label's own probability: exp of its log-probability after the prompt.
      r.probs = label_scores(logprob[k], seq_label_, n_labels);
      for (double& p : r.probs) p = std::exp(p);
      set_passing(r);
    }
    if (full_row) {  // the head's top-n, as probabilities
      r.top = top_logprobs({first[k].logits.data(), first[k].cols}, opt_.top_alternatives, first[k].lse[0]);
      for (auto& [id, p] : r.top) p = std::exp(p);
    }
    r.label_index = argmax(r.probs);
    r.label = opt_.labels[r.label_index];
  }
  if (logprobs_out) {
    logprobs_out->assign(batch.size(), {});
    for (size_t k = 0; k < items.size(); ++k) (*logprobs_out)[which[k]] = label_scores(logprob[k], seq_label_, n_labels);
  }
  return res;
}

}  // namespace cloze
