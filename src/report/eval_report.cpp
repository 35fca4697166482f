// The eval report page: run facts, headline metrics with bootstrap
// intervals, per-class table, confusion heat map, reliability diagrams, the
// label_mass histogram and the most confident mistakes. Numbers come from
// EvalSummary (ConfusionMatrix underneath), the same as `eval --json`.
#include "report/eval_report.h"

#include <cstdio>

#include "report/charts.h"
#include "report/html.h"

namespace cloze::report {

namespace {

constexpr const char* kCss = R"css(
body{font:14px/1.45 -apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;color:#111;margin:24px auto;max-width:1080px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse}th,td{padding:4px 10px;text-align:left;vertical-align:top}
table.facts th{color:#555;font-weight:normal;white-space:nowrap}
table.num td,table.num th{text-align:right}table.num td:first-child,table.num th:first-child{text-align:left}
table.num tr:nth-child(even){background:#f6f6f6}
pre{margin:0;white-space:pre-wrap;word-break:break-word;background:#f6f6f6;padding:4px 6px;border-radius:3px}
.headline{display:flex;gap:16px;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;padding:10px 16px;min-width:200px}
.card .v{font-size:26px;font-weight:600}.card .ci{color:#555}.note{color:#555;font-size:13px}
table.heat td{text-align:center;min-width:64px;font-weight:600;border:1px solid #fff}table.heat td.total{background:#fff;color:#555;font-weight:normal}
table.heat th.corner{color:#555;font-weight:normal;font-size:12px}
.charts{display:flex;gap:24px;flex-wrap:wrap}
svg{font-size:11px;background:#fff}.chart-title{font-size:13px;font-weight:600}.tick{fill:#555}.axis{fill:#333;font-size:12px}
.grid{stroke:#e5e5e5}.frame{fill:none;stroke:#999}.diagonal{stroke:#888;stroke-dasharray:4 3}
.bar{fill:#4a7fc1}.conf{fill:#e07b20}.count{fill:#333;font-size:9px}.legend{fill:#555;font-size:10px}
table.mistakes td.text{max-width:560px}table.mistakes .text div{max-height:9em;overflow:auto;white-space:pre-wrap;word-break:break-word}
table.mistakes tr{border-top:1px solid #e5e5e5}table.mistakes .l{text-align:left}
)css";

std::string p4(double v) { return fixed(v, 4); }

// Four decimals, or four significant digits for a small value (the
// label_mass of a model that rarely answers with a label) that would read 0.0000.
std::string p4_or_small(double v) {
  if (v == 0 || v >= 0.001) return p4(v);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3e", v);
  return buf;
}

void fact(HtmlWriter& w, const std::string& name, const std::string& value) {
  w.open("tr").element("th", name).element("td", value).close();
}

void card(HtmlWriter& w, const std::string& id, const std::string& name, double value, const Interval* ci,
          const std::string& note) {
  w.open("div", {{"class", "card"}});
  w.element("div", name, {{"class", "note"}});
  w.element("div", p4_or_small(value), {{"class", "v"}, {"id", id}});
  if (ci) w.element("div", "95% CI " + p4(ci->low) + " \u2013 " + p4(ci->high), {{"class", "ci"}, {"id", id + "-ci"}});
  if (!note.empty()) w.element("div", note, {{"class", "note"}});
  w.close();
}

void facts_table(HtmlWriter& w, const RunFacts& f) {
  std::string labels;
  for (const auto& l : f.labels) labels += (labels.empty() ? "" : ", ") + l;
  w.open("table", {{"class", "facts"}});
  fact(w, "model", f.model);
  fact(w, "input", f.input);
  fact(w, "labels", labels);
  w.open("tr").element("th", "template").open("td").element("pre", f.template_text).close().close();
  fact(w, "calibration", f.calibration);
  fact(w, "label scoring", f.label_score);
  fact(w, "texts", std::to_string(f.n) + " (" + std::to_string(f.scored) + " scored, " + std::to_string(f.errors) +
                       " could not be scored)");
  fact(w, "time", fixed(f.seconds, 2) + " s (model load " + fixed(f.load_seconds, 2) + " s), " + std::to_string(f.threads) +
                      " threads, kernels " + f.kernels + ", precision " + f.precision);
  fact(w, "throughput", fixed(f.texts_per_s, 2) + " texts/s, " + fixed(f.tokens_per_s, 0) + " prompt tokens/s");
  fact(w, "cloze", f.version);
  fact(w, "generated", f.generated);
  w.close();
}

void per_class_table(HtmlWriter& w, const ConfusionMatrix& cm) {
  w.open("table", {{"class", "num"}, {"id", "per-class"}});
  w.open("tr");
  for (const char* h : {"label", "precision", "recall", "F1", "support", "predicted"}) w.element("th", h);
  w.close();
  for (size_t i = 0; i < cm.labels().size(); ++i) {
    const ClassStats s = cm.stats(i);
    const std::string n = std::to_string(i);
    w.open("tr").element("td", cm.labels()[i]);
    w.element("td", p4(s.precision), {{"id", "precision-" + n}});
    w.element("td", p4(s.recall), {{"id", "recall-" + n}});
    w.element("td", p4(s.f1), {{"id", "f1-" + n}});
    w.element("td", std::to_string(s.support), {{"id", "support-" + n}});
    w.element("td", std::to_string(s.predicted)).close();
  }
  w.close();
}

void mistakes_table(HtmlWriter& w, const EvalSummary& s) {
  const auto& ms = s.confident_mistakes();
  const size_t wrong = s.confusion().total() - s.confusion().correct();
  w.element("p", "The " + std::to_string(ms.size()) + " most confident of " + std::to_string(wrong) +
                     " mistakes, most confident first.",
            {{"class", "note"}});
  if (ms.empty()) return;
  w.open("table", {{"class", "mistakes num"}, {"id", "mistakes"}});
  w.open("tr");
  for (const char* h : {"line", "text", "gold", "predicted", "p(predicted)", "p(gold)", "label_mass"}) {
    const std::string_view name = h;
    if (name == "text" || name == "gold" || name == "predicted") w.element("th", name, {{"class", "l"}});
    else w.element("th", name);
  }
  w.close();
  for (const Mistake& m : ms) {
    w.open("tr").element("td", std::to_string(m.line));
    w.open("td", {{"class", "text l"}}).element("div", m.text).close();
    w.element("td", s.labels()[m.gold], {{"class", "l"}}).element("td", s.labels()[m.predicted], {{"class", "l"}});
    w.element("td", p4(m.probs[m.predicted])).element("td", p4(m.probs[m.gold])).element("td", p4_or_small(m.label_mass));
    w.close();
  }
  w.close();
}

}  // namespace

nlohmann::ordered_json facts_json(const RunFacts& f) {
  return {{"model", f.model},
          {"input", f.input},
          {"labels", f.labels},
          {"template", f.template_text},
          {"calibration", f.calibration},
          {"label_score", f.label_score},
          {"n", f.n},
          {"scored", f.scored},
          {"errors", f.errors},
          {"seconds", f.seconds},
          {"load_seconds", f.load_seconds},
          {"texts_per_s", f.texts_per_s},
          {"tokens_per_s", f.tokens_per_s},
          {"threads", f.threads},
          {"kernels", f.kernels},
          {"precision", f.precision},
          {"version", f.version},
          {"generated", f.generated}};
}

std::string eval_report_html(const RunFacts& facts, const EvalSummary& s) {
  const ConfusionMatrix& cm = s.confusion();
  const BootstrapIntervals& ci = s.intervals();
  HtmlWriter w;
  w.open("html", {{"lang", "en"}}).open("head");
  w.empty("meta", {{"charset", "utf-8"}});
  w.empty("meta", {{"name", "viewport"}, {"content", "width=device-width, initial-scale=1"}});
  w.element("title", "cloze eval \u2014 " + facts.model);
  w.style(kCss);
  w.close().open("body");
  w.element("h1", "cloze eval report");
  facts_table(w, facts);

  w.element("h2", "Headline");
  w.open("div", {{"class", "headline"}});
  card(w, "accuracy", "accuracy", cm.accuracy(), &ci.accuracy,
       std::to_string(cm.correct()) + " of " + std::to_string(cm.total()) + " right");
  card(w, "macro-f1", "macro-F1", cm.macro_f1(), &ci.macro_f1, "");
  card(w, "mean-label-mass", "mean label_mass", s.mean_label_mass(), nullptr, "probability of answering with a label");
  w.close();
  w.element("p",
            "Intervals: " + fixed(100 * ci.options.level, 0) + "% percentile bootstrap over " +
                std::to_string(ci.options.resamples) + " resamples of the scored texts (seed " +
                std::to_string(ci.options.seed) + ").",
            {{"class", "note"}});

  w.element("h2", "Per class");
  per_class_table(w, cm);

  w.element("h2", "Confusion matrix");
  confusion_heat_map(w, cm);
  w.element("p", "Gold labels are rows, predictions columns; a cell's colour is its share of the row.",
            {{"class", "note"}});

  w.element("h2", "Reliability");
  const Reliability after = s.reliability();
  const auto before = s.reliability_uncalibrated();
  w.open("div", {{"class", "charts"}});
  if (before) reliability_diagram(w, *before, "before calibration");
  reliability_diagram(w, after, before ? "after calibration (" + facts.calibration + ")" : "predicted label");
  w.close();
  std::string ece = "ECE (10 bins): " + p4(after.ece);
  if (before) ece = "ECE (10 bins): " + p4(before->ece) + " before calibration, " + p4(after.ece) + " after.";
  w.element("p", ece, {{"class", "note"}, {"id", "ece"}});

  w.element("h2", "label_mass");
  w.open("div", {{"class", "charts"}});
  histogram_chart(w, s.label_mass_histogram(), "label_mass of " + std::to_string(s.size()) + " texts",
                  "probability given to the labels");
  w.close();

  w.element("h2", "Most confident mistakes");
  mistakes_table(w, s);
  w.close().close();
  return w.finish();
}

nlohmann::ordered_json eval_report_json(const RunFacts& facts, const EvalSummary& s, nlohmann::ordered_json j) {
  j["facts"] = facts_json(facts);
  j["confident_mistakes"] = s.mistakes_json();
  return j;
}

}  // namespace cloze::report
