#pragma once
// Classifiers by (labels, template, calibration), least recently used out.
// Building one runs the template's prefix (and any calibration inputs)
// through the model, so a request that repeats the last one's settings must
// not pay for it again.
#include <cstddef>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

#include "cloze/classify.h"

namespace cloze::server {

class ClassifierCache {
 public:
  ClassifierCache(RunContext& ctx, const Tokenizer& tokenizer, size_t capacity)
      : ctx_(ctx), tok_(tokenizer), capacity_(capacity ? capacity : 1) {}

  // What tells two requests' classifiers apart: the fields a request may set.
  static std::string key(const ClassifierOptions& options);

  // The cached classifier for `key`, or a new one built from `options`
  // (throws cloze::Error on bad labels). Runs the model: call it from the
  // model thread only. Callers may keep the pointer past eviction.
  std::shared_ptr<Classifier> get(const std::string& key, const ClassifierOptions& options);

  // Adds (or replaces) an entry built elsewhere, as most recently used.
  void put(const std::string& key, std::shared_ptr<Classifier> clf);

  size_t size() const { return order_.size(); }

 private:
  using Entry = std::pair<std::string, std::shared_ptr<Classifier>>;
  RunContext& ctx_;
  const Tokenizer& tok_;
  size_t capacity_;
  std::list<Entry> order_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

}  // namespace cloze::server
