// `cloze tokenize` end to end: the output format of the interface contract
// ({"ids":[...]} per line) and its errors.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "test_util.h"

namespace {

cloze::test::CommandResult run(const std::string& args) {
  return cloze::test::run_command(std::string(CLOZE_BIN) + " tokenize " + args + " 2>&1");
}

const std::string kModel = std::string(CLOZE_FIXTURES) + "/tokenizer/qwen2";

}  // namespace

TEST(TokenizerCli, TextAndNoSpecial) {
  auto r = run("--model " + kModel + " 'a<|endoftext|>b'");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "{\"ids\":[64,151643,65]}\n");
  r = run("--tokenizer " + kModel + "/tokenizer.json --no-special 'a<|endoftext|>b'");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "{\"ids\":[64,27,91,8691,723,427,91,29,65]}\n");
}

TEST(TokenizerCli, InputJsonl) {
  const std::string path = testing::TempDir() + "/tokenize_input.jsonl";
  std::ofstream(path) << "{\"text\":\"Hello world \"}\n{\"text\":\"\"}\n";
  auto r = run("--model " + kModel + " --input " + path);
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "{\"ids\":[9707,1879,220]}\n{\"ids\":[]}\n");
  std::ofstream(path) << "{\"text\":\"ok\"}\n{\"txt\":1}\n";
  r = run("--model " + kModel + " --input " + path);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("line 2: expected a JSON object with a string field \"text\""), std::string::npos) << r.out;
}

TEST(TokenizerCli, Errors) {
  auto r = run("--model org/name hi");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("model 'org/name' is not in the Hugging Face cache"), std::string::npos) << r.out;
  r = run("--model " + kModel + " \"$(printf 'a\\377')\"");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("not valid UTF-8"), std::string::npos) << r.out;
}
