#pragma once
// A one-line progress display on stderr for long runs (classify, eval,
// download): count, total and percent when known, rate, elapsed time, ETA.
// It redraws in place with '\r' at most ~10 times a second, so it costs
// nothing measurable even when update() is called for every item.
#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "io/status_line.h"

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
using cloze::format_duration;  // m:ss, or h:mm:ss from one hour on

class Progress {
 public:
  // `out` null means std::cerr. When `enabled` is false nothing is written.
  Progress(std::string what, std::optional<size_t> total, bool enabled,
           std::ostream* out = nullptr);
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // `done` items so far; redraws only if ~100 ms have passed since the last draw.
  void update(size_t done);
  // Draws the final state and ends the line. Later calls do nothing.
  void finish();

 private:
  std::string what_;
  std::optional<size_t> total_;
  size_t done_ = 0;
  StatusLine line_;  // last: it renders from the members above
};

}  // namespace cloze::cli
