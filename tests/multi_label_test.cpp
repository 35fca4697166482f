// Multi-label classification (a label's own probability, or a yes/no
// question per label), classify --top N, and the multi-label metrics of
// `cloze eval`, checked against `cloze logits --all` and hand counts.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cloze/classify.h"
#include "cloze/error.h"
#include "cloze/metrics.h"
#include "test_models.h"
#include "test_util.h"

namespace {

using cloze::ClassifierOptions;
using json = nlohmann::json;

class MultiLabel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto dir = cloze::test::full_vocab_qwen2();
    model_ = cloze::Model::load(dir, {.threads = 2}).release();
    tok_ = new cloze::Tokenizer(cloze::Tokenizer::from_file(dir / "tokenizer.json"));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete tok_;
  }
  static inline cloze::Model* model_ = nullptr;
  static inline cloze::Tokenizer* tok_ = nullptr;
};

TEST_F(MultiLabel, OwnProbabilityAgainstThreshold) {
  ClassifierOptions o;
  o.template_text = "Topics of: {text}\nTopics:";
  o.labels = {"sports", "politics", "film"};
  o.verbalizers = {{"sports", "football"}, {"politics"}, {"film", "a movie"}};
  o.multi_label = true;
  const std::string text = "The striker scored twice.";
  auto prompt = tok_->encode(cloze::PromptTemplate(o.template_text).fill(text));
  // p(label) = sum over its verbalizers of their sequence probabilities.
  std::vector<double> want(3, 0.0);
  for (size_t j = 0; j < 3; ++j)
    for (const auto& v : o.verbalizers[j]) {
      auto cont = tok_->encode(" " + v, {.special = false});
      std::vector<int32_t> ids = prompt;
      ids.insert(ids.end(), cont.begin(), cont.end());
      auto rows = cloze::test::full_vocab_logprob_rows(ids);
      double lp = 0;
      for (size_t p = 0; p < cont.size(); ++p) lp += rows[prompt.size() - 1 + p][size_t(cont[p])];
      want[j] += std::exp(lp);
    }
  // A threshold between the smallest and the largest: some pass, some do not.
  auto sorted = want;
  std::sort(sorted.begin(), sorted.end());
  o.threshold = (sorted[0] + sorted[1]) / 2;
  cloze::Classifier clf(*model_, *tok_, o);
  auto r = clf.classify({&text, 1})[0];
  ASSERT_TRUE(r.error.empty()) << r.error;
  for (size_t j = 0; j < 3; ++j) EXPECT_NEAR(r.probs[j], want[j], 1e-6 * std::max(1e-3, want[j]) + 1e-12) << j;
  ASSERT_EQ(r.passing.size(), 2u);
  EXPECT_GE(r.probs[r.passing[0]], r.probs[r.passing[1]]);
  for (size_t j : r.passing) EXPECT_GE(want[j], o.threshold);
}

TEST_F(MultiLabel, YesNoQuestionPerLabel) {
  ClassifierOptions o;
  o.labels = {"sports", "politics"};
  o.multi_label = true;
  o.label_template = "Text: {text}\nIs this text about {label}? Answer:";
  o.threshold = 0.5;
  cloze::Classifier clf(*model_, *tok_, o);
  const std::vector<std::string> texts = {"The striker scored twice.", "Parliament passed the budget."};
  auto res = clf.classify(texts);
  const int32_t yes = tok_->encode(" yes")[0], no = tok_->encode(" no")[0];
  for (size_t i = 0; i < texts.size(); ++i) {
    ASSERT_TRUE(res[i].error.empty()) << res[i].error;
    for (size_t j = 0; j < 2; ++j) {
      auto q = tok_->encode(cloze::fill_label_question(o.label_template, texts[i], o.labels[j]));
      auto last = cloze::test::full_vocab_logprob_rows(q).back();
      const double py = std::exp(last[size_t(yes)]), pn = std::exp(last[size_t(no)]);
      EXPECT_NEAR(res[i].probs[j], py / (py + pn), 1e-6);
      EXPECT_EQ(std::find(res[i].passing.begin(), res[i].passing.end(), j) != res[i].passing.end(),
                res[i].probs[j] >= 0.5);
    }
  }
  // A text containing the placeholder stays as written.
  EXPECT_EQ(cloze::fill_label_question("{text} / {label}", "a {label}", "x"), "a {label} / x");
}

TEST_F(MultiLabel, BadSettingsAreClearErrors) {
  auto err = [&](ClassifierOptions o) { return cloze::test::error_of([&] { cloze::Classifier c(*model_, *tok_, o); }); };
  ClassifierOptions o;
  o.multi_label = true;
  o.calibration = cloze::Calibration::Contextual;
  EXPECT_NE(err(o).find("calibration"), std::string::npos) << err(o);
  o.calibration = cloze::Calibration::None;
  o.label_score = cloze::LabelScore::Mean;
  EXPECT_NE(err(o).find("mean"), std::string::npos) << err(o);
  o.label_score = cloze::LabelScore::Sum;
  o.threshold = 1.5;
  EXPECT_NE(err(o).find("threshold"), std::string::npos) << err(o);
  o.threshold = 0.5;
  o.label_template = "Is it {label}?";
  EXPECT_NE(err(o).find("{text} and {label}"), std::string::npos) << err(o);
}

TEST_F(MultiLabel, TopAlternativesAreTheAnswerRowsLikeliest) {
  ClassifierOptions o;
  o.template_text = "Review: {text} Sentiment:";
  o.top_alternatives = 5;
  cloze::Classifier clf(*model_, *tok_, o);
  const std::string text = "Dull and long.";
  auto r = clf.classify({&text, 1})[0];
  auto last = cloze::test::full_vocab_logprob_rows(tok_->encode(cloze::PromptTemplate(o.template_text).fill(text))).back();
  std::vector<int32_t> ids(last.size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = int32_t(i);
  std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return last[size_t(a)] > last[size_t(b)]; });
  ASSERT_EQ(r.top.size(), 5u);
  for (size_t k = 0; k < 5; ++k) {
    EXPECT_EQ(r.top[k].first, ids[k]) << k;
    EXPECT_NEAR(r.top[k].second, std::exp(last[size_t(ids[k])]), 1e-7) << k;
  }
  // The labels' scores are those of the run without --top.
  ClassifierOptions plain = o;
  plain.top_alternatives = 0;
  cloze::Classifier p(*model_, *tok_, plain);
  auto rp = p.classify({&text, 1})[0];
  EXPECT_EQ(rp.scores, r.scores);
  EXPECT_TRUE(rp.top.empty());
}

TEST(MultiLabelMetrics, HandCounts) {
  cloze::MultiLabelMetrics m({"a", "b", "c"});
  m.add({"a", "b"}, {"a"});       // a: tp; b: fn
  m.add({"c"}, {"c", "b"});       // c: tp; b: fp
  m.add({}, {});                  // exact
  m.add({"a"}, {"a"});            // a: tp, exact
  // a: tp 2 -> f1 1; b: tp 0, fp 1, fn 1 -> f1 0; c: tp 1 -> f1 1.
  EXPECT_DOUBLE_EQ(m.macro_f1(), 2.0 / 3.0);
  // pooled: tp 3, fp 1, fn 1 -> 6 / 8.
  EXPECT_DOUBLE_EQ(m.micro_f1(), 0.75);
  EXPECT_DOUBLE_EQ(m.exact_match(), 0.5);
  EXPECT_EQ(m.stats(1).support, 1u);
  EXPECT_EQ(cloze::MultiLabelMetrics::parse_gold("a| b |c"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(cloze::MultiLabelMetrics::parse_gold(R"(["a","b"])"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(cloze::MultiLabelMetrics::parse_gold("").empty());
  EXPECT_NE(cloze::test::error_of([] { cloze::MultiLabelMetrics::parse_gold("[1]"); }).find("must be a string"),
            std::string::npos);
  EXPECT_NE(cloze::test::error_of([&] { m.add({"z"}, {}); }).find("gold label 'z'"), std::string::npos);
}

TEST_F(MultiLabel, EvalReportsMicroAndMacroF1) {
  auto path = std::filesystem::temp_directory_path() / ("cloze_multilabel_" + std::to_string(::getpid()) + ".jsonl");
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"The striker scored twice.", R"(["sports"])"},
      {"The minister watched the match.", R"("sports|politics")"},
      {"Parliament passed the budget.", R"(["politics"])"}};
  {
    std::ofstream f(path);
    for (auto& [t, l] : rows) f << json{{"text", t}}.dump().substr(0, json{{"text", t}}.dump().size() - 1) << ",\"label\":" << l << "}\n";
  }
  const std::string tmpl = "Text: {text}\nIs this text about {label}? Answer:";
  auto r = cloze::test::run_command(std::string(CLOZE_BIN) + " eval --json --threads 1 --model " +
                                    cloze::test::full_vocab_qwen2().string() + " --input " + path.string() +
                                    " --labels sports,politics --multi-label --threshold 0.5 --label-template '" + tmpl + "'");
  std::filesystem::remove(path);
  ASSERT_EQ(r.status, 0) << r.out;
  json j = json::parse(r.out);
  // The same decisions from the library, counted by MultiLabelMetrics.
  ClassifierOptions o;
  o.labels = {"sports", "politics"};
  o.multi_label = true;
  o.label_template = tmpl;
  cloze::Classifier clf(*model_, *tok_, o);
  cloze::MultiLabelMetrics m(o.labels);
  for (auto& [t, l] : rows) {
    auto c = clf.classify({&t, 1})[0];
    std::vector<std::string> pred;
    for (size_t k : c.passing) pred.push_back(o.labels[k]);
    m.add(cloze::MultiLabelMetrics::parse_gold(json::parse(l).is_string() ? json::parse(l).get<std::string>() : l), pred);
  }
  EXPECT_DOUBLE_EQ(j["micro_f1"].get<double>(), m.micro_f1());
  EXPECT_DOUBLE_EQ(j["macro_f1"].get<double>(), m.macro_f1());
  EXPECT_DOUBLE_EQ(j["accuracy"].get<double>(), m.exact_match());
  EXPECT_EQ(j["n"], 3);
}

}  // namespace
