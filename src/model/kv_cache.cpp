#include "cloze/error.h"
#include "cloze/model.h"
#include "model/weights.h"

namespace cloze {

KVCache::KVCache(const Model& model, std::shared_ptr<const KVCache> parent, std::optional<size_t> parent_len)
    : kv_dim_(model.config().kv_dim()),
      parent_len_(parent ? parent->size() : 0),
      parent_(std::move(parent)),
      k_(model.config().num_layers),
      v_(model.config().num_layers) {
  if (parent_len) {
    if (*parent_len > parent_len_)
      throw Error("KVCache: parent_len " + std::to_string(*parent_len) + " exceeds the parent's " +
                  std::to_string(parent_len_) + " tokens");
    parent_len_ = *parent_len;
  }
  if (parent_ && (parent_->kv_dim_ != kv_dim_ || parent_->k_.size() != k_.size()))
    throw Error("KVCache: parent cache belongs to a different model");
}

void KVCache::truncate(size_t n) {
  if (n >= n_) return;
  n_ = n;
  for (auto& k : k_) k.resize(n_ * kv_dim_);
  for (auto& v : v_) v.resize(n_ * kv_dim_);
}

}  // namespace cloze
