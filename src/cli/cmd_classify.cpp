// cloze classify: one result object per input text, in input order, streamed.
#include <unistd.h>

#include <iostream>

#include "cli/classify_job.h"
#include "cli/commands.h"
#include "cli/job_output.h"
#include "cli/job_signals.h"
#include "cloze/error.h"

namespace cloze::cli {

namespace {

struct ClassifyArgs {
  ClassifierFlags clf;
  InputFlags in;
  std::vector<std::string> texts;
  std::string format;  // empty: from --output's extension, else jsonl
  std::string output;
  bool resume = false;
};

// Positional texts as records, so they take the same path as files.
class ArgsReader : public RecordReader {
 public:
  explicit ArgsReader(const std::vector<std::string>& texts) : texts_(texts) {}
  bool next(Record& out) override {
    if (i_ >= texts_.size()) return false;
    out = Record{};
    out.index = i_;
    out.line = i_ + 1;
    out.text = texts_[i_++];
    size_t bad = 0;
    if (!valid_utf8(out.text, &bad)) out.error = "text is not valid UTF-8 (byte " + std::to_string(bad) + ")";
    else if (out.text.empty()) out.error = "empty text";
    return true;
  }

 private:
  const std::vector<std::string>& texts_;
  size_t i_ = 0;
};

void run_classify(ClassifyArgs& a) {
  if (!a.texts.empty() && !a.in.input.empty()) throw Error("classify: give texts as arguments or --input, not both");
  if (a.texts.empty() && a.in.input.empty() && isatty(STDIN_FILENO))
    throw Error("classify: no texts; give them as arguments, with --input FILE, or one per line on stdin");
  if (a.resume && a.output.empty()) throw Error("--resume needs --output FILE (the file to continue)");
  if (a.resume && a.texts.empty() && (a.in.input.empty() || a.in.input == "-"))
    throw Error("--resume needs --input FILE or texts as arguments: stdin cannot be read again");
  output_format_for(a.output, a.format);  // a bad --format fails before the model load
  // Open the input before the model load so a bad file fails fast.
  std::unique_ptr<RecordReader> reader =
      a.texts.empty() ? open_input(a.in, "") : std::make_unique<ArgsReader>(a.texts);
  Engine e = load_engine(a.clf);
  // From here on a signal waits for the batch in flight (during the load, or
  // a download, it stops the process at once: nothing is written yet).
  install_job_signals();
  JobOutputOptions oo;
  oo.path = a.output;
  oo.format = a.format;
  oo.resume = a.resume;
  oo.columns = result_columns(*e.classifier, !a.in.id_column.empty());
  if (!a.output.empty()) oo.identity = job_identity("classify", e, a.clf, a.in, a.texts);
  JobOutput out(std::move(oo));
  const bool with_id = !a.in.id_column.empty();
  JobHooks hooks;
  hooks.skip = out.rows_done();
  hooks.after_batch = [&] { out.commit(); };
  hooks.on_signal = [&](int sig) {
    exit_on_signal(sig, "stopped after the batch in flight; " + std::to_string(out.rows()) + " rows written to " +
                            out.name() +
                            (out.to_file() ? "; resume with: " + resume_command()
                                           : " (with --output FILE a job can be resumed)"));
  };
  run_records(*reader, *e.classifier, a.in, [&](const Record& r, const Classification& c) {
    out.write(result_row(r, c, *e.classifier, with_id));
  }, hooks);
  out.finish();
}

}  // namespace

void add_classify_command(CLI::App& app) {
  auto a = std::make_shared<ClassifyArgs>();
  auto* cmd = app.add_subcommand("classify", "Classify texts zero-shot (default: the seed's movie-review prompt)");
  add_classifier_flags(cmd, a->clf);
  add_input_flags(cmd, a->in);
  cmd->add_option("--format,-f", a->format, "Output: jsonl, csv or table (default: from --output's extension, else jsonl)");
  cmd->add_option("--output,-o", a->output, "Write results to FILE (whole rows only at any moment; FILE.cloze-job records the job)");
  cmd->add_flag("--resume", a->resume, "Continue the job that wrote --output FILE: check it is the same job, append the missing rows");
  cmd->add_option("texts", a->texts, "Texts to classify (else --input, else stdin lines)");
  cmd->callback([a] { run_classify(*a); });
}

}  // namespace cloze::cli
