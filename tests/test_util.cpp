#include "test_util.h"

#include <cctype>
#include <cstdio>

#include "cloze/error.h"

namespace cloze::test {

CommandResult run_command(const std::string& cmd) {
  CommandResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  r.status = pclose(p);
  return r;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const cloze::Error& e) {
    return e.what();
  }
  return "(no error)";
}

const std::vector<std::string>& golden_models() {
  static const std::vector<std::string> kModels = {
      "qwen2-tied-bf16",         "qwen2-untied-f16",    "qwen2-untied-f32-sharded",
      "llama-tied-bf16-mha",     "qwen3-tied-bf16-hd32", "llama3-rope-scaled-bf16",
      "gemma2-softcap-bf16",     "gemma3-sliding-bf16",  "phi3-fused-f16",
      "phi3-partial-rotary-bf16"};
  return kModels;
}

std::string param_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = info.param;
  for (auto& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}

}  // namespace cloze::test
