#include "io/status_line.h"

#include <cmath>
#include <cstdio>
#include <iostream>

namespace cloze {

namespace {
constexpr auto kRedrawEvery = std::chrono::milliseconds(100);
}

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

StatusLine::StatusLine(bool enabled, std::ostream* out, std::function<std::string(double)> render)
    : enabled_(enabled),
      out_(out ? out : &std::cerr),
      render_(std::move(render)),
      start_(Clock::now()),
      last_draw_(start_) {}

StatusLine::~StatusLine() {
  try {
    finish();
  } catch (...) {  // a failed write to stderr is not worth a terminate()
  }
}

void StatusLine::changed() {
  if (!enabled_ || finished_) return;
  const auto now = Clock::now();
  if (drawn_ && now - last_draw_ < kRedrawEvery) return;
  last_draw_ = now;
  draw();
}

void StatusLine::finish() {
  if (finished_) return;
  finished_ = true;
  if (!enabled_) return;
  draw();
  *out_ << '\n';
  out_->flush();
}

void StatusLine::draw() {
  drawn_ = true;
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  // "\x1b[K" clears what a longer previous line left to the right.
  *out_ << '\r' << render_(elapsed) << "\x1b[K";
  out_->flush();
}

}  // namespace cloze
