#pragma once
// A fixed pool of worker threads for the kernels. run() splits [0, n) into
// contiguous chunks, one per thread, and blocks until all are done. Work is
// always split over *independent outputs* (rows, heads), never inside one
// dot product, so results are bitwise identical whatever the thread count.
//
// A forward pass calls run() about a hundred times, often on work of tens of
// microseconds (a 16-token prompt), so handing out a job must cost far less
// than a futex wake-up: between jobs the workers spin on an atomic counter for
// a while before they sleep, and the caller spins the same way while it
// waits for them (spinning yields the core now and then, and is off when
// there are more threads than cores). Sleeping uses a mutex and condition
// variables, entered only by a thread that has spun out.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "cloze/precision.h"

namespace cloze {

class ThreadPool {
 public:
  // n_threads == 0: one per hardware thread.
  explicit ThreadPool(size_t n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t size() const { return n_threads_; }

  // The pool is the kernels' per-run context: the matmuls it runs read
  // their activation precision here (a RunContext sets its model's
  // LoadOptions::precision when it makes the pool).
  Precision precision() const { return precision_; }
  void set_precision(Precision p) { precision_ = p; }

  // fn(begin, end, thread_index) over contiguous chunks of [0, n). Chunks are
  // multiples of `grain` (except the last). Calls from inside fn run inline.
  // One caller at a time (the pool belongs to one RunContext, used by one thread).
  void run(size_t n, const std::function<void(size_t, size_t, size_t)>& fn, size_t grain = 1);

 private:
  void worker(size_t index);
  void wake_workers();
  void wait_done();

  size_t n_threads_;
  Precision precision_ = Precision::Exact;
  std::chrono::microseconds spin_;  // how long to spin before sleeping
  std::vector<std::thread> threads_;
  // The job, written by run() before it bumps generation_ (release) and read
  // by the workers after they see the new generation (acquire).
  const std::function<void(size_t, size_t, size_t)>* job_ = nullptr;
  size_t job_n_ = 0, job_grain_ = 1;
  bool stop_ = false;
  std::atomic<uint32_t> generation_{0};
  std::atomic<uint32_t> pending_{0};  // workers still running the current job
  // Sleepers announce themselves (seq_cst, against the seq_cst counter
  // updates) so that a wake-up is only signalled to threads that need one.
  std::atomic<uint32_t> sleeping_workers_{0};
  std::atomic<bool> caller_sleeping_{false};
  std::mutex mu_;
  std::condition_variable cv_start_, cv_done_;
};

}  // namespace cloze
