#pragma once
// The one thread that owns the model. HTTP threads queue work here (a
// bounded queue: when it is full they answer 503) and wait on a future; the
// worker drains the queue, merging every queued classify request that shares
// a classifier into one Classifier::classify call. Batch invariance of the
// classifier makes each answer identical to scoring the request alone.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cloze/classify.h"
#include "cloze/generate.h"
#include "cloze/server.h"
#include "server/classifier_cache.h"
#include "server/metrics.h"
#include "server/prefix_cache.h"
#include "server/prompt_scores.h"
#include "server/requests.h"

namespace cloze::server {

struct ClassifyOutcome {
  std::shared_ptr<Classifier> classifier;  // kept alive for the labels of the answer
  std::vector<Classification> results;
};

struct ScoreOutcome {
  std::vector<PromptScores> prompts;  // ids always; log-probabilities when asked
};

// One prompt's generation. With logprobs asked, `scores` covers the prompt
// and the generated ids together (scored again after generating), so the
// answer can show either part.
struct Generated {
  std::vector<int32_t> prompt_ids;
  GenerateResult result;
  std::optional<PromptScores> scores;
};

struct GenerateOutcome {
  std::vector<Generated> prompts;
};

class ModelWorker {
 public:
  ModelWorker(Model& model, const Tokenizer& tokenizer, const ServerOptions& options, Metrics& metrics);
  ~ModelWorker();

  // Queue work. Throws ApiError(503) when max_queue requests are waiting.
  // Errors found on the model thread (bad labels, a prompt over the context)
  // come back as ApiError from the future's get().
  std::future<ClassifyOutcome> classify(ClassifierOptions options, std::vector<std::string> texts);
  std::future<ScoreOutcome> score(std::vector<Prompt> prompts, std::optional<size_t> top_n);
  // One cloze::generate call per prompt, in order; eos_ids, when empty, are
  // the model's. top_n: also score prompt + generated ids (logprobs).
  std::future<GenerateOutcome> generate(std::vector<Prompt> prompts, GenerateOptions options,
                                        std::optional<size_t> top_n, TokenCallback on_token = {});

  // The worker's run context; only for work that runs on the worker (submit()).
  RunContext& context() { return ctx_; }

  // Runs fn on the model thread, queued like every request (503 when the
  // queue is full); what it returns or throws comes back from get().
  template <class T>
  std::future<T> submit(std::function<T()> fn) {
    auto done = std::make_shared<std::promise<T>>();
    auto f = done->get_future();
    auto job = std::make_unique<Job>();
    job->is_classify = false;
    job->task = [done, fn = std::move(fn)] {
      try {
        done->set_value(fn());
      } catch (...) {
        done->set_exception(std::current_exception());
      }
    };
    push(std::move(job));
    return f;
  }
  // The cross-request prefix cache (null when --prefix-cache-mb is 0); for
  // code running on the model thread only.
  PrefixCache* prefix_cache() { return prefix_.max_bytes() ? &prefix_ : nullptr; }

  // Puts a ready-built classifier in the cache (the server's defaults).
  void preload(std::shared_ptr<Classifier> clf);

  size_t depth() const;
  // Answers everything queued, then ends the thread. Idempotent.
  void finish();

 private:
  struct Job {
    bool is_classify = true;
    bool is_generate = false;
    std::string key;
    ClassifierOptions options;
    std::vector<std::string> texts;
    std::promise<ClassifyOutcome> classified;
    std::vector<Prompt> prompts;
    std::optional<size_t> top_n;
    std::promise<ScoreOutcome> scored;
    GenerateOptions sampling;
    TokenCallback on_token;  // streaming: called on the model thread per token
    std::promise<GenerateOutcome> generated;
    std::function<void()> task;  // submit(): anything else that runs the model
  };
  void push(std::unique_ptr<Job> job);
  void loop();
  void run_classify(std::vector<std::unique_ptr<Job>>& jobs);
  void run_score(Job& job);
  void run_generate(Job& job);
  // Token ids of prompts[i]; text is tokenized here. Throws ApiError(400).
  std::vector<int32_t> prompt_ids(const Job& job, size_t i) const;

  Model& model_;
  RunContext ctx_;  // the worker thread's: every forward of this worker runs on it
  const Tokenizer& tok_;
  const ServerOptions& opt_;
  Metrics& metrics_;
  ClassifierCache cache_;
  PrefixCache prefix_;
  std::vector<int32_t> eos_ids_;  // read once: default_eos_ids reads generation_config.json

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Job>> queue_;
  bool stop_ = false;
  std::shared_ptr<Classifier> preload_;  // for the cache, on the model thread
  std::thread thread_;
};

}  // namespace cloze::server
