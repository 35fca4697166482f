#pragma once
// SIGINT / SIGTERM during a long classify or eval job: the handler only notes
// the signal; the job loop sees it after the batch in flight, writes and
// flushes that batch, records the resume point, and exits 130 / 143 with one
// line saying how many rows were kept and the command that resumes. A second
// signal ends the process at once (the usual "press Ctrl-C twice").
#include <string>

namespace cloze::cli {

// main() keeps argv so the resume command can be printed as typed.
void remember_command_line(int argc, char** argv);
// The command line as typed, shell-quoted, with `--resume` added if missing.
std::string resume_command();

// Installs the handlers (idempotent). Call once a job starts.
void install_job_signals();
// The signal received (SIGINT / SIGTERM), or 0.
int job_signal();

// Prints "cloze: SIGTERM: <what>" to stderr and ends the process with status
// 128 + signal, without unwinding (a reader thread may be blocked on stdin;
// everything the job wrote is already flushed and recorded).
[[noreturn]] void exit_on_signal(int sig, const std::string& what);

}  // namespace cloze::cli
