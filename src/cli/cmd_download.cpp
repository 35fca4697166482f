// `cloze download org/name[@revision]`: fetch a model into the Hugging Face
// cache without classifying, and print its snapshot directory (so scripts
// can do `--model "$(cloze download org/name)"`).
#include <cstdio>
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
  std::optional<bool> progress;
};

void run_download(const DownloadArgs& a) {
  auto id = parse_hub_id(a.spec);
  if (!id) throw Error("download: '" + a.spec + "' is not a Hub id of the form org/name[@revision]");
  DownloadOptions opt;
  opt.progress = a.progress;
  const auto dir = download_model(*id, opt);
  std::printf("%s\n", dir.c_str());
}

}  // namespace

void add_download_command(CLI::App& app) {
  auto a = std::make_shared<DownloadArgs>();
  auto* cmd = app.add_subcommand("download",
                                 "Download a model from the Hugging Face Hub ($HF_ENDPOINT) into the HF cache and "
                                 "print its snapshot directory");
  cmd->add_option("model", a->spec, "Hub id: org/name or org/name@revision (branch, tag or commit)")->required();
  cmd->add_flag("--progress,!--no-progress", a->progress, "Progress bars on stderr (default: when stderr is a terminal)");
  cmd->callback([a] { run_download(*a); });
}

}  // namespace cloze::cli
