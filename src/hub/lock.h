#pragma once
// An exclusive advisory lock on a file (flock), the same lock file
// huggingface_hub takes (<cache>/.locks/models--org--name/<etag>.lock), so
// cloze processes, threads and Python never download one blob twice at once.
#include <filesystem>

namespace cloze::hub {

class FileLock {
 public:
  // Creates the file (and its folder) if needed and blocks until the lock is ours.
  explicit FileLock(const std::filesystem::path& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace cloze::hub
