#pragma once
// Model locations: a local directory, or a Hugging Face Hub id resolved
// through the same cache that Python's huggingface_hub uses, so a model
// fetched by either tool serves both.
#include <filesystem>
#include <optional>
#include <string>

namespace cloze {

struct HubId {
  std::string repo;      // "org/name"
  std::string revision;  // "main" unless given as org/name@rev
};

// Parses "org/name" or "org/name@rev"; nullopt if `spec` is not of that form.
std::optional<HubId> parse_hub_id(const std::string& spec);

// $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub,
// else ~/.cache/huggingface/hub.
std::filesystem::path hub_cache_dir();

// The snapshot directory of `id` in the cache (refs/<revision> -> commit ->
// snapshots/<commit>/), or nullopt. `why` receives what was looked at.
std::optional<std::filesystem::path> find_in_cache(const HubId& id, std::string* why = nullptr);

// A model directory for `spec`: an existing directory as is, else a hub id
// from the cache. Throws cloze::Error saying where it looked and how to get
// the model (or point --model at a local copy).
std::filesystem::path resolve_model(const std::string& spec);

}  // namespace cloze
