#pragma once
// Helpers shared by the test files: running the cloze binary, catching an
// expected error's message, and the golden model list.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace cloze::test {

struct CommandResult {
  int status = -1;  // as returned by pclose (0: exit status 0)
  std::string out;  // what the command wrote to stdout
};

// Runs `cmd` with /bin/sh and collects its stdout (redirect stderr in `cmd`
// to see it too).
CommandResult run_command(const std::string& cmd);

// The message of the cloze::Error that fn throws, or "(no error)".
std::string error_of(const std::function<void()>& fn);

// The random-weight models under tests/fixtures/models with logits from
// transformers (expected.json), one per architecture variant we support.
const std::vector<std::string>& golden_models();

// gtest parameter names for model directories: "qwen2-tied-bf16" -> "qwen2_tied_bf16".
std::string param_name(const ::testing::TestParamInfo<std::string>& info);

}  // namespace cloze::test
