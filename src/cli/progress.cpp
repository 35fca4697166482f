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
constexpr auto kRedrawEvery = std::chrono::milliseconds(100);

}  // namespace

bool progress_default() { return isatty(STDERR_FILENO) == 1; }

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds)) seconds = 0;
  const auto s = static_cast<unsigned long long>(seconds + 0.5);
  char buf[48];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%llu:%02llu:%02llu", s / 3600, s / 60 % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%llu:%02llu", s / 60, s % 60);
  return buf;
}

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
      enabled_(enabled),
      out_(out ? out : &std::cerr),
      start_(Clock::now()),
      last_draw_(start_) {}

Progress::~Progress() {
  // A destructor must not throw; a failed write to stderr is not worth it.
  try {
    finish();
  } catch (...) {
  }
}

void Progress::update(size_t done) {
  done_ = done;
  if (!enabled_ || finished_) return;
  const auto now = Clock::now();
  if (drawn_ && now - last_draw_ < kRedrawEvery) return;
  last_draw_ = now;
  draw();
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (!enabled_) return;
  draw();
  *out_ << '\n';
  out_->flush();
}

void Progress::draw() {
  drawn_ = true;
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  // "\x1b[K" clears what a longer previous line left to the right.
  *out_ << '\r' << format_progress(what_, done_, total_, elapsed) << "\x1b[K";
  out_->flush();
}

}  // namespace cloze::cli
