// libFuzzer target for the chat-template interpreter: any bytes as a
// template must parse or fail with ChatTemplateError, and a template that
// parses must render or fail the same way, within the step and output
// limits: never crash, hang, or grow without bound.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cloze/chat.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nlohmann::ordered_json vars = nlohmann::ordered_json::parse(R"({
    "messages": [{"role": "system", "content": "Be brief."},
                 {"role": "user", "content": "Héllo <b> 👋"},
                 {"role": "assistant", "content": "<think>\nx\n</think>\n\nHi", "tool_calls": [
                   {"function": {"name": "f", "arguments": {"a": 1, "b": [true, null, 2.5]}}}]},
                 {"role": "user", "content": [{"type": "text", "text": "part"}, {"type": "image"}]}],
    "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>",
    "tools": [{"type": "function", "function": {"name": "get", "parameters": {"type": "object"}}}],
    "documents": null, "enable_thinking": false})");
  cloze::ChatRenderOptions opt;
  opt.now = 0;
  opt.max_steps = 20000;
  opt.max_output_bytes = 1 << 20;
  try {
    cloze::ChatTemplate t(std::string_view(reinterpret_cast<const char*>(data), size));
    t.render(vars, opt);
  } catch (const cloze::ChatTemplateError&) {
  }
  return 0;
}
