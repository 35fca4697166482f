// `cloze download org/name[@revision]`: fetch a model into the Hugging Face
// cache without classifying, and print its snapshot directory (so scripts
// can do `--model "$(cloze download org/name)"`).
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "cloze/error.h"
#include "cloze/hub.h"

namespace cloze::cli {

namespace {

struct DownloadArgs {
  std::string spec;
  bool progress = false;
  bool progress_given = false;
};

void run_download(const DownloadArgs& a) {
  auto id = parse_hub_id(a.spec);
  if (!id) throw Error("download: '" + a.spec + "' is not a Hub id of the form org/name[@revision]");
  DownloadOptions opt;
  if (a.progress_given) opt.progress = a.progress;  // else: when stderr is a terminal
  std::filesystem::path dir;
  try {
    dir = download_model(*id, opt);
  } catch (const HubUnreachable& e) {
    // As huggingface_hub does: a complete cached copy still answers, with a
    // warning that it could not be checked against the Hub.
    auto cached = find_in_cache(*id);
    if (!cached || !missing_model_files(*cached).empty()) throw;
    std::fprintf(stderr, "cloze: warning: the Hub could not be reached (%s); using the cached snapshot\n", e.what());
    dir = *cached;
  }
  std::printf("%s\n", dir.c_str());
}

}  // namespace

void add_download_command(CLI::App& app) {
  auto a = std::make_shared<DownloadArgs>();
  auto* cmd = app.add_subcommand("download",
                                 "Download a model from the Hugging Face Hub ($HF_ENDPOINT) into the HF cache and "
                                 "print its snapshot directory");
  cmd->add_option("model", a->spec, "Hub id: org/name or org/name@revision (branch, tag or commit)")->required();
  // A plain bool and count(): CLI11 fills an optional<bool> flag with false
  // even when it is absent, which would hide the terminal default.
  auto* flag = cmd->add_flag("--progress,!--no-progress", a->progress,
                             "Progress bars on stderr (default: when stderr is a terminal)");
  cmd->callback([a, flag] {
    a->progress_given = flag->count() > 0;
    run_download(*a);
  });
}

}  // namespace cloze::cli
