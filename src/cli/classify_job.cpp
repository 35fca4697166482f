#include "cli/classify_job.h"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "cli/common.h"
#include "cli/progress.h"
#include "cloze/error.h"
#include "cloze/hub.h"
#include "cloze/result_row.h"

namespace cloze::cli {

namespace {

std::string read_file(const std::string& path, const char* flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(std::string(flag) + ": cannot open '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> split_labels(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  for (;;) {
    size_t j = s.find(',', i);
    out.push_back(s.substr(i, j == std::string::npos ? std::string::npos : j - i));
    if (j == std::string::npos) break;
    i = j + 1;
  }
  return out;
}

template <class E>
E pick(const std::string& flag, const std::string& v, std::initializer_list<std::pair<const char*, E>> choices) {
  std::string names;
  for (auto& [n, e] : choices) {
    if (v == n) return e;
    names += names.empty() ? n : std::string(", ") + n;
  }
  throw Error(flag + ": '" + v + "' is not one of " + names);
}

}  // namespace

void add_classifier_flags(CLI::App* cmd, ClassifierFlags& f) {
  cmd->add_option("--model,-m", f.model, "Model directory or Hub id (org/name[@revision])")->capture_default_str();
  cmd->add_option("--labels", f.labels, "Comma-separated labels")->capture_default_str();
  cmd->add_option("--labels-file", f.labels_file, "File with one label per line, or JSON {label: [verbalizers]} (replaces --labels)");
  cmd->add_option("--template", f.template_text, "Prompt template with {text} (default: the seed notebook's)");
  cmd->add_option("--template-file", f.template_file, "Read the template from a file (exact bytes)");
  cmd->add_option("--label-prefix", f.label_prefix, "Text put before each label when scoring it")->capture_default_str();
  cmd->add_option("--label-score", f.label_score, "Multi-token labels: sum or mean of token log-probs")->capture_default_str();
  cmd->add_option("--calibrate", f.calibrate, "none, contextual (Zhao et al. 2021) or pmi (Holtzman et al. 2021)")->capture_default_str();
  cmd->add_option("--pmi-premise", f.pmi_premise, "Domain premise for --calibrate pmi (default: template text after {text})");
  cmd->add_option("--content-free", f.content_free, "Comma-separated content-free inputs for contextual calibration (default: N/A,,[MASK])");
  cmd->add_option("--truncate", f.truncate, "Texts over the limit: none (error), left or right")->capture_default_str();
  cmd->add_option("--max-tokens", f.max_tokens, "Prompt token limit (default: the model's context)");
  cmd->add_option("--threads,-t", f.threads, "Worker threads (default: all cores)");
  cmd->add_option("--batch-tokens", f.batch_tokens, "New tokens per forward pass")->capture_default_str();
  cmd->add_flag("--no-special", f.no_special, "Treat special-token strings in texts as plain text");
  add_precision_option(cmd, f.precision);
  cmd->add_flag("--chat", f.chat,
                "Prompt an instruct model through its chat template: [--system] + a user message made of the "
                "template with {text}, then the assistant's turn, then --answer-prefix");
  cmd->add_option("--system", f.system, "System message for --chat");
  cmd->add_option("--answer-prefix", f.answer_prefix, "Text after the assistant's turn header for --chat (e.g. \"The sentiment is\")");
  add_chat_flags(*cmd, f.chat_flags);
  cmd->add_flag("--multi-label", f.multi_label,
                "Judge each label on its own; output every label whose probability reaches --threshold");
  cmd->add_option("--label-template", f.label_template,
                  "--multi-label: a yes/no question per label, with {text} and {label} (p(\" yes\") vs p(\" no\"))");
  cmd->add_option("--threshold", f.threshold, "--multi-label: probability a label must reach")->capture_default_str();
  cmd->add_option("--top", f.top, "Also output the N likeliest next tokens at the answer position");
}

void add_input_flags(CLI::App* cmd, InputFlags& f) {
  cmd->add_option("--input,-i", f.input, "Input file (.txt, .jsonl, .csv, .tsv) or - for stdin");
  cmd->add_option("--input-format", f.input_format, "Override the format guessed from the extension: txt, jsonl, csv, tsv");
  cmd->add_option("--text-column", f.text_column, "Column / field holding the text")->capture_default_str();
  cmd->add_option("--id-column", f.id_column, "Column / field passed through as id");
  cmd->add_option("--on-error", f.on_error, "Rows that cannot be scored: keep (error field) or fail")->capture_default_str();
  // Two plain flags: CLI11 fills an optional<bool> flag even when it is absent.
  cmd->add_flag("--progress", f.progress, "Progress bar on stderr even when it is not a terminal");
  cmd->add_flag("--no-progress", f.no_progress, "No progress bar (default: a bar when stderr is a terminal)");
}

Engine load_engine(const ClassifierFlags& f) {
  auto t0 = std::chrono::steady_clock::now();
  ClassifierOptions opt;
  if (!f.template_file.empty()) opt.template_text = read_file(f.template_file, "--template-file");
  else if (!f.template_text.empty()) opt.template_text = f.template_text;
  const std::string labels_text = f.labels_file.empty() ? "" : read_file(f.labels_file, "--labels-file");
  const size_t first = labels_text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && labels_text[first] == '{') {
    // JSON: labels with verbalizers, {"positive": ["positive", "great"], ...}.
    LabelSet set = parse_label_set(labels_text, "--labels-file " + f.labels_file);
    opt.labels = std::move(set.labels);
    opt.verbalizers = std::move(set.verbalizers);
  } else if (!f.labels_file.empty()) {
    std::istringstream in(labels_text);
    opt.labels.clear();
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) opt.labels.push_back(line);
    }
  } else {
    opt.labels = split_labels(f.labels);
  }
  opt.label_prefix = f.label_prefix;
  opt.label_score = pick<LabelScore>("--label-score", f.label_score, {{"sum", LabelScore::Sum}, {"mean", LabelScore::Mean}});
  opt.calibration = pick<Calibration>("--calibrate", f.calibrate,
                                      {{"none", Calibration::None}, {"contextual", Calibration::Contextual}, {"pmi", Calibration::Pmi}});
  opt.truncate = pick<Truncate>("--truncate", f.truncate, {{"none", Truncate::None}, {"left", Truncate::Left}, {"right", Truncate::Right}});
  opt.pmi_premise = f.pmi_premise;
  if (!f.content_free.empty()) opt.content_free = split_labels(f.content_free);
  opt.max_tokens = f.max_tokens;
  if (f.batch_tokens == 0) throw Error("--batch-tokens must be positive");
  opt.max_batch_tokens = f.batch_tokens;
  opt.parse_special = !f.no_special;
  if (!f.label_template.empty() && !f.multi_label) throw Error("--label-template asks a question per label; it needs --multi-label");
  opt.multi_label = f.multi_label;
  opt.label_template = f.label_template;
  opt.threshold = f.threshold;
  opt.top_alternatives = f.top;

  Engine e;
  // Check the template and precision before the (slow) model load.
  PromptTemplate check(opt.template_text);
  const Precision precision = precision_option(f.precision);
  if (!f.chat && (f.system || !f.answer_prefix.empty() || !f.chat_flags.chat_template.empty() ||
                  !f.chat_flags.chat_template_name.empty()))
    throw Error("--system, --answer-prefix and --chat-template* need --chat");
  if (f.chat && f.no_special)
    throw Error("--no-special cannot be combined with --chat: the rendered chat is tokenized with its special tokens");
  auto dir = resolve_model(f.model);
  if (f.chat) {
    ChatPromptOptions chat;
    chat.system = f.system;
    chat.answer_prefix = f.answer_prefix;
    chat.render = chat_render_options(f.chat_flags);
    use_chat_prompt(opt, load_chat_template(dir, f.chat_flags), chat);
  }
  e.model = Model::load(dir, {.threads = f.threads, .precision = precision});
  e.tokenizer = std::make_unique<Tokenizer>(load_tokenizer(dir));
  e.classifier = std::make_unique<Classifier>(*e.model, *e.tokenizer, std::move(opt));
  e.load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return e;
}

std::unique_ptr<RecordReader> open_input(const InputFlags& f, const std::string& label_column) {
  RecordOptions ro;
  ro.text_column = f.text_column;
  ro.id_column = f.id_column;
  ro.label_column = label_column;
  const std::string path = f.input.empty() ? "-" : f.input;
  RecordFormat fmt = f.input_format.empty() ? format_from_path(path) : parse_record_format(f.input_format);
  return RecordReader::open(path, fmt, ro);
}

size_t run_records(RecordReader& reader, Classifier& clf, const InputFlags& f,
                   const std::function<void(const Record&, const Classification&)>& on_result) {
  if (f.on_error != "keep" && f.on_error != "fail") throw Error("--on-error: '" + f.on_error + "' is not one of keep, fail");
  // A reader thread fills a bounded queue; the classifier takes whatever is
  // there (at least one record) so a slow pipe still gets prompt answers.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Record> queue;
  bool done = false, stop = false;
  std::exception_ptr read_error;
  constexpr size_t kMaxQueued = 256, kMaxBatch = 64;
  std::thread reader_thread([&] {
    try {
      for (;;) {
        Record r;
        if (!reader.next(r)) break;
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return queue.size() < kMaxQueued || stop; });
        if (stop) break;
        queue.push_back(std::move(r));
        cv.notify_all();
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      read_error = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mu);
    done = true;
    cv.notify_all();
  });
  auto finish_reader = [&] {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv.notify_all();
    reader_thread.join();
  };

  Progress progress("classified", std::nullopt, f.progress || (!f.no_progress && progress_default()));
  size_t n = 0;
  try {
    for (;;) {
      std::vector<Record> batch;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return !queue.empty() || done; });
        while (!queue.empty() && batch.size() < kMaxBatch) {
          batch.push_back(std::move(queue.front()));
          queue.pop_front();
        }
        cv.notify_all();
        if (batch.empty() && done) break;
      }
      std::vector<std::string> texts;
      for (auto& r : batch) texts.push_back(r.error.empty() ? r.text : std::string());
      auto results = clf.classify(texts);
      for (size_t i = 0; i < batch.size(); ++i) {
        // A row the reader already rejected keeps the reader's reason.
        if (!batch[i].error.empty()) {
          results[i] = Classification{};
          results[i].error = batch[i].error;
        }
        if (!results[i].error.empty() && f.on_error == "fail")
          throw Error("input row " + std::to_string(batch[i].index + 1) + " (line " + std::to_string(batch[i].line) +
                      "): " + results[i].error);
        if (results[i].truncated)
          std::fprintf(stderr, "cloze: warning: input row %zu (line %zu) was truncated to %zu prompt tokens\n",
                       batch[i].index + 1, batch[i].line, results[i].prompt_tokens);
        on_result(batch[i], results[i]);
      }
      n += batch.size();
      progress.update(n);
    }
  } catch (...) {
    finish_reader();
    throw;
  }
  finish_reader();
  progress.finish();
  if (read_error) std::rethrow_exception(read_error);
  if (n == 0) throw Error("the input has no rows to classify");
  return n;
}

Row result_row(const Record& rec, const Classification& c, const Classifier& clf, bool with_id) {
  // The library builds it, so `cloze serve` returns the very same objects.
  return cloze::result_row(rec, c, clf, with_id);
}

}  // namespace cloze::cli
