#include "cli/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>

namespace cloze::cli {

namespace {

[[noreturn]] void throw_write_error(const std::string& name, int err) {
  if (err == EPIPE) throw BrokenPipe();
  throw Error("cannot write to " + (name == "stdout" ? name : "'" + name + "'") + ": " + std::strerror(err));
}

}  // namespace

bool OutputFile::Buf::drain() {
  const char* p = pbase();
  size_t n = size_t(pptr() - pbase());
  while (n > 0 && !error_) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      error_ = errno;
      break;
    }
    p += w;
    n -= size_t(w);
    written += uint64_t(w);
  }
  // After an error the bytes are dropped (the job stops at the next flush);
  // keeping them would only grow the buffer.
  setp(buf_, buf_ + sizeof buf_);
  return !error_;
}

OutputFile::Buf::int_type OutputFile::Buf::overflow(int_type c) {
  if (!drain()) return traits_type::eof();
  if (!traits_type::eq_int_type(c, traits_type::eof())) {
    *pptr() = traits_type::to_char_type(c);
    pbump(1);
  }
  return traits_type::not_eof(c);
}

std::streamsize OutputFile::Buf::xsputn(const char* s, std::streamsize n) {
  std::streamsize done = 0;
  while (done < n) {
    if (pptr() == epptr() && !drain()) return done;
    const std::streamsize room = epptr() - pptr();
    const std::streamsize k = std::min(room, n - done);
    std::memcpy(pptr(), s + done, size_t(k));
    pbump(int(k));
    done += k;
  }
  return done;
}

int OutputFile::Buf::sync() { return drain() ? 0 : -1; }

OutputFile::OutputFile(int fd, std::string name, bool owns, uint64_t start)
    : name_(std::move(name)), owns_(owns), start_(start), buf_(std::make_unique<Buf>(fd)), os_(buf_.get()) {}

std::unique_ptr<OutputFile> OutputFile::standard_output() {
  std::cout.flush();  // anything already printed goes first
  std::fflush(stdout);
  return std::unique_ptr<OutputFile>(new OutputFile(STDOUT_FILENO, "stdout", false, 0));
}

std::unique_ptr<OutputFile> OutputFile::open(const std::string& path, bool append, uint64_t keep_bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (append ? 0 : O_TRUNC), 0666);
  if (fd < 0) throw Error("cannot create '" + path + "': " + std::strerror(errno));
  if (append) {
    struct stat st {};
    if (::fstat(fd, &st) != 0 || uint64_t(st.st_size) < keep_bytes) {
      ::close(fd);
      throw Error("--resume: '" + path + "' is shorter than the " + std::to_string(keep_bytes) +
                  " bytes its job file says were written (was it edited?); remove both to start over");
    }
    if (::ftruncate(fd, off_t(keep_bytes)) != 0 || ::lseek(fd, off_t(keep_bytes), SEEK_SET) < 0) {
      const int err = errno;
      ::close(fd);
      throw Error("--resume: cannot cut '" + path + "' back to its last whole batch: " + std::strerror(err));
    }
  }
  return std::unique_ptr<OutputFile>(new OutputFile(fd, path, true, append ? keep_bytes : 0));
}

OutputFile::~OutputFile() {
  try {
    close();
  } catch (...) {
  }
}

uint64_t OutputFile::size() const { return start_ + buf_->written; }

void OutputFile::fail() const { throw_write_error(name_, buf_->error()); }

void OutputFile::flush() {
  os_.flush();
  if (buf_->error() || !os_) fail();
}

void OutputFile::sync() {
  flush();
  if (owns_ && ::fdatasync(buf_->fd_) != 0 && errno != EINVAL && errno != EROFS)
    throw_write_error(name_, errno);
}

void OutputFile::close() {
  if (closed_) return;
  closed_ = true;
  flush();
  if (owns_ && ::close(buf_->fd_) != 0) throw_write_error(name_, errno);
}

void check_stdout() {
  std::cout.flush();
  const bool cxx_bad = !std::cout;
  errno = 0;
  const int flushed = std::fflush(stdout);
  if (flushed == 0 && !cxx_bad && !std::ferror(stdout)) return;
  // stdio keeps no error code of its own and errno may be long gone: the
  // output is lost either way, so write one byte to learn the reason.
  int err = flushed != 0 ? errno : 0;
  if (!err && ::write(STDOUT_FILENO, "\n", 1) < 0) err = errno;
  if (!err) err = EIO;
  throw_write_error("stdout", err);
}

}  // namespace cloze::cli
