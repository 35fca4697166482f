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
#include "cli/job_signals.h"
#include "cli/progress.h"
#include "cloze/error.h"
#include "cloze/hub.h"
#include "cloze/result_row.h"
#include "hub/digest.h"

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
                   const std::function<void(const Record&, const Classification&)>& on_result,
                   const JobHooks& hooks) {
  if (f.on_error != "keep" && f.on_error != "fail") throw Error("--on-error: '" + f.on_error + "' is not one of keep, fail");
  // A reader thread fills a bounded queue; the classifier takes whatever is
  // there (at least one record) so a slow pipe still gets prompt answers.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Record> queue;
  bool done = false, stop = false;
  size_t skipped = 0;
  std::exception_ptr read_error;
  constexpr size_t kMaxQueued = 256, kMaxBatch = 64;
  std::thread reader_thread([&] {
    try {
      for (;;) {
        Record r;
        if (!reader.next(r)) break;
        std::unique_lock<std::mutex> lock(mu);
        if (r.index < hooks.skip) {  // written by an earlier run
          ++skipped;
          // Under the lock: the first batch is taken after this returns.
          if (hooks.on_skipped) hooks.on_skipped(r);
          continue;
        }
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
        // Wake now and then to notice a signal while the input is slow.
        while (!cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return !queue.empty() || done; }))
          if (job_signal() && hooks.on_signal) {
            lock.unlock();
            progress.finish();
            hooks.on_signal(job_signal());
            lock.lock();
          }
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
      if (hooks.after_batch) hooks.after_batch();
      progress.update(n);
      if (job_signal() && hooks.on_signal) {
        progress.finish();
        hooks.on_signal(job_signal());
      }
    }
  } catch (...) {
    finish_reader();
    throw;
  }
  finish_reader();
  progress.finish();
  if (read_error) std::rethrow_exception(read_error);
  if (n + skipped == 0) throw Error("the input has no rows to classify");
  return n + skipped;
}

nlohmann::ordered_json job_identity(const char* command, const Engine& e, const ClassifierFlags& cf,
                                    const InputFlags& in, const std::vector<std::string>& texts) {
  namespace fs = std::filesystem;
  nlohmann::ordered_json j;
  j["command"] = command;
  // The model: where it is and what it is (its config's digest and the size
  // of its weights; hashing gigabytes of weights per run would cost minutes).
  const fs::path dir = e.model->dir();
  j["model"] = dir.string();
  j["model_config_sha256"] = hub::sha256_file(dir / "config.json");
  uintmax_t weight_bytes = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.path().extension() == ".safetensors") weight_bytes += fs::file_size(entry.path(), ec);
  j["model_weight_bytes"] = weight_bytes;
  const ClassifierOptions& o = e.classifier->options();
  j["template"] = o.template_text;
  j["labels"] = o.labels;
  j["label_prefix"] = o.label_prefix;
  j["label_score"] = cf.label_score;
  j["calibrate"] = cf.calibrate;
  j["pmi_premise"] = cf.pmi_premise ? nlohmann::ordered_json(*cf.pmi_premise) : nlohmann::ordered_json(nullptr);
  j["content_free"] = cf.content_free;
  j["truncate"] = cf.truncate;
  j["max_tokens"] = cf.max_tokens;
  j["no_special"] = cf.no_special;
  if (!texts.empty()) {
    std::string all;
    for (const auto& t : texts) all += t + '\0';
    j["input"] = "arguments";
    j["input_sha256"] = hub::sha256_hex(all);
  } else if (in.input.empty() || in.input == "-") {
    j["input"] = "stdin";  // cannot be read again: resume refuses below
  } else {
    j["input_sha256"] = hub::sha256_file(in.input);
  }
  j["input_format"] = in.input_format;
  j["text_column"] = in.text_column;
  j["id_column"] = in.id_column;
  j["on_error"] = in.on_error;
  return j;
}

std::vector<std::string> result_columns(const Classifier& clf, bool with_id) {
  std::vector<std::string> cols = {"text"};
  if (with_id) cols.push_back("id");
  cols.push_back("label");
  for (const auto& l : clf.labels()) cols.push_back("probs." + l);
  for (const auto& l : clf.labels()) cols.push_back("logits." + l);
  if (clf.options().label_mass) cols.push_back("label_mass");
  cols.push_back("error");
  return cols;
}

Row result_row(const Record& rec, const Classification& c, const Classifier& clf, bool with_id) {
  // The library builds it, so `cloze serve` returns the very same objects.
  return cloze::result_row(rec, c, clf, with_id);
}

}  // namespace cloze::cli
