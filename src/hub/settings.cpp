// Hub settings from the environment; see settings.h.
#include "hub/settings.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>

namespace cloze::hub {

namespace fs = std::filesystem;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : "";
}

std::string hub_endpoint() {
  std::string e = env("HF_ENDPOINT");
  if (e.empty()) e = "https://huggingface.co";
  while (!e.empty() && e.back() == '/') e.pop_back();
  return e;
}

static std::string trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

static fs::path hf_home() {
  if (auto v = env("HF_HOME"); !v.empty()) return v;
  if (auto v = env("XDG_CACHE_HOME"); !v.empty()) return fs::path(v) / "huggingface";
  if (auto v = env("HOME"); !v.empty()) return fs::path(v) / ".cache" / "huggingface";
  return fs::path(".cache") / "huggingface";
}

std::string hub_token() {
  if (auto t = trim(env("HF_TOKEN")); !t.empty()) return t;
  if (auto t = trim(env("HUGGING_FACE_HUB_TOKEN")); !t.empty()) return t;
  fs::path file = env("HF_TOKEN_PATH");
  if (file.empty()) file = hf_home() / "token";
  std::ifstream in(file);
  std::string line;
  if (in) std::getline(in, line);
  return trim(line);
}

std::string repo_folder_name(const std::string& repo) {
  std::string name = "models--" + repo;
  if (auto slash = name.find('/'); slash != std::string::npos) name.replace(slash, 1, "--");
  return name;
}

fs::path repo_cache_dir(const HubId& id) { return hub_cache_dir() / repo_folder_name(id.repo); }

}  // namespace cloze::hub

namespace cloze {

bool hub_offline() {
  std::string v = hub::env("HF_HUB_OFFLINE");
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::toupper(c); });
  return v == "1" || v == "ON" || v == "YES" || v == "TRUE";
}

}  // namespace cloze
