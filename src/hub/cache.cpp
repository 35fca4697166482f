// Reading the huggingface_hub cache layout:
//   <cache>/models--<org>--<name>/refs/<revision>      (holds a commit hash)
//   <cache>/models--<org>--<name>/snapshots/<commit>/   (the files)
#include <cstdlib>
#include <fstream>
#include <regex>

#include "cloze/error.h"
#include "cloze/hub.h"

namespace cloze {

namespace fs = std::filesystem;

std::optional<HubId> parse_hub_id(const std::string& spec) {
  // Hub names: letters, digits, '-', '_', '.'; exactly one '/'.
  static const std::regex re(R"(([A-Za-z0-9][A-Za-z0-9._-]*)/([A-Za-z0-9][A-Za-z0-9._-]*)(@([A-Za-z0-9._/-]+))?)");
  std::smatch m;
  if (!std::regex_match(spec, m, re)) return std::nullopt;
  HubId id{m[1].str() + "/" + m[2].str(), m[4].matched ? m[4].str() : "main"};
  if (id.revision.find("..") != std::string::npos) return std::nullopt;
  return id;
}

static std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : "";
}

fs::path hub_cache_dir() {
  if (auto v = env("HF_HUB_CACHE"); !v.empty()) return v;
  if (auto v = env("HF_HOME"); !v.empty()) return fs::path(v) / "hub";
  if (auto v = env("XDG_CACHE_HOME"); !v.empty()) return fs::path(v) / "huggingface" / "hub";
  if (auto v = env("HOME"); !v.empty()) return fs::path(v) / ".cache" / "huggingface" / "hub";
  return fs::path(".cache") / "huggingface" / "hub";
}

static fs::path repo_dir(const HubId& id) {
  std::string name = "models--" + id.repo;
  name.replace(name.find('/'), 1, "--");
  return hub_cache_dir() / name;
}

std::optional<fs::path> find_in_cache(const HubId& id, std::string* why) {
  const fs::path repo = repo_dir(id);
  auto say = [&](const std::string& s) {
    if (why) *why = s;
  };
  if (!fs::is_directory(repo)) {
    say(repo.string() + " does not exist");
    return std::nullopt;
  }
  std::string commit;
  const fs::path ref = repo / "refs" / id.revision;
  if (fs::is_regular_file(ref)) {
    std::ifstream in(ref);
    std::getline(in, commit);
    while (!commit.empty() && isspace(static_cast<unsigned char>(commit.back()))) commit.pop_back();
  } else if (fs::is_directory(repo / "snapshots" / id.revision)) {
    commit = id.revision;  // a commit hash given directly
  } else {
    say(ref.string() + " does not exist (revision '" + id.revision + "' was never downloaded)");
    return std::nullopt;
  }
  const fs::path snap = repo / "snapshots" / commit;
  if (!fs::is_regular_file(snap / "config.json")) {
    say(snap.string() + " has no config.json");
    return std::nullopt;
  }
  return snap;
}

fs::path resolve_model(const std::string& spec) {
  if (spec.empty()) throw Error("--model is empty: give a model directory or a Hub id such as Qwen/Qwen2-0.5B");
  if (fs::is_directory(spec)) return spec;
  auto id = parse_hub_id(spec);
  if (!id || spec.starts_with(".") || spec.starts_with("/"))
    throw Error("model directory '" + spec + "' not found (and it is not a Hub id of the form org/name[@revision])");
  std::string why;
  if (auto dir = find_in_cache(*id, &why)) return *dir;
  throw Error("model '" + spec + "' is not in the Hugging Face cache: " + why +
              ". Download it once (e.g. `huggingface-cli download " + spec + "`, or from_pretrained in Python), set "
              "HF_HUB_CACHE/HF_HOME to the cache that holds it, or point --model at a local directory with "
              "config.json, *.safetensors and tokenizer.json");
}

}  // namespace cloze
