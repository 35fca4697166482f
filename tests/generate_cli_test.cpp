// `cloze generate` end to end: streamed text, --json, --ids without a
// tokenizer, and its errors.
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "test_models.h"
#include "test_util.h"

namespace {

cloze::test::CommandResult run(const std::string& args, bool with_stderr = true) {
  return cloze::test::run_command(std::string(CLOZE_BIN) + " generate " + args +
                                  (with_stderr ? " 2>&1" : " 2>/dev/null"));
}

const std::string kNoTokenizer = std::string(CLOZE_FIXTURES) + "/models/qwen2-tied-bf16";

}  // namespace

TEST(GenerateCli, JsonAndStreamAgree) {
  const std::string m = "--model " + cloze::test::full_vocab_qwen2().string() + " --threads 2 ";
  auto j = run(m + "--max-tokens 10 --ignore-eos --json 'The capital of France is'", false);
  ASSERT_EQ(j.status, 0) << j.out;
  auto doc = nlohmann::json::parse(j.out);
  ASSERT_EQ(doc["ids"].size(), 10u);
  ASSERT_TRUE(doc["text"].is_string());
  EXPECT_EQ(doc["finish_reason"], "length");
  // Streaming prints the same text, then a newline.
  auto s = run(m + "--max-tokens 10 --ignore-eos 'The capital of France is'", false);
  ASSERT_EQ(s.status, 0) << s.out;
  EXPECT_EQ(s.out, doc["text"].get<std::string>() + "\n");
  // The same prompt as ids gives the same tokens; sampling is seeded.
  auto a = run(m + "--max-tokens 6 --ignore-eos --temperature 1 --seed 4 --json 'Hi'", false);
  auto b = run(m + "--max-tokens 6 --ignore-eos --temperature 1 --seed 4 --json --ids 13048", false);
  ASSERT_EQ(a.status, 0) << a.out;
  EXPECT_EQ(a.out, b.out);
  // --stop takes one string each time, leaving the prompt alone.
  auto full = nlohmann::json::parse(run(m + "--max-tokens 10 --ignore-eos --json Hello", false).out);
  const std::string text = full["text"];
  ASSERT_GT(text.size(), 2u);
  // A whole character from the middle of the text (a lone byte is refused).
  size_t at = text.size() / 2, len = 1;
  while (at > 0 && (text[at] & 0xC0) == 0x80) --at;
  while (at + len < text.size() && (text[at + len] & 0xC0) == 0x80) ++len;
  const std::string stop = text.substr(at, len);
  auto st = run(m + "--max-tokens 10 --ignore-eos --stop '" + stop + "' --stop zzzz --json Hello", false);
  ASSERT_EQ(st.status, 0) << st.out;
  auto sd = nlohmann::json::parse(st.out);
  EXPECT_EQ(sd["finish_reason"], "stop");
  EXPECT_EQ(sd["text"], text.substr(0, text.find(stop)));
}

TEST(GenerateCli, IdsWithoutTokenizer) {
  auto j = run("--model " + kNoTokenizer + " --ids 1,2,3 --max-tokens 4 --json");
  ASSERT_EQ(j.status, 0) << j.out;
  auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc["ids"].size(), 4u);
  EXPECT_TRUE(doc["text"].is_null());
  // Without --json the ids stream comma-separated.
  auto s = run("--model " + kNoTokenizer + " --ids 1,2,3 --max-tokens 4");
  ASSERT_EQ(s.status, 0) << s.out;
  std::string want;
  for (const auto& id : doc["ids"]) {
    if (!want.empty()) want += ',';
    want += std::to_string(id.get<int>());
  }
  EXPECT_EQ(s.out, want + "\n");
  auto z = run("--model " + kNoTokenizer + " --ids 1,2,3 --max-tokens 0 --json");
  EXPECT_EQ(z.status, 0) << z.out;
  EXPECT_EQ(z.out, "{\"ids\":[],\"text\":null,\"finish_reason\":\"length\"}\n");
}

TEST(GenerateCli, Errors) {
  auto fails = [](const std::string& args, const std::string& needle) {
    auto r = run(args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_NE(r.out.find(needle), std::string::npos) << args << "\n" << r.out;
  };
  const std::string m = "--model " + kNoTokenizer + " ";
  fails(m + "--ids 1,x,3", "--ids: 'x' (item 2) is not a non-negative token id");
  fails(m + "--ids ''", "is not a non-negative token id");
  fails(m + "--ids 1,600", "token id 600 is out of range for vocab_size 512");
  fails(m + "--ids 1 --temperature -0.5", "temperature: must be a finite number >= 0");
  fails(m + "--ids 1 --top-p 0", "top_p: must be in (0, 1]");
  fails(m + "--ids 1 --max-tokens -1", "--max-tokens: expected a non-negative integer");
  fails(m + "--ids 1 --stop x", "stop strings need a tokenizer");
  fails(m + "--ids 1 --stop \"$(printf 'a\\303')\"", "stop: stop string 1 is not valid UTF-8");
  fails(m + "hello", "no tokenizer.json in the model directory");
  fails(m, "give exactly one of PROMPT or --ids");
  fails(m + "--ids 1 hello", "give exactly one of PROMPT or --ids");
}
