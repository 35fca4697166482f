#pragma once
// The ONE place where the Python binding drives the C++ engine.
//
// cloze::Model is immutable and shareable; what runs it is a RunContext
// (thread pool, scratch), which one thread uses at a time. The engine keeps one
// context per loaded model and every engine call takes the engine's mutex,
// with the GIL released so other Python threads keep running. (A pool of
// contexts would let two Python threads run at once; with the threads of one
// context already using every core, that would only oversubscribe them.)
// Nothing outside this file and engine.cpp touches Model, Classifier or
// generate() directly.
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "cloze/classify.h"
#include "cloze/generate.h"
#include "cloze/model.h"
#include "cloze/tokenizer.h"

namespace cloze::py {

// A loaded model, its tokenizer (when the directory has tokenizer.json) and
// the lock that serialises engine calls on it.
class Engine {
 public:
  // ENGINE API: Model::load. `dir` is already resolved (a directory).
  Engine(const std::string& dir, size_t threads, Precision precision, std::shared_ptr<const Tokenizer> tokenizer);

  const Model& model() const { return *model_; }
  const std::shared_ptr<const Tokenizer>& tokenizer() const { return tok_; }

  // Float32 logits of the last position ([vocab]) or of all ([T][vocab]),
  // row-major in `out`. Returns the number of rows. Caller released the GIL.
  size_t logits(std::span<const int32_t> ids, bool all_positions, std::vector<float>& out);

  GenerateResult generate(std::span<const int32_t> prompt, const GenerateOptions& opt);

  // A classifier on this model; its constructor runs the template's prefix.
  std::unique_ptr<Classifier> make_classifier(std::shared_ptr<const Tokenizer> tok, ClassifierOptions opt);
  std::vector<Classification> classify(Classifier& clf, std::span<const std::string> texts);

 private:
  std::mutex mu_;  // ENGINE API: one engine call at a time per model (see top)
  std::unique_ptr<Model> model_;
  std::unique_ptr<RunContext> ctx_;  // used under mu_ only
  std::shared_ptr<const Tokenizer> tok_;
};

}  // namespace cloze::py
