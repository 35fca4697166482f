#pragma once
// Environment settings the Hub client shares with huggingface_hub, and the
// cache's folder naming, in one place so reader and downloader agree.
#include <filesystem>
#include <string>

#include "cloze/hub.h"

namespace cloze::hub {

// The variable's value, or "" when unset or empty.
std::string env(const char* name);

// $HF_ENDPOINT without a trailing '/', else https://huggingface.co.
std::string hub_endpoint();

// $HF_TOKEN (or the older $HUGGING_FACE_HUB_TOKEN), else the first line of
// $HF_TOKEN_PATH, else of $HF_HOME/token (HF_HOME defaulting as huggingface_hub
// does). "" when there is none.
std::string hub_token();

// "models--org--name".
std::string repo_folder_name(const std::string& repo);
// <cache>/models--org--name.
std::filesystem::path repo_cache_dir(const HubId& id);

}  // namespace cloze::hub
