#pragma once
// Private to the record readers: byte-at-a-time input with line counting and
// BOM skipping, the per-format factories, and the checks every format shares.
#include <istream>
#include <memory>
#include <string>

#include "cloze/records.h"

namespace cloze::records {

// Bytes from a stream, one at a time, so a reader consumes exactly what the
// current record needs (a pipe is never drained ahead of the consumer).
class Input {
 public:
  // `owned` is the stream when the reader opened the file itself (else null).
  // A UTF-8 byte order mark at the very start is skipped.
  Input(std::unique_ptr<std::istream> owned, std::istream& in, std::string name);

  // The next byte as 0..255, or -1 at the end of the input.
  int get();
  int peek();
  // One line without its '\n' (and a '\r' just before it). False only when
  // the input was already at its end.
  bool read_line(std::string& line);

  const std::string& name() const { return name_; }
  // 1-based line number of the next byte to be read.
  size_t line() const { return line_; }

 private:
  std::unique_ptr<std::istream> owned_;
  std::streambuf* buf_;
  std::string name_;
  // Bytes read while looking for a BOM that turned out not to be one.
  std::string pending_;
  size_t pending_at_ = 0;
  size_t line_ = 1;
};

// "<name>:<line>: " — the prefix of every per-row message.
std::string where(const std::string& name, size_t line);

// Sets r.error when the row is usable so far but its text is empty or its
// text, id or label is not valid UTF-8.
void check_record(Record& r, const std::string& name);

std::unique_ptr<RecordReader> make_text_reader(Input in);
std::unique_ptr<RecordReader> make_jsonl_reader(Input in, const RecordOptions& options);
std::unique_ptr<RecordReader> make_csv_reader(Input in, char delimiter,
                                              const RecordOptions& options);

}  // namespace cloze::records
