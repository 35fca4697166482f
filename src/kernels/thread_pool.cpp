#include "kernels/thread_pool.h"

#include <algorithm>

namespace cloze {
namespace {
thread_local bool t_inside_pool = false;
}

ThreadPool::ThreadPool(size_t n_threads) {
  if (n_threads == 0) n_threads = std::max(1u, std::thread::hardware_concurrency());
  n_threads_ = n_threads;
  // The calling thread is worker 0; spawn the rest.
  for (size_t i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_start_.notify_all();
  for (auto& t : threads_) t.join();
}

static void chunk_of(size_t n, size_t grain, size_t parts, size_t idx, size_t& b, size_t& e) {
  size_t units = (n + grain - 1) / grain;
  size_t per = units / parts, extra = units % parts;
  size_t ub = idx * per + std::min(idx, extra);
  size_t ue = ub + per + (idx < extra ? 1 : 0);
  b = std::min(n, ub * grain);
  e = std::min(n, ue * grain);
}

void ThreadPool::run(size_t n, const std::function<void(size_t, size_t, size_t)>& fn, size_t grain) {
  if (n == 0) return;
  if (grain == 0) grain = 1;
  if (n_threads_ == 1 || t_inside_pool || n <= grain) {
    fn(0, n, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = &fn;
    job_n_ = n;
    job_grain_ = grain;
    pending_ = n_threads_ - 1;
    ++generation_;
  }
  cv_start_.notify_all();
  size_t b, e;
  chunk_of(n, grain, n_threads_, 0, b, e);
  t_inside_pool = true;
  if (b < e) fn(b, e, 0);
  t_inside_pool = false;
  std::unique_lock<std::mutex> lock(mu_);
  cv_done_.wait(lock, [this] { return pending_ == 0; });
  job_ = nullptr;
}

void ThreadPool::worker(size_t index) {
  t_inside_pool = true;
  unsigned long seen = 0;
  for (;;) {
    const std::function<void(size_t, size_t, size_t)>* job;
    size_t n, grain;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_start_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      job = job_;
      n = job_n_;
      grain = job_grain_;
    }
    size_t b, e;
    chunk_of(n, grain, n_threads_, index, b, e);
    if (b < e) (*job)(b, e, index);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (--pending_ == 0) cv_done_.notify_one();
    }
  }
}

}  // namespace cloze
