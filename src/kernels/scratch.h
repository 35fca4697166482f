#pragma once
// Per-thread, 64-byte aligned scratch memory for the kernels (weight panels,
// partial sums, transposed keys). Grows on demand and is reused across
// calls, so the hot path does not allocate.
#include <cstddef>
#include <memory>
#include <new>

namespace cloze::kernels {

class Scratch {
 public:
  // At least n floats, 64-byte aligned; contents are unspecified.
  float* floats(size_t n) {
    if (n > cap_) {
      buf_.reset(new (std::align_val_t(64)) float[n]);
      cap_ = n;
    }
    return buf_.get();
  }

 private:
  struct Del {
    void operator()(float* p) const { ::operator delete[](p, std::align_val_t(64)); }
  };
  std::unique_ptr<float[], Del> buf_;
  size_t cap_ = 0;
};

}  // namespace cloze::kernels
