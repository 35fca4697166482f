#pragma once
// The HTTP JSON API: `POST /v1/classify`, the OpenAI-compatible scoring subset
// of `POST /v1/completions`, `GET /v1/models`, `GET /health`, `GET /metrics`.
//
// Requests are parsed and checked on the HTTP threads, then queued; one worker
// thread runs the model on its own RunContext (a context serves one thread;
// the Model itself is shared read-only, so more workers could be added) and drains the
// queue, scoring every queued text that shares a classifier in one call. The
// Classifier's batch invariance makes the answers identical to sequential ones.
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "cloze/chat.h"
#include "cloze/classify.h"
#include "cloze/model.h"
#include "cloze/score.h"
#include "cloze/tokenizer.h"

namespace cloze {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;        // 0: any free port (see Server::bind)
  std::string model_id;   // the name /v1/models and completions report
  // Defaults for requests that leave labels / template / calibrate out; the
  // other classifier options (label prefix, truncation, ...) apply to all.
  ClassifierOptions classifier;
  size_t http_threads = 64;                 // whole requests handled at once (slow clients wait in the front)
  size_t max_body_bytes = 4u << 20;         // larger bodies: 413
  size_t max_texts = 256;                   // texts (or prompts) per request
  size_t max_text_bytes = 100000;           // bytes per text / prompt
  size_t max_queue = 256;                   // queued requests; beyond: 503
  size_t max_batch_texts = 512;             // texts per classify call
  size_t classifier_cache = 16;             // (labels, template, calibrate) kept
  // KV (and per-position scores) of recent completion prompts, reused by
  // later prompts that start with the same tokens; 0 turns reuse off.
  size_t prefix_cache_bytes = size_t(256) << 20;
  // POST /v1/rerank: the relevance prompt ({query}, {document}) and the two
  // one-token answers whose probabilities are compared.
  RerankOptions rerank;
  int read_timeout_s = 30, write_timeout_s = 30;  // read: the deadline for a request's body
  double header_timeout_s = 10;             // deadline for a request's headers (from accept); then 408
  size_t max_connections = 1024;            // open client connections; beyond: 503
  int keep_alive_timeout_s = 5;             // idle keep-alive connections close after it
  int retry_after_s = 1;                    // Retry-After of a 503
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The chat template /v1/chat/completions, /apply-template and
  // /v1/classify "chat": true render with; call before attach. Without one
  // those requests are a 400 saying how to give one (--chat-template).
  void set_chat_template(ModelChatTemplate chat);

  // Binds the listening socket and returns the port (the one chosen when the
  // options say 0). Throws cloze::Error when the address cannot be bound.
  int bind();
  // Hands over the loaded model; from now on /health answers 200 and
  // requests are scored. Both must outlive the server. Before this, scoring
  // requests get 503 ("model is loading"). A classifier built on the same
  // model, when given, supplies the request defaults (replacing
  // options.classifier) and is cached ready for use.
  void attach(Model& model, const Tokenizer& tokenizer, std::shared_ptr<Classifier> defaults = nullptr);
  // Serves on the bound socket (binds first if bind() was not called) until
  // stop(); returns once in-flight requests have been answered.
  void run();
  // Stops accepting connections; run() then finishes what is in flight and
  // returns. Callable from any thread, any number of times.
  void stop();

  int port() const;

 private:
  void stop_handlers();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cloze
