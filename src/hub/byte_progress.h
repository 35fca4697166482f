#pragma once
// A one-line download progress display on stderr, one line per file:
//   "model.safetensors 512.0/988.1 MB 51.8% | 45.2 MB/s | 0:11 elapsed | ETA 0:10"
// The drawing is io/status_line's, as for cli/progress (which counts items).
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "io/status_line.h"

namespace cloze::hub {

// "988.1 MB", "12.0 kB", "512 B" (decimal units, like huggingface_hub's tqdm).
std::string format_bytes(double bytes);
// The text of the line (no '\r', no newline). Pure, for testing. `start`
// bytes were on disk already (a resumed file): the rate counts only new ones.
std::string format_byte_progress(std::string_view name, uint64_t done, std::optional<uint64_t> total,
                                 uint64_t start, double elapsed_s);

class ByteProgress {
 public:
  // `out` null means std::cerr. When `enabled` is false nothing is written.
  ByteProgress(std::string name, std::optional<uint64_t> total, uint64_t start, bool enabled,
               std::ostream* out = nullptr);
  ByteProgress(const ByteProgress&) = delete;
  ByteProgress& operator=(const ByteProgress&) = delete;

  // `done` bytes of the file so far; redraws at most ~10 times a second.
  void update(uint64_t done);
  void finish();

 private:
  std::string name_;
  std::optional<uint64_t> total_;
  uint64_t start_bytes_, done_;
  StatusLine line_;  // last: it renders from the members above
};

}  // namespace cloze::hub
