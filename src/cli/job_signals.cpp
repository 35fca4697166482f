#include "cli/job_signals.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cctype>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace cloze::cli {

namespace {

std::vector<std::string> g_argv;
volatile sig_atomic_t g_signal = 0;

extern "C" void on_job_signal(int sig) {
  if (g_signal) _exit(128 + sig);  // second signal: stop now
  g_signal = sig;
}

std::string shell_quote(const std::string& s) {
  bool plain = !s.empty();
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || std::string_view("-_./=:,@+%").find(c) != std::string_view::npos))
      plain = false;
  if (plain) return s;
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') q.append("'\\''");
    else q.push_back(c);
  }
  return q + "'";
}

}  // namespace

void remember_command_line(int argc, char** argv) { g_argv.assign(argv, argv + argc); }

std::string resume_command() {
  std::string cmd;
  bool has_resume = false;
  for (size_t i = 0; i < g_argv.size(); ++i) {
    if (g_argv[i] == "--resume") has_resume = true;
    if (i) cmd += ' ';
    cmd += shell_quote(g_argv[i]);
  }
  if (!has_resume) cmd += " --resume";
  return cmd;
}

void install_job_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_job_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // reads and writes carry on; the loop polls
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int job_signal() { return g_signal; }

void exit_on_signal(int sig, const std::string& what) {
  std::fprintf(stderr, "cloze: %s: %s\n", sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "signal", what.c_str());
  std::fflush(stderr);
  std::_Exit(128 + sig);
}

}  // namespace cloze::cli
