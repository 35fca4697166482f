#pragma once
// One line on stderr redrawn in place with '\r', at most ~10 times a second,
// ended with a newline when done: the mechanics every progress display
// (classify/eval items, download bytes) shares. What the line says comes from
// the owner's render function.
#include <chrono>
#include <functional>
#include <ostream>
#include <string>

namespace cloze {

// Seconds as m:ss, or h:mm:ss from one hour on.
std::string format_duration(double seconds);

class StatusLine {
 public:
  // render(elapsed seconds) -> the line's text (no '\r', no newline).
  // `out` null means std::cerr. When `enabled` is false nothing is written.
  StatusLine(bool enabled, std::ostream* out, std::function<std::string(double)> render);
  // Finishes the line if finish() was not called, so the next output does
  // not land on top of it.
  ~StatusLine();
  StatusLine(const StatusLine&) = delete;
  StatusLine& operator=(const StatusLine&) = delete;

  // The state changed: redraws if ~100 ms have passed since the last draw.
  void changed();
  // Draws the final state and ends the line. Later calls do nothing.
  void finish();
  bool finished() const { return finished_; }

 private:
  void draw();
  using Clock = std::chrono::steady_clock;
  bool enabled_;
  std::ostream* out_;
  std::function<std::string(double)> render_;
  Clock::time_point start_, last_draw_;
  bool drawn_ = false, finished_ = false;
};

}  // namespace cloze
