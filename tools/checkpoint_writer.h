#pragma once
// Streams a random-weight checkpoint to disk in the safetensors layout
// transformers writes: model.safetensors, or N shards plus
// model.safetensors.index.json.
#include <cstdint>
#include <filesystem>
#include <vector>

#include "random_weights.h"

namespace cloze::tools {

struct WriteOptions {
  OutDType dtype = OutDType::BF16;
  uint64_t seed = 0;
  int shards = 1;
  unsigned threads = 0;  // 0: one per hardware thread
};

// Writes the tensors (in the given order) under `dir`; returns bytes written.
// Throws std::runtime_error naming the file on any I/O failure.
uint64_t write_checkpoint(const std::filesystem::path& dir, const std::vector<TensorSpec>& tensors,
                          const WriteOptions& opt);

}  // namespace cloze::tools
