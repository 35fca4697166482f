#pragma once
// A decoder-only transformer (Qwen2 / Llama / Qwen3 / Mistral family) loaded
// from a Hugging Face model directory, computing float32 logits as
// transformers does. Many sequences are run in one forward pass without
// padding; each may extend a KV cache that shares a common prefix.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "cloze/config.h"
#include "cloze/precision.h"

namespace cloze {

class Model;

// Keys and values of the tokens a sequence has seen, per layer. A cache may
// sit on a read-only parent (a shared prompt prefix): its positions come
// first, and many children can share one parent. A child may see only the
// first `parent_len` of the parent's tokens (where its own tokens diverge from
// the shared prefix), so one prefix cache serves prompts whose tokenization
// differs near the boundary.
class KVCache {
 public:
  explicit KVCache(const Model& model, std::shared_ptr<const KVCache> parent = nullptr,
                   std::optional<size_t> parent_len = std::nullopt);
  // Tokens visible to the next token: the parent's plus this cache's own.
  size_t size() const { return parent_len_ + n_; }
  size_t own_size() const { return n_; }
  const std::shared_ptr<const KVCache>& parent() const { return parent_; }
  // Forget this cache's own tokens past `n` (the parent is untouched).
  void truncate(size_t n);

 private:
  friend class Model;
  size_t kv_dim_;
  size_t parent_len_;
  size_t n_ = 0;
  std::shared_ptr<const KVCache> parent_;
  std::vector<std::vector<float>> k_, v_;  // per layer: [n_][kv_dim]
};

// Which positions of a forward item produce output rows.
enum class Outputs { None, Last, All };

struct ForwardItem {
  KVCache* cache = nullptr;        // extended by `ids`
  std::span<const int32_t> ids;    // the new tokens
  Outputs outputs = Outputs::Last;
  // false: the new tokens' keys and values are used within this pass and then
  // dropped, and the cache is left as it was. A classification prompt whose
  // answer is one token needs nothing after its pass; keeping its K/V would
  // cost 24 KB per token for Qwen2-0.5B (100 MB for a 4096-token batch).
  bool keep_kv = true;
};

// Output of one forward item: logits[p * cols + j] for output position p and
// vocabulary row j (all vocab_size rows, or the rows asked for, in that order).
// lse[p] = logsumexp over the *full* vocabulary at p, when asked for: with it
// the log-probability of any requested row is logits - lse, without ever
// materializing the full row.
struct ForwardResult {
  size_t positions = 0;
  size_t cols = 0;
  std::vector<float> logits;
  std::vector<float> lse;
};

struct ForwardOptions {
  // Vocabulary rows to compute; empty means all of them.
  std::span<const int32_t> rows;
  bool logsumexp = false;
};

struct LoadOptions {
  size_t threads = 0;  // 0: all hardware threads
  // Exact (default): float32-accurate matmuls. Bf16: activations rounded to
  // bf16 on the AMX kernel set (faster; see README "Precision").
  Precision precision = Precision::Exact;
};

class Model {
 public:
  // Reads config.json and the safetensors of `dir`; checks that every tensor
  // the config implies is present with the right shape and a float dtype.
  static std::unique_ptr<Model> load(const std::filesystem::path& dir, const LoadOptions& opt = {});
  ~Model();

  const ModelConfig& config() const { return config_; }
  const std::filesystem::path& dir() const { return dir_; }
  size_t threads() const;
  Precision precision() const;

  // Runs all items' new tokens as one stacked batch, appends their K/V to
  // their caches, and returns one result per item. Results are bitwise
  // identical however items are batched and whatever the thread count.
  std::vector<ForwardResult> forward(std::span<const ForwardItem> items, const ForwardOptions& opt = {});

  struct Weights;  // opaque: defined in src/model/weights.h

 private:
  Model() = default;
  std::filesystem::path dir_;
  ModelConfig config_;
  std::unique_ptr<Weights> w_;
  friend class KVCache;
};

}  // namespace cloze
