// Loading a Model and making run contexts for it.
#include <thread>

#include "cloze/error.h"
#include "cloze/model.h"
#include "model/run_state.h"
#include "model/weights.h"

namespace cloze {

Model::~Model() = default;

std::unique_ptr<Model> Model::load(const std::filesystem::path& dir, const LoadOptions& opt) {
  if (!std::filesystem::is_directory(dir))
    throw Error(dir.string() + ": model directory not found", Subject::file(dir.string()));
  auto m = std::unique_ptr<Model>(new Model());
  m->dir_ = dir;
  m->config_ = ModelConfig::from_file(dir / "config.json");
  m->w_ = load_weights(m->config_, TensorStore::open_dir(dir));
  m->threads_ = opt.threads ? opt.threads : std::max(1u, std::thread::hardware_concurrency());
  m->precision_ = opt.precision;
  return m;
}

RunContext::RunContext(const Model& model, size_t threads)
    : model_(model), s_(std::make_unique<State>(threads ? threads : model.threads())) {
  // The pool is the kernels' per-run context: the matmuls it runs read their
  // activation precision from it.
  s_->pool.set_precision(model.precision());
}

RunContext::~RunContext() = default;

size_t RunContext::threads() const { return s_->pool.size(); }
Precision RunContext::precision() const { return s_->pool.precision(); }

}  // namespace cloze
