#pragma once
// A decoder-only transformer (Llama, Qwen2/3, Mistral, Gemma 2/3, Phi-3 families) loaded
// from a Hugging Face model directory, computing float32 logits as
// transformers does. Many sequences are run in one forward pass without
// padding; each may extend a KV cache that shares a common prefix.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "cloze/config.h"
#include "cloze/precision.h"

namespace cloze {

class Model;

// One layer's keys and values over consecutive positions: k, v are [n][kv_dim].
struct KVSpan {
  const float* k = nullptr;
  const float* v = nullptr;
  size_t n = 0;
};

// Keys and values of the tokens a sequence has seen, per layer. A cache may
// sit on a read-only parent (a shared prompt prefix): its positions come
// first, and many children can share one parent. A child may see only the
// first `parent_len` of the parent's tokens (where its own tokens diverge from
// the shared prefix), so one prefix cache serves prompts whose tokenization
// differs near the boundary.
//
// A forward pass extends a cache in three steps: reserve(n) room for n
// pending positions, append() each layer's K/V of them, commit(n) once all
// layers hold them. segments() lists what a new token attends over.
class KVCache {
 public:
  KVCache(size_t num_layers, size_t kv_dim);
  explicit KVCache(const Model& model);
  KVCache(const Model& model, std::shared_ptr<const KVCache> parent, std::optional<size_t> parent_len = std::nullopt);
  // A child of `parent` seeing its first parent_len (default: all) positions.
  static KVCache fork(std::shared_ptr<const KVCache> parent, std::optional<size_t> parent_len = std::nullopt);

  // Tokens visible to the next token: the parent's plus this cache's own.
  size_t size() const { return parent_len_ + n_; }
  size_t own_size() const { return n_; }
  size_t layers() const { return k_.size(); }
  size_t kv_dim() const { return kv_dim_; }
  const std::shared_ptr<const KVCache>& parent() const { return parent_; }

  // Room for n pending positions after the committed ones (drops earlier pending ones).
  void reserve(size_t n);
  // The pending positions' keys and values of `layer`: k, v are [n][kv_dim], n <= reserved.
  void append(size_t layer, const float* k, const float* v, size_t n);
  // The first n pending positions become part of the cache.
  void commit(size_t n);
  // What a token of this cache attends over in `layer`, root first: each
  // ancestor's visible part, then this cache's first `own` positions
  // (committed, then pending). Appends to `out`.
  void segments(size_t layer, size_t own, std::vector<KVSpan>& out) const;
  // Forget this cache's own tokens past `n` (the parent is untouched).
  void truncate(size_t n);

 private:
  size_t kv_dim_;
  size_t parent_len_ = 0;
  size_t n_ = 0;        // committed positions
  size_t reserved_ = 0; // pending positions with room
  std::shared_ptr<const KVCache> parent_;
  std::vector<std::vector<float>> k_, v_;  // per layer: [n_ + reserved_][kv_dim]
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
  size_t threads = 0;  // default thread count of run contexts on this model; 0: all hardware threads
  // Exact (default): float32-accurate matmuls. Bf16: activations rounded to
  // bf16 on the AMX kernel set (faster; see README "Precision"). Every
  // RunContext on this model runs its matmuls at this precision.
  Precision precision = Precision::Exact;
};

// The weights and config of a model: read-only once loaded, so any number of
// RunContexts (one per thread that runs it) share one Model.
class Model {
 public:
  // Reads config.json and the safetensors of `dir`; checks that every tensor
  // the config implies is present with the right shape and a float dtype.
  static std::unique_ptr<Model> load(const std::filesystem::path& dir, const LoadOptions& opt = {});
  ~Model();

  const ModelConfig& config() const { return config_; }
  const std::filesystem::path& dir() const { return dir_; }
  size_t threads() const { return threads_; }  // LoadOptions::threads, resolved
  Precision precision() const { return precision_; }  // LoadOptions::precision

  struct Weights;  // opaque: defined in src/model/weights.h
  const Weights& weights() const { return *w_; }

 private:
  Model() = default;
  std::filesystem::path dir_;
  ModelConfig config_;
  size_t threads_ = 1;
  Precision precision_ = Precision::Exact;
  std::unique_ptr<const Weights> w_;
};

// What one user of a Model needs to run it: a thread pool and the buffers a
// forward pass reuses. Not thread-safe; make one per concurrent user. Two
// contexts on one model give the same bits as one.
class RunContext {
 public:
  // threads == 0: the model's default (LoadOptions::threads).
  explicit RunContext(const Model& model, size_t threads = 0);
  ~RunContext();
  RunContext(const RunContext&) = delete;
  RunContext& operator=(const RunContext&) = delete;

  const Model& model() const { return model_; }
  size_t threads() const;
  Precision precision() const;  // the model's LoadOptions::precision

  // Runs all items' new tokens as one stacked batch, appends their K/V to
  // their caches, and returns one result per item. Results are bitwise
  // identical however items are batched and whatever the thread count.
  std::vector<ForwardResult> forward(std::span<const ForwardItem> items, const ForwardOptions& opt = {});

  struct State;  // opaque: defined in src/model/run_state.h

 private:
  const Model& model_;
  std::unique_ptr<State> s_;
};

// The n most likely vocabulary rows of one logits row, most likely first
// (ties to the lower id), as (id, log-probability) with lse the row's
// logsumexp (ForwardOptions::logsumexp).
std::vector<std::pair<int32_t, double>> top_logprobs(std::span<const float> logits, size_t n, float lse);

}  // namespace cloze
