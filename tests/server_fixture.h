#pragma once
// A live cloze::Server on a free loopback port for the server tests, and the
// tiny full-vocabulary Qwen2 it serves (plus a second copy of the model for
// computing expected answers: Model::forward is single-threaded, and the
// server's worker owns the first).
#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloze/classify.h"
#include "cloze/server.h"
#include "test_models.h"

namespace cloze::test {

struct TinyModel {
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tok;
  static TinyModel load() {
    auto dir = full_vocab_qwen2();
    return {Model::load(dir, {.threads = 2}), std::make_unique<Tokenizer>(Tokenizer::from_file(dir / "tokenizer.json"))};
  }
};

class LiveServer {
 public:
  // Binds port 0 (the kernel picks a free one) and serves on a thread;
  // attaches the model when one is given.
  LiveServer(ServerOptions o, TinyModel* m) : server_(std::make_unique<Server>(std::move(o))) {
    port_ = server_->bind();
    thread_ = std::thread([this] { server_->run(); });
    if (m) server_->attach(*m->model, *m->tok);
  }
  ~LiveServer() { stop(); }
  void stop() {
    server_->stop();
    if (thread_.joinable()) thread_.join();
  }
  Server& server() { return *server_; }
  int port() const { return port_; }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    c.set_write_timeout(60, 0);
    return c;
  }

 private:
  std::unique_ptr<Server> server_;
  std::thread thread_;
  int port_ = 0;
};

inline ServerOptions small_limits() {
  ServerOptions o;
  o.port = 0;
  o.model_id = "tiny-qwen2";
  o.http_threads = 40;
  o.max_texts = 8;
  o.max_text_bytes = 2000;
  o.max_body_bytes = 64 * 1024;
  o.keep_alive_timeout_s = 1;  // idle connections must not hold up a test's shutdown
  return o;
}

// A test suite that shares one live server (small_limits(), the tiny model)
// across its tests, plus a second copy of the model for expected answers.
// CRTP, so that every suite gets a server of its own.
template <class Suite>
class ServedSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    served_ = new TinyModel(TinyModel::load());
    ref_ = new TinyModel(TinyModel::load());
    live_ = new LiveServer(small_limits(), served_);
  }
  static void TearDownTestSuite() {
    delete live_;
    delete served_;
    delete ref_;
  }
  static inline TinyModel* served_ = nullptr;
  static inline TinyModel* ref_ = nullptr;
  static inline LiveServer* live_ = nullptr;
};

// The first n texts of the SST-2 dev fixture.
inline std::vector<std::string> sst2_texts(size_t n) {
  std::ifstream in(std::string(CLOZE_FIXTURES) + "/data/sst2_dev.tsv");
  std::vector<std::string> out;
  std::string line;
  std::getline(in, line);  // header
  while (out.size() < n && std::getline(in, line)) out.push_back(line.substr(0, line.find('\t')));
  return out;
}

}  // namespace cloze::test
