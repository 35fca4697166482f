#pragma once
// What `classify` and `eval` share: the classifier flags, loading the model
// and tokenizer, and streaming records through the classifier in batches
// while input is still being read.
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/chat_options.h"
#include "cloze/classify.h"
#include "cloze/model.h"
#include "cloze/records.h"
#include "cloze/tokenizer.h"

namespace cloze::cli {

struct ClassifierFlags {
  std::string model = std::string(kDefaultModel);
  std::string labels = "positive,negative";
  std::string labels_file, template_text, template_file;
  std::string label_prefix = " ";
  std::string label_score = "sum", calibrate = "none", truncate = "none";
  std::optional<std::string> pmi_premise;
  std::string content_free;
  size_t max_tokens = 0, threads = 0, batch_tokens = 4096;
  bool no_special = false;
  std::string precision = "exact";
  // --chat: prompt through the model's chat template (--system, --answer-prefix).
  bool chat = false;
  std::optional<std::string> system;
  std::string answer_prefix;
  ChatFlags chat_flags;
  bool multi_label = false;
  std::string label_template;
  double threshold = 0.5;
  size_t top = 0;
};

struct InputFlags {
  std::string input;  // path, "-" for stdin, empty: none
  std::string input_format;
  std::string text_column = "text", id_column;
  std::string on_error = "keep";
  // Both false: a bar only when stderr is a terminal.
  bool progress = false, no_progress = false;
};

void add_classifier_flags(CLI::App* cmd, ClassifierFlags& f);
void add_input_flags(CLI::App* cmd, InputFlags& f);

struct Engine {
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<Classifier> classifier;
  double load_seconds = 0;
};
Engine load_engine(const ClassifierFlags& f);

std::unique_ptr<RecordReader> open_input(const InputFlags& f, const std::string& label_column);

// How a job resumes and stops: rows to skip (already written by an earlier
// run), what to do after each batch (flush and record the resume point), and
// what to say when SIGINT / SIGTERM stops it after a batch.
struct JobHooks {
  size_t skip = 0;
  // Called for each of the first `skip` records (written by an earlier run),
  // in input order, on the reader thread, before any on_result call.
  std::function<void(const Record&)> on_skipped;
  std::function<void()> after_batch;
  // Called after the batch in flight is done and after_batch ran; must not
  // return (exit_on_signal).
  std::function<void(int sig)> on_signal;
};

// Reads every record, classifies in batches, and calls `on_result` in input
// order. A reader thread keeps reading while a batch runs, so output streams.
// With on_error "fail", the first unscorable row stops the job with an error.
// Returns the number of records (skipped ones included).
size_t run_records(RecordReader& reader, Classifier& clf, const InputFlags& f,
                   const std::function<void(const Record&, const Classification&)>& on_result,
                   const JobHooks& hooks = {});

// What identifies a job for --resume: the model, every classifier setting
// that changes a row, the input's bytes (sha256) and how they are read.
// `texts`: positional texts, when the job has them instead of --input.
nlohmann::ordered_json job_identity(const char* command, const Engine& e, const ClassifierFlags& cf,
                                    const InputFlags& in, const std::vector<std::string>& texts);

// The columns a CSV / table of result rows has, known before the first row:
// text, [id], label, probs.<label>..., logits.<label>..., [label_mass], error.
std::vector<std::string> result_columns(const Classifier& clf, bool with_id);

// The result object of design.md: text, [id], label, probs, logits, label_mass[, error].
Row result_row(const Record& rec, const Classification& c, const Classifier& clf, bool with_id);

}  // namespace cloze::cli
