// The progress line's text (a pure function of counts and time) and the
// redraw behaviour of Progress on a string stream.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

// The CLI's sources are built into the executable, not into cloze_lib that
// the tests link, so the one file under test is compiled in here.
#include "cli/progress.h"

using cloze::cli::format_duration;
using cloze::cli::format_progress;

TEST(Progress, Durations) {
  EXPECT_EQ(format_duration(0), "0:00");
  EXPECT_EQ(format_duration(4.6), "0:05");
  EXPECT_EQ(format_duration(65), "1:05");
  EXPECT_EQ(format_duration(3599), "59:59");
  EXPECT_EQ(format_duration(3661), "1:01:01");
  EXPECT_EQ(format_duration(-3), "0:00");
}

TEST(Progress, LineWithKnownTotal) {
  // 120 of 872 in 10 s: 12/s, 752 left -> 62.7 s.
  EXPECT_EQ(format_progress("classify", 120, 872, 10.0),
            "classify 120/872 13.8% | 12.0/s | 0:10 elapsed | ETA 1:03");
  EXPECT_EQ(format_progress("classify", 872, 872, 20.0),
            "classify 872/872 100.0% | 43.6/s | 0:20 elapsed");
  EXPECT_EQ(format_progress("x", 0, 0, 0.0), "x 0/0 | 0:00 elapsed");
}

TEST(Progress, LineWithUnknownTotalOrTooEarly) {
  EXPECT_EQ(format_progress("eval", 50, std::nullopt, 2.0), "eval 50 | 25.0/s | 0:02 elapsed");
  // Too early for a rate: no rate and no ETA rather than a wild guess.
  EXPECT_EQ(format_progress("eval", 3, 100, 0.1), "eval 3/100 3.0% | 0:00 elapsed");
  EXPECT_EQ(format_progress("eval", 0, 100, 5.0), "eval 0/100 0.0% | 0:05 elapsed");
}

TEST(Progress, DisabledWritesNothing) {
  std::ostringstream out;
  {
    cloze::cli::Progress p("classify", 10, false, &out);
    for (size_t i = 0; i <= 10; ++i) p.update(i);
    p.finish();
  }
  EXPECT_EQ(out.str(), "");
}

TEST(Progress, RedrawsInPlaceAtMostTenTimesASecond) {
  std::ostringstream out;
  {
    cloze::cli::Progress p("classify", 100000, true, &out);
    for (size_t i = 1; i <= 100000; ++i) p.update(i);
    p.finish();
    p.finish();  // a second finish adds nothing
  }  // nor does the destructor after finish
  const std::string s = out.str();
  const auto draws = std::count(s.begin(), s.end(), '\r');
  EXPECT_GE(draws, 2);  // the first update and the finish at least
  EXPECT_LE(draws, 5);  // a tight loop is far shorter than 0.5 s
  EXPECT_EQ(s.front(), '\r');
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 1);
  EXPECT_EQ(s.back(), '\n');
  EXPECT_NE(s.find("classify 100000/100000 100.0%"), std::string::npos) << s;
  EXPECT_NE(s.find("\x1b[K"), std::string::npos);
}

TEST(Progress, DestructorEndsTheLine) {
  std::ostringstream out;
  {
    cloze::cli::Progress p("download", std::nullopt, true, &out);
    p.update(3);
  }
  EXPECT_EQ(out.str().back(), '\n');
  EXPECT_NE(out.str().find("download 3 |"), std::string::npos);
}
