// cloze eval: classify labelled data and report accuracy, macro-F1, per-class
// precision/recall, the confusion matrix and throughput.
#include <chrono>
#include <cstdio>
#include <algorithm>
#include <fstream>
#include <iostream>

#include "cli/classify_job.h"
#include "cli/commands.h"
#include "cli/job_output.h"
#include "cli/job_signals.h"
#include "cloze/error.h"
#include "cloze/metrics.h"

namespace cloze::cli {

namespace {

struct EvalArgs {
  ClassifierFlags clf;
  InputFlags in;
  std::string label_column = "label";
  std::string label_map;
  bool json = false;
  std::string predictions;  // optional JSONL file of per-row results
  std::string output, format;  // --output: per-row results, resumable
  bool resume = false;
};

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
  ConfusionMatrix cm(labels);
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
    // Rows an earlier run wrote count in the metrics as if scored now.
    for (const auto& row : pred->existing_rows()) {
      if (row.contains("error")) {
        ++errors;
        continue;
      }
      cm.add(row.at("gold").get<std::string>(), row.at("label").get<std::string>());
      mass += row.value("label_mass", 0.0);
    }
  }
  JobHooks hooks;
  if (pred) {
    hooks.skip = pred->rows_done();
    hooks.after_batch = [&] { pred->commit(); };
  }
  hooks.on_signal = [&](int sig) {
    exit_on_signal(sig, "stopped after the batch in flight" +
                            (pred && pred->to_file() && !a.output.empty()
                                 ? "; " + std::to_string(pred->rows()) + " rows written to " + pred->name() +
                                       "; resume with: " + resume_command()
                                 : std::string("; no metrics (with --output FILE an eval can be resumed)")));
  };
  size_t n = run_records(*reader, *e.classifier, a.in, [&](const Record& r, const Classification& c) {
    if (!r.label) throw Error("input line " + std::to_string(r.line) + ": no gold label in column '" + a.label_column + "'");
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
    cm.add(gold, c.label);
    mass += c.label_mass;
    tokens += c.prompt_tokens;
  }, hooks);
  if (pred) pred->finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const size_t scored = cm.total();

  nlohmann::ordered_json j;
  j["model"] = e.model->dir().string();
  j["n"] = n;
  j["scored"] = scored;
  j["errors"] = errors;
  j["accuracy"] = cm.accuracy();
  j["macro_f1"] = cm.macro_f1();
  j["mean_label_mass"] = scored ? mass / double(scored) : 0.0;
  j["metrics"] = cm.to_json();
  j["seconds"] = seconds;
  j["load_seconds"] = e.load_seconds;
  j["texts_per_s"] = double(n) / seconds;
  j["tokens_per_s"] = double(tokens) / seconds;
  j["threads"] = e.model->threads();
  if (a.json) {
    std::cout << j.dump() << "\n";
    return;
  }
  std::printf("model        %s\n", e.model->dir().string().c_str());
  std::printf("texts        %zu (%zu scored, %zu could not be scored)\n", n, scored, errors);
  std::printf("accuracy     %.4f\n", cm.accuracy());
  std::printf("macro-F1     %.4f\n", cm.macro_f1());
  std::printf("label mass   %.4f (mean probability of answering with a label)\n",
              j["mean_label_mass"].get<double>());
  std::printf("\n%s\n", cm.format().c_str());
  std::printf("time         %.2f s (model load %.2f s), %.2f texts/s, %.0f prompt tokens/s, %zu threads\n", seconds,
              e.load_seconds, double(n) / seconds, double(tokens) / seconds, e.model->threads());
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
  cmd->add_option("--output,-o", a->output, "Write per-row results (with gold) to FILE, whole rows only; resumable");
  cmd->add_option("--format,-f", a->format, "--output format: jsonl or csv (default: from the extension)");
  cmd->add_flag("--resume", a->resume, "Continue the eval that wrote --output FILE (JSONL), metrics over all rows");
  cmd->add_flag("--json", a->json, "Print the report as one JSON object");
  cmd->callback([a] { run_eval(*a); });
}

}  // namespace cloze::cli
