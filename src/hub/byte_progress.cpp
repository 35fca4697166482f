// Download progress line; see byte_progress.h.
#include "hub/byte_progress.h"

#include <cmath>
#include <cstdio>
#include <iostream>

namespace cloze::hub {

namespace {

// Early rate estimates swing wildly; wait this long before showing one.
constexpr double kMinElapsedForRate = 0.5;

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
  s += " | " + format_duration(elapsed_s) + " elapsed";
  if (have_rate && total && *total > done) s += " | ETA " + format_duration(double(*total - done) / rate);
  return s;
}

ByteProgress::ByteProgress(std::string name, std::optional<uint64_t> total, uint64_t start, bool enabled,
                           std::ostream* out)
    : name_(std::move(name)),
      total_(total),
      start_bytes_(start),
      done_(start),
      line_(enabled, out, [this](double elapsed) {
        return format_byte_progress(name_, done_, total_, start_bytes_, elapsed);
      }) {}

void ByteProgress::update(uint64_t done) {
  done_ = done;
  line_.changed();
}

void ByteProgress::finish() { line_.finish(); }

}  // namespace cloze::hub
