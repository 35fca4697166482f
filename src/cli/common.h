#pragma once
// Helpers shared by the commands: model loading, id lists, JSON numbers.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cloze/model.h"
#include "cloze/tokenizer.h"

namespace cloze::cli {

// --model (directory or hub id) -> loaded model; --threads 0 = all cores.
std::unique_ptr<Model> load_model(const std::string& spec, size_t threads);

// --precision exact|bf16 (how the matmuls treat activations).
void add_precision_option(CLI::App* cmd, std::string& value);
// The flag's value as a Precision; a clear error for anything else.
Precision precision_option(const std::string& value);

// The tokenizer.json of a model directory; a clear error if it has none.
Tokenizer load_tokenizer(const std::filesystem::path& model_dir);

// "1,2,3" -> {1,2,3}; throws cloze::Error naming the bad element.
std::vector<int32_t> parse_ids(const std::string& list, const std::string& flag = "--ids");

// Shortest text that reads back as the same float (JSON number).
void append_float(std::string& out, float v);
void append_ids(std::string& out, std::span<const int32_t> ids);
// JSON string literal with escapes.
void append_json_string(std::string& out, std::string_view s);

}  // namespace cloze::cli
