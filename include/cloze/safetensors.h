#pragma once
// Memory-mapped safetensors checkpoints: one file, or shards listed by
// model.safetensors.index.json. Everything is validated when opened, so a
// TensorInfo handed out always points at bytes that exist and match its
// dtype and shape.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cloze {

// Every dtype the safetensors format defines; the model uses F32/F16/BF16.
enum class DType { BOOL, U8, I8, U16, I16, F16, BF16, U32, I32, F32, U64, I64, F64 };

std::string_view dtype_name(DType t);
size_t dtype_size(DType t);

struct TensorInfo {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const std::byte* data = nullptr;  // into the mapping; lives as long as the owner
  size_t nbytes = 0;
  std::string file;  // path of the file it came from, for error messages
  int64_t numel() const;
};

// One mapped .safetensors file.
class SafetensorsFile {
 public:
  // Throws cloze::Error naming the file (and tensor) on any malformed header.
  static std::unique_ptr<SafetensorsFile> open(const std::filesystem::path& path);
  // Parse from a buffer already in memory (the fuzzer and tests use this);
  // `what` names the source in error messages. The buffer must outlive the result.
  static std::unique_ptr<SafetensorsFile> parse(const std::byte* data, size_t size,
                                                std::string what);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& path() const { return path_; }

 private:
  SafetensorsFile() = default;
  std::string path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// All tensors of a model directory: model.safetensors, or the shards named by
// model.safetensors.index.json (each shard must exist, and every tensor must be
// in the shard the index names, exactly once).
class TensorStore {
 public:
  static TensorStore open_dir(const std::filesystem::path& model_dir);
  // nullptr when absent.
  const TensorInfo* find(const std::string& name) const;
  // Throws cloze::Error naming the tensor and the directory when absent.
  const TensorInfo& get(const std::string& name) const;
  const std::map<std::string, const TensorInfo*>& all() const { return index_; }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorInfo*> index_;
};

}  // namespace cloze
