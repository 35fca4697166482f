#include <gtest/gtest.h>

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
