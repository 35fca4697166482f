#include "cli/error_words.h"

#include <map>

namespace cloze::cli {

std::string flag_of(const std::string& option) {
  // ClassifierOptions / RecordOptions / ServerOptions member -> flag.
  static const std::map<std::string, std::string> kFlags = {
      {"labels", "--labels"},           {"template_text", "--template"},
      {"pmi_premise", "--pmi-premise"}, {"content_free", "--content-free"},
      {"calibration", "--calibrate"},   {"truncate", "--truncate"},
      {"max_tokens", "--max-tokens"},   {"label_map", "--label-map"},
      {"text_column", "--text-column"}, {"id_column", "--id-column"},
      {"label_column", "--label-column"}, {"host", "--host"},
      {"port", "--port"},               {"model", "--model"},
      {"threshold", "--threshold"},
      {"label_score", "--label-score"}, {"top_alternatives", "--top"},
      {"label_template", "--label-template"}, {"chat_template_name", "--chat-template-name"},
      {"chat_template", "--chat-template"},
  };
  auto it = kFlags.find(option);
  return it == kFlags.end() ? "" : it->second;
}

std::string error_line(const Error& e) {
  std::string line = e.what();
  if (e.subject().kind == Subject::Kind::Option) {
    const std::string flag = flag_of(e.subject().name);
    if (!flag.empty() && line.find(flag) == std::string::npos) line += " (" + flag + ")";
  }
  return line;
}

}  // namespace cloze::cli
