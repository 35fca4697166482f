// `cloze tokenize`: text -> token ids, one {"ids":[...]} line per text.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cloze/error.h"
#include "cloze/hub.h"
#include "cloze/tokenizer.h"

namespace cloze::cli {

namespace {

struct TokenizeArgs {
  std::string model, tokenizer, input, text;
  bool no_special = false;
  bool no_add_special_tokens = false;
  bool have_text = false;  // TEXT given (it may be the empty string)
};

std::filesystem::path tokenizer_path(const TokenizeArgs& a) {
  if (!a.tokenizer.empty()) return a.tokenizer;
  const auto p = resolve_model(a.model) / "tokenizer.json";
  if (!std::filesystem::exists(p)) throw Error("--model " + a.model + ": no tokenizer.json in " + p.parent_path().string());
  return p;
}

void print_ids(const std::vector<int32_t>& ids) {
  std::string line = "{\"ids\":[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) line += ',';
    line += std::to_string(ids[i]);
  }
  line += "]}\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
}

void run(const TokenizeArgs& a) {
  if (a.model.empty() == a.tokenizer.empty()) throw Error("tokenize: give exactly one of --model DIR or --tokenizer FILE.json");
  if (a.input.empty() == !a.have_text) throw Error("tokenize: give exactly one of TEXT or --input FILE.jsonl");
  const Tokenizer tok = Tokenizer::from_file(tokenizer_path(a));
  EncodeOptions opt;
  opt.special = !a.no_special;
  opt.add_special_tokens = !a.no_add_special_tokens;
  if (a.have_text) {
    print_ids(tok.encode(a.text, opt));
    return;
  }
  std::ifstream in(a.input, std::ios::binary);
  if (!in) throw Error("--input " + a.input + ": cannot open file");
  std::string line;
  for (size_t n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank line
    const std::string where = a.input + " line " + std::to_string(n);
    nlohmann::json row;
    try {
      row = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      throw Error(where + ": not valid JSON: " + e.what());
    }
    if (!row.is_object() || !row.contains("text") || !row["text"].is_string())
      throw Error(where + ": expected a JSON object with a string field \"text\"");
    try {
      print_ids(tok.encode(row["text"].get<std::string>(), opt));
    } catch (const Error& e) {
      throw Error(where + ": " + e.what());
    }
  }
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto args = std::make_shared<TokenizeArgs>();
  CLI::App* cmd = app.add_subcommand("tokenize", "print the token ids of texts, one {\"ids\":[...]} line per text");
  cmd->add_option("--model", args->model, "model directory holding tokenizer.json");
  cmd->add_option("--tokenizer", args->tokenizer, "a tokenizer.json file (instead of --model)");
  cmd->add_option("--input", args->input, "JSONL file, one {\"text\": ...} object per line");
  cmd->add_flag("--no-special", args->no_special, "treat special-token strings in the text as plain text");
  cmd->add_flag("--no-add-special-tokens", args->no_add_special_tokens,
                "do not add the post-processor's special tokens (e.g. BOS), like HF add_special_tokens=False");
  CLI::Option* text = cmd->add_option("text", args->text, "the text to tokenize");
  cmd->callback([args, text] {
    args->have_text = text->count() > 0;
    run(*args);
  });
}

}  // namespace cloze::cli
