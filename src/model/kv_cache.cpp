#include <algorithm>

#include "cloze/error.h"
#include "cloze/model.h"

namespace cloze {

KVCache::KVCache(size_t num_layers, size_t kv_dim) : kv_dim_(kv_dim), k_(num_layers), v_(num_layers) {}

KVCache::KVCache(const Model& model) : KVCache(model.config().num_layers, model.config().kv_dim()) {}

KVCache::KVCache(const Model& model, std::shared_ptr<const KVCache> parent, std::optional<size_t> parent_len)
    : KVCache(model) {
  if (!parent) return;
  if (parent->kv_dim_ != kv_dim_ || parent->layers() != layers())
    throw Error("KVCache: parent cache belongs to a different model");
  *this = fork(std::move(parent), parent_len);
}

KVCache KVCache::fork(std::shared_ptr<const KVCache> parent, std::optional<size_t> parent_len) {
  if (!parent) throw Error("KVCache::fork: no parent cache");
  KVCache c(parent->layers(), parent->kv_dim_);
  c.parent_len_ = parent->size();
  if (parent_len) {
    if (*parent_len > c.parent_len_)
      throw Error("KVCache: parent_len " + std::to_string(*parent_len) + " exceeds the parent's " +
                  std::to_string(c.parent_len_) + " tokens");
    c.parent_len_ = *parent_len;
  }
  c.parent_ = std::move(parent);
  return c;
}

void KVCache::reserve(size_t n) {
  reserved_ = n;
  for (auto& k : k_) k.resize((n_ + n) * kv_dim_);
  for (auto& v : v_) v.resize((n_ + n) * kv_dim_);
}

void KVCache::append(size_t layer, const float* k, const float* v, size_t n) {
  if (layer >= layers() || n > reserved_)
    throw Error("KVCache::append: layer " + std::to_string(layer) + " / " + std::to_string(n) +
                " positions beyond what was reserved");
  std::copy_n(k, n * kv_dim_, k_[layer].data() + n_ * kv_dim_);
  std::copy_n(v, n * kv_dim_, v_[layer].data() + n_ * kv_dim_);
}

void KVCache::commit(size_t n) {
  if (n > reserved_) throw Error("KVCache::commit: more positions than reserved");
  n_ += n;
  reserved_ = 0;
}

void KVCache::segments(size_t layer, size_t own, std::vector<KVSpan>& out) const {
  // Walk up: each ancestor contributes the part of its own positions that
  // lies below the visible limit its child set.
  const size_t first = out.size();
  size_t cap = parent_len_;  // positions visible from the ancestors
  for (const KVCache* p = parent_.get(); p && cap; p = p->parent_.get()) {
    const size_t start = p->parent_len_;
    if (cap > start) {
      const size_t len = std::min(p->n_, cap - start);
      if (len) out.push_back({p->k_[layer].data(), p->v_[layer].data(), len});
    }
    cap = std::min(cap, start);
  }
  std::reverse(out.begin() + ptrdiff_t(first), out.end());
  if (own) out.push_back({k_[layer].data(), v_[layer].data(), own});
}

void KVCache::truncate(size_t n) {
  if (n >= n_) return;
  n_ = n;
  reserved_ = 0;
  for (auto& k : k_) k.resize(n_ * kv_dim_);
  for (auto& v : v_) v.resize(n_ * kv_dim_);
}

}  // namespace cloze
