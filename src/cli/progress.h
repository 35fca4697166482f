#pragma once
// A one-line progress display on stderr for long runs (classify, eval,
// download): count, total and percent when known, rate, elapsed time, ETA.
// It redraws in place with '\r' at most ~10 times a second, so it costs
// nothing measurable even when update() is called for every item.
#include <chrono>
#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace cloze::cli {

// Whether to show progress when no --progress / --no-progress flag is given:
// only when stderr is a terminal, so logs and pipes stay clean.
bool progress_default();

// The text of the line (no '\r', no newline). Pure, for testing:
//   "classify 120/872 13.8% | 45.2/s | 0:02 elapsed | ETA 0:16"
//   "classify 120 | 45.2/s | 0:02 elapsed"             (total unknown)
// The rate and ETA are left out until some time has passed and some items
// are done, since early estimates are noise.
std::string format_progress(std::string_view what, size_t done, std::optional<size_t> total,
                            double elapsed_s);
// Seconds as m:ss, or h:mm:ss from one hour on.
std::string format_duration(double seconds);

class Progress {
 public:
  // `out` null means std::cerr. When `enabled` is false nothing is written.
  Progress(std::string what, std::optional<size_t> total, bool enabled,
           std::ostream* out = nullptr);
  // Finishes the line if finish() was not called, so the next output does
  // not land on top of the progress line.
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // `done` items so far; redraws only if ~100 ms have passed since the last draw.
  void update(size_t done);
  // Draws the final state and ends the line. Later calls do nothing.
  void finish();

 private:
  void draw();

  using Clock = std::chrono::steady_clock;
  std::string what_;
  std::optional<size_t> total_;
  bool enabled_;
  std::ostream* out_;
  Clock::time_point start_, last_draw_;
  size_t done_ = 0;
  bool drawn_ = false, finished_ = false;
};

}  // namespace cloze::cli
