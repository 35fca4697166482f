// Bootstrap intervals, reliability / ECE and histograms against values worked
// out by hand (and numpy.percentile's interpolation), and EvalSummary's
// bookkeeping of mistakes and uncalibrated decisions.
#include <gtest/gtest.h>

#include <cmath>

#include "cloze/error.h"
#include "cloze/eval_metrics.h"
#include "test_util.h"

using cloze::test::error_of;

TEST(EvalMetrics, QuantileInterpolatesLikeNumpy) {
  std::vector<double> v = {4, 1, 3, 2};
  EXPECT_DOUBLE_EQ(cloze::quantile(v, 0.25), 1.75);  // numpy.percentile([1,2,3,4], 25)
  EXPECT_DOUBLE_EQ(cloze::quantile(v, 0.975), 3.925);
  EXPECT_DOUBLE_EQ(cloze::quantile(v, 0), 1);
  EXPECT_DOUBLE_EQ(cloze::quantile(v, 1), 4);
  std::vector<double> none;
  EXPECT_EQ(cloze::quantile(none, 0.5), 0.0);
}

TEST(EvalMetrics, ReliabilityAndEceByHand) {
  // Bins of width 0.1: 0.95, 0.95 -> bin 9 (one right); 0.55 -> bin 5; 0.65 -> bin 6; 1.0 -> bin 9.
  const std::vector<double> conf = {0.95, 0.95, 0.55, 0.65, 1.0};
  const std::vector<bool> right = {true, false, true, true, true};
  const auto r = cloze::reliability(conf, right, 10);
  ASSERT_EQ(r.bins.size(), 10u);
  EXPECT_EQ(r.n, 5u);
  EXPECT_EQ(r.bins[9].count, 3u);
  EXPECT_DOUBLE_EQ(r.bins[9].confidence, (0.95 + 0.95 + 1.0) / 3);
  EXPECT_DOUBLE_EQ(r.bins[9].accuracy, 2.0 / 3);
  EXPECT_EQ(r.bins[5].count, 1u);
  EXPECT_EQ(r.bins[0].count, 0u);
  EXPECT_DOUBLE_EQ(r.bins[3].low, 0.3);
  EXPECT_DOUBLE_EQ(r.bins[3].high, 0.4);
  // ECE = 3/5 |2/3 - 0.9667| + 1/5 |1 - 0.55| + 1/5 |1 - 0.65|
  const double ece = 3.0 / 5 * std::abs(2.0 / 3 - 2.9 / 3) + 0.2 * 0.45 + 0.2 * 0.35;
  EXPECT_NEAR(r.ece, ece, 1e-12);
  // Perfectly calibrated: every bin's accuracy equals its confidence.
  const auto p = cloze::reliability(std::vector<double>{0.5, 0.5, 1.0}, {true, false, true});
  EXPECT_NEAR(p.ece, 0.0, 1e-12);
  EXPECT_NE(error_of([] { cloze::reliability(std::vector<double>{0.5}, {}); }).find("1 confidences but 0 outcomes"),
            std::string::npos);
}

TEST(EvalMetrics, HistogramEdges) {
  const auto h = cloze::histogram(std::vector<double>{0.0, 0.049, 0.05, 0.5, 1.0, 1.5, -1.0}, 20);
  ASSERT_EQ(h.counts.size(), 20u);
  EXPECT_EQ(h.counts[0], 3u);   // 0.0, 0.049 and -1 (clamped)
  EXPECT_EQ(h.counts[1], 1u);   // 0.05
  EXPECT_EQ(h.counts[10], 1u);  // 0.5
  EXPECT_EQ(h.counts[19], 2u);  // 1.0 and 1.5 (clamped)
  EXPECT_NE(error_of([] { cloze::histogram({}, 0); }).find("at least one bin"), std::string::npos);
}

TEST(EvalMetrics, BootstrapIsDeterministicAndMatchesTheNormalApproximation) {
  // 1000 pairs, 700 right: accuracy 0.7, binomial standard error sqrt(.7*.3/1000).
  std::vector<size_t> gold(1000), pred(1000);
  for (size_t i = 0; i < 1000; ++i) {
    gold[i] = i % 2;
    pred[i] = i < 700 ? gold[i] : 1 - gold[i];
  }
  const std::vector<std::string> labels = {"a", "b"};
  const auto ci = cloze::bootstrap_intervals(labels, gold, pred);
  const auto again = cloze::bootstrap_intervals(labels, gold, pred);
  EXPECT_EQ(ci.accuracy.low, again.accuracy.low);
  EXPECT_EQ(ci.macro_f1.high, again.macro_f1.high);
  const double half = 1.959964 * std::sqrt(0.7 * 0.3 / 1000);  // 0.0284
  EXPECT_NEAR(ci.accuracy.low, 0.7 - half, 0.006);
  EXPECT_NEAR(ci.accuracy.high, 0.7 + half, 0.006);
  EXPECT_LT(ci.macro_f1.low, 0.7);
  EXPECT_GT(ci.macro_f1.high, 0.7);
  // Another seed moves the interval a little, not a lot.
  const auto other = cloze::bootstrap_intervals(labels, gold, pred, {.seed = 7});
  EXPECT_TRUE(other.macro_f1.low != ci.macro_f1.low || other.macro_f1.high != ci.macro_f1.high);
  EXPECT_NEAR(other.accuracy.low, ci.accuracy.low, 0.006);
  // All right: every resample scores 1.
  const auto perfect = cloze::bootstrap_intervals(labels, gold, gold);
  EXPECT_EQ(perfect.accuracy.low, 1.0);
  EXPECT_EQ(perfect.macro_f1.high, 1.0);
  EXPECT_NE(error_of([&] { cloze::bootstrap_intervals(labels, gold, std::vector<size_t>(3)); })
                .find("1000 gold labels but 3 predictions"),
            std::string::npos);
  EXPECT_NE(error_of([&] { cloze::bootstrap_intervals(labels, gold, pred, {.level = 1.0}); }).find("level"),
            std::string::npos);
}

namespace {

cloze::Classification scored(std::vector<double> probs, std::vector<double> scores, double mass = 0.5) {
  cloze::Classification c;
  c.probs = std::move(probs);
  c.scores = std::move(scores);
  c.label_index = cloze::argmax(c.probs);
  c.label = c.label_index == 0 ? "pos" : "neg";
  c.label_mass = mass;
  return c;
}

}  // namespace

TEST(EvalSummary, KeepsTheMostConfidentMistakesInOrder) {
  cloze::EvalSummary s({"pos", "neg"}, /*calibrated=*/false, /*keep_mistakes=*/3);
  s.add(0, scored({0.9, 0.1}, {0, 0}), 2, "right");
  s.add(0, scored({0.3, 0.7}, {0, 0}), 3, "wrong 0.7");
  s.add(1, scored({0.95, 0.05}, {0, 0}), 4, "wrong 0.95");
  s.add(1, scored({0.6, 0.4}, {0, 0}), 5, "wrong 0.6");
  s.add(1, scored({0.7, 0.3}, {0, 0}), 6, "wrong 0.7 later");
  s.add(1, scored({0.55, 0.45}, {0, 0}), 7, "wrong 0.55");
  const auto& m = s.confident_mistakes();
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].text, "wrong 0.95");
  EXPECT_EQ(m[1].text, "wrong 0.7");  // ties keep input order
  EXPECT_EQ(m[2].text, "wrong 0.7 later");
  EXPECT_EQ(m[1].line, 3u);
  EXPECT_EQ(s.confusion().total(), 6u);
  EXPECT_EQ(s.confusion().correct(), 1u);
  EXPECT_FALSE(s.reliability_uncalibrated());
  const auto j = s.to_json();
  EXPECT_FALSE(j.contains("reliability_uncalibrated"));
  EXPECT_EQ(j["reliability"]["n"], 6);
  EXPECT_DOUBLE_EQ(s.mean_label_mass(), 0.5);
  EXPECT_EQ(s.mistakes_json()[0]["gold"], "neg");
  EXPECT_EQ(s.mistakes_json()[0]["probs"]["pos"], 0.95);
}

TEST(EvalSummary, UncalibratedDecisionsComeFromTheScores) {
  cloze::EvalSummary s({"pos", "neg"}, /*calibrated=*/true);
  // Calibrated probs say pos; raw scores say neg with softmax(0, ln 3) = (0.25, 0.75).
  s.add(0, scored({0.8, 0.2}, {0.0, std::log(3.0)}), 2, "t");
  const auto before = s.reliability_uncalibrated();
  ASSERT_TRUE(before);
  EXPECT_EQ(before->bins[7].count, 1u);
  EXPECT_DOUBLE_EQ(before->bins[7].accuracy, 0.0);  // raw decision neg, gold pos
  EXPECT_NEAR(before->ece, 0.75, 1e-12);
  const auto after = s.reliability();
  EXPECT_EQ(after.bins[8].count, 1u);
  EXPECT_NEAR(after.ece, 0.2, 1e-12);
  EXPECT_TRUE(s.to_json().contains("reliability_uncalibrated"));
  cloze::Classification bad;
  bad.error = "too long";
  EXPECT_NE(error_of([&] { s.add(0, bad, 9, "x"); }).find("line 9 was not scored: too long"), std::string::npos);
}
