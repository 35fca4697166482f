#pragma once
// Zero-shot classification with a causal LM: fill a prompt template with the
// text, run the prompt, and compare how likely the model finds each label as
// the continuation. The notebook's method, made general and exact.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cloze/model.h"
#include "cloze/tokenizer.h"

namespace cloze {

// The seed notebook's prompt, byte for byte; {text} is where the review goes.
inline constexpr std::string_view kSeedTemplate =
    "Question: Is the following review positive or\n    negative about the movie?\n    Review: {text} Answer:";
inline constexpr std::string_view kDefaultModel = "Qwen/Qwen2-0.5B";

// A prompt template with one or more `{text}` placeholders.
class PromptTemplate {
 public:
  // Throws cloze::Error if the template has no {text}.
  explicit PromptTemplate(std::string text);
  std::string fill(std::string_view text) const;
  // The part before the first {text}: the same for every prompt, so its KV is
  // computed once.
  const std::string& prefix() const { return parts_.front(); }
  // The part after the last {text}.
  const std::string& suffix() const { return parts_.back(); }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::vector<std::string> parts_;  // text between placeholders
};

enum class LabelScore { Sum, Mean };
enum class Calibration { None, Contextual, Pmi };
enum class Truncate { None, Left, Right };

struct ClassifierOptions {
  std::string template_text = std::string(kSeedTemplate);
  std::vector<std::string> labels = {"positive", "negative"};
  // Verbalizers: the ways each label may be said, one list per label in label
  // order (e.g. positive: {"positive", "great", "good"}). Empty: each label is
  // said only as itself. A label's score is the log of the summed probability
  // of its verbalizers (each scored as label_prefix + verbalizer, multi-token
  // ones by their sequence probability); see label_scores().
  std::vector<std::vector<std::string>> verbalizers;
  // Each label is scored as the tokens of label_prefix + label.
  std::string label_prefix = " ";
  LabelScore label_score = LabelScore::Sum;
  Calibration calibration = Calibration::None;
  // Contextual calibration (Zhao et al. 2021): content-free inputs.
  std::vector<std::string> content_free = {"N/A", "", "[MASK]"};
  // Domain-conditional PMI (Holtzman et al. 2021): the premise the labels are
  // scored after unconditionally; default: the template's text after {text}.
  std::optional<std::string> pmi_premise;
  // Special-token strings inside texts become special tokens (HF default).
  bool parse_special = true;
  Truncate truncate = Truncate::None;
  size_t max_tokens = 0;           // prompt length limit; 0 = model's max_position_embeddings
  size_t max_batch_tokens = 4096;  // new tokens per forward pass
  bool label_mass = true;          // needs a logsumexp over the vocabulary
  // Chat prompting (classify --chat; see chat_classifier_options in
  // cloze/chat.h): when set, a text's prompt is render_prompt(text), the
  // rendered chat, tokenized without adding special tokens a second time (the
  // rendering holds BOS where the model wants it). template_text then only
  // names the shared prefix (its part before {text}) and the PMI premise.
  std::function<std::string(const std::string& text)> render_prompt;
  // Multi-label: every label is judged on its own and all that reach
  // `threshold` are reported (Classification::passing). With label_template
  // (holding {text} and {label}) each label is a yes/no question and its
  // probability is p(yes) / (p(yes) + p(no)) of the answer tokens; without,
  // it is the label's own probability after the prompt (its verbalizers'
  // summed sequence probability).
  // The N likeliest next tokens at the answer position, to see what the model
  // wanted to say when label_mass is low (costs the full vocabulary row).
  size_t top_alternatives = 0;
  bool multi_label = false;
  std::string label_template;
  double threshold = 0.5;
  std::string answer_yes = " yes", answer_no = " no";  // one token each
};

struct Classification {
  std::string label;           // the predicted label; empty when error is set
  size_t label_index = 0;
  std::vector<double> probs;   // per label, label order; calibrated when asked
  // Raw label scores: the answer position's logits (all labels one token), or
  // the sum / mean of the labels' token log-probabilities.
  std::vector<double> scores;
  // Probability the model gives to answering with any label at all.
  double label_mass = 0;
  size_t prompt_tokens = 0;
  bool truncated = false;
  std::string error;           // why this text could not be scored
  // Multi-label: the labels whose probability reaches the threshold, most
  // probable first (probs then holds each label's own probability).
  std::vector<size_t> passing;
  // top_alternatives: (token id, probability), likeliest first.
  std::vector<std::pair<int32_t, double>> top;
};

class Classifier {
 public:
  // Validates and tokenizes the labels, runs the template's shared prefix and
  // any calibration inputs. Throws cloze::Error on bad labels / template.
  // Errors carry the option they are about (Subject::option("labels"), ...).
  // Runs the model on `ctx`, which the caller owns and may share with other
  // work of the same thread.
  Classifier(RunContext& ctx, const Tokenizer& tokenizer, ClassifierOptions options);
  // The same on a run context of its own (the model's default thread count).
  Classifier(const Model& model, const Tokenizer& tokenizer, ClassifierOptions options);

  // Scores texts in input order. Results are bitwise identical however the
  // texts are grouped into calls. A text that cannot be scored gets `error`.
  std::vector<Classification> classify(std::span<const std::string> texts);

  const ClassifierOptions& options() const { return opt_; }
  const Tokenizer& tokenizer() const { return tok_; }
  const std::vector<std::string>& labels() const { return opt_.labels; }
  // The tokens of each label's first verbalizer (the label itself by default).
  const std::vector<std::vector<int32_t>>& label_tokens() const { return label_ids_; }
  // Every verbalizer's tokens, labels in order, and the label each belongs to.
  const std::vector<std::vector<int32_t>>& verbalizer_tokens() const { return seq_ids_; }
  const std::vector<size_t>& verbalizer_labels() const { return seq_label_; }
  bool single_token_labels() const { return single_token_; }
  const std::vector<int32_t>& prefix_tokens() const { return prefix_ids_; }
  // The token ids scored for `text` (before any truncation).
  std::vector<int32_t> prompt_ids(const std::string& text) const { return encode_prompt(text); }
  // Calibration reference: mean content-free probabilities (contextual) or
  // the labels' scores after the premise (PMI); empty when not calibrating.
  const std::vector<double>& calibration_reference() const { return calib_ref_; }

 private:
  struct Prepared;
  Classifier(std::unique_ptr<RunContext> own, RunContext* ctx, const Tokenizer& tokenizer, ClassifierOptions options);
  std::vector<Classification> score_batch(std::vector<Prepared>& batch, bool calibrate,
                                          std::vector<std::vector<double>>* logprobs = nullptr);
  Prepared prepare(const std::string& text, bool allow_empty) const;
  std::vector<int32_t> label_ids(const std::string& label) const;
  std::vector<int32_t> encode_prompt(const std::string& text) const;
  std::vector<Classification> run(std::span<const std::string> texts, bool allow_empty, bool calibrate);
  // Multi-label with a label template: one yes/no question per (text, label).
  std::vector<Classification> ask_each_label(std::span<const std::string> texts);
  void check_multi_label();
  void set_passing(Classification& c) const;

  std::unique_ptr<RunContext> own_ctx_;  // when made from a Model
  RunContext& ctx_;
  const Model& model_;
  const Tokenizer& tok_;
  ClassifierOptions opt_;
  PromptTemplate template_;
  std::vector<std::vector<int32_t>> label_ids_;
  std::vector<std::vector<int32_t>> seq_ids_;  // every verbalizer's tokens
  std::vector<size_t> seq_label_;              // the label of each
  bool single_token_ = true;
  std::vector<int32_t> rows_;  // distinct vocabulary rows the labels need
  std::vector<int32_t> prefix_ids_;
  std::shared_ptr<const KVCache> prefix_cache_;
  std::vector<double> calib_ref_;
  size_t max_tokens_ = 0;
  int32_t yes_id_ = -1, no_id_ = -1;  // multi-label questions' answers
};

// Labels with verbalizers from JSON text: {"positive": ["positive", "great"],
// "negative": "negative", ...} (a string is one verbalizer), labels in the
// object's order. Throws cloze::Error naming `what` and the label at fault.
struct LabelSet {
  std::vector<std::string> labels;
  std::vector<std::vector<std::string>> verbalizers;
};
LabelSet parse_label_set(std::string_view json_text, const std::string& what);

// The math of scoring, pure functions so they can be checked by hand.
std::vector<double> softmax(std::span<const double> scores);
// p_i / ref_i, renormalized (contextual calibration).
std::vector<double> contextual_calibrate(std::span<const double> probs, std::span<const double> ref);
// softmax(score_i - ref_i) (domain-conditional PMI).
std::vector<double> pmi_calibrate(std::span<const double> scores, std::span<const double> ref);
size_t argmax(std::span<const double> v);
// The question a label template asks: {text} and {label} filled in one pass
// (so a text containing "{label}" stays as it is).
std::string fill_label_question(std::string_view tmpl, std::string_view text, std::string_view label);
// log(sum exp(v_i)), stable; -inf for an empty v.
double logsumexp(std::span<const double> v);
// Per-label scores from per-verbalizer scores: the logsumexp of each label's
// verbalizers' scores (a lone verbalizer's score passes through unchanged).
// For log-probabilities that is the log of the label's summed probability;
// for logits (all one token), the same up to a per-prompt constant that
// softmax cancels.
std::vector<double> label_scores(std::span<const double> seq_scores, std::span<const size_t> seq_label, size_t n_labels);

}  // namespace cloze
