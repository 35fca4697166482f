// Server: the HTTP routes over ModelWorker. Handlers parse and check on the
// HTTP threads, queue the work, wait, and format; errors of every kind end
// here as OpenAI-shaped JSON bodies.
#include "cloze/server.h"

#include <httplib.h>

#include <sys/socket.h>

#include <atomic>
#include <csignal>
#include <chrono>
#include <ctime>
#include <thread>

#include "cloze/error.h"
#include "cloze/result_row.h"
#include "server/api_error.h"
#include "server/chat_completions.h"
#include "server/completion_json.h"
#include "server/http_front.h"
#include "server/metrics.h"
#include "server/model_worker.h"
#include "server/requests.h"
#include "server/try_page.h"
#include "server/sse_stream.h"
#include "server/score_routes.h"
#include "server/tokenizer_routes.h"

namespace cloze {

using server::ApiError;
using nlohmann::ordered_json;

namespace {

constexpr const char* kJson = "application/json";

struct Route {
  const char* path;
  const char* method;  // the one method it answers; others get 405
};
constexpr Route kRoutes[] = {{"/health", "GET"},       {"/metrics", "GET"},        {"/v1/models", "GET"},
                             {"/v1/classify", "POST"}, {"/v1/completions", "POST"}, {"/v1/chat/completions", "POST"},
                             {"/apply-template", "POST"}, {"/tokenizer_info", "GET"}, {"/tokenize", "POST"},
                             {"/detokenize", "POST"},     {"/v1/score", "POST"},      {"/v1/rerank", "POST"}};

// The metrics label of a path: one of ours, or "other" so that clients
// probing random paths cannot grow the label set.
std::string_view endpoint_of(const std::string& path) {
  for (const Route& r : kRoutes)
    if (path == r.path) return r.path;
  return "other";
}

std::string dump(const ordered_json& j) { return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace); }

void send_error(httplib::Response& res, const ApiError& e, int retry_after_s) {
  res.status = e.status;
  if (e.status == 503) res.set_header("Retry-After", std::to_string(retry_after_s));
  res.set_content(dump(server::error_body(e)), kJson);
}

}  // namespace

struct Server::Impl {
  explicit Impl(ServerOptions o) : opt(std::move(o)) {}

  ServerOptions opt;
  httplib::Server http;  // the route handlers, on an internal loopback port
  std::unique_ptr<server::HttpFront> front;  // the public socket (http_front.h says why)
  int upstream_port = -1;
  server::Metrics metrics;
  std::unique_ptr<server::ModelWorker> worker;
  Model* model = nullptr;
  const Tokenizer* tok = nullptr;
  server::TokenizerInfo tok_info;
  std::atomic<bool> ready{false}, stopping{false}, in_run{false}, run_done{false};
  std::atomic<uint64_t> next_id{0};
  std::optional<ModelChatTemplate> chat;         // set before attach
  std::shared_ptr<const ChatTemplate> chat_tmpl;  // compiled once
  int port = -1;
  const long long started = static_cast<long long>(std::time(nullptr));

  void setup();
  server::Limits limits() const;
  // Runs a scoring handler: the model must be there, errors become bodies,
  // and the wall time goes into the latency histogram.
  template <class F>
  void scoring(const char* endpoint, httplib::Response& res, F&& handle);
  void classify(const httplib::Request& req, httplib::Response& res);
  void completions(const httplib::Request& req, httplib::Response& res);
  void chat_completions(const httplib::Request& req, httplib::Response& res);
  void apply_template(const httplib::Request& req, httplib::Response& res);
  const ChatTemplate& chat_template() const;
  void score(const httplib::Request& req, httplib::Response& res);
  void rerank(const httplib::Request& req, httplib::Response& res);
  std::string next_completion_id();
};

server::Limits Server::Impl::limits() const {
  server::Limits l;
  l.max_texts = opt.max_texts;
  l.max_text_bytes = opt.max_text_bytes;
  if (model) {
    l.vocab_size = model->config().vocab_size;
    l.max_prompt_tokens = model->config().max_position_embeddings;
  }
  return l;
}

template <class F>
void Server::Impl::scoring(const char* endpoint, httplib::Response& res, F&& handle) {
  const auto t0 = std::chrono::steady_clock::now();
  try {
    if (!ready.load(std::memory_order_acquire))
      throw ApiError(503, "the model is still loading; retry shortly", "", "server_error");
    handle();
  } catch (const ApiError& e) {
    send_error(res, e, opt.retry_after_s);
  } catch (const std::exception& e) {
    send_error(res, ApiError(500, std::string("internal error: ") + e.what(), "", "server_error"), opt.retry_after_s);
  }
  metrics.latency(endpoint, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

void Server::Impl::classify(const httplib::Request& req, httplib::Response& res) {
  scoring("/v1/classify", res, [&] {
    server::ClassifyRequest r = server::parse_classify(server::parse_body(req.body), limits());
    ClassifierOptions o = opt.classifier;
    if (r.labels) {
      o.labels = *r.labels;
      o.verbalizers = r.verbalizers.value_or(std::vector<std::vector<std::string>>{});
    }
    if (r.template_text) o.template_text = *r.template_text;
    if (r.calibration) o.calibration = *r.calibration;
    if (r.chat) {
      chat_template();  // a 400 when there is none
      ChatPromptOptions c;
      c.system = r.system;
      c.answer_prefix = r.answer_prefix;
      try {
        use_chat_prompt(o, *chat, c);
      } catch (const Error& e) {
        throw ApiError(400, std::string("chat: ") + e.what(), "chat");
      }
    }
    server::ClassifyOutcome out = worker->classify(std::move(o), r.texts).get();
    ordered_json results = ordered_json::array();
    for (size_t i = 0; i < r.texts.size(); ++i) {
      Record rec;
      rec.index = i;
      rec.text = std::move(r.texts[i]);
      results.push_back(result_row(rec, out.results[i], *out.classifier, /*with_id=*/false));
    }
    res.set_content(dump({{"results", std::move(results)}}), kJson);
  });
}

std::string Server::Impl::next_completion_id() {
  char id[32];
  std::snprintf(id, sizeof id, "cmpl-%llx", static_cast<unsigned long long>(++next_id));
  return id;
}

void Server::Impl::completions(const httplib::Request& req, httplib::Response& res) {
  scoring("/v1/completions", res, [&] {
    server::CompletionRequest r = server::parse_completion(server::parse_body(req.body), limits());
    if (r.stream) {
      GenerateOptions o = r.sampling;
      o.max_tokens = r.max_tokens;
      const std::string id = next_completion_id();
      const long long created = std::time(nullptr);
      const std::string model_id = opt.model_id;
      auto chunk = [id, created, model_id](const std::string& text, const std::optional<std::string>& finish) {
        ordered_json c = {{"index", 0}, {"text", text}, {"logprobs", nullptr},
                          {"finish_reason", finish ? ordered_json(*finish) : ordered_json(nullptr)}};
        return ordered_json{{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", model_id},
                            {"choices", ordered_json::array({c})}};
      };
      server::StreamFormat f;
      f.piece = [chunk](const std::string& t) { return chunk(t, std::nullopt); };
      const bool usage = r.include_usage;
      f.finish = [chunk, usage](const server::GenerateOutcome& out) {
        const auto& g = out.prompts.at(0);
        std::vector<ordered_json> events{chunk("", server::openai_finish_reason(g.result.finish_reason))};
        if (usage) {
          ordered_json u = events.back();
          u["choices"] = ordered_json::array();
          u["usage"] = {{"prompt_tokens", g.prompt_ids.size()}, {"completion_tokens", g.result.ids.size()},
                        {"total_tokens", g.prompt_ids.size() + g.result.ids.size()}};
          events.push_back(std::move(u));
        }
        return events;
      };
      server::stream_generation(res, *worker, std::move(r.prompts), std::move(o), std::move(f));
      return;
    }
    if (r.max_tokens > 0) {
      // Generation, on the model thread like everything that runs the model;
      // logprobs then need the tokens scored, echoed or not.
      std::optional<size_t> top_n;
      if (r.logprobs) top_n = size_t(*r.logprobs);
      GenerateOptions o = r.sampling;
      o.max_tokens = r.max_tokens;
      server::GenerateOutcome out = worker->generate(r.prompts, std::move(o), top_n).get();
      res.set_content(dump(server::generation_json(r, out, *tok, next_completion_id(), opt.model_id, std::time(nullptr))),
                      kJson);
      return;
    }
    // Without echo nothing of the prompt is returned, so nothing needs scoring.
    std::optional<size_t> top_n;
    if (r.logprobs && r.echo) top_n = size_t(*r.logprobs);
    server::ScoreOutcome out = worker->score(r.prompts, top_n).get();
    res.set_content(dump(server::completion_json(r, out, *tok, next_completion_id(), opt.model_id, std::time(nullptr))),
                    kJson);
  });
}

const ChatTemplate& Server::Impl::chat_template() const {
  if (!chat_tmpl)
    throw ApiError(400, "the served model has no chat template (none in its tokenizer_config.json or chat_template.jinja); "
                        "restart the server with a chat template file", "messages");
  return *chat_tmpl;
}

void Server::Impl::chat_completions(const httplib::Request& req, httplib::Response& res) {
  scoring("/v1/chat/completions", res, [&] {
    server::parse_body(req.body);  // the checks and messages of every endpoint
    server::ChatRequest r = server::parse_chat(ordered_json::parse(req.body), limits());
    const std::string rendered = server::render_chat(r, chat_template(), *chat);
    r.completion.prompts = {server::chat_prompt_ids(rendered, *tok, limits())};
    GenerateOptions o = r.completion.sampling;
    o.max_tokens = r.completion.max_tokens;
    char idbuf[40];
    std::snprintf(idbuf, sizeof idbuf, "chatcmpl-%llx", static_cast<unsigned long long>(++next_id));
    const std::string id = idbuf;
    const long long created = std::time(nullptr);
    if (r.completion.stream) {
      const std::string model_id = opt.model_id;
      server::StreamFormat f;
      f.start.push_back(server::chat_chunk(id, model_id, created, {{"role", "assistant"}, {"content", ""}}, std::nullopt));
      f.piece = [id, model_id, created](const std::string& t) {
        return server::chat_chunk(id, model_id, created, {{"content", t}}, std::nullopt);
      };
      const bool usage = r.completion.include_usage;
      f.finish = [id, model_id, created, usage](const server::GenerateOutcome& out) {
        const auto& g = out.prompts.at(0);
        std::vector<ordered_json> events{server::chat_chunk(id, model_id, created, ordered_json::object(),
                                                            server::openai_finish_reason(g.result.finish_reason))};
        if (usage) {
          ordered_json u = events.back();
          u["choices"] = ordered_json::array();
          u["usage"] = {{"prompt_tokens", g.prompt_ids.size()}, {"completion_tokens", g.result.ids.size()},
                        {"total_tokens", g.prompt_ids.size() + g.result.ids.size()}};
          events.push_back(std::move(u));
        }
        return events;
      };
      server::stream_generation(res, *worker, std::move(r.completion.prompts), std::move(o), std::move(f));
      return;
    }
    std::optional<size_t> top_n;
    if (r.completion.logprobs) top_n = size_t(std::max(1, *r.completion.logprobs));
    server::GenerateOutcome out = worker->generate(r.completion.prompts, std::move(o), top_n).get();
    res.set_content(dump(server::chat_json(r, out, *tok, id, opt.model_id, created)), kJson);
  });
}

void Server::Impl::apply_template(const httplib::Request& req, httplib::Response& res) {
  scoring("/apply-template", res, [&] {
    server::parse_body(req.body);
    server::ChatRequest r = server::parse_apply_template(ordered_json::parse(req.body), limits());
    res.set_content(dump({{"prompt", server::render_chat(r, chat_template(), *chat)}}), kJson);
  });
}

void Server::Impl::score(const httplib::Request& req, httplib::Response& res) {
  scoring("/v1/score", res, [&] {
    res.set_content(dump(server::answer_score(server::parse_body(req.body), *tok, limits(), *worker, opt.model_id)),
                    kJson);
  });
}

void Server::Impl::rerank(const httplib::Request& req, httplib::Response& res) {
  scoring("/v1/rerank", res, [&] {
    res.set_content(dump(server::answer_rerank(server::parse_body(req.body), *tok, limits(), *worker, opt.rerank,
                                               "rerank-" + next_completion_id().substr(5), opt.model_id)),
                    kJson);
  });
}

void Server::Impl::setup() {
  const size_t threads = opt.http_threads ? opt.http_threads : 1;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_payload_max_length(opt.max_body_bytes);
  http.set_read_timeout(opt.read_timeout_s, 0);
  http.set_write_timeout(opt.write_timeout_s, 0);
  http.set_keep_alive_timeout(opt.keep_alive_timeout_s);
  // httplib closes a connection after this many requests; evaluation clients
  // send thousands over one, so let them.
  http.set_keep_alive_max_count(1000);

  http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    const bool up = ready.load(std::memory_order_acquire);
    res.status = up ? 200 : 503;
    if (!up) res.set_header("Retry-After", std::to_string(opt.retry_after_s));
    res.set_content(up ? R"({"status":"ok"})" : R"({"status":"loading"})", kJson);
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    // `ready` is set (release) after the worker exists; read it first.
    const bool up = ready.load(std::memory_order_acquire);
    res.set_content(metrics.render(up ? worker->depth() : 0, up), "text/plain; version=0.0.4");
  });
  http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    ordered_json m = {{"id", opt.model_id}, {"object", "model"}, {"created", started}, {"owned_by", "cloze"}};
    res.set_content(dump({{"object", "list"}, {"data", ordered_json::array({m})}}), kJson);
  });
  http.Get("/", [this](const httplib::Request&, httplib::Response& res) {
    res.set_header("Content-Security-Policy", server::kTryPageCsp);
    res.set_content(server::try_page_html(opt, ready.load(std::memory_order_acquire)), "text/html; charset=utf-8");
  });
  http.Post("/v1/classify", [this](const httplib::Request& req, httplib::Response& res) { classify(req, res); });
  http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) { completions(req, res); });
  http.Post("/v1/chat/completions",
            [this](const httplib::Request& req, httplib::Response& res) { chat_completions(req, res); });
  http.Post("/apply-template", [this](const httplib::Request& req, httplib::Response& res) { apply_template(req, res); });
  http.Post("/v1/score", [this](const httplib::Request& req, httplib::Response& res) { score(req, res); });
  http.Post("/v1/rerank", [this](const httplib::Request& req, httplib::Response& res) { rerank(req, res); });
  http.Get("/tokenizer_info", [this](const httplib::Request&, httplib::Response& res) {
    scoring("/tokenizer_info", res, [&] { res.set_content(dump(server::tokenizer_info_json(tok_info)), kJson); });
  });
  http.Post("/tokenize", [this](const httplib::Request& req, httplib::Response& res) {
    scoring("/tokenize", res, [&] {
      res.set_content(dump(server::tokenize_json(server::parse_body(req.body), *tok, limits())), kJson);
    });
  });
  http.Post("/detokenize", [this](const httplib::Request& req, httplib::Response& res) {
    scoring("/detokenize", res, [&] {
      res.set_content(dump(server::detokenize_json(server::parse_body(req.body), *tok, limits())), kJson);
    });
  });

  // A known path with the wrong method: 405 naming the right one.
  for (const Route& r : kRoutes) {
    auto refuse = [r](const httplib::Request& req, httplib::Response& res) {
      res.status = 405;
      res.set_header("Allow", r.method);
      res.set_content(dump(server::error_body(std::string(r.path) + " answers " + r.method + ", not " + req.method,
                                              "invalid_request_error", "")),
                      kJson);
    };
    const std::string m = r.method;
    if (m != "GET") http.Get(r.path, refuse);
    if (m != "POST") http.Post(r.path, refuse);
    http.Put(r.path, refuse);
    http.Patch(r.path, refuse);
    http.Delete(r.path, refuse);
    http.Options(r.path, refuse);
  }

  // Responses httplib makes itself (404, 413, a malformed request line) get
  // a JSON body too; ours already have one.
  http.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string msg;
    if (res.status == 404) msg = "no such endpoint: " + req.method + " " + req.path;
    else if (res.status == 413) msg = "the request body is over the limit of " + std::to_string(opt.max_body_bytes) + " bytes";
    else msg = "the HTTP request could not be handled (status " + std::to_string(res.status) + ")";
    res.set_content(dump(server::error_body(msg, "invalid_request_error", "")), kJson);
    return httplib::Server::HandlerResponse::Handled;
  }));
  http.set_exception_handler([this](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, ApiError(500, "internal error: " + what, "", "server_error"), opt.retry_after_s);
  });
  http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    metrics.request(endpoint_of(req.path), res.status);
  });
}

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  // A client that hangs up mid-answer must cost its connection, not the
  // process: httplib writes with plain send(), which raises SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  if (impl_->opt.model_id.empty()) impl_->opt.model_id = "cloze";
  impl_->setup();
}

Server::~Server() {
  stop();
  if (impl_->worker) impl_->worker->finish();
}

int Server::bind() {
  if (impl_->port >= 0) return impl_->port;
  const auto& o = impl_->opt;
  server::FrontOptions fo;
  fo.host = o.host;
  fo.port = o.port;
  fo.max_connections = o.max_connections;
  fo.max_body_bytes = o.max_body_bytes;
  fo.header_timeout_s = o.header_timeout_s;
  fo.body_timeout_s = o.read_timeout_s;
  fo.idle_timeout_s = o.keep_alive_timeout_s;
  fo.retry_after_s = o.retry_after_s;
  fo.on_refused = [this](const std::string& path, int status) {
    impl_->metrics.request(endpoint_of(path), status);
  };
  impl_->front = std::make_unique<server::HttpFront>(fo);
  const int port = impl_->front->bind();
  // The handlers listen on loopback only, for the front. Debian's
  // libcpp-httplib is built with a listen backlog of 5: a burst overflows it,
  // so note the socket as it is made, then listen() again with a real one.
  int listen_fd = -1;
  impl_->http.set_socket_options([&listen_fd](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    listen_fd = sock;
  });
  const int up = impl_->http.bind_to_any_port("127.0.0.1");
  if (up <= 0) throw Error("serve: cannot open the internal handler socket on 127.0.0.1");
  if (listen_fd >= 0) ::listen(listen_fd, SOMAXCONN);
  impl_->http.set_socket_options([](socket_t sock) {  // drop the reference to listen_fd
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  impl_->upstream_port = up;
  impl_->port = port;
  return port;
}

void Server::set_chat_template(ModelChatTemplate chat) {
  if (impl_->ready) throw Error("serve: set the chat template before attaching the model");
  impl_->chat_tmpl = std::make_shared<const ChatTemplate>(chat.source);
  impl_->chat = std::move(chat);
}

void Server::attach(Model& model, const Tokenizer& tokenizer, std::shared_ptr<Classifier> defaults) {
  if (impl_->ready) throw Error("serve: a model is already attached");
  impl_->model = &model;
  impl_->tok = &tokenizer;
  impl_->tok_info = server::read_tokenizer_info(model.dir(), tokenizer, model.config().max_position_embeddings);
  if (defaults) impl_->opt.classifier = defaults->options();
  impl_->worker = std::make_unique<server::ModelWorker>(model, tokenizer, impl_->opt, impl_->metrics);
  if (defaults) impl_->worker->preload(std::move(defaults));
  impl_->ready.store(true, std::memory_order_release);
}

void Server::run() {
  bind();
  impl_->in_run = true;
  std::thread handlers([this] { impl_->http.listen_after_bind(); });
  // The front returns once stop() was called and every request it forwarded
  // has been answered, so the handlers have nothing left in flight.
  try {
    impl_->front->run(impl_->upstream_port);
  } catch (...) {
    stop_handlers();
    handlers.join();
    throw;
  }
  stop_handlers();
  handlers.join();
  impl_->run_done = true;
}

void Server::stop_handlers() {
  // httplib's stop() only works on a listening server: wait for its loop.
  for (int i = 0; i < 5000 && !impl_->http.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  impl_->http.stop();
}

void Server::stop() {
  impl_->stopping = true;
  if (impl_->front) impl_->front->stop();
}

int Server::port() const { return impl_->port; }

}  // namespace cloze
