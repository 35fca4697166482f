#pragma once
// Random-weight models made by tools/ for tests that need a shape the golden
// set lacks (the full Qwen2 vocabulary with the real tokenizer).
#include <cstdint>
#include <filesystem>
#include <vector>

namespace cloze::test {

// A tiny Qwen2 (hidden 64, 2 layers) with vocab 151936 and the real Qwen2
// tokenizer, generated once per test process into a temp directory.
std::filesystem::path full_vocab_qwen2();

// Log-softmax of every row of `cloze logits --all --threads 1` on
// full_vocab_qwen2() for ids: an independent path to the model's scores.
std::vector<std::vector<double>> full_vocab_logprob_rows(const std::vector<int32_t>& ids);

}  // namespace cloze::test
