// Progress line on stderr; see progress.h.
#include "cli/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>

namespace cloze::cli {

namespace {

// Below these, the rate and ETA swing wildly from one redraw to the next.
constexpr double kMinElapsedForRate = 0.5;

}  // namespace

bool progress_default() { return isatty(STDERR_FILENO) == 1; }

std::string format_progress(std::string_view what, size_t done, std::optional<size_t> total,
                            double elapsed_s) {
  char buf[64];
  std::string s(what);
  s += ' ' + std::to_string(done);
  if (total) {
    s += '/' + std::to_string(*total);
    if (*total > 0) {
      std::snprintf(buf, sizeof buf, " %.1f%%", 100.0 * double(done) / double(*total));
      s += buf;
    }
  }
  const bool have_rate = elapsed_s >= kMinElapsedForRate && done > 0;
  const double rate = have_rate ? double(done) / elapsed_s : 0.0;
  if (have_rate) {
    std::snprintf(buf, sizeof buf, " | %.1f/s", rate);
    s += buf;
  }
  s += " | " + format_duration(elapsed_s) + " elapsed";
  if (have_rate && total && *total > done)
    s += " | ETA " + format_duration(double(*total - done) / rate);
  return s;
}

Progress::Progress(std::string what, std::optional<size_t> total, bool enabled,
                   std::ostream* out)
    : what_(std::move(what)),
      total_(total),
      line_(enabled, out, [this](double elapsed) { return format_progress(what_, done_, total_, elapsed); }) {}

void Progress::update(size_t done) {
  done_ = done;
  line_.changed();
}

void Progress::finish() { line_.finish(); }

}  // namespace cloze::cli
