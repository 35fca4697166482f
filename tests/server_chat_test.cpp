// The chat endpoints against the library: /apply-template renders what
// apply_chat_template renders, /v1/chat/completions generates what generate()
// does on the rendered ids, streamed events add up to the same text,
// /v1/classify "chat": true scores like a chat Classifier; fields this server
// does not implement are 400s naming them.
#include <gtest/gtest.h>

#include <sstream>

#include "cloze/chat.h"
#include "cloze/generate.h"
#include "server_fixture.h"

namespace cloze {
namespace {

using nlohmann::json;
using test::LiveServer;
using test::TinyModel;

class ServerChat : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    served_ = new TinyModel(TinyModel::load());
    expect_ = new TinyModel(TinyModel::load());
    chat_ = new ModelChatTemplate(find_chat_template(test::full_vocab_qwen2()));
    live_ = new LiveServer(test::small_limits(), nullptr);
    live_->server().set_chat_template(*chat_);
    live_->server().attach(*served_->model, *served_->tok);
  }
  static void TearDownTestSuite() {
    delete live_;
    delete chat_;
    delete expect_;
    delete served_;
  }
  static json post(const std::string& path, const json& body, int want = 200) {
    auto c = live_->client();
    auto r = c.Post(path, body.dump(), "application/json");
    EXPECT_TRUE(r);
    if (!r) return json();
    EXPECT_EQ(r->status, want) << r->body;
    return json::parse(r->body);
  }
  static inline TinyModel *served_ = nullptr, *expect_ = nullptr;
  static inline ModelChatTemplate* chat_ = nullptr;
  static inline LiveServer* live_ = nullptr;
};

const json kMessages = json::array({{{"role", "system"}, {"content", "You classify reviews."}},
                                    {{"role", "user"}, {"content", "A fine film. Positive or negative?"}}});

std::string rendered() {
  ModelChatTemplate mt = find_chat_template(test::full_vocab_qwen2());
  ChatInput in;
  in.messages = nlohmann::ordered_json::parse(kMessages.dump());
  in.add_generation_prompt = true;
  return apply_chat_template(ChatTemplate(mt.source), mt, in);
}

TEST_F(ServerChat, ApplyTemplateRendersLikeTheLibrary) {
  json r = post("/apply-template", {{"messages", kMessages}});
  EXPECT_EQ(r["prompt"], rendered());
  EXPECT_NE(rendered().find("<|im_start|>assistant\n"), std::string::npos);
}

TEST_F(ServerChat, ChatCompletionIsGenerateOnTheRenderedIds) {
  json r = post("/v1/chat/completions", {{"messages", kMessages}, {"max_tokens", 5}, {"temperature", 0}});
  auto ids = expect_->tok->encode(rendered(), {.special = true, .add_special_tokens = false});
  GenerateOptions o;
  o.max_tokens = 5;
  o.eos_ids = default_eos_ids(*expect_->model, expect_->tok.get());
  GenerateResult g = generate(*expect_->model, expect_->tok.get(), ids, o);
  EXPECT_EQ(r["object"], "chat.completion");
  EXPECT_EQ(r["choices"][0]["message"]["content"], g.text);
  EXPECT_EQ(r["usage"]["prompt_tokens"], ids.size());
  EXPECT_EQ(r["usage"]["completion_tokens"], g.ids.size());
}

TEST_F(ServerChat, StreamedEventsAddUpToTheAnswer) {
  json body = {{"messages", kMessages}, {"max_tokens", 8}, {"temperature", 0.9}, {"seed", 11}};
  json whole = post("/v1/chat/completions", body);
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  auto c = live_->client();
  auto r = c.Post("/v1/chat/completions", body.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_NE(r->get_header_value("Content-Type").find("text/event-stream"), std::string::npos);
  std::istringstream in(r->body);
  std::string line, text, finish;
  bool done = false, usage = false;
  for (; std::getline(in, line);) {
    if (line.empty()) continue;
    ASSERT_EQ(line.rfind("data: ", 0), 0u) << line;
    std::string data = line.substr(6);
    if (data == "[DONE]") {
      done = true;
      continue;
    }
    json ev = json::parse(data);
    EXPECT_EQ(ev["object"], "chat.completion.chunk");
    if (ev.contains("usage")) {
      usage = true;
      EXPECT_EQ(ev["usage"], whole["usage"]);
      continue;
    }
    const json& ch = ev["choices"][0];
    if (ch["delta"].contains("content")) text += ch["delta"]["content"].get<std::string>();
    if (!ch["finish_reason"].is_null()) finish = ch["finish_reason"];
  }
  EXPECT_TRUE(done);
  EXPECT_TRUE(usage);
  EXPECT_EQ(text, whole["choices"][0]["message"]["content"]);
  EXPECT_EQ(finish, whole["choices"][0]["finish_reason"]);
}

TEST_F(ServerChat, ClassifyChatScoresLikeTheLibrary) {
  json r = post("/v1/classify", {{"texts", {"A fine film."}}, {"chat", true}, {"system", "You classify."},
                                 {"answer_prefix", "Sentiment:"}, {"template", "Review: {text}"}});
  ClassifierOptions o;
  o.template_text = "Review: {text}";
  ChatPromptOptions c;
  c.system = "You classify.";
  c.answer_prefix = "Sentiment:";
  use_chat_prompt(o, *chat_, c);
  Classifier clf(*expect_->model, *expect_->tok, o);
  auto want = clf.classify(std::vector<std::string>{"A fine film."});
  EXPECT_EQ(r["results"][0]["label"], want[0].label);
  EXPECT_DOUBLE_EQ(r["results"][0]["probs"]["positive"].get<double>(), want[0].probs[0]);
  // system without chat is refused.
  json bad = post("/v1/classify", {{"texts", {"x"}}, {"system", "s"}}, 400);
  EXPECT_EQ(bad["error"]["param"], "system");
}

TEST_F(ServerChat, UnimplementedFieldsAre400sNamingThem) {
  for (const char* path : {"/v1/completions", "/v1/chat/completions"}) {
    json base = std::string(path) == "/v1/completions" ? json{{"prompt", "x"}, {"max_tokens", 2}}
                                                         : json{{"messages", kMessages}, {"max_tokens", 2}};
    for (auto [field, value] : std::vector<std::pair<std::string, json>>{
             {"presence_penalty", 0.5}, {"frequency_penalty", -1}, {"logit_bias", {{"42", 3}}}, {"n", 2}}) {
      json b = base;
      b[field] = value;
      json e = post(path, b, 400);
      EXPECT_EQ(e["error"]["param"], field) << path << " " << e.dump();
    }
    json ok = base;
    ok["presence_penalty"] = 0;
    ok["logit_bias"] = json::object();
    post(path, ok, 200);
  }
  json e = post("/v1/chat/completions", {{"messages", json::array()}}, 400);
  EXPECT_EQ(e["error"]["param"], "messages");
}

TEST(ServerChatNoTemplate, ChatEndpointsSayHowToGiveOne) {
  TinyModel m = TinyModel::load();
  LiveServer live(test::small_limits(), &m);
  auto c = live.client();
  auto r = c.Post("/apply-template", json{{"messages", kMessages}}.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("chat template file"), std::string::npos) << r->body;
}

}  // namespace
}  // namespace cloze
