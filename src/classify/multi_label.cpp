// Multi-label classification: each label judged on its own, either as a
// yes/no question per label (a label template) or by the label's own
// probability after the prompt (classifier.cpp), against a threshold.
#include <algorithm>
#include <cmath>

#include "cloze/classify.h"
#include "cloze/error.h"
#include "cloze/score.h"

namespace cloze {

std::string fill_label_question(std::string_view tmpl, std::string_view text, std::string_view label) {
  std::string out;
  for (size_t i = 0; i < tmpl.size();) {
    if (tmpl.substr(i, 6) == "{text}") {
      out += text;
      i += 6;
    } else if (tmpl.substr(i, 7) == "{label}") {
      out += label;
      i += 7;
    } else {
      out += tmpl[i++];
    }
  }
  return out;
}

void Classifier::check_multi_label() {
  if (opt_.calibration != Calibration::None)
    throw Error("multi-label: calibration divides probabilities across labels; it does not apply when each label "
                "is judged on its own (drop the calibration)",
                Subject::option("calibration"));
  if (!(opt_.threshold >= 0 && opt_.threshold <= 1))
    throw Error("multi-label: threshold " + std::to_string(opt_.threshold) + " is not a probability in [0, 1]",
                Subject::option("threshold"));
  if (opt_.label_template.empty()) {
    if (opt_.label_score == LabelScore::Mean)
      throw Error("multi-label: label score 'mean' is not a probability to compare with the threshold; use 'sum'",
                  Subject::option("label_score"));
    return;
  }
  if (opt_.top_alternatives)
    throw Error("top alternatives show the answer position of the template; with a label template there is one per label",
                Subject::option("top_alternatives"));
  if (opt_.label_template.find("{label}") == std::string::npos || opt_.label_template.find("{text}") == std::string::npos)
    throw Error("label template must contain {text} and {label}: '" + opt_.label_template + "'",
                Subject::option("label_template"));
  const std::string* words[2] = {&opt_.answer_yes, &opt_.answer_no};
  int32_t* ids[2] = {&yes_id_, &no_id_};
  for (int a = 0; a < 2; ++a) {
    auto t = tok_.encode(*words[a], {.special = false, .add_special_tokens = false});
    if (t.size() != 1)
      throw Error("multi-label answer '" + *words[a] + "' is " + std::to_string(t.size()) + " tokens; it must be one");
    *ids[a] = t[0];
  }
}

void Classifier::set_passing(Classification& c) const {
  c.passing.clear();
  for (size_t j = 0; j < c.probs.size(); ++j)
    if (c.probs[j] >= opt_.threshold) c.passing.push_back(j);
  std::stable_sort(c.passing.begin(), c.passing.end(), [&](size_t a, size_t b) { return c.probs[a] > c.probs[b]; });
}

std::vector<Classification> Classifier::ask_each_label(std::span<const std::string> texts) {
  const size_t n_labels = opt_.labels.size();
  std::vector<Classification> out(texts.size());
  // Questions of the texts that can be asked, in order, n_labels per text.
  std::vector<std::vector<int32_t>> prompts;
  std::vector<size_t> asked;  // text index of each group of n_labels prompts
  for (size_t i = 0; i < texts.size(); ++i) {
    Classification& c = out[i];
    if (texts[i].empty()) {
      c.error = "empty text";
      continue;
    }
    std::vector<std::vector<int32_t>> mine;
    try {
      for (const auto& label : opt_.labels) {
        mine.push_back(tok_.encode(fill_label_question(opt_.label_template, texts[i], label), {.special = opt_.parse_special}));
        c.prompt_tokens += mine.back().size();
        if (mine.back().size() > max_tokens_)
          throw Error("the question for label '" + label + "' is " + std::to_string(mine.back().size()) +
                      " tokens, over the limit of " + std::to_string(max_tokens_));
      }
    } catch (const Error& e) {
      c.error = e.what();
      continue;
    }
    for (auto& p : mine) prompts.push_back(std::move(p));
    asked.push_back(i);
  }
  const int32_t answers[2] = {yes_id_, no_id_};
  auto lp = next_token_logprobs(ctx_, prompts, answers, opt_.max_batch_tokens);
  for (size_t g = 0; g < asked.size(); ++g) {
    Classification& c = out[asked[g]];
    c.probs.resize(n_labels);
    c.scores.resize(n_labels);
    c.label_mass = 0;
    for (size_t j = 0; j < n_labels; ++j) {
      const auto& l = lp[g * n_labels + j];
      c.probs[j] = softmax(l)[0];        // p(yes) / (p(yes) + p(no))
      c.scores[j] = l[0] - l[1];         // the log-odds of yes
      // How much the model answers yes or no at all, averaged over the questions.
      c.label_mass += (std::exp(l[0]) + std::exp(l[1])) / double(n_labels);
    }
    set_passing(c);
    c.label_index = argmax(c.probs);
    c.label = opt_.labels[c.label_index];
  }
  return out;
}

}  // namespace cloze
