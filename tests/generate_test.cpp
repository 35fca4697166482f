// generate(): greedy decoding against the cache equals the argmax chain of
// full forward passes (and transformers' first token); seeded sampling is
// reproducible across runs and thread counts; EOS, stop strings, limits.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "cloze/error.h"
#include "cloze/generate.h"
#include "model/sampler.h"
#include "test_models.h"
#include "test_util.h"

namespace {

namespace fs = std::filesystem;
const std::string kModels = std::string(CLOZE_FIXTURES) + "/models/";

struct GoldenSeq {
  std::vector<int32_t> ids;
  std::vector<float> last;  // transformers' logits at the last position
};

std::vector<GoldenSeq> read_golden(const std::string& name) {
  std::ifstream in(kModels + name + "/expected.json");
  auto j = nlohmann::json::parse(in);
  std::vector<GoldenSeq> out;
  for (const auto& s : j["sequences"])
    out.push_back({s["ids"].get<std::vector<int32_t>>(), s["logits"].back().get<std::vector<float>>()});
  return out;
}

// The next token by a fresh full forward pass over `ids` (no cache reuse).
int32_t argmax_full_pass(cloze::Model& m, const std::vector<int32_t>& ids) {
  cloze::KVCache cache(m);
  cloze::ForwardItem item{&cache, ids, cloze::Outputs::Last};
  return cloze::gen::argmax(cloze::RunContext(m).forward({&item, 1})[0].logits);
}

class GenerateGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(GenerateGolden, GreedyEqualsArgmaxChainOfFullPasses) {
  auto model = cloze::Model::load(kModels + GetParam(), {.threads = 2});
  for (const auto& g : read_golden(GetParam())) {
    auto r = cloze::generate(*model, nullptr, g.ids, {.max_tokens = 8, .ignore_eos = true});
    ASSERT_EQ(r.ids.size(), 8u);
    EXPECT_EQ(r.finish_reason, "length");
    EXPECT_EQ(r.prompt_tokens, g.ids.size());
    std::vector<int32_t> seq = g.ids, chain;
    for (int i = 0; i < 8; ++i) {
      chain.push_back(argmax_full_pass(*model, seq));
      seq.push_back(chain.back());
    }
    EXPECT_EQ(r.ids, chain) << "prompt of " << g.ids.size() << " tokens";
  }
}

TEST_P(GenerateGolden, FirstTokenIsTransformersArgmax) {
  auto model = cloze::Model::load(kModels + GetParam(), {.threads = 2});
  size_t checked = 0;
  for (const auto& g : read_golden(GetParam())) {
    std::vector<float> sorted = g.last;
    std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<>());
    const float margin = sorted[0] - sorted[1];
    if (margin <= 1e-3f) continue;  // too close to call across float orderings
    auto r = cloze::generate(*model, nullptr, g.ids, {.max_tokens = 1});
    ASSERT_EQ(r.ids.size(), 1u);
    EXPECT_EQ(r.ids[0], cloze::gen::argmax(g.last)) << "top-2 margin " << margin;
    ++checked;
  }
  std::printf("  %s: first token checked against transformers on %zu of 4 sequences\n", GetParam().c_str(), checked);
  EXPECT_GE(checked, 2u);
}

INSTANTIATE_TEST_SUITE_P(Models, GenerateGolden,
                         ::testing::ValuesIn(cloze::test::golden_models()), cloze::test::param_name);

// The full-vocabulary Qwen2 with the real tokenizer, loaded once per thread count.
struct FullVocab {
  std::unique_ptr<cloze::Model> m1, m3;
  cloze::Tokenizer tok;
  static FullVocab& get() {
    static FullVocab f = [] {
      auto dir = cloze::test::full_vocab_qwen2();
      return FullVocab{cloze::Model::load(dir, {.threads = 1}), cloze::Model::load(dir, {.threads = 3}),
                       cloze::Tokenizer::from_file(dir / "tokenizer.json")};
    }();
    return f;
  }
};

TEST(Generate, SameSeedSameTokensAcrossRunsAndThreads) {
  auto& f = FullVocab::get();
  const auto prompt = f.tok.encode("The weather today is");
  cloze::GenerateOptions o{.max_tokens = 20, .temperature = 1, .seed = 42, .ignore_eos = true};
  auto a = cloze::generate(*f.m1, &f.tok, prompt, o);
  auto b = cloze::generate(*f.m3, &f.tok, prompt, o);
  auto c = cloze::generate(*f.m3, &f.tok, prompt, o);
  ASSERT_EQ(a.ids.size(), 20u);
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(b.ids, c.ids);
  EXPECT_EQ(a.text, b.text);
  o.seed = 43;
  auto d = cloze::generate(*f.m3, &f.tok, prompt, o);
  EXPECT_NE(a.ids, d.ids);
  // With the filters on, still reproducible, and every token from the kept set.
  o = {.max_tokens = 20, .temperature = 0.8f, .top_k = 50, .top_p = 0.9f, .min_p = 0.05f, .seed = 5, .ignore_eos = true};
  EXPECT_EQ(cloze::generate(*f.m1, &f.tok, prompt, o).ids, cloze::generate(*f.m3, &f.tok, prompt, o).ids);
}

TEST(Generate, EventsStreamTheResult) {
  auto& f = FullVocab::get();
  const auto prompt = f.tok.encode("Once upon a time");
  std::vector<int32_t> ids;
  std::string text, last_reason;
  size_t n_reasons = 0;
  auto r = cloze::generate(*f.m3, &f.tok, prompt, {.max_tokens = 12, .temperature = 1, .seed = 9, .ignore_eos = true},
                           [&](const cloze::TokenEvent& e) {
                             EXPECT_EQ(e.index, ids.size());
                             ids.push_back(e.id);
                             text += e.text;
                             if (!e.finish_reason.empty()) ++n_reasons, last_reason = e.finish_reason;
                             return true;
                           });
  EXPECT_EQ(ids, r.ids);
  EXPECT_EQ(text, r.text);
  EXPECT_EQ(text, f.tok.decode(r.ids));
  EXPECT_EQ(n_reasons, 1u);
  EXPECT_EQ(last_reason, "length");
  // Returning false cancels.
  size_t calls = 0;
  r = cloze::generate(*f.m3, &f.tok, prompt, {.max_tokens = 12}, [&](const cloze::TokenEvent&) { return ++calls < 3; });
  EXPECT_EQ(calls, 3u);
  EXPECT_EQ(r.ids.size(), 3u);
  EXPECT_EQ(r.finish_reason, "cancelled");
}

TEST(Generate, StopStringAcrossTokens) {
  auto& f = FullVocab::get();
  const auto prompt = f.tok.encode("Hello");
  cloze::GenerateOptions o{.max_tokens = 24, .temperature = 1, .seed = 11, .ignore_eos = true};
  auto full = cloze::generate(*f.m3, &f.tok, prompt, o);
  // A stop string made of the end of token 5's text and the start of token 6's.
  std::string t5 = f.tok.decode(std::span(full.ids).subspan(0, 5)), t6 = f.tok.decode(std::span(full.ids).subspan(0, 6));
  ASSERT_GT(t6.size(), t5.size());
  ASSERT_GT(t5.size(), 1u);
  std::string stop = t5.substr(t5.size() - 1) + t6.substr(t5.size(), 1);
  o.stop = {stop};
  std::string streamed;
  auto r = cloze::generate(*f.m3, &f.tok, prompt, o, [&](const cloze::TokenEvent& e) {
    streamed += e.text;
    return true;
  });
  const size_t at = full.text.find(stop);
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(r.finish_reason, "stop");
  EXPECT_EQ(r.text, full.text.substr(0, at));
  EXPECT_EQ(streamed, r.text);
  EXPECT_LE(r.ids.size(), 6u);
  EXPECT_EQ(r.ids, std::vector<int32_t>(full.ids.begin(), full.ids.begin() + r.ids.size()));
}

TEST(Generate, EndsAtEosWhichAddsNoText) {
  auto& f = FullVocab::get();
  const auto prompt = f.tok.encode("Hello");
  cloze::GenerateOptions o{.max_tokens = 12, .temperature = 1, .seed = 3, .ignore_eos = true};
  auto free_run = cloze::generate(*f.m3, &f.tok, prompt, o);
  // Declare the first token that differs from all before it (past the first)
  // an EOS id: generation ends on it, with the same tokens up to there.
  size_t k = 1;
  while (k < free_run.ids.size() &&
         std::find(free_run.ids.begin(), free_run.ids.begin() + k, free_run.ids[k]) != free_run.ids.begin() + k)
    ++k;
  ASSERT_LT(k, free_run.ids.size());
  o.ignore_eos = false;
  o.eos_ids = {free_run.ids[k]};
  auto r = cloze::generate(*f.m3, &f.tok, prompt, o);
  EXPECT_EQ(r.finish_reason, "eos");
  EXPECT_EQ(r.ids, std::vector<int32_t>(free_run.ids.begin(), free_run.ids.begin() + k + 1));
  EXPECT_EQ(r.text, f.tok.decode(std::span(r.ids).first(k)));
}

fs::path copy_golden(const std::string& name, const std::string& tag) {
  auto dir = fs::temp_directory_path() / ("cloze_gen_" + tag + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::copy(kModels + name, dir);
  return dir;
}

TEST(Generate, DefaultEosIdsPreferGenerationConfig) {
  auto dir = copy_golden("qwen2-tied-bf16", "eos");
  auto model = cloze::Model::load(dir, {.threads = 1});
  EXPECT_TRUE(cloze::default_eos_ids(*model, nullptr).empty());
  std::ofstream(dir / "generation_config.json") << R"({"eos_token_id": [7, 9], "bos_token_id": 1})";
  EXPECT_EQ(cloze::default_eos_ids(*model, nullptr), (std::vector<int32_t>{7, 9}));
  std::ofstream(dir / "generation_config.json") << R"({"eos_token_id": 5})";
  EXPECT_EQ(cloze::default_eos_ids(*model, nullptr), (std::vector<int32_t>{5}));
  std::ofstream(dir / "generation_config.json") << R"({"eos_token_id": "x"})";
  EXPECT_THROW(cloze::default_eos_ids(*model, nullptr), cloze::Error);
  fs::remove_all(dir);
  auto& f = FullVocab::get();  // config.json's eos_token_id (151643)
  EXPECT_EQ(cloze::default_eos_ids(*f.m1, &f.tok), (std::vector<int32_t>{151643}));
}

TEST(Generate, StopsAtTheContextLimit) {
  auto dir = copy_golden("qwen2-tied-bf16", "ctx");
  auto cfg = nlohmann::json::parse(std::ifstream(dir / "config.json"));
  cfg["max_position_embeddings"] = 20;
  std::ofstream(dir / "config.json") << cfg.dump();
  auto model = cloze::Model::load(dir, {.threads = 1});
  std::vector<int32_t> prompt(15, 3);
  auto r = cloze::generate(*model, nullptr, prompt, {.max_tokens = 100});
  EXPECT_EQ(r.ids.size(), 5u);  // prompt + generated = the context
  EXPECT_EQ(r.finish_reason, "length");
  EXPECT_THROW(cloze::generate(*model, nullptr, std::vector<int32_t>(20, 3), {}), cloze::Error);
  fs::remove_all(dir);
}

TEST(Generate, OptionErrors) {
  auto model = cloze::Model::load(kModels + "qwen2-tied-bf16", {.threads = 1});
  const std::vector<int32_t> p = {1, 2, 3};
  auto fails = [&](const cloze::GenerateOptions& o, const std::string& needle) {
    try {
      cloze::generate(*model, nullptr, p, o);
      ADD_FAILURE() << "no error for " << needle;
    } catch (const cloze::Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  fails({.temperature = -1}, "temperature");
  fails({.temperature = NAN}, "temperature");
  fails({.top_p = 0}, "top_p");
  fails({.top_p = 1.5f}, "top_p");
  fails({.min_p = -0.1f}, "min_p");
  fails({.stop = {"x"}}, "need a tokenizer");
  EXPECT_THROW(cloze::generate(*model, nullptr, std::vector<int32_t>{}, {}), cloze::Error);
  EXPECT_THROW(cloze::generate(*model, nullptr, std::vector<int32_t>{1, 512}, {}), cloze::Error);
  auto r = cloze::generate(*model, nullptr, p, {.max_tokens = 0});
  EXPECT_TRUE(r.ids.empty());
  EXPECT_EQ(r.finish_reason, "length");
}

}  // namespace
