#pragma once
// Where a command's results go (stdout or --output FILE), with every write
// checked. iostreams only set a bit when a write fails and lose errno; this
// stream writes with write(2) itself, keeps the first OS error, and flush()
// turns it into one line naming the file and the reason. A closed pipe
// (`cloze classify ... | head -3`) is not an error the user must read: it
// becomes BrokenPipe, which main() turns into a quiet exit 141, the status a
// shell shows for SIGPIPE.
#include <cstdint>
#include <memory>
#include <ostream>
#include <streambuf>
#include <string>

#include "cloze/error.h"

namespace cloze::cli {

// The reader of our stdout went away (EPIPE).
class BrokenPipe : public Error {
 public:
  BrokenPipe() : Error("broken pipe") {}
};

class OutputFile {
 public:
  // Standard output, named "stdout" in messages.
  static std::unique_ptr<OutputFile> standard_output();
  // Creates `path` (truncating) or, with `append`, opens it for appending
  // at `keep_bytes` (the file is cut there first: a partial last batch
  // from a killed run goes). Throws cloze::Error naming the path.
  static std::unique_ptr<OutputFile> open(const std::string& path, bool append = false, uint64_t keep_bytes = 0);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  std::ostream& stream() { return os_; }
  const std::string& name() const { return name_; }
  // Bytes in the file after everything written so far (appended files
  // count what was kept).
  uint64_t size() const;
  // Writes what is buffered; throws cloze::Error ("cannot write to 'out.csv':
  // No space left on device") or BrokenPipe on the first failed write.
  void flush();
  // flush() and, for a regular file, fdatasync: the rows are on disk before a
  // resume point that counts them is recorded.
  void sync();
  // flush() and close(2), checking both. Called by the destructor too, which
  // swallows the error: call it explicitly.
  void close();

 private:
  class Buf : public std::streambuf {
   public:
    Buf(int fd) : fd_(fd) { setp(buf_, buf_ + sizeof buf_); }
    int error() const { return error_; }
    uint64_t written = 0;  // bytes handed to write(2) successfully
    int fd_;

   protected:
    int_type overflow(int_type c) override;
    int sync() override;
    std::streamsize xsputn(const char* s, std::streamsize n) override;

   private:
    bool drain();
    char buf_[1 << 16];
    int error_ = 0;
  };

  OutputFile(int fd, std::string name, bool owns, uint64_t start);
  [[noreturn]] void fail() const;

  std::string name_;
  bool owns_;
  bool closed_ = false;
  uint64_t start_;
  std::unique_ptr<Buf> buf_;
  std::ostream os_;
};

// Flushes C and C++ standard output at the end of a command and throws (as
// OutputFile::flush does) when anything written to stdout was lost.
void check_stdout();

}  // namespace cloze::cli
