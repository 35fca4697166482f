// `cloze chat-template`: render chat templates as transformers'
// apply_chat_template(..., tokenize=False) does.
//   --input CASES.jsonl: rows {"template","messages","add_generation_prompt",
//     "bos_token","eos_token","kwargs"} -> one {"rendered": ...} or
//     {"error": ...} line per row, in order (a raise_exception message verbatim).
//   --model M --messages FILE.json: the model's own template over a JSON list
//     of messages (or {"messages", "tools", "documents", ...kwargs}).
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/chat_options.h"
#include "cli/commands.h"
#include "cloze/chat.h"
#include "cloze/hub.h"

namespace cloze::cli {
namespace {

struct ChatTemplateArgs {
  std::string input, model, messages;
  bool add_generation_prompt = false;
  ChatFlags chat;
};

using ojson = nlohmann::ordered_json;

void print_line(const ojson& j) {
  std::string s = j.dump(-1, ' ', false, ojson::error_handler_t::replace) + "\n";
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

// One row of a cases file -> the rendering (or the error) as a JSON line.
ojson render_row(const ojson& row, const std::string& where, const ChatRenderOptions& opt) {
  if (!row.is_object()) throw Error(where + ": expected a JSON object");
  auto str_field = [&](const char* k) -> std::optional<std::string> {
    if (!row.contains(k) || row[k].is_null()) return std::nullopt;
    if (!row[k].is_string()) throw Error(where + ": field '" + k + "' must be a string or null");
    return row[k].get<std::string>();
  };
  auto tmpl_text = str_field("template");
  if (!tmpl_text) throw Error(where + ": missing field 'template'");
  if (!row.contains("messages") || !row["messages"].is_array()) throw Error(where + ": field 'messages' must be a list");
  ModelChatTemplate tokens;
  tokens.bos_token = str_field("bos_token");
  tokens.eos_token = str_field("eos_token");
  ChatInput in;
  in.messages = row["messages"];
  if (row.contains("add_generation_prompt")) {
    if (!row["add_generation_prompt"].is_boolean()) throw Error(where + ": field 'add_generation_prompt' must be true or false");
    in.add_generation_prompt = row["add_generation_prompt"].get<bool>();
  }
  if (row.contains("kwargs") && !row["kwargs"].is_null()) {
    if (!row["kwargs"].is_object()) throw Error(where + ": field 'kwargs' must be an object");
    for (const auto& [k, v] : row["kwargs"].items()) {
      if (k == "tools") in.tools = v;
      else if (k == "documents") in.documents = v;
      else in.kwargs[k] = v;
    }
  }
  ojson out = ojson::object();
  try {
    ChatTemplate t(*tmpl_text);
    out["rendered"] = apply_chat_template(t, tokens, in, opt);
  } catch (const ChatTemplateError& e) {
    out["error"] = e.raised() ? e.message() : std::string(e.what());
  }
  return out;
}

void run_cases(const ChatTemplateArgs& a, const ChatRenderOptions& opt) {
  std::ifstream f(a.input, std::ios::binary);
  if (!f) throw Error("--input " + a.input + ": cannot open file");
  std::string line;
  for (size_t n = 1; std::getline(f, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const std::string where = a.input + " line " + std::to_string(n);
    ojson row;
    try {
      row = ojson::parse(line);
    } catch (const nlohmann::json::exception& e) {
      throw Error(where + ": not valid JSON: " + e.what());
    }
    print_line(render_row(row, where, opt));
  }
}

void run_model(const ChatTemplateArgs& a, const ChatRenderOptions& opt) {
  const auto dir = resolve_model(a.model);
  ModelChatTemplate mt = load_chat_template(dir, a.chat);
  std::ifstream f(a.messages, std::ios::binary);
  if (!f) throw Error("--messages " + a.messages + ": cannot open file");
  std::stringstream ss;
  ss << f.rdbuf();
  ojson j;
  try {
    j = ojson::parse(ss.str());
  } catch (const nlohmann::json::exception& e) {
    throw Error("--messages " + a.messages + ": not valid JSON: " + e.what());
  }
  ChatInput in;
  in.add_generation_prompt = a.add_generation_prompt;
  if (j.is_array()) {
    in.messages = j;
  } else if (j.is_object() && j.contains("messages") && j["messages"].is_array()) {
    for (const auto& [k, v] : j.items()) {
      if (k == "messages") in.messages = v;
      else if (k == "tools") in.tools = v;
      else if (k == "documents") in.documents = v;
      else if (k == "add_generation_prompt" && v.is_boolean()) in.add_generation_prompt = v.get<bool>();
      else in.kwargs[k] = v;
    }
  } else {
    throw Error("--messages " + a.messages + ": expected a list of messages or an object with \"messages\"");
  }
  ChatTemplate t(mt.source);
  std::string out = apply_chat_template(t, mt, in, opt);
  std::fwrite(out.data(), 1, out.size(), stdout);
}

}  // namespace

void add_chat_template_command(CLI::App& app) {
  auto a = std::make_shared<ChatTemplateArgs>();
  auto* cmd = app.add_subcommand("chat-template", "render chat templates as transformers' apply_chat_template does");
  cmd->add_option("--input", a->input, "JSONL of cases: template, messages, add_generation_prompt, bos_token, eos_token, kwargs");
  cmd->add_option("--model", a->model, "model directory or hub id whose template to render");
  cmd->add_option("--messages", a->messages, "JSON file: a list of messages (with --model)");
  cmd->add_flag("--add-generation-prompt", a->add_generation_prompt, "end with the assistant's turn header (with --model)");
  add_chat_flags(*cmd, a->chat);
  cmd->callback([a] {
    ChatRenderOptions opt = chat_render_options(a->chat);
    if (!a->input.empty() == !a->model.empty())
      throw Error("chat-template: give exactly one of --input CASES.jsonl or --model M --messages FILE.json");
    if (!a->input.empty()) return run_cases(*a, opt);
    if (a->messages.empty()) throw Error("chat-template: --model needs --messages FILE.json");
    run_model(*a, opt);
  });
}

}  // namespace cloze::cli
