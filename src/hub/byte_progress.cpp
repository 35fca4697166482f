// Download progress line; see byte_progress.h.
#include "hub/byte_progress.h"

#include <cmath>
#include <cstdio>
#include <iostream>

namespace cloze::hub {

namespace {

// Early rate estimates swing wildly; wait this long before showing one.
constexpr double kMinElapsedForRate = 0.5;
constexpr auto kRedrawEvery = std::chrono::milliseconds(100);

std::string duration(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds)) seconds = 0;
  const auto s = static_cast<unsigned long long>(seconds + 0.5);
  char buf[48];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%llu:%02llu:%02llu", s / 3600, s / 60 % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%llu:%02llu", s / 60, s % 60);
  return buf;
}

}  // namespace

std::string format_bytes(double bytes) {
  static const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  int u = 0;
  while (bytes >= 1000 && u < 4) {
    bytes /= 1000;
    ++u;
  }
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%.0f B", bytes);
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", bytes, units[u]);
  return buf;
}

std::string format_byte_progress(std::string_view name, uint64_t done, std::optional<uint64_t> total,
                                 uint64_t start, double elapsed_s) {
  std::string s(name);
  s += ' ' + format_bytes(double(done));
  char buf[64];
  if (total) {
    s += '/' + format_bytes(double(*total));
    if (*total > 0) {
      std::snprintf(buf, sizeof buf, " %.1f%%", 100.0 * double(done) / double(*total));
      s += buf;
    }
  }
  const uint64_t fresh = done > start ? done - start : 0;
  const bool have_rate = elapsed_s >= kMinElapsedForRate && fresh > 0;
  const double rate = have_rate ? double(fresh) / elapsed_s : 0.0;
  if (have_rate) s += " | " + format_bytes(rate) + "/s";
  s += " | " + duration(elapsed_s) + " elapsed";
  if (have_rate && total && *total > done) s += " | ETA " + duration(double(*total - done) / rate);
  return s;
}

ByteProgress::ByteProgress(std::string name, std::optional<uint64_t> total, uint64_t start, bool enabled,
                           std::ostream* out)
    : name_(std::move(name)),
      total_(total),
      start_bytes_(start),
      done_(start),
      enabled_(enabled),
      out_(out ? out : &std::cerr),
      start_(Clock::now()),
      last_draw_(start_) {}

ByteProgress::~ByteProgress() {
  try {
    finish();
  } catch (...) {  // a failed write to stderr is not worth a terminate()
  }
}

void ByteProgress::update(uint64_t done) {
  done_ = done;
  if (!enabled_ || finished_) return;
  const auto now = Clock::now();
  if (drawn_ && now - last_draw_ < kRedrawEvery) return;
  last_draw_ = now;
  draw();
}

void ByteProgress::finish() {
  if (finished_) return;
  finished_ = true;
  if (!enabled_) return;
  draw();
  *out_ << '\n';
  out_->flush();
}

void ByteProgress::draw() {
  drawn_ = true;
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  // "\x1b[K" clears what a longer previous line left to the right.
  *out_ << '\r' << format_byte_progress(name_, done_, total_, start_bytes_, elapsed) << "\x1b[K";
  out_->flush();
}

}  // namespace cloze::hub
