#pragma once
// Stop strings over streamed text. Text arrives in pieces (one per token); a
// stop string may span pieces, so any tail that could be the start of a stop
// string is held back until the next piece settles it. Text before a stop
// string is released; the stop string and everything after it never are.
#include <string>
#include <string_view>
#include <vector>

namespace cloze::gen {

class StopStrings {
 public:
  // Empty strings are ignored (they would match everywhere); generate()
  // rejects them before getting here.
  explicit StopStrings(std::vector<std::string> stops);

  // Adds a piece; returns the text now safe to emit. After a stop string is
  // found, stopped() is true and later pieces are ignored.
  std::string push(std::string_view piece);
  // The held tail, released because no more text is coming.
  std::string flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace cloze::gen
