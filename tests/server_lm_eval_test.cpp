// lm-evaluation-harness's `local-completions` model against the server: the
// request bodies are built the way its client code builds them, and its own
// parsing of the answers is replayed here, then checked against the
// log-likelihoods and greedy flags computed from `cloze logits --all`.
//
// What the client sends (EleutherAI/lm-evaluation-harness, read at commit
// 0064c3a03e5f):
// - lm_eval/utils.py check_remote_tokenizer_support / RemoteTokenizer: probes
//   GET /tokenizer_info (needs "eos_token"), POST /tokenize
//   {"prompt", "add_special_tokens": false} -> "tokens", POST /detokenize
//   {"tokens"} -> "prompt"; eos_token_id = encode(eos_token)[0].
// - lm_eval/models/openai_completions.py LocalCompletionsAPI._create_payload:
//   loglikelihood {"model","prompt","temperature":0,"max_tokens":1,
//   "logprobs":1,"seed","echo":true}; generate {"prompt","model","max_tokens",
//   "temperature","stop","seed", **remaining gen_kwargs}.
// - lm_eval/models/api_models.py TemplateAPI.create_message: with
//   tokenized_requests (the default) the prompt is the batch's list of
//   token-id lists; batch_loglikelihood_requests: inp = (context_enc +
//   continuation_enc)[-max_length:], ctxlen = len(context_enc);
//   loglikelihood_rolling: disjoint windows whose first context is
//   [prefix_token_id] (bos, else eos); seed defaults to 1234, max_length to
//   2048 - 1.
// - openai_completions.py parse_logprobs: per choice sorted by "index",
//   sum(token_logprobs[ctxlen:-1]) and is_greedy = every token_logprobs entry
//   equals max(top_logprobs entry values); parse_generations: text by index.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "cloze/generate.h"
#include "server_fixture.h"
#include "test_util.h"

namespace {

using json = nlohmann::json;

class LmEval : public cloze::test::ServedSuite<LmEval> {
 protected:
  static json post(const std::string& path, const json& body) {
    auto c = live_->client();
    auto r = c.Post(path.c_str(), body.dump(), "application/json");
    EXPECT_TRUE(r) << path;
    if (!r) return {};
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    return json::parse(r->body);
  }
  // RemoteTokenizer.encode.
  static std::vector<int> encode(const std::string& s) {
    return post("/tokenize", {{"prompt", s}, {"add_special_tokens", false}})["tokens"].get<std::vector<int>>();
  }
  // TemplateLM._encode_pair: trailing spaces of the context move to the
  // continuation; the continuation's ids are the whole's after the context's.
  static std::pair<std::vector<int>, std::vector<int>> encode_pair(std::string ctx, std::string cont) {
    size_t spaces = ctx.size() - ctx.find_last_not_of(' ') - 1;
    if (spaces) {
      cont = ctx.substr(ctx.size() - spaces) + cont;
      ctx.resize(ctx.size() - spaces);
    }
    auto whole = encode(ctx + cont);
    auto c = encode(ctx);
    return {c, std::vector<int>(whole.begin() + c.size(), whole.end())};
  }
  // (log-likelihood, is_greedy) of ids[ctxlen:] from `cloze logits --all`.
  static std::pair<double, bool> direct(const std::vector<int>& ids, size_t ctxlen) {
    std::string list;
    for (int id : ids) {
    if (!list.empty()) list += ",";
    list += std::to_string(id);
  }
    auto r = cloze::test::run_command(std::string(CLOZE_BIN) + " logits --all --threads 1 --model " +
                                      cloze::test::full_vocab_qwen2().string() + " --ids " + list);
    EXPECT_EQ(r.status, 0);
    json out = json::parse(r.out);
    double sum = 0;
    bool greedy = true;
    for (size_t p = ctxlen - 1; p + 1 < ids.size(); ++p) {
      std::vector<double> row = out["logits"][p].get<std::vector<double>>();
      double mx = *std::max_element(row.begin(), row.end()), s = 0;
      for (double x : row) s += std::exp(x - mx);
      sum += row[size_t(ids[p + 1])] - (mx + std::log(s));
      greedy = greedy && row[size_t(ids[p + 1])] == mx;
    }
    return {sum, greedy};
  }
  // parse_logprobs, as lm-eval applies it to one response.
  static std::vector<std::pair<double, bool>> parse_logprobs(const json& out, const std::vector<size_t>& ctxlens) {
    std::vector<json> choices(out["choices"].begin(), out["choices"].end());
    std::sort(choices.begin(), choices.end(), [](const json& a, const json& b) { return a["index"] < b["index"]; });
    std::vector<std::pair<double, bool>> res;
    for (size_t i = 0; i < choices.size() && i < ctxlens.size(); ++i) {
      const json& lp = choices[i]["logprobs"];
      const size_t n = lp["token_logprobs"].size();
      double sum = 0;
      bool greedy = true;
      for (size_t t = ctxlens[i]; t + 1 < n; ++t) {
        const double tok = lp["token_logprobs"][t].get<double>();
        sum += tok;
        double best = -INFINITY;
        for (auto& [k, v] : lp["top_logprobs"][t].items()) best = std::max(best, v.get<double>());
        greedy = greedy && tok == best;
      }
      res.push_back({sum, greedy});
    }
    return res;
  }
  static json ll_payload(const json& prompt) {
    return {{"model", "tiny-qwen2"}, {"prompt", prompt}, {"temperature", 0}, {"max_tokens", 1},
            {"logprobs", 1},         {"seed", 1234},     {"echo", true}};
  }
};

TEST_F(LmEval, RemoteTokenizerProbe) {
  auto c = live_->client();
  auto r = c.Get("/tokenizer_info");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json info = json::parse(r->body);
  ASSERT_TRUE(info.is_object() && info.contains("eos_token"));
  EXPECT_EQ(info["eos_token"], "<|endoftext|>");
  EXPECT_TRUE(info["bos_token"].is_null());
  EXPECT_EQ(info["pad_token"], "<|endoftext|>");
  EXPECT_TRUE(info["chat_template"].is_string());
  EXPECT_EQ(encode("test"), cloze::test::TinyModel::load().tok->encode("test"));
  EXPECT_EQ(encode("<|endoftext|>")[0], 151643);  // eos_token_id
  // decode / batch_decode, and llama.cpp's spelling.
  json d = post("/detokenize", {{"tokens", encode("Hello world")}});
  EXPECT_EQ(d["prompt"], "Hello world");
  EXPECT_EQ(post("/tokenize", {{"content", "Hello world"}})["tokens"], json(encode("Hello world")));
}

TEST_F(LmEval, Loglikelihood) {
  // One batched request (batch_size=3): a multiple-choice question's choices.
  const std::vector<std::pair<std::string, std::string>> reqs = {
      {"Question: What color is the sky? Answer:", " blue"},
      {"Question: What color is the sky? Answer:", " green, like grass"},
      {"The capital of France is ", "Paris"}};
  json prompt = json::array();
  std::vector<size_t> ctxlens;
  std::vector<std::vector<int>> inputs;
  for (auto& [ctx, cont] : reqs) {
    auto [c, k] = encode_pair(ctx, cont);
    std::vector<int> inp = c;
    inp.insert(inp.end(), k.begin(), k.end());
    inputs.push_back(inp);
    ctxlens.push_back(c.size());
    prompt.push_back(inp);
  }
  json out = post("/v1/completions", ll_payload(prompt));
  ASSERT_EQ(out["choices"].size(), reqs.size()) << out.dump();
  auto got = parse_logprobs(out, ctxlens);
  for (size_t i = 0; i < reqs.size(); ++i) {
    auto want = direct(inputs[i], ctxlens[i]);
    EXPECT_NEAR(got[i].first, want.first, 1e-6) << i;
    EXPECT_EQ(got[i].second, want.second) << i;
    std::printf("loglikelihood[%zu]: %.9f (logits --all %.9f) greedy %d\n", i, got[i].first, want.first,
                int(got[i].second));
    // The echo carries the prompt and the one generated token.
    EXPECT_EQ(out["choices"][i]["logprobs"]["token_logprobs"].size(), inputs[i].size() + 1);
  }
  // A continuation that is the model's own argmax after the context is greedy
  // by lm-eval's test too.
  auto [c, k] = encode_pair("The capital of France is", " Paris");
  std::string list;
  for (int id : c) {
    if (!list.empty()) list += ",";
    list += std::to_string(id);
  }
  auto r = cloze::test::run_command(std::string(CLOZE_BIN) + " logits --threads 1 --model " +
                                    cloze::test::full_vocab_qwen2().string() + " --ids " + list);
  ASSERT_EQ(r.status, 0);
  std::vector<double> last = json::parse(r.out)["logits"][0].get<std::vector<double>>();
  std::vector<int> inp = c;
  inp.push_back(int(std::max_element(last.begin(), last.end()) - last.begin()));
  auto greedy = parse_logprobs(post("/v1/completions", ll_payload(json::array({inp}))), {c.size()});
  auto want = direct(inp, c.size());
  EXPECT_TRUE(want.second);
  EXPECT_TRUE(greedy[0].second);
  EXPECT_NEAR(greedy[0].first, want.first, 1e-6);
}

TEST_F(LmEval, LoglikelihoodRolling) {
  const std::string text = "The quick brown fox jumps over the lazy dog.";
  json info = json::parse(live_->client().Get("/tokenizer_info")->body);
  // prefix_token_id: bos_token_id or eos_token_id (remote backend).
  const int prefix = encode(info["eos_token"].get<std::string>())[0];
  auto toks = encode(text);
  // One window (the text is far under max_length): context [prefix], all tokens predicted.
  std::vector<int> inp{prefix};
  inp.insert(inp.end(), toks.begin(), toks.end());
  json out = post("/v1/completions", ll_payload(json::array({inp})));
  auto got = parse_logprobs(out, {1});
  auto want = direct(inp, 1);
  // The server takes each position's logsumexp from the model's head (float32,
  // the one path every caller uses); `direct` sums in double. Ten tokens of
  // ~1e-7 relative rounding on |lse| ~ 12 stay well inside 1e-5.
  EXPECT_NEAR(got[0].first, want.first, 1e-5);
  EXPECT_EQ(got[0].second, want.second);
  std::printf("loglikelihood_rolling: %.9f (logits --all %.9f)\n", got[0].first, want.first);
}

TEST_F(LmEval, GenerateUntil) {
  // gen_kwargs {"until": ["\n\n", "Question:"], "max_gen_toks": 12}; the
  // payload adds the EOS string to stop (handle_stop_sequences).
  const std::vector<std::string> contexts = {"Q: 2+2=?\nA:", "Once upon a time"};
  json prompt = json::array();
  for (auto& c : contexts) prompt.push_back(encode(c));
  json body = {{"prompt", prompt},        {"model", "tiny-qwen2"}, {"max_tokens", 12},
               {"temperature", 0},        {"stop", {"\n\n", "Question:", "<|endoftext|>"}},
               {"seed", 1234}};
  json out = post("/v1/completions", body);
  ASSERT_EQ(out["choices"].size(), contexts.size());
  std::vector<std::string> texts(contexts.size());
  for (auto& ch : out["choices"]) texts[ch["index"].get<size_t>()] = ch["text"].get<std::string>();
  for (size_t i = 0; i < contexts.size(); ++i) {
    cloze::GenerateOptions o{.max_tokens = 12, .temperature = 0, .stop = {"\n\n", "Question:", "<|endoftext|>"}};
    auto ids = ref_->tok->encode(contexts[i]);
    auto want = cloze::generate(*ref_->model, ref_->tok.get(), ids, o);
    EXPECT_EQ(texts[i], want.text) << i;
  }
}

TEST_F(LmEval, TokenizerEndpointErrors) {
  auto c = live_->client();
  auto check = [&](const char* path, const std::string& body, const std::string& param) {
    auto r = c.Post(path, body, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << r->body;
    json e = json::parse(r->body)["error"];
    EXPECT_EQ(e["param"], param) << r->body;
  };
  check("/tokenize", R"({})", "prompt");
  check("/tokenize", R"({"prompt": 5})", "prompt");
  check("/tokenize", R"({"prompt": "a", "add_special_tokens": "no"})", "add_special_tokens");
  check("/tokenize", R"({"prompt": "a", "bogus": 1})", "bogus");
  check("/detokenize", R"({})", "tokens");
  check("/detokenize", R"({"tokens": [1, -1]})", "tokens[1]");
  check("/detokenize", R"({"tokens": "abc"})", "tokens");
  auto r = c.Post("/tokenizer_info", "{}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
}

}  // namespace
