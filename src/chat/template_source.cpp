// Finding a model's chat template as transformers does: tokenizer_config.json's
// `chat_template` (a string or a list of named templates), else
// chat_template.jinja; bos/eos tokens from tokenizer_config.json.
#include <fstream>
#include <sstream>

#include "cloze/chat.h"

namespace cloze {
namespace {

std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw Error("cannot read " + p.string());
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// "<s>" or {"content": "<s>", ...} (an AddedToken); null means none.
std::optional<std::string> token_string(const nlohmann::ordered_json& cfg, const char* key, const std::string& file) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"].get<std::string>();
  throw Error(file + ": field '" + key + "' must be a string or {\"content\": ...}");
}

}  // namespace

ModelChatTemplate find_chat_template(const std::filesystem::path& model_dir, const std::optional<std::filesystem::path>& file,
                                     const std::optional<std::string>& name) {
  ModelChatTemplate out;
  const auto cfg_path = model_dir / "tokenizer_config.json";
  nlohmann::ordered_json cfg = nlohmann::ordered_json::object();
  if (!model_dir.empty() && std::filesystem::exists(cfg_path)) {
    try {
      cfg = nlohmann::ordered_json::parse(read_file(cfg_path));
    } catch (const nlohmann::json::exception& e) {
      throw Error(cfg_path.string() + ": not valid JSON: " + e.what());
    }
    if (!cfg.is_object()) throw Error(cfg_path.string() + ": expected a JSON object");
    out.bos_token = token_string(cfg, "bos_token", cfg_path.string());
    out.eos_token = token_string(cfg, "eos_token", cfg_path.string());
  }
  if (file) {
    out.source = read_file(*file);
    out.origin = file->string();
    return out;
  }
  auto it = cfg.find("chat_template");
  if (it != cfg.end() && !it->is_null()) {
    if (it->is_string()) {
      if (name && *name != "default")
        throw Error(cfg_path.string() + ": chat_template is a single template; there is no template named '" + *name + "'");
      out.source = it->get<std::string>();
      out.origin = cfg_path.string() + " (chat_template)";
      return out;
    }
    if (it->is_array()) {
      std::string want = name.value_or("default");
      std::string names;
      for (const auto& entry : *it) {
        if (!entry.is_object() || !entry.contains("name") || !entry.contains("template") || !entry["name"].is_string() ||
            !entry["template"].is_string())
          throw Error(cfg_path.string() + ": chat_template list entries must be {\"name\": ..., \"template\": ...}");
        std::string n = entry["name"].get<std::string>();
        names += (names.empty() ? "" : ", ") + n;
        if (n == want) {
          out.source = entry["template"].get<std::string>();
          out.origin = cfg_path.string() + " (chat_template '" + n + "')";
          return out;
        }
      }
      throw Error(cfg_path.string() + ": no chat template named '" + want + "' (it has: " + names +
                  "); choose one by name",
                  Subject::option("chat_template_name"));
    }
    throw Error(cfg_path.string() + ": chat_template must be a string or a list of {\"name\",\"template\"}");
  }
  if (name)
    throw Error(cfg_path.string() + ": has no named chat templates (asked for '" + *name + "')",
                Subject::option("chat_template_name"));
  const auto jinja = model_dir / "chat_template.jinja";
  if (!model_dir.empty() && std::filesystem::exists(jinja)) {
    out.source = read_file(jinja);
    out.origin = jinja.string();
    return out;
  }
  throw Error("no chat template in " + model_dir.string() + ": looked for \"chat_template\" in tokenizer_config.json and for "
              "chat_template.jinja; pass a template file",
              Subject::option("chat_template"));
}

}  // namespace cloze
