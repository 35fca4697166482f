// cloze._cloze.Model: logits and generation over a loaded model (engine.h).
#include <memory>

#include "bindings.h"
#include "cloze/error.h"
#include "cloze/hub.h"
#include "engine.h"

namespace cloze::py {

namespace {

// Hands a float vector to numpy without copying: the array owns it.
pyb::array_t<float> to_array(std::vector<float>&& v, size_t rows, size_t cols, bool squeeze) {
  auto* heap = new std::vector<float>(std::move(v));
  pyb::capsule owner(heap, [](void* p) { delete static_cast<std::vector<float>*>(p); });
  if (squeeze) return pyb::array_t<float>(std::vector<pyb::ssize_t>{pyb::ssize_t(cols)}, heap->data(), owner);
  return pyb::array_t<float>(std::vector<pyb::ssize_t>{pyb::ssize_t(rows), pyb::ssize_t(cols)}, heap->data(), owner);
}

}  // namespace

void bind_model(pyb::module_& m) {
  m.def(
      "resolve_model",
      [](const std::string& spec) {
        pyb::gil_scoped_release nogil;
        return resolve_model(spec).string();
      },
      pyb::arg("spec"), "A model directory for a local path or an org/name[@rev] Hub id (HF cache, else download).");
  m.def("hub_cache_dir", [] { return hub_cache_dir().string(); });

  pyb::class_<Engine, std::shared_ptr<Engine>>(m, "Model")
      .def(pyb::init([](const std::string& dir, size_t threads, std::shared_ptr<Tokenizer> tok,
                        const std::string& precision) {
             const auto p = parse_precision(precision);
             if (!p) throw Error("precision: expected \"exact\" or \"bf16\", got \"" + precision + "\"");
             pyb::gil_scoped_release nogil;
             return std::make_shared<Engine>(dir, threads, *p, std::move(tok));
           }),
           pyb::arg("dir"), pyb::arg("threads") = 0, pyb::arg("tokenizer") = nullptr, pyb::arg("precision") = "exact")
      .def_property_readonly("dir", [](const Engine& e) { return e.model().dir().string(); })
      .def_property_readonly("threads", [](const Engine& e) { return e.model().threads(); })
      .def_property_readonly("precision", [](const Engine& e) { return std::string(precision_name(e.model().precision())); })
      .def_property_readonly("vocab_size", [](const Engine& e) { return e.model().config().vocab_size; })
      .def_property_readonly("max_position_embeddings",
                             [](const Engine& e) { return e.model().config().max_position_embeddings; })
      .def_property_readonly("model_type", [](const Engine& e) { return e.model().config().model_type; })
      .def_property_readonly("eos_ids", [](const Engine& e) { return default_eos_ids(e.model(), e.tokenizer().get()); })
      .def(
          "logits",
          [](Engine& e, const IdArray& ids, bool all_positions) {
            std::vector<float> out;
            size_t rows = 0;
            auto span = ids_of(ids);
            {
              pyb::gil_scoped_release nogil;
              rows = e.logits(span, all_positions, out);
            }
            const size_t cols = rows ? out.size() / rows : 0;
            return to_array(std::move(out), rows, cols, !all_positions);
          },
          pyb::arg("ids"), pyb::arg("all_positions") = false)
      .def(
          "generate",
          [](Engine& e, const IdArray& ids, size_t max_tokens, float temperature, size_t top_k, float top_p,
             float min_p, uint64_t seed, std::vector<std::string> stop, std::optional<std::vector<int32_t>> eos_ids,
             bool ignore_eos) {
            GenerateOptions opt{.max_tokens = max_tokens, .temperature = temperature, .top_k = top_k,
                                .top_p = top_p, .min_p = min_p, .seed = seed, .stop = std::move(stop),
                                .eos_ids = eos_ids.value_or(std::vector<int32_t>{}), .ignore_eos = ignore_eos};
            auto span = ids_of(ids);
            GenerateResult r;
            {
              pyb::gil_scoped_release nogil;
              r = e.generate(span, opt);
            }
            pyb::dict d;
            d["ids"] = r.ids;
            d["text"] = utf8_to_str(r.text);
            d["finish_reason"] = r.finish_reason;
            d["prompt_tokens"] = r.prompt_tokens;
            return d;
          },
          pyb::arg("ids"), pyb::arg("max_tokens") = 64, pyb::arg("temperature") = 0.0f, pyb::arg("top_k") = 0,
          pyb::arg("top_p") = 1.0f, pyb::arg("min_p") = 0.0f, pyb::arg("seed") = 0,
          pyb::arg("stop") = std::vector<std::string>{}, pyb::arg("eos_ids") = pyb::none(),
          pyb::arg("ignore_eos") = false);
}

}  // namespace cloze::py
