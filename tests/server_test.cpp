// The HTTP server end to end, in process, on 127.0.0.1: answers must be the
// library's (the same objects `cloze classify` prints), every bad request a
// 400-class JSON error naming the field, and the counters honest.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "cloze/result_row.h"
#include "server_fixture.h"

namespace {

using cloze::test::LiveServer;
using cloze::test::TinyModel;
using json = nlohmann::ordered_json;

class ServerApi : public cloze::test::ServedSuite<ServerApi> {
 protected:
  static httplib::Result post(const std::string& path, const std::string& body) {
    auto c = live_->client();
    return c.Post(path.c_str(), body, "application/json");
  }
  // What `cloze classify` would print for these texts with these options.
  static json expected(const std::vector<std::string>& texts, cloze::ClassifierOptions o = {}) {
    cloze::Classifier clf(*ref_->model, *ref_->tok, std::move(o));
    auto res = clf.classify(texts);
    json out = json::array();
    for (size_t i = 0; i < texts.size(); ++i) {
      cloze::Record rec;
      rec.text = texts[i];
      out.push_back(cloze::result_row(rec, res[i], clf, false));
    }
    return json::parse(out.dump());  // numbers as they travel
  }
  // Asserts a 4xx/5xx with OpenAI's error shape; returns the error object.
  static json expect_error(const httplib::Result& r, int status, const std::string& param) {
    EXPECT_TRUE(r) << "no response";
    if (!r) return {};
    EXPECT_EQ(r->status, status) << r->body;
    json body = json::parse(r->body, nullptr, false);
    EXPECT_TRUE(body.contains("error")) << r->body;
    if (!body.contains("error")) return {};
    const json& e = body["error"];
    EXPECT_TRUE(e["message"].is_string() && !e["message"].get<std::string>().empty()) << r->body;
    EXPECT_TRUE(e["type"].is_string()) << r->body;
    if (param.empty()) {
      EXPECT_TRUE(e["param"].is_null()) << r->body;
    } else {
      EXPECT_EQ(e["param"], param) << r->body;
    }
    return e;
  }
};

TEST_F(ServerApi, ClassifyMatchesTheLibrary) {
  std::vector<std::string> texts = cloze::test::sst2_texts(5);
  texts.push_back("");  // unscorable: an error object, as the CLI prints it
  auto r = post("/v1/classify", json{{"texts", texts}}.dump());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  json got = json::parse(r->body);
  EXPECT_EQ(got["results"], expected(texts));
  EXPECT_TRUE(got["results"][5]["label"].is_null());
  EXPECT_EQ(got["results"][5]["error"], "empty text");
}

TEST_F(ServerApi, ClassifyWithLabelsTemplateAndCalibration) {
  std::vector<std::string> texts = {"a delight from start to end", "dull and far too long"};
  json req = {{"texts", texts}, {"labels", {"good", "bad", "so-so"}}, {"template", "Review: {text}\nVerdict:"},
              {"calibrate", "contextual"}};
  auto r = post("/v1/classify", req.dump());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  cloze::ClassifierOptions o;
  o.labels = {"good", "bad", "so-so"};
  o.template_text = "Review: {text}\nVerdict:";
  o.calibration = cloze::Calibration::Contextual;
  EXPECT_EQ(json::parse(r->body)["results"], expected(texts, o));
  // The same settings again come from the classifier cache, same answer.
  auto again = post("/v1/classify", req.dump());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->body, r->body);
}

TEST_F(ServerApi, MalformedJsonAndWrongTypes) {
  expect_error(post("/v1/classify", "{\"texts\": [\"a\","), 400, "texts[1]");
  expect_error(post("/v1/classify", "not json"), 400, "");
  expect_error(post("/v1/classify", "[1,2]"), 400, "");
  expect_error(post("/v1/classify", R"({"texts": "one text"})"), 400, "texts");
  expect_error(post("/v1/classify", R"({"texts": ["a", 5]})"), 400, "texts[1]");
  expect_error(post("/v1/classify", R"({"texts": []})"), 400, "texts");
  expect_error(post("/v1/classify", R"({"labels": ["a", "b"]})"), 400, "texts");
  expect_error(post("/v1/classify", R"({"texts": ["a"], "labels": "a,b"})"), 400, "labels");
  expect_error(post("/v1/classify", R"({"texts": ["a"], "calibrate": "always"})"), 400, "calibrate");
  expect_error(post("/v1/classify", R"({"texts": ["a"], "calibrate": 1})"), 400, "calibrate");
  auto e = expect_error(post("/v1/classify", R"({"texts": ["a"], "lables": ["x", "y"]})"), 400, "lables");
  EXPECT_NE(e["message"].get<std::string>().find("unknown field"), std::string::npos);
  std::string deep(100, '[');
  expect_error(post("/v1/classify", deep), 400, "");
}

TEST_F(ServerApi, BadLabelsAndTemplates) {
  expect_error(post("/v1/classify", R"({"texts": ["a"], "template": "no placeholder"})"), 400, "template");
  expect_error(post("/v1/classify", R"({"texts": ["a"], "labels": ["only"]})"), 400, "labels");
  expect_error(post("/v1/classify", R"({"texts": ["a"], "labels": ["x", "x"]})"), 400, "labels");
  // A bad request never spoils the next one.
  auto r = post("/v1/classify", R"({"texts": ["fine"]})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServerApi, Limits) {
  json nine = {{"texts", std::vector<std::string>(9, "x")}};
  auto e = expect_error(post("/v1/classify", nine.dump()), 400, "texts");
  EXPECT_NE(e["message"].get<std::string>().find("limit of 8"), std::string::npos);
  json longer = {{"texts", {"ok", std::string(2001, 'a')}}};
  expect_error(post("/v1/classify", longer.dump()), 400, "texts[1]");
  json huge = {{"texts", {std::string(70 * 1024, 'a')}}};
  expect_error(post("/v1/classify", huge.dump()), 413, "");
}

TEST_F(ServerApi, InvalidUtf8NamesTheText) {
  std::string body = std::string("{\"texts\": [\"good\", \"bad \xff byte\"]}");
  auto e = expect_error(post("/v1/classify", body), 400, "texts[1]");
  EXPECT_NE(e["message"].get<std::string>().find("UTF-8"), std::string::npos);
  // A lone surrogate escape is not text either.
  expect_error(post("/v1/classify", R"({"texts": ["\udc80"]})"), 400, "texts[0]");
}

TEST_F(ServerApi, UnknownEndpointAndWrongMethod) {
  auto c = live_->client();
  auto r = c.Get("/v1/nothing");
  expect_error(r, 404, "");
  r = c.Get("/v1/classify");
  expect_error(r, 405, "");
  EXPECT_EQ(r->get_header_value("Allow"), "POST");
  r = c.Post("/health", "{}", "application/json");
  expect_error(r, 405, "");
  EXPECT_EQ(r->get_header_value("Allow"), "GET");
  r = c.Delete("/v1/completions");
  expect_error(r, 405, "");
}

TEST_F(ServerApi, HealthAndModels) {
  auto c = live_->client();
  auto r = c.Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body), json::parse(R"({"status":"ok"})"));
  r = c.Get("/v1/models");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  json m = json::parse(r->body);
  EXPECT_EQ(m["object"], "list");
  ASSERT_EQ(m["data"].size(), 1u);
  EXPECT_EQ(m["data"][0]["id"], "tiny-qwen2");
  EXPECT_EQ(m["data"][0]["object"], "model");
}

// log-softmax of the row that predicts token i, straight from Model::forward.
std::vector<std::vector<double>> direct_logprobs(cloze::Model& model, const std::vector<int32_t>& ids) {
  cloze::KVCache cache(model);
  cloze::ForwardItem it{&cache, ids, cloze::Outputs::All};
  auto r = cloze::RunContext(model).forward({&it, 1})[0];
  std::vector<std::vector<double>> rows;
  for (size_t p = 0; p < r.positions; ++p) {
    const float* row = r.logits.data() + p * r.cols;
    double mx = *std::max_element(row, row + r.cols), s = 0;
    for (size_t j = 0; j < r.cols; ++j) s += std::exp(double(row[j]) - mx);
    std::vector<double> lp(r.cols);
    for (size_t j = 0; j < r.cols; ++j) lp[j] = double(row[j]) - (mx + std::log(s));
    rows.push_back(std::move(lp));
  }
  return rows;
}

TEST_F(ServerApi, CompletionsEchoLogprobsMatchForward) {
  const std::string prompt = "The movie was wonderful, and the ending";
  json req = {{"model", "tiny-qwen2"}, {"prompt", prompt}, {"max_tokens", 0}, {"echo", true}, {"logprobs", 5},
              {"temperature", 0}};
  auto r = post("/v1/completions", req.dump());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json got = json::parse(r->body);
  EXPECT_EQ(got["object"], "text_completion");
  EXPECT_EQ(got["model"], "tiny-qwen2");
  ASSERT_EQ(got["choices"].size(), 1u);
  const json& c = got["choices"][0];
  EXPECT_EQ(c["text"], prompt);
  EXPECT_EQ(c["finish_reason"], "length");
  const json& lp = c["logprobs"];

  auto ids = ref_->tok->encode(prompt);
  auto rows = direct_logprobs(*ref_->model, ids);
  ASSERT_EQ(lp["tokens"].size(), ids.size());
  EXPECT_EQ(got["usage"]["prompt_tokens"], ids.size());
  EXPECT_EQ(got["usage"]["completion_tokens"], 0);
  EXPECT_TRUE(lp["token_logprobs"][0].is_null());
  EXPECT_TRUE(lp["top_logprobs"][0].is_null());
  std::string joined;
  double maxdiff = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    joined += lp["tokens"][i].get<std::string>();
    EXPECT_EQ(lp["text_offset"][i], i == 0 ? 0u : lp["text_offset"][i - 1].get<size_t>() +
                                                     lp["tokens"][i - 1].get<std::string>().size());
    if (i == 0) continue;
    const auto& row = rows[i - 1];
    maxdiff = std::max(maxdiff, std::abs(lp["token_logprobs"][i].get<double>() - row[size_t(ids[i])]));
    // The five likeliest tokens of the row, by the direct computation.
    std::vector<int32_t> order(row.size());
    for (size_t j = 0; j < row.size(); ++j) order[j] = int32_t(j);
    std::partial_sort(order.begin(), order.begin() + 5, order.end(), [&](int32_t a, int32_t b) { return row[a] > row[b]; });
    const json& top = lp["top_logprobs"][i];
    ASSERT_EQ(top.size(), 5u) << top.dump();
    std::vector<double> want, have;
    for (int k = 0; k < 5; ++k) {
      want.push_back(row[size_t(order[k])]);
      // Tokens that are part of a character print as "bytes:\xNN"; the
      // others by their text.
      std::string name = ref_->tok->decode(std::vector<int32_t>{order[k]});
      if (name.find("\xEF\xBF\xBD") == std::string::npos) {
        EXPECT_TRUE(top.contains(name)) << "position " << i << " lacks '" << name << "': " << top.dump();
      }
    }
    for (auto& [name, v] : top.items()) have.push_back(v.get<double>());
    std::sort(have.rbegin(), have.rend());
    for (int k = 0; k < 5; ++k) maxdiff = std::max(maxdiff, std::abs(have[k] - want[k]));
  }
  std::printf("completions logprobs vs Model::forward: maxdiff %.3g\n", maxdiff);
  EXPECT_LT(maxdiff, 1e-4);
  EXPECT_EQ(joined, prompt);
}

TEST_F(ServerApi, CompletionsPromptForms) {
  auto ids = ref_->tok->encode("hello there world");
  json req = {{"prompt", json::array({json("hello there world"), json(ids)})}, {"max_tokens", 0}, {"echo", true},
              {"logprobs", 0}};
  auto r = post("/v1/completions", req.dump());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json got = json::parse(r->body);
  ASSERT_EQ(got["choices"].size(), 2u);
  // Text and the same text as token ids score identically.
  EXPECT_EQ(got["choices"][0]["logprobs"], got["choices"][1]["logprobs"]);
  EXPECT_EQ(got["choices"][1]["text"], "hello there world");
  EXPECT_EQ(got["choices"][0]["logprobs"]["top_logprobs"][1], json::object());

  // No logprobs asked: the echo alone, logprobs null.
  r = post("/v1/completions", R"({"prompt": "abc", "max_tokens": 0, "echo": true})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(json::parse(r->body)["choices"][0]["logprobs"].is_null());
}

TEST_F(ServerApi, CompletionsErrors) {
  // Generation (max_tokens > 0) is tested in server_generate_test.cpp.
  expect_error(post("/v1/completions", R"({"prompt": "abc", "max_tokens": 0, "echo": true, "logprobs": 21})"), 400,
               "logprobs");
  expect_error(post("/v1/completions", R"({"prompt": "abc", "max_tokens": 0, "n": 2})"), 400, "n");
  expect_error(post("/v1/completions", R"({"prompt": "abc", "max_tokens": 0, "stream": true})"), 400, "stream");
  expect_error(post("/v1/completions", R"({"prompt": 5, "max_tokens": 0})"), 400, "prompt");
  expect_error(post("/v1/completions", R"({"prompt": [[1, -2]], "max_tokens": 0})"), 400, "prompt[0][1]");
  expect_error(post("/v1/completions", R"({"prompt": [999999999], "max_tokens": 0})"), 400, "prompt[0]");
  expect_error(post("/v1/completions", R"({"prompt": "", "max_tokens": 0, "echo": true})"), 400, "prompt");
  expect_error(post("/v1/completions", R"({"prompt": "a", "max_tokens": 0, "best": 1})"), 400, "best");
  expect_error(post("/v1/completions", R"({"prompt": "a", "max_tokens": 0.5})"), 400, "max_tokens");
}

TEST_F(ServerApi, QueueFullIs503WithRetryAfter) {
  TinyModel m = TinyModel::load();
  auto o = cloze::test::small_limits();
  o.max_queue = 0;  // every request finds the queue full
  LiveServer full(o, &m);
  auto c = full.client();
  auto r = c.Post("/v1/classify", R"({"texts": ["a"]})", "application/json");
  expect_error(r, 503, "");
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  // Cheap endpoints stay up.
  r = c.Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServerApi, HealthIs503UntilTheModelIsAttached) {
  TinyModel m = TinyModel::load();  // outlives the server
  LiveServer loading(cloze::test::small_limits(), nullptr);
  auto c = loading.client();
  auto r = c.Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(json::parse(r->body)["status"], "loading");
  expect_error(c.Post("/v1/classify", R"({"texts": ["a"]})", "application/json"), 503, "");
  loading.server().attach(*m.model, *m.tok);
  r = c.Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = c.Post("/v1/classify", R"({"texts": ["a"]})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServerApi, StalledClientTimesOut) {
  auto o = cloze::test::small_limits();
  o.read_timeout_s = 1;
  LiveServer live(o, nullptr);
  // A client that promises a body and never sends it must not hold a
  // connection (and a thread) for ever.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(live.port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval wait{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  const std::string head = "POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{";
  ASSERT_EQ(send(fd, head.data(), head.size(), 0), ssize_t(head.size()));
  const auto t0 = std::chrono::steady_clock::now();
  char buf[1024];
  while (recv(fd, buf, sizeof buf, 0) > 0) {
  }
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  close(fd);
  EXPECT_LT(waited, 5.0) << "the server kept a stalled connection open";
  auto r = live.client().Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);  // still serving (no model attached here)
}

TEST_F(ServerApi, Metrics) {
  // Make sure each kind of outcome has happened at least once.
  post("/v1/classify", R"({"texts": ["one", "two"]})");
  post("/v1/classify", "{");
  live_->client().Get("/nowhere");
  // Requests are counted by httplib's logger, which runs just after the
  // response is written: the client can ask for /metrics before the count of
  // its previous requests land, so wait (boundedly) for all three.
  std::string m, content_type;
  for (int i = 0; i < 100; ++i) {
    auto r = live_->client().Get("/metrics");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
    content_type = r->get_header_value("Content-Type");
    m = r->body;
    if (m.find("endpoint=\"other\",status=\"404\"") != std::string::npos &&
        m.find("endpoint=\"/v1/classify\",status=\"400\"") != std::string::npos &&
        m.find("endpoint=\"/v1/classify\",status=\"200\"") != std::string::npos)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(content_type.find("text/plain"), std::string::npos);
  for (const char* want :
       {"# TYPE cloze_http_requests_total counter", "cloze_http_requests_total{endpoint=\"/v1/classify\",status=\"200\"} ",
        "cloze_http_requests_total{endpoint=\"/v1/classify\",status=\"400\"} ",
        "cloze_http_requests_total{endpoint=\"other\",status=\"404\"} ", "cloze_http_errors_total{endpoint=\"/v1/classify\"} ",
        "# TYPE cloze_request_duration_seconds histogram",
        "cloze_request_duration_seconds_bucket{endpoint=\"/v1/classify\",le=\"+Inf\"} ",
        "cloze_request_duration_seconds_count{endpoint=\"/v1/classify\"} ", "cloze_texts_total ", "cloze_tokens_total ",
        "cloze_queue_depth 0", "cloze_model_ready 1"})
    EXPECT_NE(m.find(want), std::string::npos) << "missing: " << want << "\n" << m;
  // Counters count: at least the two texts above.
  auto at = m.find("\ncloze_texts_total ");
  ASSERT_NE(at, std::string::npos);
  EXPECT_GE(std::stoul(m.substr(at + 19)), 2u);
}

}  // namespace
