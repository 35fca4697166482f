// cloze serve: the HTTP API (include/cloze/server.h) on one loaded model.
// Listens first, so /health can say 503 while the model loads; SIGTERM or
// SIGINT stop accepting, let in-flight requests finish, and exit 0.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <thread>

#include "cli/classify_job.h"
#include "cli/commands.h"
#include "cloze/error.h"
#include "cloze/hub.h"
#include "cloze/server.h"

namespace cloze::cli {

namespace {

struct ServeArgs {
  ClassifierFlags clf;
  ServerOptions srv;
  std::string model_id;
  int timeout_s = 30;
  size_t prefix_cache_mb = 256;
  std::string rerank_template;
  std::string rerank_yes = " yes", rerank_no = " no";
};

void run_serve(ServeArgs& a) {
  if (a.srv.port < 0 || a.srv.port > 65535) throw Error("--port: " + std::to_string(a.srv.port) + " is not a port (0-65535; 0 picks a free one)");
  if (a.timeout_s <= 0) throw Error("--timeout must be positive seconds");
  if (!(a.srv.header_timeout_s > 0)) throw Error("--header-timeout must be positive seconds");
  if (a.srv.max_connections == 0) throw Error("--max-connections must be positive");
  if (a.srv.max_texts == 0 || a.srv.max_text_bytes == 0 || a.srv.max_body_bytes == 0 || a.srv.max_queue == 0)
    throw Error("--max-texts, --max-text-bytes, --max-body-bytes and --max-queue must be positive");
  a.srv.read_timeout_s = a.srv.write_timeout_s = a.timeout_s;
  a.srv.model_id = a.model_id.empty() ? a.clf.model : a.model_id;
  a.srv.prefix_cache_bytes = a.prefix_cache_mb << 20;
  if (!a.rerank_template.empty()) {
    if (a.rerank_template.find("{document}") == std::string::npos)
      throw Error("--rerank-template must contain {document} (and usually {query})");
    a.srv.rerank.template_text = a.rerank_template;
  }
  a.srv.rerank.yes = a.rerank_yes;
  a.srv.rerank.no = a.rerank_no;

  // Signals go to one thread that waits for them (blocked everywhere else,
  // which the threads started below inherit), so stopping is ordinary code.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  Server server(a.srv);
  const int port = server.bind();
  std::fprintf(stderr, "cloze: listening on http://%s:%d (loading %s)\n", a.srv.host.c_str(), port, a.clf.model.c_str());
  std::atomic<bool> done{false};
  std::thread signals([&] {
    const timespec tick{0, 200 * 1000 * 1000};
    while (!done) {
      int sig = sigtimedwait(&sigs, nullptr, &tick);
      if (sig == SIGINT || sig == SIGTERM) {
        std::fprintf(stderr, "cloze: %s: finishing in-flight requests, then exiting\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
        server.stop();
        return;
      }
    }
  });
  std::thread http([&] { server.run(); });
  auto finish = [&] {
    server.stop();
    http.join();
    done = true;
    signals.join();
  };
  try {
    Engine e = load_engine(a.clf);
    // The model's chat template, when it has one (or --chat-template's).
    try {
      server.set_chat_template(load_chat_template(resolve_model(a.clf.model), a.clf.chat_flags));
    } catch (const Error& err) {  // a missing or unparseable template must not stop classification
      if (!a.clf.chat_flags.chat_template.empty() || !a.clf.chat_flags.chat_template_name.empty()) throw;
      std::fprintf(stderr, "cloze: chat endpoints disabled (/v1/chat/completions, /apply-template answer 400): %s\n", err.what());
    }
    // The flags' classifier becomes the requests' defaults, already built.
    server.attach(*e.model, *e.tokenizer, std::shared_ptr<Classifier>(std::move(e.classifier)));
    std::fprintf(stderr, "cloze: ready: %s in %.1f s\n", a.srv.model_id.c_str(), e.load_seconds);
    http.join();  // until a signal stops it
    done = true;
    signals.join();
  } catch (...) {
    finish();
    throw;
  }
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand("serve", "HTTP API: /v1/classify, /v1/completions (scoring), /v1/models, /health, /metrics");
  add_classifier_flags(cmd, a->clf);
  cmd->add_option("--host", a->srv.host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port,-p", a->srv.port, "Port (0: any free port, printed on stderr)")->capture_default_str();
  cmd->add_option("--model-id", a->model_id, "Model name reported by /v1/models (default: --model)");
  cmd->add_option("--http-threads", a->srv.http_threads, "Requests handled at once (slow clients wait in the epoll front, not here)")->capture_default_str();
  cmd->add_option("--max-body-bytes", a->srv.max_body_bytes, "Largest request body")->capture_default_str();
  cmd->add_option("--max-texts", a->srv.max_texts, "Texts (or prompts) per request")->capture_default_str();
  cmd->add_option("--max-text-bytes", a->srv.max_text_bytes, "Bytes per text or prompt")->capture_default_str();
  cmd->add_option("--max-queue", a->srv.max_queue, "Requests waiting for the model; beyond, 503 + Retry-After")->capture_default_str();
  cmd->add_option("--max-batch-texts", a->srv.max_batch_texts, "Texts scored in one classify call")->capture_default_str();
  cmd->add_option("--classifier-cache", a->srv.classifier_cache, "(labels, template, calibrate) settings kept ready")->capture_default_str();
  cmd->add_option("--prefix-cache-mb", a->prefix_cache_mb,
                  "KV of recent completion prompts kept for reuse by prompts sharing their start (0: off)")
      ->capture_default_str();
  cmd->add_option("--rerank-template", a->rerank_template,
                  "POST /v1/rerank prompt with {query} and {document}; scored as p(\" yes\") vs p(\" no\")");
  cmd->add_option("--rerank-yes", a->rerank_yes, "/v1/rerank: the answer token meaning relevant")->capture_default_str();
  cmd->add_option("--rerank-no", a->rerank_no, "/v1/rerank: the answer token meaning not relevant")->capture_default_str();
  cmd->add_option("--timeout", a->timeout_s, "Deadline for a request body, and write timeout, seconds")->capture_default_str();
  cmd->add_option("--header-timeout", a->srv.header_timeout_s, "Deadline for a request's headers, seconds (then 408)")->capture_default_str();
  cmd->add_option("--max-connections", a->srv.max_connections, "Open client connections; beyond, 503 + Retry-After")->capture_default_str();
  cmd->callback([a] { run_serve(*a); });
}

}  // namespace cloze::cli
