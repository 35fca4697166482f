#include "server/classifier_cache.h"

namespace cloze::server {

std::string ClassifierCache::key(const ClassifierOptions& o) {
  // Length-prefixed, so no label or template text can forge another key.
  // (Appends rather than operator+ chains: GCC 12 warns falsely on those.)
  std::string k = std::to_string(int(o.calibration));
  if (o.render_prompt) k += 'c';  // chat prompting (its template_text is the rendered chat)
  auto add = [&k](const std::string& part) {
    k += '|';
    k += std::to_string(part.size());
    k += ':';
    k += part;
  };
  add(o.template_text);
  for (const auto& l : o.labels) add(l);
  // Verbalizers, each list introduced by its length so lists cannot run together.
  k += "|v" + std::to_string(o.verbalizers.size());
  for (const auto& ways : o.verbalizers) {
    k += "|n" + std::to_string(ways.size());
    for (const auto& w : ways) add(w);
  }
  return k;
}

std::shared_ptr<Classifier> ClassifierCache::get(const std::string& key, const ClassifierOptions& options) {
  if (auto it = index_.find(key); it != index_.end()) {
    order_.splice(order_.begin(), order_, it->second);
    return it->second->second;
  }
  auto clf = std::make_shared<Classifier>(ctx_, tok_, options);
  put(key, clf);
  return clf;
}

void ClassifierCache::put(const std::string& key, std::shared_ptr<Classifier> clf) {
  if (auto it = index_.find(key); it != index_.end()) {
    order_.erase(it->second);
    index_.erase(it);
  }
  order_.emplace_front(key, std::move(clf));
  index_[key] = order_.begin();
  if (order_.size() > capacity_) {
    index_.erase(order_.back().first);
    order_.pop_back();
  }
}

}  // namespace cloze::server
