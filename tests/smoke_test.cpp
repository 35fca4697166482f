#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "kernels/thread_pool.h"

TEST(ThreadPool, CoversEveryIndexOnce) {
  for (size_t threads : {1, 2, 3}) {
    cloze::ThreadPool pool(threads);
    for (size_t n : {0, 1, 5, 64, 1000}) {
      std::vector<int> hits(n, 0);
      pool.run(n, [&](size_t b, size_t e, size_t) {
        for (size_t i = b; i < e; ++i) hits[i]++;
      }, 4);
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i], 1) << "n=" << n << " i=" << i;
    }
  }
}

// Back-to-back jobs (the workers still spinning) and jobs after a pause long
// enough for them to sleep: every index is covered once, nothing hangs.
TEST(ThreadPool, ManyJobsSpinningAndSleeping) {
  for (size_t threads : {2, 3}) {
    cloze::ThreadPool pool(threads);
    std::vector<std::atomic<int>> hits(64);
    size_t jobs = 0;
    for (int round = 0; round < 6; ++round) {
      for (int i = 0; i < 2000; ++i, ++jobs)
        pool.run(hits.size(), [&](size_t b, size_t e, size_t) {
          for (size_t j = b; j < e; ++j) hits[j].fetch_add(1, std::memory_order_relaxed);
        });
      std::this_thread::sleep_for(std::chrono::milliseconds(round % 2 ? 5 : 0));
    }
    for (size_t j = 0; j < hits.size(); ++j) ASSERT_EQ(hits[j].load(), int(jobs)) << "index " << j;
  }
}

// A pool destroyed right after a job, while its workers spin, and one
// destroyed after they have gone to sleep.
TEST(ThreadPool, DestroysWhileSpinningOrSleeping) {
  for (int sleep_ms : {0, 5}) {
    cloze::ThreadPool pool(3);
    int sum = 0;
    std::mutex mu;
    pool.run(3, [&](size_t b, size_t e, size_t) {
      std::lock_guard<std::mutex> lock(mu);
      sum += int(e - b);
    });
    EXPECT_EQ(sum, 3);
    std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
  }
}

// An exception from the caller's own chunk reaches the caller after the
// workers are done with the job, and the pool stays usable.
TEST(ThreadPool, CallerExceptionWaitsForWorkers) {
  cloze::ThreadPool pool(3);
  std::atomic<int> finished{0};
  EXPECT_THROW(pool.run(3, [&](size_t b, size_t, size_t) {
    if (b == 0) throw std::runtime_error("chunk 0 failed");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    finished.fetch_add(1);
  }), std::runtime_error);
  EXPECT_EQ(finished.load(), 2);
  int sum = 0;
  std::mutex mu;
  pool.run(6, [&](size_t b, size_t e, size_t) {
    std::lock_guard<std::mutex> lock(mu);
    sum += int(e - b);
  });
  EXPECT_EQ(sum, 6);
}
