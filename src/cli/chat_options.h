#pragma once
// Flags shared by the commands that render a model's chat template
// (chat-template, classify/eval --chat, generate --chat).
#include <ctime>
#include <filesystem>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "cloze/chat.h"

namespace cloze::cli {

struct ChatFlags {
  std::string chat_template;       // --chat-template FILE
  std::string chat_template_name;  // --chat-template-name NAME
  std::string now;                 // --now YYYY-MM-DD[THH:MM:SS] for strftime_now
};

void add_chat_flags(CLI::App& cmd, ChatFlags& f);
// The model's template (or --chat-template's), bos/eos from its config.
ModelChatTemplate load_chat_template(const std::filesystem::path& model_dir, const ChatFlags& f);
ChatRenderOptions chat_render_options(const ChatFlags& f);
// "2026-01-15" or "2026-01-15T08:30:00" (local time) -> time_t.
std::time_t parse_now(const std::string& s);

}  // namespace cloze::cli
