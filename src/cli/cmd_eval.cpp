// cloze eval: classify labelled data and report accuracy, macro-F1, per-class
// precision/recall, the confusion matrix and throughput.
#include <chrono>
#include <ctime>
#include <cstdio>
#include <algorithm>
#include <fstream>
#include <iostream>

#include "kernels/kernels.h"
#include "cli/classify_job.h"
#include "cli/commands.h"
#include "cli/job_output.h"
#include "cli/job_signals.h"
#include "cloze/error.h"
#include "cloze/eval_metrics.h"
#include "cloze/metrics.h"
#include "report/eval_report.h"

namespace cloze::cli {

namespace {

struct EvalArgs {
  ClassifierFlags clf;
  InputFlags in;
  std::string label_column = "label";
  std::string label_map;
  bool json = false;
  std::string predictions;  // optional JSONL file of per-row results
  std::string report, report_json;  // optional HTML / JSON report files
  std::string output, format;  // --output: per-row results, resumable
  bool resume = false;
};

// A report file opened before the run, so that an unwritable path fails
// first; if the run fails, the empty file is removed rather than left behind.
class ReportFile {
 public:
  ReportFile(std::string path, const char* flag) : path_(std::move(path)) {
    if (path_.empty()) return;
    out_.open(path_, std::ios::binary);
    if (!out_) throw Error(std::string(flag) + ": cannot write '" + path_ + "'");
  }
  ~ReportFile() {
    if (path_.empty() || done_) return;
    out_.close();
    std::remove(path_.c_str());
  }
  explicit operator bool() const { return !path_.empty(); }
  // The run stops without unwinding (a signal): remove the unwritten file now.
  void discard() {
    if (path_.empty() || done_) return;
    out_.close();
    std::remove(path_.c_str());
    done_ = true;
  }
  void write(const std::string& content) {
    out_ << content;
    out_.close();
    if (!out_) throw Error("cannot finish writing the report '" + path_ + "' (disk full?)");
    done_ = true;
  }

 private:
  std::string path_;
  std::ofstream out_;
  bool done_ = false;
};

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

void run_eval(EvalArgs& a) {
  auto t0 = std::chrono::steady_clock::now();
  if (a.in.input.empty()) throw Error("eval: --input FILE with a label column is required");
  if (!a.output.empty() && !a.predictions.empty()) throw Error("eval: give --output or --predictions, not both");
  if (a.resume && a.output.empty()) throw Error("--resume needs --output FILE (the file to continue)");
  if (a.resume && a.in.input == "-") throw Error("--resume needs --input FILE: stdin cannot be read again");
  if (!a.output.empty() && output_format_for(a.output, a.format) != OutputFormat::Jsonl && a.resume)
    throw Error("eval --resume rebuilds its metrics from the rows already written, which needs JSONL --output");
  LabelMap map = a.label_map.empty() ? LabelMap() : LabelMap::parse(a.label_map);
  auto reader = open_input(a.in, a.label_column);
  Engine e = load_engine(a.clf);
  install_job_signals();  // after the load: a signal during it stops at once
  const auto& labels = e.classifier->labels();
  EvalSummary summary(labels, e.classifier->options().calibration != Calibration::None);
  const ConfusionMatrix& cm = summary.confusion();
  // --multi-label: gold is a set of labels ("a|b" or a JSON list).
  const bool multi = e.classifier->options().multi_label;
  if (multi && (!a.report.empty() || !a.report_json.empty()))
    throw Error("eval: --report/--report-json describe single-label runs (confusion matrix, reliability); "
                "drop them or --multi-label");
  // Unwritable report paths fail before the run, not after it.
  ReportFile report_out(a.report, "--report"), report_json_out(a.report_json, "--report-json");
  MultiLabelMetrics ml(labels);
  size_t errors = 0, tokens = 0;
  double mass = 0;
  // Per-row results: --output (resumable) or the older --predictions (JSONL).
  std::unique_ptr<JobOutput> pred;
  if (!a.output.empty() || !a.predictions.empty()) {
    JobOutputOptions oo;
    oo.path = a.output.empty() ? a.predictions : a.output;
    oo.format = a.output.empty() ? "jsonl" : a.format;
    oo.resume = a.resume;
    oo.columns = result_columns(*e.classifier, !a.in.id_column.empty());
    oo.columns.push_back("gold");
    if (!a.output.empty()) {  // --predictions: a plain file, replaced each run
      oo.identity = job_identity("eval", e, a.clf, a.in, {});
      oo.identity["label_column"] = a.label_column;
      oo.identity["label_map"] = a.label_map;
    }
    pred = std::make_unique<JobOutput>(std::move(oo));
  }
  // Rows an earlier run wrote count in the metrics and the report as if scored
  // now: the reader hands over each skipped record (its line and text), and
  // the row holds the scores (JSON doubles read back exactly).
  std::vector<nlohmann::ordered_json> earlier;
  if (pred) earlier = pred->existing_rows();
  auto add_earlier = [&](const Record& r) {
    const auto& row = earlier.at(r.index);
    if (row.contains("error")) {
      ++errors;
      return;
    }
    Classification c;
    size_t gold = labels.size();
    try {
      c.label = row.at("label").get<std::string>();
      c.label_index = cm.index_of(c.label);
      gold = cm.index_of(row.at("gold").get<std::string>());
      for (const auto& l : labels) {
        c.probs.push_back(row.at("probs").at(l).get<double>());
        c.scores.push_back(row.at("logits").at(l).get<double>());
      }
      c.label_mass = row.value("label_mass", 0.0);
    } catch (const nlohmann::json::exception& ex) {
      throw Error("--resume: row " + std::to_string(r.index + 1) + " of '" + a.output + "' is not a row this eval writes (" +
                  ex.what() + ")");
    }
    if (c.label_index == labels.size() || gold == labels.size())
      throw Error("--resume: row " + std::to_string(r.index + 1) + " of '" + a.output +
                  "' has a label or gold label that is not among the labels");
    summary.add(gold, c, r.line, r.text);
    mass += c.label_mass;
  };
  JobHooks hooks;
  if (pred) {
    hooks.skip = pred->rows_done();
    hooks.on_skipped = add_earlier;
    hooks.after_batch = [&] { pred->commit(); };
  }
  hooks.on_signal = [&](int sig) {
    report_out.discard();
    report_json_out.discard();
    exit_on_signal(sig, "stopped after the batch in flight" +
                            (pred && pred->to_file() && !a.output.empty()
                                 ? "; " + std::to_string(pred->rows()) + " rows written to " + pred->name() +
                                       "; resume with: " + resume_command()
                                 : std::string("; no metrics (with --output FILE an eval can be resumed)")));
  };
  size_t n = run_records(*reader, *e.classifier, a.in, [&](const Record& r, const Classification& c) {
    if (!r.label) throw Error("input line " + std::to_string(r.line) + ": no gold label in column '" + a.label_column + "'");
    if (multi) {
      std::vector<std::string> gold;
      try {
        for (const auto& g : MultiLabelMetrics::parse_gold(*r.label)) gold.push_back(map.empty() ? g : map.map(g));
      } catch (const Error& err) {
        throw Error("input line " + std::to_string(r.line) + ": " + err.what());
      }
      if (pred) {
        Row row = result_row(r, c, *e.classifier, !a.in.id_column.empty());
        row["gold"] = gold;
        pred->write(row);
      }
      if (!c.error.empty()) {
        ++errors;
        return;
      }
      std::vector<std::string> predicted;
      for (size_t j : c.passing) predicted.push_back(labels[j]);
      try {
        ml.add(gold, predicted);
      } catch (const Error& err) {
        throw Error("input line " + std::to_string(r.line) + ": " + err.what() + "; map it with --label-map NAME=LABEL");
      }
      mass += c.label_mass;
      tokens += c.prompt_tokens;
      return;
    }
    const std::string& gold = map.empty() ? *r.label : map.map(*r.label);
    if (std::find(labels.begin(), labels.end(), gold) == labels.end()) {
      std::string all;
      for (const auto& l : labels) all += (all.empty() ? "" : ",") + l;
      throw Error("input line " + std::to_string(r.line) + ": gold label '" + *r.label + "' is not among the labels (" +
                  all + "); map it with --label-map " + *r.label + "=LABEL");
    }
    if (pred) {
      Row row = result_row(r, c, *e.classifier, !a.in.id_column.empty());
      row["gold"] = gold;
      pred->write(row);
    }
    if (!c.error.empty()) {
      ++errors;
      return;
    }
    summary.add(cm.index_of(gold), c, r.line, r.text);
    mass += c.label_mass;
    tokens += c.prompt_tokens;
  }, hooks);
  if (pred) pred->finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const size_t scored = multi ? ml.total() : cm.total();

  nlohmann::ordered_json j;
  j["model"] = e.model->dir().string();
  j["n"] = n;
  j["scored"] = scored;
  j["errors"] = errors;
  // Multi-label: accuracy is exact match (every label right).
  j["accuracy"] = multi ? ml.exact_match() : cm.accuracy();
  j["macro_f1"] = multi ? ml.macro_f1() : cm.macro_f1();
  if (multi) j["micro_f1"] = ml.micro_f1();
  j["mean_label_mass"] = scored ? mass / double(scored) : 0.0;
  j["metrics"] = multi ? ml.to_json() : cm.to_json();
  if (!multi) {
    const nlohmann::ordered_json extra = summary.to_json();
    for (const auto& [k, v] : extra.items()) j[k] = v;
  }
  j["seconds"] = seconds;
  j["load_seconds"] = e.load_seconds;
  j["texts_per_s"] = double(n) / seconds;
  j["tokens_per_s"] = double(tokens) / seconds;
  j["threads"] = e.model->threads();
  j["kernels"] = kernels::kernel_set();
  j["precision"] = precision_name(e.model->precision());
  if (report_out || report_json_out) {
    report::RunFacts f{.model = e.model->dir().string(),
                       .input = a.in.input,
                       .template_text = e.classifier->options().template_text,
                       .calibration = a.clf.calibrate,
                       .label_score = a.clf.label_score,
                       .version = CLOZE_VERSION,
                       .generated = utc_now(),
                       .labels = labels,
                       .n = n,
                       .scored = scored,
                       .errors = errors,
                       .threads = e.model->threads(),
                       .kernels = kernels::kernel_set(),
                       .precision = precision_name(e.model->precision()),
                       .seconds = seconds,
                       .load_seconds = e.load_seconds,
                       .texts_per_s = double(n) / seconds,
                       .tokens_per_s = double(tokens) / seconds};
    if (report_out) report_out.write(report::eval_report_html(f, summary));
    if (report_json_out)
      report_json_out.write(
          report::eval_report_json(f, summary, j).dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) +
          "\n");
  }
  if (a.json) {
    std::cout << j.dump() << "\n";
    return;
  }
  std::printf("model        %s\n", e.model->dir().string().c_str());
  std::printf("texts        %zu (%zu scored, %zu could not be scored)\n", n, scored, errors);
  if (multi) {
    std::printf("exact match  %.4f\n", ml.exact_match());
    std::printf("micro-F1     %.4f\n", ml.micro_f1());
    std::printf("macro-F1     %.4f\n", ml.macro_f1());
  } else {
    std::printf("accuracy     %.4f\n", cm.accuracy());
    std::printf("macro-F1     %.4f\n", cm.macro_f1());
    const BootstrapIntervals& ci = summary.intervals();
    std::printf("95%% CI       accuracy %.4f-%.4f, macro-F1 %.4f-%.4f (bootstrap, %zu resamples)\n", ci.accuracy.low,
                ci.accuracy.high, ci.macro_f1.low, ci.macro_f1.high, ci.options.resamples);
    if (auto before = summary.reliability_uncalibrated())
      std::printf("ECE          %.4f (before calibration %.4f)\n", summary.reliability().ece, before->ece);
    else
      std::printf("ECE          %.4f (10 bins)\n", summary.reliability().ece);
  }
  std::printf("label mass   %.4f (mean probability of answering with a label)\n",
              j["mean_label_mass"].get<double>());
  std::printf("\n%s\n", multi ? ml.format().c_str() : cm.format().c_str());
  std::printf("time         %.2f s (model load %.2f s), %.2f texts/s, %.0f prompt tokens/s, %zu threads, kernels %s, precision %s\n",
              seconds, e.load_seconds, double(n) / seconds, double(tokens) / seconds, e.model->threads(),
              kernels::kernel_set(), precision_name(e.model->precision()));
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  auto* cmd = app.add_subcommand("eval", "Evaluate zero-shot classification on labelled data");
  add_classifier_flags(cmd, a->clf);
  add_input_flags(cmd, a->in);
  cmd->add_option("--label-column", a->label_column, "Column / field with the gold label")->capture_default_str();
  cmd->add_option("--label-map", a->label_map, "Map gold labels, e.g. 1=positive,0=negative");
  cmd->add_option("--predictions", a->predictions, "Also write per-row results (JSONL) to this file");
  cmd->add_option("--report", a->report, "Also write a self-contained HTML report to this file");
  cmd->add_option("--report-json", a->report_json, "Also write the report's numbers as JSON to this file");
  cmd->add_option("--output,-o", a->output, "Write per-row results (with gold) to FILE, whole rows only; resumable");
  cmd->add_option("--format,-f", a->format, "--output format: jsonl or csv (default: from the extension)");
  cmd->add_flag("--resume", a->resume, "Continue the eval that wrote --output FILE (JSONL), metrics over all rows");
  cmd->add_flag("--json", a->json, "Print the report as one JSON object");
  cmd->callback([a] { run_eval(*a); });
}

}  // namespace cloze::cli
