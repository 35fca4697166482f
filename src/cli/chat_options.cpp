// Chat-template flags shared by several commands.
#include "cli/chat_options.h"

#include <cstdio>

namespace cloze::cli {

void add_chat_flags(CLI::App& cmd, ChatFlags& f) {
  cmd.add_option("--chat-template", f.chat_template, "Jinja chat template file (default: the model's own)");
  cmd.add_option("--chat-template-name", f.chat_template_name,
                 "pick a named template from tokenizer_config.json's list (default: \"default\")");
  cmd.add_option("--now", f.now, "date strftime_now() prints, YYYY-MM-DD[THH:MM:SS] (default: the clock)");
}

ModelChatTemplate load_chat_template(const std::filesystem::path& model_dir, const ChatFlags& f) {
  std::optional<std::filesystem::path> file;
  if (!f.chat_template.empty()) file = f.chat_template;
  std::optional<std::string> name;
  if (!f.chat_template_name.empty()) name = f.chat_template_name;
  return find_chat_template(model_dir, file, name);
}

std::time_t parse_now(const std::string& s) {
  std::tm tm{};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  char tail = 0;
  int n = std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &sec, &tail);
  if (!(n == 3 || n == 6) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
    throw Error("--now " + s + ": expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS");
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  tm.tm_isdst = -1;
  return std::mktime(&tm);
}

ChatRenderOptions chat_render_options(const ChatFlags& f) {
  ChatRenderOptions o;
  if (!f.now.empty()) o.now = parse_now(f.now);
  return o;
}

}  // namespace cloze::cli
