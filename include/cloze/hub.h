#pragma once
// Model locations: a local directory, or a Hugging Face Hub id resolved
// through the same cache that Python's huggingface_hub uses, so a model
// fetched by either tool serves both. Models missing from the cache are
// downloaded from the Hub into that cache, in its exact layout.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cloze/error.h"

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
// A hub id that is not cached (or lacks files cloze needs) is downloaded
// unless hub_offline(); a complete cached snapshot needs no network at all.
std::filesystem::path resolve_model(const std::string& spec);

// The Hub could not be reached: DNS or connection failures, or transfers
// that kept failing after retries.
class HubUnreachable : public Error {
 public:
  using Error::Error;
};

struct DownloadOptions {
  std::string endpoint;              // empty: $HF_ENDPOINT, else https://huggingface.co
  std::optional<std::string> token;  // nullopt: $HF_TOKEN, else the token file huggingface_hub uses
  std::optional<bool> progress;      // per-file progress bars; nullopt: when stderr is a terminal
  // Failed connections (DNS, refused) are retried this many times, quickly:
  // an offline machine must hear "unreachable" in about a second.
  int connect_retries = 2;
  // Dropped transfers and 5xx/429 answers: retried with exponential backoff,
  // resuming where the file stopped.
  int transfer_retries = 5;
  double retry_delay_s = 0.5;  // first backoff; doubles each retry, at most 30 s
};

// HF_HUB_OFFLINE set to 1/ON/YES/TRUE (as huggingface_hub reads it): no
// network access at all.
bool hub_offline();

// Files a model directory lacks for cloze: config.json, tokenizer.json and
// model.safetensors or model.safetensors.index.json with every shard it
// names. Empty when complete.
std::vector<std::string> missing_model_files(const std::filesystem::path& dir);

// Fetches config.json, generation_config.json, tokenizer.json,
// tokenizer_config.json and the safetensors (single or sharded) of `id` into
// hub_cache_dir() exactly as huggingface_hub would lay them out, and returns
// the snapshot directory. Always asks the Hub which commit `id.revision` is;
// blobs already cached are not fetched again. Throws HubUnreachable, or
// cloze::Error for auth (401/403), missing repo/revision/file (404), full
// disks and checksum mismatches. Offline: the cached snapshot, or the cache error.
std::filesystem::path download_model(const HubId& id, const DownloadOptions& opt = {});

// resolve_model with explicit download options.
std::filesystem::path resolve_model(const std::string& spec, const DownloadOptions& opt);

}  // namespace cloze
