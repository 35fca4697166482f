// classify --chat: the ids the classifier scores are the reference
// tokenizer's ids (transformers.js, tests/fixtures/chat/reference_ids.jsonl)
// of the reference rendering (transformers' apply_chat_template), with no
// second BOS; the CLI flags; the error when a model has no template.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "cloze/chat.h"
#include "cloze/classify.h"
#include "cloze/model.h"
#include "cloze/tokenizer.h"
#include "test_models.h"
#include "test_util.h"

namespace cloze {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

ojson golden_row(const std::string& tid, const std::string& name) {
  std::ifstream in(std::string(CLOZE_FIXTURES) + "/chat/golden_cases.jsonl");
  for (std::string line; std::getline(in, line);) {
    ojson row = ojson::parse(line);
    if (row["template_id"] == tid && row["case"] == name) return row;
  }
  throw std::runtime_error("no golden row " + tid + " " + name);
}

std::vector<int32_t> reference_ids(const std::string& tid, const std::string& name) {
  std::ifstream in(std::string(CLOZE_FIXTURES) + "/chat/reference_ids.jsonl");
  for (std::string line; std::getline(in, line);) {
    ojson row = ojson::parse(line);
    if (row["template_id"] == tid && row["case"] == name) return row["ids"].get<std::vector<int32_t>>();
  }
  throw std::runtime_error("no reference ids for " + tid + " " + name);
}

// The tiny full-vocabulary random Qwen2 with another tokenizer's files.
fs::path model_with_tokenizer(const std::string& tag, const fs::path& tokenizer_dir) {
  fs::path d = fs::temp_directory_path() / ("cloze_chat_model_" + tag + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  const fs::path base = test::full_vocab_qwen2();
  fs::create_symlink(base / "config.json", d / "config.json");
  fs::create_symlink(base / "model.safetensors", d / "model.safetensors");
  fs::copy_file(tokenizer_dir / "tokenizer.json", d / "tokenizer.json");
  fs::copy_file(tokenizer_dir / "tokenizer_config.json", d / "tokenizer_config.json");
  return d;
}

// One golden case as a chat classification: its system message via
// --system, its user message as the user template's {text}.
void expect_reference_ids(const fs::path& dir, const std::string& tid) {
  ojson row = golden_row(tid, "a_classify");
  auto model = Model::load(dir, {.threads = 1});
  Tokenizer tok = Tokenizer::from_file(dir / "tokenizer.json");
  ClassifierOptions opt;
  opt.template_text = "{text}";
  ChatPromptOptions chat;
  chat.system = row["messages"][0]["content"].get<std::string>();
  use_chat_prompt(opt, find_chat_template(dir), chat);
  Classifier clf(*model, tok, opt);
  const std::string text = row["messages"][1]["content"].get<std::string>();
  std::vector<int32_t> ids = clf.prompt_ids(text);
  EXPECT_EQ(ids, reference_ids(tid, "a_classify"));
  // The shared prefix is a prefix of the prompt, and scoring works.
  ASSERT_LE(clf.prefix_tokens().size(), ids.size());
  EXPECT_TRUE(std::equal(clf.prefix_tokens().begin(), clf.prefix_tokens().end(), ids.begin()));
  auto r = clf.classify(std::vector<std::string>{text});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].error, "");
  EXPECT_EQ(r[0].prompt_tokens, ids.size());
}

TEST(ChatClassify, Qwen3IdsEqualReferenceTokenization) {
  fs::path dir = model_with_tokenizer("qwen3", fs::path(CLOZE_FIXTURES) / "tokenizer" / "qwen3");
  expect_reference_ids(dir, "qwen3");
  fs::remove_all(dir);
}

TEST(ChatClassify, Llama31HasOneBos) {
  fs::path tk = fs::path(CLOZE_FIXTURES).parent_path() / "node" / "node_modules" / "@lenml" / "tokenizer-llama3_1" / "models";
  if (!fs::exists(tk / "tokenizer.json")) GTEST_SKIP() << "npm ci in tests/node installs the Llama 3.1 tokenizer";
  fs::path dir = model_with_tokenizer("llama3_1", tk);
  expect_reference_ids(dir, "llama3_1");
  EXPECT_EQ(reference_ids("llama3_1", "a_classify")[0], 128000);
  EXPECT_NE(reference_ids("llama3_1", "a_classify")[1], 128000);
  fs::remove_all(dir);
}

TEST(ChatClassify, AnswerPrefixFollowsTheGenerationPrompt) {
  fs::path dir = model_with_tokenizer("qwen3p", fs::path(CLOZE_FIXTURES) / "tokenizer" / "qwen3");
  ModelChatTemplate mt = find_chat_template(dir);
  ChatTemplate t(mt.source);
  ChatPromptOptions chat;
  chat.answer_prefix = "The sentiment is";
  std::string p = render_chat_prompt(t, mt, PromptTemplate("Review: {text}"), chat, "Great.");
  EXPECT_EQ(p, "<|im_start|>user\nReview: Great.<|im_end|>\n<|im_start|>assistant\nThe sentiment is");
  fs::remove_all(dir);
}

TEST(ChatClassify, CliChatRunsAndMissingTemplateIsAClearError) {
  fs::path dir = model_with_tokenizer("qwen3cli", fs::path(CLOZE_FIXTURES) / "tokenizer" / "qwen3");
  auto ok = test::run_command(std::string(CLOZE_BIN) + " classify --chat --system 'You classify.' --answer-prefix 'Answer:' --model " +
                              dir.string() + " --threads 1 'A fine film.' 2>&1");
  EXPECT_EQ(ok.status, 0) << ok.out;
  auto row = nlohmann::json::parse(ok.out);
  EXPECT_TRUE(row.contains("probs")) << ok.out;
  // Without --chat, options that need it are refused.
  auto bad = test::run_command(std::string(CLOZE_BIN) + " classify --system 'x' --model " + dir.string() + " 'a' 2>&1");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.out.find("need --chat"), std::string::npos) << bad.out;
  fs::remove_all(dir);
  // A model with tokenizer.json but no template anywhere.
  fs::path bare = fs::temp_directory_path() / ("cloze_chat_bare_" + std::to_string(::getpid()));
  fs::remove_all(bare);
  fs::create_directories(bare);
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json"})
    fs::create_symlink(test::full_vocab_qwen2() / f, bare / f);
  auto none = test::run_command(std::string(CLOZE_BIN) + " classify --chat --model " + bare.string() + " 'a' 2>&1");
  fs::remove_all(bare);
  EXPECT_NE(none.status, 0);
  EXPECT_NE(none.out.find("chat_template.jinja"), std::string::npos) << none.out;
  EXPECT_NE(none.out.find("--chat-template"), std::string::npos) << none.out;
}

}  // namespace
}  // namespace cloze
