#pragma once
// Each `cloze <command>` lives in its own cmd_<name>.cpp and registers itself
// on the CLI11 app here. Commands are thin: parse flags, call the library,
// format the result.
#include <CLI/CLI.hpp>

namespace cloze::cli {

void add_logits_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_classify_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_download_command(CLI::App& app);
void add_serve_command(CLI::App& app);
void add_chat_template_command(CLI::App& app);

}  // namespace cloze::cli
