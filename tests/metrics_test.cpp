// Metrics against values computed by hand (and matching scikit-learn's
// classification_report with zero_division=0), and --label-map parsing.
#include <gtest/gtest.h>

#include "cloze/error.h"
#include "cloze/metrics.h"

namespace {

// gold/predicted pairs over {pos, neg, neu}; "neu" is never predicted.
//            predicted: pos neg neu
//   gold pos            3   1   0     support 4
//   gold neg            1   2   0     support 3
//   gold neu            1   1   0     support 2
cloze::ConfusionMatrix example() {
  cloze::ConfusionMatrix m({"pos", "neg", "neu"});
  for (int i = 0; i < 3; ++i) m.add("pos", "pos");
  m.add("pos", "neg");
  m.add("neg", "neg");
  m.add("neg", "neg");
  m.add("neg", "pos");
  m.add("neu", "pos");
  m.add("neu", "neg");
  return m;
}

}  // namespace

TEST(Metrics, HandComputedWithAClassNeverPredicted) {
  const auto m = example();
  EXPECT_EQ(m.total(), 9u);
  EXPECT_EQ(m.correct(), 5u);
  EXPECT_DOUBLE_EQ(m.accuracy(), 5.0 / 9);
  const auto pos = m.stats(0), neg = m.stats(1), neu = m.stats(2);
  EXPECT_DOUBLE_EQ(pos.precision, 3.0 / 5);
  EXPECT_DOUBLE_EQ(pos.recall, 3.0 / 4);
  EXPECT_DOUBLE_EQ(pos.f1, 2.0 / 3);
  EXPECT_EQ(pos.support, 4u);
  EXPECT_DOUBLE_EQ(neg.precision, 2.0 / 4);
  EXPECT_DOUBLE_EQ(neg.recall, 2.0 / 3);
  EXPECT_DOUBLE_EQ(neg.f1, 4.0 / 7);
  EXPECT_EQ(neg.support, 3u);
  // Never predicted: precision 0/0 is reported as 0, and so is F1.
  EXPECT_EQ(neu.predicted, 0u);
  EXPECT_EQ(neu.precision, 0.0);
  EXPECT_EQ(neu.recall, 0.0);
  EXPECT_EQ(neu.f1, 0.0);
  EXPECT_EQ(neu.support, 2u);
  EXPECT_DOUBLE_EQ(m.macro_f1(), (2.0 / 3 + 4.0 / 7 + 0.0) / 3);  // 26/63
  EXPECT_EQ(m.count(2, 0), 1u);
  EXPECT_EQ(m.count(0, 2), 0u);
}

TEST(Metrics, PerfectAndEmpty) {
  cloze::ConfusionMatrix m({"a", "b"});
  EXPECT_EQ(m.accuracy(), 0.0);
  EXPECT_EQ(m.macro_f1(), 0.0);
  m.add(0, 0);
  m.add(1, 1);
  EXPECT_EQ(m.accuracy(), 1.0);
  EXPECT_EQ(m.macro_f1(), 1.0);
  EXPECT_THROW(m.add(2, 0), std::out_of_range);
}

TEST(Metrics, ToJson) {
  const auto j = example().to_json();
  EXPECT_EQ(j["n"], 9);
  EXPECT_DOUBLE_EQ(j["accuracy"].get<double>(), 5.0 / 9);
  EXPECT_DOUBLE_EQ(j["macro_f1"].get<double>(), 26.0 / 63);
  EXPECT_DOUBLE_EQ(j["per_class"]["neg"]["f1"].get<double>(), 4.0 / 7);
  EXPECT_EQ(j["per_class"]["neu"]["support"], 2);
  EXPECT_EQ(j["confusion"]["labels"], nlohmann::json({"pos", "neg", "neu"}));
  EXPECT_EQ(j["confusion"]["matrix"], nlohmann::json({{3, 1, 0}, {1, 2, 0}, {1, 1, 0}}));
  EXPECT_EQ(j.begin().key(), "n");  // stable key order for scripts and diffs
}

TEST(Metrics, FormatReport) {
  EXPECT_EQ(example().format(),
            "accuracy  0.5556  (5/9)\n"
            "macro-F1  0.4127\n"
            "\n"
            "label             precision     recall         f1    support\n"
            "pos                  0.6000     0.7500     0.6667          4\n"
            "neg                  0.5000     0.6667     0.5714          3\n"
            "neu                  0.0000     0.0000     0.0000          2\n"
            "\n"
            "gold \\ predicted  pos  neg  neu\n"
            "pos                 3    1    0\n"
            "neg                 1    2    0\n"
            "neu                 1    1    0\n");
}

TEST(Metrics, UnknownAndDuplicateLabels) {
  cloze::ConfusionMatrix m({"positive", "negative"});
  try {
    m.add("pos", "positive");
    FAIL() << "no error";
  } catch (const cloze::Error& e) {
    EXPECT_STREQ(e.what(),
                 "gold label \"pos\" is not one of the labels (\"positive\", \"negative\"); "
                 "rename dataset labels with a label map, e.g. pos=positive");
    EXPECT_EQ(e.subject().name, "label_map");
  }
  EXPECT_THROW(m.add("positive", "neutral"), cloze::Error);
  EXPECT_EQ(m.total(), 0u);
  EXPECT_THROW(cloze::ConfusionMatrix({"a", "a"}), cloze::Error);
  EXPECT_THROW(cloze::ConfusionMatrix({}), cloze::Error);
}

TEST(MetricsLabelMap, ParsesAndPassesOthersThrough) {
  const auto m = cloze::LabelMap::parse("pos=positive, neg = negative,0=negative");
  EXPECT_EQ(m.map("pos"), "positive");
  EXPECT_EQ(m.map("neg"), "negative");
  EXPECT_EQ(m.map("0"), "negative");
  EXPECT_EQ(m.map("positive"), "positive");  // not listed: unchanged
  EXPECT_EQ(m.entries().size(), 3u);
  const auto id = cloze::LabelMap::parse("");
  EXPECT_TRUE(id.empty());
  EXPECT_EQ(id.map("anything"), "anything");
}

TEST(MetricsLabelMap, MalformedEntries) {
  for (const char* bad : {"pos", "=positive", "pos=", "a=b=c", "pos=positive,", ",pos=positive"}) {
    try {
      cloze::LabelMap::parse(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const cloze::Error& e) {
      EXPECT_NE(std::string(e.what()).find("is malformed; expected DATASET_LABEL=LABEL"),
                std::string::npos)
          << e.what();
    }
  }
  try {
    cloze::LabelMap::parse("a=x,a=y");
    ADD_FAILURE() << "accepted a duplicate";
  } catch (const cloze::Error& e) {
    EXPECT_STREQ(e.what(), "label map: label \"a\" is mapped twice");
    EXPECT_EQ(e.subject().kind, cloze::Subject::Kind::Option);
  }
}
