#include "engine.h"

#include "cloze/error.h"

namespace cloze::py {

Engine::Engine(const std::string& dir, size_t threads, Precision precision, std::shared_ptr<const Tokenizer> tokenizer)
    : model_(Model::load(dir, {.threads = threads, .precision = precision})), ctx_(std::make_unique<RunContext>(*model_)), tok_(std::move(tokenizer)) {}

size_t Engine::logits(std::span<const int32_t> ids, bool all_positions, std::vector<float>& out) {
  if (ids.empty()) throw Error("logits: no token ids to run (the input is empty)");
  std::lock_guard<std::mutex> lock(mu_);
  // The same call `cloze logits` makes, so the numbers are identical.
  KVCache cache(*model_);
  ForwardItem item{&cache, ids, all_positions ? Outputs::All : Outputs::Last};
  ForwardResult r = ctx_->forward({&item, 1})[0];
  out = std::move(r.logits);
  return r.positions;
}

GenerateResult Engine::generate(std::span<const int32_t> prompt, const GenerateOptions& opt) {
  validate(opt);
  std::lock_guard<std::mutex> lock(mu_);
  return cloze::generate(*ctx_, tok_.get(), prompt, opt);
}

std::unique_ptr<Classifier> Engine::make_classifier(std::shared_ptr<const Tokenizer> tok, ClassifierOptions opt) {
  std::lock_guard<std::mutex> lock(mu_);
  return std::make_unique<Classifier>(*ctx_, *tok, std::move(opt));
}

std::vector<Classification> Engine::classify(Classifier& clf, std::span<const std::string> texts) {
  std::lock_guard<std::mutex> lock(mu_);
  return clf.classify(texts);
}

}  // namespace cloze::py
