// Reading the huggingface_hub cache layout:
//   <cache>/models--<org>--<name>/refs/<revision>      (holds a commit hash)
//   <cache>/models--<org>--<name>/snapshots/<commit>/   (the files)
#include <cstdlib>
#include <fstream>
#include <regex>

#include <nlohmann/json.hpp>

#include "cloze/error.h"
#include "cloze/hub.h"
#include "hub/settings.h"

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

using hub::env;

fs::path hub_cache_dir() {
  if (auto v = env("HF_HUB_CACHE"); !v.empty()) return v;
  if (auto v = env("HF_HOME"); !v.empty()) return fs::path(v) / "hub";
  if (auto v = env("XDG_CACHE_HOME"); !v.empty()) return fs::path(v) / "huggingface" / "hub";
  if (auto v = env("HOME"); !v.empty()) return fs::path(v) / ".cache" / "huggingface" / "hub";
  return fs::path(".cache") / "huggingface" / "hub";
}

std::optional<fs::path> find_in_cache(const HubId& id, std::string* why) {
  const fs::path repo = hub::repo_cache_dir(id);
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

std::vector<std::string> missing_model_files(const fs::path& dir) {
  std::vector<std::string> missing;
  std::error_code ec;
  for (const char* f : {"config.json", "tokenizer.json"})
    if (!fs::is_regular_file(dir / f, ec)) missing.push_back(f);  // follows the snapshot's symlinks
  if (fs::is_regular_file(dir / "model.safetensors", ec)) return missing;
  const fs::path index = dir / "model.safetensors.index.json";
  if (!fs::is_regular_file(index, ec)) {
    missing.push_back("model.safetensors");
    return missing;
  }
  try {
    std::ifstream in(index);
    const auto j = nlohmann::json::parse(in);
    for (const auto& [tensor, shard] : j.at("weight_map").items())
      if (!fs::is_regular_file(dir / shard.get<std::string>(), ec)) {
        missing.push_back(shard.get<std::string>());
        break;  // one is enough to know the snapshot needs completing
      }
  } catch (const std::exception&) {
    missing.push_back("model.safetensors.index.json");  // unreadable: fetch it again
  }
  return missing;
}

// The ways to get a model without the Hub, for the end of cache errors.
static const char* kOtherWays =
    "set HF_HUB_CACHE/HF_HOME to a cache that holds the model, or give a local model directory with "
    "config.json, *.safetensors and tokenizer.json";

fs::path resolve_model(const std::string& spec) { return resolve_model(spec, DownloadOptions{}); }

fs::path resolve_model(const std::string& spec, const DownloadOptions& opt) {
  if (spec.empty()) throw Error("the model is empty: give a model directory or a Hub id such as Qwen/Qwen2-0.5B", Subject::option("model"));
  if (fs::is_directory(spec)) return spec;
  auto id = parse_hub_id(spec);
  if (!id || spec.starts_with(".") || spec.starts_with("/"))
    throw Error("model directory '" + spec + "' not found (and it is not a Hub id of the form org/name[@revision])",
                Subject::option("model"));
  std::string why;
  auto dir = find_in_cache(*id, &why);
  // A snapshot that lacks files cloze needs (say, only pytorch_model.bin was
  // fetched by Python) is completed from the Hub, unless that is impossible.
  if (dir && missing_model_files(*dir).empty()) return *dir;
  if (hub_offline()) {
    if (dir) return *dir;  // the loader names what is missing
    throw Error("model '" + spec + "' is not in the Hugging Face cache: " + why +
                "; HF_HUB_OFFLINE is set, so it was not downloaded. Unset HF_HUB_OFFLINE to download it, " +
                kOtherWays, Subject::option("model"));
  }
  try {
    return download_model(*id, opt);
  } catch (const HubUnreachable& e) {
    if (dir) return *dir;
    throw Error("model '" + spec + "' is not in the Hugging Face cache (" + why + ") and the Hub could not be reached (" +
                e.what() + "). Connect to the internet and run again (or `cloze download " + spec +
                "`), set HF_ENDPOINT to a reachable mirror, " + kOtherWays, Subject::option("model"));
  }
}

}  // namespace cloze
