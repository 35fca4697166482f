// Verbalizers (several ways to say a label) and the scoring endpoints'
// library calls, checked against direct computations from `cloze logits --all`.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cloze/classify.h"
#include "cloze/error.h"
#include "cloze/score.h"
#include "test_models.h"
#include "test_util.h"

namespace {

using cloze::ClassifierOptions;
using json = nlohmann::json;

// log P(cont | prompt) from logits --all over prompt + cont.
double seq_logprob(const std::vector<int32_t>& prompt, const std::vector<int32_t>& cont) {
  std::vector<int32_t> ids = prompt;
  ids.insert(ids.end(), cont.begin(), cont.end());
  auto rows = cloze::test::full_vocab_logprob_rows(ids);
  double s = 0;
  for (size_t p = 0; p < cont.size(); ++p) s += rows[prompt.size() - 1 + p][size_t(cont[p])];
  return s;
}

class Verbalizers : public ::testing::Test {
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

TEST_F(Verbalizers, LabelScoreIsLogOfSummedProbability) {
  ClassifierOptions o;
  o.labels = {"positive", "negative"};
  o.verbalizers = {{"positive", "great", "good fun"}, {"negative", "bad"}};
  o.template_text = "Review: {text} Sentiment:";  // short: logits --all prints every row
  cloze::Classifier clf(*model_, *tok_, o);
  ASSERT_FALSE(clf.single_token_labels());  // "good fun" is two tokens
  ASSERT_EQ(clf.verbalizer_tokens().size(), 5u);
  const std::string text = "A gorgeous, moving film.";
  auto r = clf.classify({&text, 1})[0];
  ASSERT_TRUE(r.error.empty()) << r.error;
  auto prompt = tok_->encode(cloze::PromptTemplate(o.template_text).fill(text));
  double maxdiff = 0, mass = 0;
  std::vector<double> want(2);
  for (size_t j = 0; j < 2; ++j) {
    double p = 0;
    for (const auto& v : o.verbalizers[j]) {
      const double lp = seq_logprob(prompt, tok_->encode(" " + v, {.special = false}));
      p += std::exp(lp);
      mass += std::exp(lp);
    }
    want[j] = std::log(p);
    maxdiff = std::max(maxdiff, std::abs(r.scores[j] - want[j]));
    EXPECT_NEAR(r.scores[j], want[j], 1e-5) << o.labels[j];
  }
  auto probs = cloze::softmax(want);
  EXPECT_NEAR(r.probs[0], probs[0], 1e-6);
  EXPECT_NEAR(r.label_mass, mass, 1e-6);
  std::printf("verbalizer label scores vs logits --all: maxdiff %.3g\n", maxdiff);
}

TEST_F(Verbalizers, OneTokenVerbalizersUseTheAnswerRow) {
  ClassifierOptions o;
  o.labels = {"yes", "no"};
  o.verbalizers = {{"yes", "Yes", "true"}, {"no", "No"}};
  o.template_text = "Is this review positive? {text}\nAnswer:";
  cloze::Classifier clf(*model_, *tok_, o);
  ASSERT_TRUE(clf.single_token_labels());
  const std::string text = "Two hours I will never get back.";
  auto r = clf.classify({&text, 1})[0];
  auto prompt = tok_->encode(cloze::PromptTemplate(o.template_text).fill(text));
  auto rows = cloze::test::full_vocab_logprob_rows(prompt);
  const auto& last = rows.back();
  std::vector<double> want(2, 0.0);
  for (size_t j = 0; j < 2; ++j)
    for (const auto& v : o.verbalizers[j]) want[j] += std::exp(last[size_t(tok_->encode(" " + v, {.special = false})[0])]);
  auto probs = cloze::softmax(std::vector<double>{std::log(want[0]), std::log(want[1])});
  EXPECT_NEAR(r.probs[0], probs[0], 1e-6);
  EXPECT_NEAR(r.probs[1], probs[1], 1e-6);
  EXPECT_NEAR(r.label_mass, want[0] + want[1], 1e-6);
}

TEST_F(Verbalizers, WithoutVerbalizersNothingChanges) {
  ClassifierOptions plain;
  ClassifierOptions same = plain;
  same.verbalizers = {{"positive"}, {"negative"}};
  cloze::Classifier a(*model_, *tok_, plain), b(*model_, *tok_, same);
  const std::vector<std::string> texts = {"Fine.", "Awful acting."};
  auto ra = a.classify(texts), rb = b.classify(texts);
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(ra[i].scores, rb[i].scores);
    EXPECT_EQ(ra[i].probs, rb[i].probs);
  }
}

TEST_F(Verbalizers, BadVerbalizersAreClearErrors) {
  auto err = [&](ClassifierOptions o) {
    return cloze::test::error_of([&] { cloze::Classifier c(*model_, *tok_, o); });
  };
  ClassifierOptions o;
  o.verbalizers = {{"positive"}};
  EXPECT_NE(err(o).find("1 lists for 2 labels"), std::string::npos) << err(o);
  o.verbalizers = {{"positive"}, {}};
  EXPECT_NE(err(o).find("'negative' has no verbalizers"), std::string::npos) << err(o);
  o.verbalizers = {{"positive", "good"}, {"negative", "good"}};
  EXPECT_NE(err(o).find("'good' is given twice"), std::string::npos) << err(o);
  o.verbalizers = {{"positive", ""}, {"negative"}};
  EXPECT_NE(err(o).find("empty verbalizer"), std::string::npos) << err(o);

  EXPECT_NE(cloze::test::error_of([] { cloze::parse_label_set("[1]", "f.json"); }).find("f.json: expected a JSON object"),
            std::string::npos);
  EXPECT_NE(cloze::test::error_of([] { cloze::parse_label_set(R"({"a": [1]})", "f.json"); }).find("label 'a' verbalizer 0"),
            std::string::npos);
  EXPECT_NE(cloze::test::error_of([] { cloze::parse_label_set("{", "f.json"); }).find("not valid JSON"), std::string::npos);
  auto set = cloze::parse_label_set(R"({"pos": ["great", "good"], "neg": "bad"})", "f.json");
  EXPECT_EQ(set.labels, (std::vector<std::string>{"pos", "neg"}));  // file order
  EXPECT_EQ(set.verbalizers[1], std::vector<std::string>{"bad"});
}

TEST_F(Verbalizers, LabelsFileJsonOnTheCommandLine) {
  auto path = std::filesystem::temp_directory_path() / ("cloze_verbalizers_" + std::to_string(::getpid()) + ".json");
  std::ofstream(path) << R"({"positive": ["positive", "great", "good fun"], "negative": ["negative", "bad"]})";
  auto r = cloze::test::run_command(std::string(CLOZE_BIN) + " classify --threads 1 --model " +
                                    cloze::test::full_vocab_qwen2().string() + " --labels-file " + path.string() +
                                    " 'A gorgeous, moving film.'");
  std::filesystem::remove(path);
  ASSERT_EQ(r.status, 0) << r.out;
  json row = json::parse(r.out);
  ClassifierOptions o;
  o.labels = {"positive", "negative"};
  o.verbalizers = {{"positive", "great", "good fun"}, {"negative", "bad"}};
  cloze::Classifier clf(*model_, *tok_, o);
  const std::string text = "A gorgeous, moving film.";
  auto want = clf.classify({&text, 1})[0];
  EXPECT_NEAR(row["probs"]["positive"].get<double>(), want.probs[0], 1e-9);
  EXPECT_NEAR(row["logits"]["negative"].get<double>(), want.scores[1], 1e-6);
}

TEST_F(Verbalizers, NextTokenLogprobsMatchLogitsAll) {
  // /v1/score's computation: items sharing the query's tokens, label rows only.
  std::vector<std::vector<int32_t>> prompts;
  for (const char* item : {" Paris", " London", " a city in France"})
    prompts.push_back(tok_->encode(std::string("The capital of France is") + item));
  const std::vector<int32_t> labels = {tok_->encode(" and")[0], tok_->encode(".")[0], 11};
  auto lp = cloze::next_token_logprobs(*model_, prompts, labels);
  double maxdiff = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto rows = cloze::test::full_vocab_logprob_rows(prompts[i]);
    for (size_t j = 0; j < labels.size(); ++j) {
      maxdiff = std::max(maxdiff, std::abs(lp[i][j] - rows.back()[size_t(labels[j])]));
      EXPECT_NEAR(lp[i][j], rows.back()[size_t(labels[j])], 1e-5);
    }
    // Shared-prefix batching changes no bit: each prompt alone gives the same.
    auto alone = cloze::next_token_logprobs(*model_, {&prompts[i], 1}, labels);
    EXPECT_EQ(alone[0], lp[i]);
  }
  std::printf("next_token_logprobs vs logits --all: maxdiff %.3g\n", maxdiff);
  EXPECT_NE(cloze::test::error_of([&] {
              std::vector<std::vector<int32_t>> empty{{}};
              cloze::next_token_logprobs(*model_, empty, labels);
            }).find("no tokens"),
            std::string::npos);
}

TEST_F(Verbalizers, RerankIsYesAgainstNo) {
  cloze::RerankOptions ro;
  const std::vector<std::string> docs = {"Paris is the capital of France.", "Bananas are yellow."};
  auto rel = cloze::rerank(*model_, *tok_, ro, "What is the capital of France?", docs);
  const int32_t yes = tok_->encode(" yes")[0], no = tok_->encode(" no")[0];
  for (size_t i = 0; i < docs.size(); ++i) {
    auto rows = cloze::test::full_vocab_logprob_rows(tok_->encode(cloze::fill_rerank_template(ro.template_text, "What is the capital of France?", docs[i])));
    const double py = std::exp(rows.back()[size_t(yes)]), pn = std::exp(rows.back()[size_t(no)]);
    EXPECT_NEAR(rel[i], py / (py + pn), 1e-6);
  }
  ro.template_text = "no placeholder";
  EXPECT_NE(cloze::test::error_of([&] { cloze::rerank(*model_, *tok_, ro, "q", docs); }).find("{document}"),
            std::string::npos);
  ro = {};
  ro.yes = " absolutely certainly";
  EXPECT_NE(cloze::test::error_of([&] { cloze::rerank(*model_, *tok_, ro, "q", docs); }).find("must be one"),
            std::string::npos);
}

}  // namespace
