// libFuzzer target for the safetensors header parser. Any input must either
// parse into tensors that lie inside the buffer or fail with cloze::Error;
// any other exception escaping, a crash, or a sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "cloze/error.h"
#include "cloze/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Copy into an exactly-sized heap block so ASan flags any read past the end
  // (libFuzzer's own buffer is already exact, but keep that independent).
  auto* buf = static_cast<std::byte*>(std::malloc(size ? size : 1));
  if (size) std::memcpy(buf, data, size);
  try {
    auto f = cloze::SafetensorsFile::parse(buf, size, "fuzz-input");
    // Touch every tensor's first and last byte: the parser promised they exist.
    for (const auto& [name, t] : f->tensors()) {
      if (t.nbytes == 0) continue;
      if (t.data < buf || t.data + t.nbytes > buf + size) std::abort();
      volatile std::byte first = t.data[0], last = t.data[t.nbytes - 1];
      (void)first;
      (void)last;
      if (size_t(t.numel()) * cloze::dtype_size(t.dtype) != t.nbytes) std::abort();
    }
  } catch (const cloze::Error&) {
    // Expected for malformed input.
  }
  std::free(buf);
  return 0;
}
