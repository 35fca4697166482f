#include "cli/commands.h"
namespace cloze::cli {
void add_logits_command(CLI::App& app) { app.add_subcommand("logits", "next-token logits (not yet)"); }
}
