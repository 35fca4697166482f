// cloze logits: float32 next-token logits, for checking against transformers.
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "cloze/error.h"

namespace cloze::cli {

namespace {
struct LogitsArgs {
  std::string model, ids, text;
  bool all = false;
  size_t threads = 0;
};

void run_logits(const LogitsArgs& a) {
  if (a.ids.empty() == a.text.empty()) throw Error("logits: give exactly one of --ids or --text");
  std::vector<int32_t> ids;
  auto model = load_model(a.model, a.threads);
  if (!a.ids.empty()) {
    ids = parse_ids(a.ids);
  } else {
    ids = load_tokenizer(model->dir()).encode(a.text);
  }
  if (ids.empty()) throw Error("logits: no tokens to run (empty --ids or --text)");
  KVCache cache(*model);
  ForwardItem item{&cache, ids, a.all ? Outputs::All : Outputs::Last};
  RunContext ctx(*model);
  ForwardResult r = ctx.forward({&item, 1})[0];
  std::string out = "{\"ids\":";
  append_ids(out, ids);
  out += ",\"logits\":[";
  for (size_t p = 0; p < r.positions; ++p) {
    out += p ? ",[" : "[";
    for (size_t j = 0; j < r.cols; ++j) {
      if (j) out += ',';
      append_float(out, r.logits[p * r.cols + j]);
    }
    out += ']';
  }
  out += "]}\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
}
}  // namespace

void add_logits_command(CLI::App& app) {
  auto a = std::make_shared<LogitsArgs>();
  auto* cmd = app.add_subcommand("logits", "Print float32 next-token logits (last position, or all with --all)");
  cmd->add_option("--model,-m", a->model, "Model directory or Hub id (org/name[@revision])")->required();
  cmd->add_option("--ids", a->ids, "Prompt as comma-separated token ids");
  cmd->add_option("--text", a->text, "Prompt as text (needs the model's tokenizer.json)");
  cmd->add_flag("--all", a->all, "One row per position instead of the last only");
  cmd->add_option("--threads,-t", a->threads, "Worker threads (default: all cores)");
  cmd->callback([a] { run_logits(*a); });
}

}  // namespace cloze::cli
