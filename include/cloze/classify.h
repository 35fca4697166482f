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
  const std::vector<std::string>& labels() const { return opt_.labels; }
  const std::vector<std::vector<int32_t>>& label_tokens() const { return label_ids_; }
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

  std::unique_ptr<RunContext> own_ctx_;  // when made from a Model
  RunContext& ctx_;
  const Model& model_;
  const Tokenizer& tok_;
  ClassifierOptions opt_;
  PromptTemplate template_;
  std::vector<std::vector<int32_t>> label_ids_;
  bool single_token_ = true;
  std::vector<int32_t> rows_;  // distinct vocabulary rows the labels need
  std::vector<int32_t> prefix_ids_;
  std::shared_ptr<const KVCache> prefix_cache_;
  std::vector<double> calib_ref_;
  size_t max_tokens_ = 0;
};

// The math of scoring, pure functions so they can be checked by hand.
std::vector<double> softmax(std::span<const double> scores);
// p_i / ref_i, renormalized (contextual calibration).
std::vector<double> contextual_calibrate(std::span<const double> probs, std::span<const double> ref);
// softmax(score_i - ref_i) (domain-conditional PMI).
std::vector<double> pmi_calibrate(std::span<const double> scores, std::span<const double> ref);
size_t argmax(std::span<const double> v);

}  // namespace cloze
