#include "kernels/thread_pool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace cloze {
namespace {

thread_local bool t_inside_pool = false;

// How long a thread spins before it sleeps: longer than the serial steps
// between two jobs of a forward pass (norms, residual adds: microseconds),
// short enough that an idle pool stops burning a core almost at once. (A
// futex wake-up costs ~50 us per job on the KVM machines we measure on, a
// spinning hand-off ~2 us.)
constexpr auto kSpin = std::chrono::microseconds(300);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// Spins until done() or kSpin has passed; true if done().
template <class Done>
bool spin_until(Done done, std::chrono::microseconds spin) {
  if (spin.count() == 0) return done();
  const auto deadline = std::chrono::steady_clock::now() + spin;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() >= deadline) return done();
    // Let a thread that shares this core (more threads than cores, or
    // another process) run: it may be the one we are waiting for.
    std::this_thread::yield();
  }
}

void chunk_of(size_t n, size_t grain, size_t parts, size_t idx, size_t& b, size_t& e) {
  size_t units = (n + grain - 1) / grain;
  size_t per = units / parts, extra = units % parts;
  size_t ub = idx * per + std::min(idx, extra);
  size_t ue = ub + per + (idx < extra ? 1 : 0);
  b = std::min(n, ub * grain);
  e = std::min(n, ue * grain);
}

}  // namespace

ThreadPool::ThreadPool(size_t n_threads) {
  if (n_threads == 0) n_threads = std::max(1u, std::thread::hardware_concurrency());
  n_threads_ = n_threads;
  // With more threads than cores a spinning thread would take the core from
  // the one it waits for: measured 600 us per job instead of 2. Sleep at once.
  spin_ = n_threads_ <= std::max(1u, std::thread::hardware_concurrency()) ? kSpin
                                                                           : std::chrono::microseconds(0);
  // The calling thread is worker 0; spawn the rest.
  for (size_t i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  stop_ = true;
  generation_.fetch_add(1);
  {
    std::lock_guard<std::mutex> lock(mu_);
  }
  cv_start_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::wake_workers() {
  // A worker that read sleeping_workers_ == 0 before our generation bump
  // could still be on its way to sleep: it re-checks generation_ under the
  // mutex after announcing itself, and seq_cst orders the two.
  if (sleeping_workers_.load() == 0) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
  }
  cv_start_.notify_all();
}

void ThreadPool::wait_done() {
  auto done = [this] { return pending_.load() == 0; };
  if (spin_until(done, spin_)) return;
  std::unique_lock<std::mutex> lock(mu_);
  caller_sleeping_.store(true);
  cv_done_.wait(lock, done);
  caller_sleeping_.store(false);
}

void ThreadPool::run(size_t n, const std::function<void(size_t, size_t, size_t)>& fn, size_t grain) {
  if (n == 0) return;
  if (grain == 0) grain = 1;
  if (n_threads_ == 1 || t_inside_pool || n <= grain) {
    fn(0, n, 0);
    return;
  }
  job_ = &fn;
  job_n_ = n;
  job_grain_ = grain;
  pending_.store(uint32_t(n_threads_ - 1));
  generation_.fetch_add(1);  // publishes the job
  wake_workers();
  size_t b, e;
  chunk_of(n, grain, n_threads_, 0, b, e);
  t_inside_pool = true;
  try {
    if (b < e) fn(b, e, 0);
  } catch (...) {
    // The workers still hold fn: let them finish before it goes away.
    t_inside_pool = false;
    wait_done();
    job_ = nullptr;
    throw;
  }
  t_inside_pool = false;
  wait_done();
  job_ = nullptr;
}

void ThreadPool::worker(size_t index) {
  t_inside_pool = true;
  uint32_t seen = 0;
  for (;;) {
    auto fresh = [&] { return generation_.load() != seen; };
    if (!spin_until(fresh, spin_)) {
      std::unique_lock<std::mutex> lock(mu_);
      sleeping_workers_.fetch_add(1);
      cv_start_.wait(lock, fresh);
      sleeping_workers_.fetch_sub(1);
    }
    seen = generation_.load();
    if (stop_) return;
    size_t b, e;
    chunk_of(job_n_, job_grain_, n_threads_, index, b, e);
    if (b < e) (*job_)(b, e, index);
    if (pending_.fetch_sub(1) == 1 && caller_sleeping_.load()) {
      std::lock_guard<std::mutex> lock(mu_);
      cv_done_.notify_one();
    }
  }
}

}  // namespace cloze
