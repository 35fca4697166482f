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
  bool progress = false;
  bool progress_given = false;
};

void run_download(const DownloadArgs& a) {
  auto id = parse_hub_id(a.spec);
  if (!id) throw Error("download: '" + a.spec + "' is not a Hub id of the form org/name[@revision]");
  DownloadOptions opt;
  if (a.progress_given) opt.progress = a.progress;  // else: when stderr is a terminal
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
