#pragma once
// A fixed pool of worker threads for the kernels. run() splits [0, n) into
// contiguous chunks, one per thread, and blocks until all are done. Work is
// always split over *independent outputs* (rows, heads), never inside one
// dot product, so results are bitwise identical whatever the thread count.
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace cloze {

class ThreadPool {
 public:
  // n_threads == 0: one per hardware thread.
  explicit ThreadPool(size_t n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t size() const { return n_threads_; }

  // fn(begin, end, thread_index) over contiguous chunks of [0, n). Chunks are
  // multiples of `grain` (except the last). Calls from inside fn run inline.
  void run(size_t n, const std::function<void(size_t, size_t, size_t)>& fn, size_t grain = 1);

 private:
  void worker(size_t index);
  size_t n_threads_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_start_, cv_done_;
  const std::function<void(size_t, size_t, size_t)>* job_ = nullptr;
  size_t job_n_ = 0, job_grain_ = 1, pending_ = 0;
  unsigned long generation_ = 0;
  bool stop_ = false;
};

}  // namespace cloze
