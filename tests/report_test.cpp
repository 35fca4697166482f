// The eval report: the escaping HTML writer, a report rendered from hostile
// labels and texts, and `cloze eval --report / --report-json` end to end on
// SST-2 dev with the tiny full-vocabulary Qwen2, its numbers checked against
// `eval --json` (which reads the same EvalSummary).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cloze/error.h"
#include "cloze/records.h"
#include "report/eval_report.h"
#include "report/html.h"
#include "test_models.h"
#include "test_util.h"

using cloze::report::escape_html;
using cloze::report::to_valid_utf8;
using cloze::test::error_of;
using nlohmann::json;

namespace {

constexpr const char* kFffd = "\xEF\xBF\xBD";

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string scratch(const std::string& name) {
  return testing::TempDir() + "/cloze_report_" + std::to_string(::getpid()) + "_" + name;
}

// The text of the element with id="id" (up to its first child or end tag).
std::string text_of_id(const std::string& html, const std::string& id) {
  const std::string key = "id=\"" + id + "\">";
  const size_t at = html.find(key);
  if (at == std::string::npos) return "(no id " + id + ")";
  const size_t b = at + key.size();
  return html.substr(b, html.find('<', b) - b);
}

std::string f4(double v) { return cloze::report::fixed(v, 4); }

size_t count_of(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST(HtmlWriter, EscapesTextAndAttributes) {
  EXPECT_EQ(escape_html("<script>alert(\"x\")</script>"), "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
  EXPECT_EQ(escape_html("</textarea>&'"), "&lt;/textarea&gt;&amp;&#39;");
  EXPECT_EQ(escape_html("caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80"), "caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80");
  EXPECT_EQ(escape_html("a\tb\nc\x01" "d\x7F"), std::string("a\tb\nc") + kFffd + "d" + kFffd);
  // Invalid UTF-8: stray continuation, overlong '/', surrogate, past U+10FFFF, cut short.
  EXPECT_EQ(to_valid_utf8("\x80"), kFffd);
  EXPECT_EQ(to_valid_utf8("\xC0\xAF"), std::string(kFffd) + kFffd);
  EXPECT_EQ(to_valid_utf8("\xE0\x80\xAF"), std::string(kFffd) + kFffd + kFffd);
  EXPECT_EQ(to_valid_utf8("\xED\xA0\x80"), std::string(kFffd) + kFffd + kFffd);
  EXPECT_EQ(to_valid_utf8("\xF4\x90\x80\x80"), std::string(kFffd) + kFffd + kFffd + kFffd);
  EXPECT_EQ(to_valid_utf8("ok\xE2\x9C"), std::string("ok") + kFffd + kFffd);
  EXPECT_EQ(to_valid_utf8(kFffd), kFffd);  // a real U+FFFD stays as it is

  cloze::report::HtmlWriter w;
  w.open("p", {{"title", "\"><script>x</script>"}}).text("<b>").close();
  EXPECT_EQ(w.finish(), "<!DOCTYPE html>\n<p title=\"&quot;&gt;&lt;script&gt;x&lt;/script&gt;\">&lt;b&gt;</p>\n");
  cloze::report::HtmlWriter bad;
  EXPECT_NE(error_of([&] { bad.open("p onclick=x"); }).find("bad tag name"), std::string::npos);
  EXPECT_NE(error_of([&] { bad.open("p", {{"on click", "x"}}); }).find("bad attribute name"), std::string::npos);
  EXPECT_NE(error_of([&] { bad.style("a{}</style><script>"); }).find("may not contain"), std::string::npos);
  cloze::report::HtmlWriter open;
  open.open("div");
  EXPECT_NE(error_of([&] { open.finish(); }).find("<div> is still open"), std::string::npos);
}

TEST(EvalReport, HostileLabelsAndTextsAreEscaped) {
  const std::vector<std::string> labels = {"<pos>", "neg\"'&"};
  cloze::EvalSummary s(labels, /*calibrated=*/true);
  const std::vector<std::string> texts = {"<script>alert(1)</script>", "</textarea><textarea>", "\"quoted\" & 'single'",
                                          "bad \xFF\xFE bytes \xC0\xAF", std::string("looks replaced ") + kFffd};
  for (size_t i = 0; i < texts.size(); ++i) {
    cloze::Classification c;
    c.probs = {0.9 - 0.01 * double(i), 0.1 + 0.01 * double(i)};
    c.scores = {1.0, 0.0};
    c.label_index = 0;
    c.label = labels[0];
    c.label_mass = 0.25;
    s.add(1, c, i + 2, texts[i]);  // all wrong: gold is the second label
  }
  cloze::report::RunFacts f;
  f.model = "/models/<b>m</b>";
  f.template_text = "Review: {text}</pre><script>x()</script> Answer:";
  f.labels = labels;
  f.calibration = "contextual";
  const std::string html = cloze::report::eval_report_html(f, s);
  EXPECT_TRUE(cloze::valid_utf8(html));
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<textarea"), std::string::npos);
  EXPECT_EQ(html.find("<pos>"), std::string::npos);
  EXPECT_EQ(html.find("<b>m"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("&lt;/textarea&gt;&lt;textarea&gt;"), std::string::npos);
  EXPECT_NE(html.find("&quot;quoted&quot; &amp; &#39;single&#39;"), std::string::npos);
  EXPECT_NE(html.find(std::string("bad ") + kFffd + kFffd + " bytes " + kFffd + kFffd), std::string::npos);
  EXPECT_NE(html.find(std::string("looks replaced ") + kFffd), std::string::npos);
  EXPECT_NE(html.find("&lt;/pre&gt;&lt;script&gt;x()&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("neg&quot;&#39;&amp;"), std::string::npos);
  EXPECT_EQ(count_of(html, "<svg"), 3u);  // two reliability diagrams (calibrated) and the histogram
  EXPECT_EQ(count_of(html, "<tr><td>"), 2u + 5u);  // per-class rows and the five mistakes
  // Nothing is fetched: no external references of any kind.
  for (const char* ref : {"https://", "src=", "href=", "@import", "url("}) EXPECT_EQ(html.find(ref), std::string::npos) << ref;
  EXPECT_EQ(count_of(html, "http://"), count_of(html, "xmlns=\"http://www.w3.org/2000/svg\""));

  // The JSON report keeps the texts, with invalid UTF-8 replaced when dumped.
  const auto j = cloze::report::eval_report_json(f, s, nlohmann::ordered_json::object());
  const std::string dumped = j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  const json back = json::parse(dumped);
  ASSERT_EQ(back["confident_mistakes"].size(), 5u);
  EXPECT_EQ(back["confident_mistakes"][0]["text"], texts[0]);
  EXPECT_EQ(back["confident_mistakes"][0]["gold"], labels[1]);
  EXPECT_EQ(back["facts"]["template"], f.template_text);
}

class EvalReportCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { model_ = new std::string(cloze::test::full_vocab_qwen2().string()); }
  static void TearDownTestSuite() { delete model_; }
  static std::string cloze(const std::string& args) {
    return std::string(CLOZE_BIN) + " " + args + " --model " + *model_ + " --threads 2";
  }
  static std::string* model_;
};
std::string* EvalReportCli::model_ = nullptr;

TEST_F(EvalReportCli, Sst2ReportNumbersMatchEvalJson) {
  const std::string tsv = CLOZE_FIXTURES "/data/sst2_dev.tsv";
  const std::string html_path = scratch("sst2.html"), json_path = scratch("sst2.json");
  auto r = cloze::test::run_command(cloze("eval --input " + tsv + " --json --report " + html_path + " --report-json " +
                                          json_path + " 2>&1"));
  ASSERT_EQ(r.status, 0) << r.out;
  const json j = json::parse(r.out);
  const std::string html = slurp(html_path);
  const json rj = json::parse(slurp(json_path));
  ASSERT_EQ(j["n"], 872);

  EXPECT_EQ(text_of_id(html, "accuracy"), f4(j["accuracy"]));
  EXPECT_EQ(text_of_id(html, "macro-f1"), f4(j["macro_f1"]));
  EXPECT_EQ(text_of_id(html, "accuracy-ci"),
            "95% CI " + f4(j["accuracy_ci"][0]) + " \u2013 " + f4(j["accuracy_ci"][1]));
  EXPECT_EQ(text_of_id(html, "macro-f1-ci"),
            "95% CI " + f4(j["macro_f1_ci"][0]) + " \u2013 " + f4(j["macro_f1_ci"][1]));
  const json& per = j["metrics"]["per_class"];
  for (size_t i = 0; i < 2; ++i) {
    const json& c = per[i == 0 ? "positive" : "negative"];
    const std::string n = std::to_string(i);
    EXPECT_EQ(text_of_id(html, "precision-" + n), f4(c["precision"]));
    EXPECT_EQ(text_of_id(html, "recall-" + n), f4(c["recall"]));
    EXPECT_EQ(text_of_id(html, "f1-" + n), f4(c["f1"]));
    EXPECT_EQ(text_of_id(html, "support-" + n), std::to_string(c["support"].get<size_t>()));
  }
  // The heat map prints every confusion count.
  const json& m = j["metrics"]["confusion"]["matrix"];
  for (size_t g = 0; g < 2; ++g)
    for (size_t p = 0; p < 2; ++p) {
      const std::string cell = ">" + std::to_string(m[g][p].get<size_t>()) + "</td>";
      EXPECT_NE(html.find(cell), std::string::npos) << cell;
    }
  EXPECT_EQ(text_of_id(html, "ece"), "ECE (10 bins): " + f4(j["reliability"]["ece"]));
  size_t binned = 0;
  for (const auto& b : j["reliability"]["bins"]) binned += b["count"].get<size_t>();
  EXPECT_EQ(binned, 872u);
  size_t massed = 0;
  for (const auto& c : j["label_mass_histogram"]["counts"]) massed += c.get<size_t>();
  EXPECT_EQ(massed, 872u);
  // The interval is around the estimate and about as wide as the normal
  // approximation's +-1.96 sqrt(p(1-p)/n).
  const double acc = j["accuracy"], lo = j["accuracy_ci"][0], hi = j["accuracy_ci"][1];
  EXPECT_LT(lo, acc);
  EXPECT_GT(hi, acc);
  EXPECT_NEAR(hi - lo, 2 * 1.96 * std::sqrt(acc * (1 - acc) / 872), 0.01);

  // --report-json is eval --json plus facts and mistakes: the same numbers.
  for (const char* k : {"n", "scored", "errors", "accuracy", "macro_f1", "mean_label_mass", "metrics", "accuracy_ci",
                        "macro_f1_ci", "bootstrap", "reliability", "label_mass_histogram"})
    EXPECT_EQ(rj[k], j[k]) << k;
  EXPECT_EQ(rj["facts"]["labels"], json({"positive", "negative"}));
  EXPECT_EQ(rj["facts"]["calibration"], "none");
  const size_t wrong = 872 - size_t(std::lround(acc * 872));
  ASSERT_EQ(rj["confident_mistakes"].size(), std::min<size_t>(20, wrong));
  double prev = 1.0;
  for (const auto& mk : rj["confident_mistakes"]) {
    EXPECT_NE(mk["gold"], mk["predicted"]);
    const double p = mk["probs"][mk["predicted"].get<std::string>()];
    EXPECT_LE(p, prev);
    prev = p;
    // The text is in the page, escaped like every text.
    EXPECT_NE(html.find(escape_html(mk["text"].get<std::string>())), std::string::npos) << mk["text"];
  }
  EXPECT_EQ(html.find("<script"), std::string::npos);
}

TEST_F(EvalReportCli, CalibratedReportShowsBothDiagramsAndHostileTextsEscaped) {
  // Each hostile text twice, once per gold label, so one of the two is a mistake.
  std::string tsv = "text\tlabel\n";
  for (const char* t : {"<script>alert(1)</script> great", "</textarea><b>bold</b> awful", "say \"quoted\" & 'single'",
                        "looks replaced \xEF\xBF\xBD and mojibake \xC3\x83\xC2\xA9"})
    tsv += std::string(t) + "\tpositive\n" + t + "\tnegative\n";
  const std::string in = scratch("hostile.tsv"), html_path = scratch("hostile.html");
  std::ofstream(in, std::ios::binary) << tsv;
  auto r = cloze::test::run_command(cloze("eval --input " + in + " --calibrate contextual --json --report " + html_path + " 2>&1"));
  ASSERT_EQ(r.status, 0) << r.out;
  const json j = json::parse(r.out);
  ASSERT_TRUE(j.contains("reliability_uncalibrated"));
  const std::string html = slurp(html_path);
  EXPECT_EQ(text_of_id(html, "ece"), "ECE (10 bins): " + f4(j["reliability_uncalibrated"]["ece"]) +
                                         " before calibration, " + f4(j["reliability"]["ece"]) + " after.");
  EXPECT_EQ(count_of(html, "<svg"), 3u);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<b>bold"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt; great"), std::string::npos);
  EXPECT_NE(html.find("&lt;/textarea&gt;&lt;b&gt;bold&lt;/b&gt; awful"), std::string::npos);
  EXPECT_NE(html.find("say &quot;quoted&quot; &amp; &#39;single&#39;"), std::string::npos);
  EXPECT_NE(html.find("looks replaced \xEF\xBF\xBD and mojibake \xC3\x83\xC2\xA9"), std::string::npos);
}

TEST_F(EvalReportCli, UnwritableReportFailsBeforeTheRun) {
  auto r = cloze::test::run_command(cloze("eval --input " CLOZE_FIXTURES "/data/sst2_dev.tsv --report /nonexistent/dir/r.html 2>&1"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("--report: cannot write '/nonexistent/dir/r.html'"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("accuracy"), std::string::npos) << r.out;
  // A run that fails leaves no empty report behind.
  const std::string in = scratch("badlabel.tsv"), html = scratch("badlabel.html");
  std::ofstream(in) << "text\tlabel\nhi\tpos\n";
  r = cloze::test::run_command(cloze("eval --input " + in + " --report " + html + " 2>&1"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("gold label 'pos' is not among the labels"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(html));
}
