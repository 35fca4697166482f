// Each file is written by worker threads that each take one chunk (tensor,
// chunk index) at a time, fill a private buffer and pwrite() it at its final
// offset. Nothing holds more than one chunk per thread, so a 1 GB checkpoint
// needs a few MB of memory, and disk-full errors surface as write errors
// (a writable mmap would turn them into SIGBUS).
#include "checkpoint_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>

namespace cloze::tools {

namespace fs = std::filesystem;

namespace {

struct Placed {
  const TensorSpec* t;
  uint64_t offset;  // absolute, in the file
  uint64_t nbytes;
};

std::string shape_json(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) r += ',';
    r += std::to_string(s[i]);
  }
  return r + "]";
}

// The header in the key order transformers' safetensors writes, padded with
// spaces so the data area starts 8-byte aligned.
std::string make_header(const std::vector<const TensorSpec*>& ts, OutDType dtype) {
  std::string h = R"({"__metadata__":{"format":"pt"})";
  uint64_t at = 0;
  for (const TensorSpec* t : ts) {
    const uint64_t n = t->numel() * out_dtype_size(dtype);
    h.append(",\"").append(t->name).append(R"(":{"dtype":")").append(out_dtype_safetensors_name(dtype));
    h.append(R"(","shape":)").append(shape_json(t->shape)).append(R"(,"data_offsets":[)");
    h.append(std::to_string(at)).append(",").append(std::to_string(at + n)).append("]}");
    at += n;
  }
  h += "}";
  h.append((8 - h.size() % 8) % 8, ' ');
  return h;
}

void pwrite_all(int fd, const void* buf, size_t n, uint64_t off, const fs::path& path) {
  const char* p = static_cast<const char*>(buf);
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, p, n, off_t(off));
    if (w < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(path.string() + ": write failed: " + std::strerror(errno));
    }
    p += w;
    n -= size_t(w);
    off += uint64_t(w);
  }
}

uint64_t write_file(const fs::path& path, const std::vector<const TensorSpec*>& ts, const WriteOptions& opt) {
  const std::string header = make_header(ts, opt.dtype);
  const size_t es = out_dtype_size(opt.dtype);
  std::vector<Placed> placed;
  struct Job {
    size_t tensor;
    uint64_t chunk;
  };
  std::vector<Job> jobs;
  uint64_t at = 8 + header.size();
  for (const TensorSpec* t : ts) {
    placed.push_back({t, at, t->numel() * es});
    const uint64_t chunks = (t->numel() + kChunkElems - 1) / kChunkElems;
    for (uint64_t c = 0; c < chunks; ++c) jobs.push_back({placed.size() - 1, c});
    at += t->numel() * es;
  }

  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(path.string() + ": cannot create: " + std::strerror(errno));
  try {
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = uint8_t(uint64_t(header.size()) >> (8 * i));
    pwrite_all(fd, len, 8, 0, path);
    pwrite_all(fd, header.data(), header.size(), 8, path);

    std::atomic<size_t> next{0};
    std::mutex err_mu;
    std::string err;
    auto worker = [&] {
      std::vector<std::byte> buf(kChunkElems * es);
      for (size_t j; (j = next++) < jobs.size();) {
        const Placed& p = placed[jobs[j].tensor];
        const uint64_t first = jobs[j].chunk * kChunkElems;
        const uint64_t n = std::min(kChunkElems, p.t->numel() - first);
        fill_chunk(*p.t, opt.seed, jobs[j].chunk, opt.dtype, buf.data());
        try {
          pwrite_all(fd, buf.data(), n * es, p.offset + first * es, path);
        } catch (const std::exception& e) {
          std::lock_guard lock(err_mu);
          if (err.empty()) err = e.what();
          next = jobs.size();  // stop the others early
        }
      }
    };
    unsigned nt = opt.threads ? opt.threads : std::max(1u, std::thread::hardware_concurrency());
    nt = unsigned(std::min<size_t>(nt, std::max<size_t>(jobs.size(), 1)));
    std::vector<std::thread> pool;
    for (unsigned i = 1; i < nt; ++i) pool.emplace_back(worker);
    worker();
    for (auto& t : pool) t.join();
    if (!err.empty()) throw std::runtime_error(err);
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0) throw std::runtime_error(path.string() + ": close failed: " + std::strerror(errno));
  return at;
}

std::string shard_name(int k, int n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05d-of-%05d.safetensors", k, n);
  return buf;
}

}  // namespace

uint64_t write_checkpoint(const fs::path& dir, const std::vector<TensorSpec>& tensors, const WriteOptions& opt) {
  if (opt.shards <= 1) {
    std::vector<const TensorSpec*> all;
    for (const auto& t : tensors) all.push_back(&t);
    return write_file(dir / "model.safetensors", all, opt);
  }
  if (size_t(opt.shards) > tensors.size())
    throw std::runtime_error("--shards " + std::to_string(opt.shards) + " is more than the " +
                             std::to_string(tensors.size()) + " tensors to distribute");
  // Contiguous runs in name order, each closing once the running total passes
  // its share, as transformers splits by size; every shard gets >= 1 tensor.
  const size_t es = out_dtype_size(opt.dtype);
  uint64_t total = 0;
  for (const auto& t : tensors) total += t.numel() * es;
  std::vector<std::vector<const TensorSpec*>> groups(size_t(opt.shards));
  uint64_t running = 0;
  size_t g = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const size_t left_tensors = tensors.size() - i, left_groups = groups.size() - g;
    if (!groups[g].empty() && (left_tensors < left_groups ||
                               (g + 1 < groups.size() && running >= total / groups.size() * (g + 1))))
      ++g;
    groups[g].push_back(&tensors[i]);
    running += tensors[i].numel() * es;
  }
  nlohmann::ordered_json index;
  index["metadata"] = {{"total_size", total}};
  nlohmann::ordered_json weight_map = nlohmann::ordered_json::object();
  uint64_t written = 0;
  for (size_t k = 0; k < groups.size(); ++k) {
    const std::string name = shard_name(int(k + 1), opt.shards);
    written += write_file(dir / name, groups[k], opt);
    for (const TensorSpec* t : groups[k]) weight_map[t->name] = name;
  }
  index["weight_map"] = weight_map;
  const fs::path ip = dir / "model.safetensors.index.json";
  std::ofstream out(ip);
  out << index.dump(2) << "\n";
  if (!out) throw std::runtime_error(ip.string() + ": write failed");
  return written;
}

}  // namespace cloze::tools
