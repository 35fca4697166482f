#include "cloze/model.h"
#include "model/weights.h"

namespace cloze {

KVCache::KVCache(const Model& model, std::shared_ptr<const KVCache> parent)
    : kv_dim_(model.config().kv_dim()),
      parent_len_(parent ? parent->size() : 0),
      parent_(std::move(parent)),
      k_(model.config().num_layers),
      v_(model.config().num_layers) {}

void KVCache::truncate(size_t n) {
  if (n >= n_) return;
  n_ = n;
  for (auto& k : k_) k.resize(n_ * kv_dim_);
  for (auto& v : v_) v.resize(n_ * kv_dim_);
}

}  // namespace cloze
