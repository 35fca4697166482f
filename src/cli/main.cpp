// `cloze`: zero-shot text classification with causal language models.
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "cli/error_words.h"
#include "cli/job_signals.h"
#include "cli/output_file.h"
#include "cloze/error.h"

int main(int argc, char** argv) {
  CLI::App app{"cloze: fast, exact zero-shot text classification with causal language models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "cloze 0.1.0");
  cloze::cli::add_classify_command(app);
  cloze::cli::add_eval_command(app);
  cloze::cli::add_logits_command(app);
  cloze::cli::add_tokenize_command(app);
  cloze::cli::add_bench_command(app);
  cloze::cli::add_generate_command(app);
  cloze::cli::add_download_command(app);
  cloze::cli::add_serve_command(app);
  cloze::cli::add_chat_template_command(app);
  cloze::cli::remember_command_line(argc, argv);
  try {
    app.parse(argc, argv);
    // Whatever the command printed must have reached stdout: `> /dev/full`
    // or a full disk is an error, not a silent exit 0.
    cloze::cli::check_stdout();
  } catch (const cloze::cli::BrokenPipe&) {
    // The reader closed the pipe (`| head -3`): stop quietly with the status
    // a shell shows for SIGPIPE, as if the default action had run.
    return 128 + 13;
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const cloze::Error& e) {
    std::fprintf(stderr, "cloze: error: %s\n", cloze::cli::error_line(e).c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cloze: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
