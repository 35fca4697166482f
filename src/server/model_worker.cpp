#include "server/model_worker.h"

#include <algorithm>

#include "cloze/error.h"
#include "server/api_error.h"

namespace cloze::server {

namespace {

// Which request field a classifier-construction error is about, judged by
// the classifier's own wording (it names labels, calibration or the template).
// The request field a classifier error is about: its subject, as the
// option names of ClassifierOptions map onto the request's JSON.
std::string param_of(const Error& e) {
  const std::string& o = e.subject().name;
  if (o == "labels") return "labels";
  if (o == "content_free" || o == "pmi_premise" || o == "calibration") return "calibrate";
  if (o == "template_text") return "template";
  return "";
}

}  // namespace

ModelWorker::ModelWorker(Model& model, const Tokenizer& tokenizer, const ServerOptions& options, Metrics& metrics)
    : model_(model), ctx_(model), tok_(tokenizer), opt_(options), metrics_(metrics),
      cache_(ctx_, tokenizer, options.classifier_cache), prefix_(model, options.prefix_cache_bytes),
      eos_ids_(default_eos_ids(model, &tokenizer)) {
  thread_ = std::thread([this] { loop(); });
}

ModelWorker::~ModelWorker() { finish(); }

void ModelWorker::finish() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ModelWorker::preload(std::shared_ptr<Classifier> clf) {
  // The cache belongs to the model thread; queue the insertion there.
  std::lock_guard<std::mutex> lock(mu_);
  preload_ = std::move(clf);
}

size_t ModelWorker::depth() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void ModelWorker::push(std::unique_ptr<Job> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) throw ApiError(503, "the server is shutting down", "", "server_error");
    if (queue_.size() >= opt_.max_queue)
      throw ApiError(503, "the server is busy (" + std::to_string(queue_.size()) + " requests queued); retry later", "",
                     "server_error");
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
}

std::future<ClassifyOutcome> ModelWorker::classify(ClassifierOptions options, std::vector<std::string> texts) {
  auto job = std::make_unique<Job>();
  job->key = ClassifierCache::key(options);
  job->options = std::move(options);
  job->texts = std::move(texts);
  auto f = job->classified.get_future();
  push(std::move(job));
  return f;
}

std::future<ScoreOutcome> ModelWorker::score(std::vector<Prompt> prompts, std::optional<size_t> top_n) {
  auto job = std::make_unique<Job>();
  job->is_classify = false;
  job->prompts = std::move(prompts);
  job->top_n = top_n;
  auto f = job->scored.get_future();
  push(std::move(job));
  return f;
}

std::future<GenerateOutcome> ModelWorker::generate(std::vector<Prompt> prompts, GenerateOptions options,
                                                   std::optional<size_t> top_n, TokenCallback on_token) {
  auto job = std::make_unique<Job>();
  job->is_classify = false;
  job->is_generate = true;
  job->on_token = std::move(on_token);
  job->prompts = std::move(prompts);
  job->sampling = std::move(options);
  job->top_n = top_n;
  auto f = job->generated.get_future();
  push(std::move(job));
  return f;
}

void ModelWorker::loop() {
  for (;;) {
    std::vector<std::unique_ptr<Job>> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return !queue_.empty() || stop_; });
      if (preload_) {
        const std::string key = ClassifierCache::key(preload_->options());
        cache_.put(key, std::move(preload_));
        preload_.reset();
      }
      if (queue_.empty()) return;  // stopping, and nothing left to answer
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
      if (batch[0]->is_classify) {
        // Everything queued for the same classifier rides along, in arrival
        // order, up to the batch limit; other requests keep their places.
        size_t texts = batch[0]->texts.size();
        for (auto it = queue_.begin(); it != queue_.end();) {
          Job& j = **it;
          if (j.is_classify && j.key == batch[0]->key && texts + j.texts.size() <= opt_.max_batch_texts) {
            texts += j.texts.size();
            batch.push_back(std::move(*it));
            it = queue_.erase(it);
          } else {
            ++it;
          }
        }
      }
    }
    if (batch[0]->task) batch[0]->task();
    else if (batch[0]->is_classify) run_classify(batch);
    else if (batch[0]->is_generate) run_generate(*batch[0]);
    else run_score(*batch[0]);
  }
}

void ModelWorker::run_classify(std::vector<std::unique_ptr<Job>>& jobs) {
  try {
    std::shared_ptr<Classifier> clf;
    try {
      clf = cache_.get(jobs[0]->key, jobs[0]->options);
    } catch (const Error& e) {
      throw ApiError(400, e.what(), param_of(e));
    }
    std::vector<std::string> texts;
    for (auto& j : jobs) texts.insert(texts.end(), j->texts.begin(), j->texts.end());
    std::vector<Classification> all = clf->classify(texts);
    size_t tokens = 0;
    for (auto& c : all) tokens += c.prompt_tokens;
    metrics_.batch(all.size(), tokens);
    size_t at = 0;
    for (auto& j : jobs) {
      ClassifyOutcome out{clf, {}};
      out.results.assign(std::make_move_iterator(all.begin() + at),
                         std::make_move_iterator(all.begin() + at + j->texts.size()));
      at += j->texts.size();
      j->classified.set_value(std::move(out));
    }
  } catch (const ApiError&) {
    for (auto& j : jobs) j->classified.set_exception(std::current_exception());
  } catch (const std::exception& e) {
    auto err = std::make_exception_ptr(ApiError(500, std::string("internal error: ") + e.what(), "", "server_error"));
    for (auto& j : jobs) j->classified.set_exception(err);
  }
}

std::vector<int32_t> ModelWorker::prompt_ids(const Job& job, size_t i) const {
  const std::string param = job.prompts.size() == 1 ? "prompt" : "prompt[" + std::to_string(i) + "]";
  auto* text = std::get_if<std::string>(&job.prompts[i]);
  if (!text) return std::get<std::vector<int32_t>>(job.prompts[i]);
  const size_t max_len = model_.config().max_position_embeddings;
  std::vector<int32_t> ids;
  try {
    ids = tok_.encode(*text, {.special = opt_.classifier.parse_special});
  } catch (const Error& e) {
    throw ApiError(400, param + ": " + e.what(), param);
  }
  if (ids.empty()) throw ApiError(400, param + ": the prompt is empty (no tokens to score)", param);
  if (max_len && ids.size() > max_len)
    throw ApiError(400, param + ": the prompt is " + std::to_string(ids.size()) +
                            " tokens, over the model's context of " + std::to_string(max_len),
                   param);
  return ids;
}

void ModelWorker::run_score(Job& job) {
  try {
    ScoreOutcome out;
    size_t tokens = 0;
    for (size_t i = 0; i < job.prompts.size(); ++i) {
      std::vector<int32_t> ids = prompt_ids(job, i);
      tokens += ids.size();
      if (job.top_n) {
        out.prompts.push_back(score_prompt_cached(ctx_, std::move(ids), *job.top_n, prefix_cache()));
      } else {
        PromptScores s;
        s.ids = std::move(ids);
        out.prompts.push_back(std::move(s));
      }
    }
    metrics_.batch(job.prompts.size(), tokens);
    job.scored.set_value(std::move(out));
  } catch (const ApiError&) {
    job.scored.set_exception(std::current_exception());
  } catch (const std::exception& e) {
    job.scored.set_exception(
        std::make_exception_ptr(ApiError(500, std::string("internal error: ") + e.what(), "", "server_error")));
  }
}

void ModelWorker::run_generate(Job& job) {
  try {
    GenerateOptions o = job.sampling;
    if (o.eos_ids.empty()) o.eos_ids = eos_ids_;
    GenerateOutcome out;
    size_t tokens = 0;
    for (size_t i = 0; i < job.prompts.size(); ++i) {
      Generated g;
      g.prompt_ids = prompt_ids(job, i);
      // With the prefix cache, a prompt whose start was seen before prefills
      // only the rest. When logprobs are asked the prompt is scored first
      // (those rows are needed anyway), so the generation continues from its
      // KV and the final scoring of prompt + generated reuses its rows.
      PromptKV pk;
      if (PrefixCache* pc = prefix_cache(); pc && g.prompt_ids.size() > 1) {
        if (job.top_n) {
          score_prompt_cached(ctx_, g.prompt_ids, *job.top_n, pc, &pk);
        } else if (auto hit = pc->lookup(g.prompt_ids, std::nullopt); hit.entry) {
          pk = {hit.entry->kv, std::min({hit.common, hit.entry->kv_len, g.prompt_ids.size() - 1})};
          pc->reused_tokens += pk.len;
        }
      }
      try {
        g.result = cloze::generate(ctx_, &tok_, g.prompt_ids, o, job.on_token, {pk.len ? pk.kv : nullptr, pk.len});
      } catch (const Error& e) {
        // The library's checks left to it here are about the prompt (one
        // that fills the whole context leaves no room to generate).
        const std::string param = job.prompts.size() == 1 ? "prompt" : "prompt[" + std::to_string(i) + "]";
        throw ApiError(400, param + ": " + e.what(), param);
      }
      tokens += g.prompt_ids.size() + g.result.ids.size();
      if (job.top_n) {
        // Scoring the whole sequence again costs one more prefill, and gives
        // the generated tokens' log-probabilities by the same code (and so
        // the same numbers) as a max_tokens 0 request for the prompt.
        std::vector<int32_t> all = g.prompt_ids;
        all.insert(all.end(), g.result.ids.begin(), g.result.ids.end());
        g.scores = score_prompt_cached(ctx_, std::move(all), *job.top_n, prefix_cache());
      }
      out.prompts.push_back(std::move(g));
    }
    metrics_.batch(job.prompts.size(), tokens);
    job.generated.set_value(std::move(out));
  } catch (const ApiError&) {
    job.generated.set_exception(std::current_exception());
  } catch (const std::exception& e) {
    job.generated.set_exception(
        std::make_exception_ptr(ApiError(500, std::string("internal error: ") + e.what(), "", "server_error")));
  }
}

}  // namespace cloze::server
