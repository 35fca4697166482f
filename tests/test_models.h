#pragma once
// Random-weight models made by tools/ for tests that need a shape the golden
// set lacks (the full Qwen2 vocabulary with the real tokenizer).
#include <filesystem>

namespace cloze::test {

// A tiny Qwen2 (hidden 64, 2 layers) with vocab 151936 and the real Qwen2
// tokenizer, generated once per test process into a temp directory.
std::filesystem::path full_vocab_qwen2();

}  // namespace cloze::test
