// flock(2) locks belong to the open file description, so two threads of one
// process that each open the file exclude each other just like two processes.
#include "hub/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cloze/error.h"

namespace cloze::hub {

FileLock::FileLock(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) throw Error("cannot create the lock folder " + path.parent_path().string() + ": " + ec.message());
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd_ < 0) throw Error("cannot open the lock file " + path.string() + ": " + std::strerror(errno));
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    const int err = errno;
    ::close(fd_);
    throw Error("cannot lock " + path.string() + ": " + std::strerror(err));
  }
}

FileLock::~FileLock() {
  // Closing the descriptor releases the lock. The file stays, as with
  // huggingface_hub's filelock: removing it would race with a waiter.
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace cloze::hub
