// POST /v1/completions with max_tokens > 0: the answers must be the
// generation library's (cloze::generate on a second copy of the model), the
// sampling fields checked with 400s naming them, and the loglikelihood shape
// lm-evaluation-harness uses (max_tokens 1, echo, logprobs) must carry the
// same prompt numbers as a max_tokens 0 request.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "cloze/generate.h"
#include "server_fixture.h"

namespace {

using json = nlohmann::ordered_json;

const std::string kPrompt = "The movie was wonderful, and the ending";

class ServerGenerate : public cloze::test::ServedSuite<ServerGenerate> {
 protected:
  static json complete(const json& req) {
    auto c = live_->client();
    auto r = c.Post("/v1/completions", req.dump(), "application/json");
    EXPECT_TRUE(r) << "no response";
    if (!r) return {};
    EXPECT_EQ(r->status, 200) << r->body;
    return json::parse(r->body);
  }
  static void expect_400(const std::string& body, const std::string& param) {
    auto c = live_->client();
    auto r = c.Post("/v1/completions", body, "application/json");
    ASSERT_TRUE(r) << body;
    EXPECT_EQ(r->status, 400) << body << " -> " << r->body;
    json e = json::parse(r->body)["error"];
    EXPECT_EQ(e["param"], param) << body << " -> " << r->body;
  }
  // What the library generates for the prompt, with the model's EOS ids as
  // the server uses them.
  static cloze::GenerateResult direct(const std::string& prompt, cloze::GenerateOptions o) {
    o.eos_ids = cloze::default_eos_ids(*ref_->model, ref_->tok.get());
    auto ids = ref_->tok->encode(prompt);
    return cloze::generate(*ref_->model, ref_->tok.get(), ids, o);
  }
  static std::string openai_reason(const std::string& r) { return r == "length" ? "length" : "stop"; }
};

TEST_F(ServerGenerate, GreedyMatchesTheLibrary) {
  json got = complete({{"prompt", kPrompt}, {"max_tokens", 5}, {"temperature", 0}});
  auto want = direct(kPrompt, {.max_tokens = 5, .temperature = 0});
  ASSERT_EQ(got["choices"].size(), 1u);
  const json& c = got["choices"][0];
  EXPECT_EQ(c["text"], want.text);
  EXPECT_EQ(c["finish_reason"], openai_reason(want.finish_reason));
  EXPECT_TRUE(c["logprobs"].is_null());
  EXPECT_EQ(got["usage"]["prompt_tokens"], ref_->tok->encode(kPrompt).size());
  EXPECT_EQ(got["usage"]["completion_tokens"], want.ids.size());
  EXPECT_EQ(got["usage"]["total_tokens"], ref_->tok->encode(kPrompt).size() + want.ids.size());

  // Echo puts the prompt in front; two prompts are two independent choices.
  got = complete({{"prompt", {kPrompt, "hello there"}}, {"max_tokens", 5}, {"temperature", 0}, {"echo", true}});
  ASSERT_EQ(got["choices"].size(), 2u);
  EXPECT_EQ(got["choices"][0]["text"], kPrompt + want.text);
  EXPECT_EQ(got["choices"][1]["text"], "hello there" + direct("hello there", {.max_tokens = 5, .temperature = 0}).text);
}

TEST_F(ServerGenerate, SeededSamplingIsReproducible) {
  json req = {{"prompt", kPrompt}, {"max_tokens", 8}, {"temperature", 1.5}, {"top_k", 100},
              {"top_p", 0.95},     {"min_p", 0.01},   {"seed", 1234}};
  json a = complete(req), b = complete(req);
  EXPECT_EQ(a["choices"][0]["text"], b["choices"][0]["text"]);
  auto want = direct(kPrompt, {.max_tokens = 8, .temperature = 1.5f, .top_k = 100, .top_p = 0.95f, .min_p = 0.01f,
                               .seed = 1234});
  EXPECT_EQ(a["choices"][0]["text"], want.text);
  EXPECT_EQ(a["usage"]["completion_tokens"], want.ids.size());
  // No temperature: OpenAI's default of 1 (sampling), seed 0 when absent.
  json d = complete({{"prompt", kPrompt}, {"max_tokens", 8}});
  EXPECT_EQ(d["choices"][0]["text"], direct(kPrompt, {.max_tokens = 8, .temperature = 1}).text);
  EXPECT_LE(d["usage"]["completion_tokens"].get<size_t>(), 8u);
}

TEST_F(ServerGenerate, StopStringsEndTheText) {
  auto free = direct(kPrompt, {.max_tokens = 12, .temperature = 0});
  ASSERT_FALSE(free.text.empty());
  // A whole character from the middle of the free-running text as the stop.
  size_t at = free.text.size() / 2;
  while (at > 0 && (static_cast<unsigned char>(free.text[at]) & 0xC0) == 0x80) --at;
  size_t len = 1;
  while (at + len < free.text.size() && (static_cast<unsigned char>(free.text[at + len]) & 0xC0) == 0x80) ++len;
  const std::string stop = free.text.substr(at, len);
  json got = complete({{"prompt", kPrompt}, {"max_tokens", 12}, {"temperature", 0}, {"stop", {stop, "\x01zz"}}});
  const json& c = got["choices"][0];
  EXPECT_EQ(c["text"], free.text.substr(0, free.text.find(stop))) << "stop '" << stop << "'";
  EXPECT_EQ(c["finish_reason"], "stop");
  // A single string works too.
  got = complete({{"prompt", kPrompt}, {"max_tokens", 12}, {"temperature", 0}, {"stop", stop}});
  EXPECT_EQ(got["choices"][0]["text"], free.text.substr(0, free.text.find(stop)));
}

TEST_F(ServerGenerate, LoglikelihoodShapeMatchesScoring) {
  // lm-evaluation-harness: max_tokens 1 (or 0), echo, logprobs; it reads the
  // prompt's tokens and ignores the generated one.
  json scored = complete({{"prompt", kPrompt}, {"max_tokens", 0}, {"echo", true}, {"logprobs", 1}});
  json gen = complete({{"prompt", kPrompt}, {"max_tokens", 1}, {"echo", true}, {"logprobs", 1}, {"temperature", 0}});
  const json& s = scored["choices"][0]["logprobs"];
  const json& g = gen["choices"][0]["logprobs"];
  const size_t n = s["tokens"].size();
  ASSERT_EQ(g["tokens"].size(), n + 1) << gen.dump();
  double maxdiff = 0;
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(g["tokens"][i], s["tokens"][i]);
    EXPECT_EQ(g["text_offset"][i], s["text_offset"][i]);
    if (i == 0) {
      EXPECT_TRUE(g["token_logprobs"][0].is_null());
      continue;
    }
    maxdiff = std::max(maxdiff, std::abs(g["token_logprobs"][i].get<double>() - s["token_logprobs"][i].get<double>()));
    EXPECT_EQ(g["top_logprobs"][i].begin().key(), s["top_logprobs"][i].begin().key());
  }
  std::printf("max_tokens 1 vs 0 prompt logprobs: maxdiff %.3g\n", maxdiff);
  EXPECT_LT(maxdiff, 1e-6);
  // Greedy: the generated token is the likeliest one at its position.
  const json& last = g["top_logprobs"][n];
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last.begin().key(), g["tokens"][n]);
  EXPECT_NEAR(last.begin().value().get<double>(), g["token_logprobs"][n].get<double>(), 1e-12);
  EXPECT_EQ(gen["usage"]["completion_tokens"], 1);
  EXPECT_EQ(gen["choices"][0]["text"], kPrompt + direct(kPrompt, {.max_tokens = 1, .temperature = 0}).text);

  // Without echo the logprobs cover the generated tokens only.
  json plain = complete({{"prompt", kPrompt}, {"max_tokens", 3}, {"logprobs", 2}, {"temperature", 0}});
  const json& p = plain["choices"][0]["logprobs"];
  EXPECT_EQ(p["tokens"].size(), plain["usage"]["completion_tokens"].get<size_t>());
  EXPECT_EQ(p["tokens"][0], g["tokens"][n]);
  EXPECT_EQ(p["text_offset"][0], g["text_offset"][n]);
}

TEST_F(ServerGenerate, BadSamplingFieldsAre400NamingTheField) {
  expect_400(R"({"prompt": "a", "max_tokens": 2, "temperature": "hot"})", "temperature");
  expect_400(R"({"prompt": "a", "max_tokens": 2, "temperature": -1})", "temperature");
  expect_400(R"({"prompt": "a", "max_tokens": 2, "top_p": 0})", "top_p");
  expect_400(R"({"prompt": "a", "max_tokens": 2, "top_p": "x"})", "top_p");
  expect_400(R"({"prompt": "a", "max_tokens": 2, "top_k": -1})", "top_k");
  expect_400(R"({"prompt": "a", "max_tokens": 2, "top_k": 1.5})", "top_k");
  expect_400(R"({"prompt": "a", "max_tokens": 2, "min_p": 2})", "min_p");
  expect_400(R"({"prompt": "a", "max_tokens": 2, "seed": "a"})", "seed");
  expect_400(R"({"prompt": "a", "max_tokens": 2, "seed": 1.5})", "seed");
  expect_400(R"({"prompt": "a", "max_tokens": 2, "stop": 5})", "stop");
  expect_400(R"({"prompt": "a", "max_tokens": 2, "stop": [1]})", "stop[0]");
  // 16 stop strings at most (lm-eval sends a task's whole until list plus EOS; OpenAI allows 4).
  expect_400(R"({"prompt": "a", "max_tokens": 2, "stop": ["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"]})", "stop");
  expect_400(R"({"prompt": "a", "max_tokens": 2, "stop": [""]})", "stop");
  // Streaming works (server_chat_test.cpp); what it cannot combine with is refused.
  expect_400(R"({"prompt": "a", "max_tokens": 2, "stream": "yes"})", "stream");
  expect_400(R"({"prompt": ["a", "b"], "max_tokens": 2, "stream": true})", "stream");
  expect_400(R"({"prompt": "a", "max_tokens": 2, "stream": true, "echo": true})", "echo");
  expect_400(R"({"prompt": "a", "max_tokens": 2, "presence_penalty": 0.5})", "presence_penalty");
  expect_400(R"({"prompt": "a", "max_tokens": -1})", "max_tokens");
}

}  // namespace
