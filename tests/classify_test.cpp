// Classification on a random-weight Qwen2 model with the full Qwen2
// vocabulary and the real tokenizer: the decisions and scores must be those
// that the raw forward pass gives for the same prompt.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cloze/classify.h"
#include "cloze/error.h"
#include "test_models.h"

namespace {

using cloze::Classification;
using cloze::Classifier;
using cloze::ClassifierOptions;

struct SeedCases {
  std::string templ;
  std::vector<std::string> reviews;
};

SeedCases seed_cases() {
  std::ifstream in(std::string(CLOZE_FIXTURES) + "/data/seed_cases.json");
  auto j = nlohmann::json::parse(in);
  return {j["template"].get<std::string>(), j["reviews"].get<std::vector<std::string>>()};
}

class Classify : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = cloze::test::full_vocab_qwen2();
    model_ = cloze::Model::load(dir_, {.threads = 2}).release();
    tok_ = new cloze::Tokenizer(cloze::Tokenizer::from_file(dir_ / "tokenizer.json"));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete tok_;
  }
  // The answer position's full logits row, straight from the model.
  static std::vector<float> last_logits(const std::string& prompt) {
    auto ids = tok_->encode(prompt);
    cloze::KVCache cache(*model_);
    cloze::ForwardItem it{&cache, ids, cloze::Outputs::Last};
    return cloze::RunContext(*model_).forward({&it, 1})[0].logits;
  }
  static std::vector<float> all_logits(const std::vector<int32_t>& ids) {
    cloze::KVCache cache(*model_);
    cloze::ForwardItem it{&cache, ids, cloze::Outputs::All};
    return cloze::RunContext(*model_).forward({&it, 1})[0].logits;
  }
  static inline std::filesystem::path dir_;
  static inline cloze::Model* model_ = nullptr;
  static inline cloze::Tokenizer* tok_ = nullptr;
};

TEST_F(Classify, SeedTemplateIsTheNotebooks) {
  EXPECT_EQ(seed_cases().templ, std::string(cloze::kSeedTemplate));
}

TEST_F(Classify, SeedReviewsMatchRawLogits) {
  auto seed = seed_cases();
  Classifier clf(*model_, *tok_, ClassifierOptions{});
  ASSERT_TRUE(clf.single_token_labels());
  EXPECT_EQ(clf.label_tokens()[0], std::vector<int32_t>{6785});  // " positive"
  EXPECT_EQ(clf.label_tokens()[1], std::vector<int32_t>{8225});  // " negative"
  auto res = clf.classify(seed.reviews);
  ASSERT_EQ(res.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    auto row = last_logits(cloze::PromptTemplate(seed.templ).fill(seed.reviews[i]));
    ASSERT_TRUE(res[i].error.empty()) << res[i].error;
    EXPECT_EQ(res[i].scores[0], row[6785]);
    EXPECT_EQ(res[i].scores[1], row[8225]);
    EXPECT_EQ(res[i].label, row[6785] > row[8225] ? "positive" : "negative");
    double sum = res[i].probs[0] + res[i].probs[1];
    EXPECT_NEAR(sum, 1.0, 1e-12);
    // label_mass from the full row.
    double m = *std::max_element(row.begin(), row.end()), z = 0;
    for (float v : row) z += std::exp(double(v) - m);
    double mass = (std::exp(row[6785] - m) + std::exp(row[8225] - m)) / z;
    EXPECT_NEAR(res[i].label_mass, mass, 1e-6 * std::max(1.0, mass));
  }
}

TEST_F(Classify, BatchEqualsOneAtATimeBitwise) {
  auto seed = seed_cases();
  std::vector<std::string> texts = seed.reviews;
  texts.push_back("Great.");
  texts.push_back("A film.");
  ClassifierOptions opt;
  opt.max_batch_tokens = 100000;
  Classifier clf(*model_, *tok_, opt);
  auto batched = clf.classify(texts);
  for (size_t i = 0; i < texts.size(); ++i) {
    auto one = clf.classify({&texts[i], 1});
    ASSERT_EQ(one[0].scores.size(), batched[i].scores.size());
    for (size_t j = 0; j < one[0].scores.size(); ++j) EXPECT_EQ(one[0].scores[j], batched[i].scores[j]) << i;
    EXPECT_EQ(one[0].label_mass, batched[i].label_mass);
  }
}

TEST_F(Classify, MultiTokenLabelsSumLogProbs) {
  ClassifierOptions opt;
  opt.labels = {"very good indeed", "bad", "terribly disappointing"};
  Classifier clf(*model_, *tok_, opt);
  ASSERT_FALSE(clf.single_token_labels());
  std::string text = "I loved every minute of it.";
  auto res = clf.classify({&text, 1})[0];
  std::string prompt = cloze::PromptTemplate(opt.template_text).fill(text);
  auto prompt_ids = tok_->encode(prompt);
  const size_t V = model_->config().vocab_size;
  for (size_t j = 0; j < opt.labels.size(); ++j) {
    auto lab = tok_->encode(" " + opt.labels[j], {.special = false});
    EXPECT_EQ(lab, clf.label_tokens()[j]);
    std::vector<int32_t> ids = prompt_ids;
    ids.insert(ids.end(), lab.begin(), lab.end());
    auto all = all_logits(ids);
    double want = 0;
    for (size_t p = 0; p < lab.size(); ++p) {
      const float* row = &all[(prompt_ids.size() - 1 + p) * V];
      double m = *std::max_element(row, row + V), z = 0;
      for (size_t v = 0; v < V; ++v) z += std::exp(double(row[v]) - m);
      want += double(row[lab[p]]) - (m + std::log(z));
    }
    EXPECT_NEAR(res.scores[j], want, 1e-4) << opt.labels[j];
  }
  // Mean scoring divides by the label's token count.
  opt.label_score = cloze::LabelScore::Mean;
  Classifier mean(*model_, *tok_, opt);
  auto rm = mean.classify({&text, 1})[0];
  for (size_t j = 0; j < opt.labels.size(); ++j)
    EXPECT_NEAR(rm.scores[j], res.scores[j] / double(clf.label_tokens()[j].size()), 1e-9);
}

TEST_F(Classify, ContextualCalibrationUsesContentFreeMean) {
  ClassifierOptions opt;
  opt.calibration = cloze::Calibration::Contextual;
  Classifier clf(*model_, *tok_, opt);
  ClassifierOptions plain_opt;
  Classifier plain(*model_, *tok_, plain_opt);
  std::vector<std::string> cf = {"N/A", "[MASK]"};
  auto cf_res = plain.classify(cf);
  std::string empty_prompt_text;  // "" is content-free too; classify() refuses empty texts
  (void)empty_prompt_text;
  ASSERT_EQ(clf.calibration_reference().size(), 2u);
  std::string text = "Wonderful.";
  auto raw = plain.classify({&text, 1})[0];
  auto cal = clf.classify({&text, 1})[0];
  auto want = cloze::contextual_calibrate(raw.probs, clf.calibration_reference());
  EXPECT_NEAR(cal.probs[0], want[0], 1e-12);
  EXPECT_EQ(cal.scores, raw.scores);  // raw scores are reported uncalibrated
  // The reference is the mean over N/A, "" and [MASK]; two of them checked here.
  EXPECT_GT(clf.calibration_reference()[0], 0.0);
  (void)cf_res;
}

TEST(CalibrationMath, HandComputed) {
  // softmax([1, 0]) = [e/(e+1), 1/(e+1)]
  auto p = cloze::softmax(std::vector<double>{1.0, 0.0});
  EXPECT_NEAR(p[0], 0.7310585786300049, 1e-15);
  // p = [0.7, 0.3], p_cf = [0.8, 0.2] -> W p = [0.875, 1.5] -> [0.368421..., 0.631578...]
  auto q = cloze::contextual_calibrate(std::vector<double>{0.7, 0.3}, std::vector<double>{0.8, 0.2});
  EXPECT_NEAR(q[0], 0.875 / 2.375, 1e-15);
  EXPECT_NEAR(q[1], 1.5 / 2.375, 1e-15);
  // Uniform reference leaves p unchanged.
  auto u = cloze::contextual_calibrate(std::vector<double>{0.7, 0.3}, std::vector<double>{0.5, 0.5});
  EXPECT_NEAR(u[0], 0.7, 1e-15);
  // PMI: scores [-1, -2], premise [-0.5, -3] -> diffs [-0.5, 1] -> softmax
  auto r = cloze::pmi_calibrate(std::vector<double>{-1.0, -2.0}, std::vector<double>{-0.5, -3.0});
  EXPECT_NEAR(r[1], 1.0 / (1.0 + std::exp(-1.5)), 1e-15);
  EXPECT_EQ(cloze::argmax(std::vector<double>{0.1, 0.7, 0.2}), 1u);
}

TEST_F(Classify, PmiReferenceIsPremiseLogProb) {
  ClassifierOptions opt;
  opt.calibration = cloze::Calibration::Pmi;
  Classifier clf(*model_, *tok_, opt);
  // Default premise: the template's text after {text}, trimmed: "Answer:".
  auto row = last_logits("Answer:");
  const size_t V = row.size();
  double m = *std::max_element(row.begin(), row.end()), z = 0;
  for (size_t v = 0; v < V; ++v) z += std::exp(double(row[v]) - m);
  double lse = m + std::log(z);
  ASSERT_EQ(clf.calibration_reference().size(), 2u);
  EXPECT_NEAR(clf.calibration_reference()[0], row[6785] - lse, 1e-4);
  EXPECT_NEAR(clf.calibration_reference()[1], row[8225] - lse, 1e-4);
  std::string text = "Dull.";
  auto r = clf.classify({&text, 1})[0];
  auto want = cloze::pmi_calibrate(r.scores, clf.calibration_reference());
  EXPECT_NEAR(r.probs[0], want[0], 1e-12);
}

TEST_F(Classify, RowsThatCannotBeScoredGetErrors) {
  ClassifierOptions opt;
  opt.max_tokens = 40;
  Classifier clf(*model_, *tok_, opt);
  std::vector<std::string> texts = {"", "fine", std::string(400, 'a') + " long", "bad\xff utf8"};
  auto r = clf.classify(texts);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].error, "empty text");
  EXPECT_TRUE(r[1].error.empty());
  EXPECT_NE(r[2].error.find("over the limit of 40"), std::string::npos) << r[2].error;
  EXPECT_NE(r[3].error.find("UTF-8"), std::string::npos) << r[3].error;
  opt.truncate = cloze::Truncate::Right;
  Classifier trunc(*model_, *tok_, opt);
  auto t = trunc.classify({&texts[2], 1})[0];
  EXPECT_TRUE(t.error.empty()) << t.error;
  EXPECT_TRUE(t.truncated);
  EXPECT_LE(t.prompt_tokens, 40u);
}

TEST_F(Classify, BadLabelsAndTemplates) {
  auto err = [&](ClassifierOptions o) -> std::string {
    try {
      Classifier c(*model_, *tok_, o);
    } catch (const cloze::Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  ClassifierOptions o;
  o.labels = {"positive", "positive"};
  EXPECT_NE(err(o).find("'positive' is given twice"), std::string::npos) << err(o);
  o.labels = {"positive", ""};
  EXPECT_NE(err(o).find("empty label"), std::string::npos) << err(o);
  o.labels = {"positive"};
  EXPECT_NE(err(o).find("at least two labels"), std::string::npos) << err(o);
  o = {};
  o.template_text = "Review: Answer:";
  EXPECT_NE(err(o).find("no {text} placeholder"), std::string::npos) << err(o);
}

}  // namespace
