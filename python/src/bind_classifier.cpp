// cloze._cloze.Classifier: zero-shot classification over a shared Model.
#include <memory>

#include "bindings.h"
#include "cloze/error.h"
#include "engine.h"

namespace cloze::py {

namespace {

template <class E>
E pick(const char* arg, const std::string& v, std::initializer_list<std::pair<const char*, E>> choices) {
  std::string names;
  for (auto& [n, e] : choices) {
    if (v == n) return e;
    names += names.empty() ? n : std::string(", ") + n;
  }
  throw Error(std::string(arg) + "='" + v + "' is not one of " + names);
}

// Keeps the model and tokenizer alive as long as the classifier that
// references them.
struct BoundClassifier {
  std::shared_ptr<Engine> engine;
  std::shared_ptr<const Tokenizer> tokenizer;
  std::unique_ptr<Classifier> clf;
};

}  // namespace

void bind_classifier(pyb::module_& m) {
  m.def(
      "check_template", [](const std::string& t) { PromptTemplate check(t); }, pyb::arg("template"),
      "Raises ClozeError if the template has no {text} placeholder.");
  m.attr("SEED_TEMPLATE") = std::string(kSeedTemplate);
  m.attr("DEFAULT_MODEL") = std::string(kDefaultModel);

  pyb::class_<Classification>(m, "Classification")
      .def_readonly("label", &Classification::label)
      .def_readonly("label_index", &Classification::label_index)
      .def_readonly("probs", &Classification::probs)
      .def_readonly("scores", &Classification::scores)
      .def_readonly("label_mass", &Classification::label_mass)
      .def_readonly("prompt_tokens", &Classification::prompt_tokens)
      .def_readonly("truncated", &Classification::truncated)
      .def_readonly("error", &Classification::error);

  pyb::class_<BoundClassifier>(m, "Classifier")
      .def(pyb::init([](std::shared_ptr<Engine> engine, std::shared_ptr<Tokenizer> tokenizer, std::string template_text,
                        std::vector<std::string> labels, std::string label_prefix, const std::string& label_score,
                        const std::string& calibrate, std::optional<std::vector<std::string>> content_free,
                        std::optional<std::string> pmi_premise, bool special, const std::string& truncate,
                        size_t max_tokens, size_t batch_tokens, bool label_mass) {
             if (!engine) throw Error("Classifier: no model given");
             if (!tokenizer) throw Error("Classifier: the model directory has no tokenizer.json; pass a tokenizer");
             if (batch_tokens == 0) throw Error("batch_tokens must be positive");
             ClassifierOptions opt;
             opt.template_text = std::move(template_text);
             opt.labels = std::move(labels);
             opt.label_prefix = std::move(label_prefix);
             opt.label_score = pick<LabelScore>("label_score", label_score, {{"sum", LabelScore::Sum}, {"mean", LabelScore::Mean}});
             opt.calibration = pick<Calibration>(
                 "calibrate", calibrate,
                 {{"none", Calibration::None}, {"contextual", Calibration::Contextual}, {"pmi", Calibration::Pmi}});
             if (content_free) opt.content_free = std::move(*content_free);
             opt.pmi_premise = std::move(pmi_premise);
             opt.parse_special = special;
             opt.truncate = pick<Truncate>("truncate", truncate,
                                           {{"none", Truncate::None}, {"left", Truncate::Left}, {"right", Truncate::Right}});
             opt.max_tokens = max_tokens;
             opt.max_batch_tokens = batch_tokens;
             opt.label_mass = label_mass;
             PromptTemplate check(opt.template_text);
             auto b = std::make_unique<BoundClassifier>();
             b->engine = std::move(engine);
             b->tokenizer = std::move(tokenizer);
             pyb::gil_scoped_release nogil;
             b->clf = b->engine->make_classifier(b->tokenizer, std::move(opt));
             return b;
           }),
           pyb::arg("model"), pyb::arg("tokenizer"), pyb::arg("template"), pyb::arg("labels"),
           pyb::arg("label_prefix"), pyb::arg("label_score"), pyb::arg("calibrate"), pyb::arg("content_free"),
           pyb::arg("pmi_premise"), pyb::arg("special"), pyb::arg("truncate"), pyb::arg("max_tokens"),
           pyb::arg("batch_tokens"), pyb::arg("label_mass"))
      .def(
          "classify",
          [](BoundClassifier& b, const std::vector<std::string>& texts) {
            std::vector<Classification> out;
            {
              pyb::gil_scoped_release nogil;
              out = b.engine->classify(*b.clf, texts);
            }
            return out;
          },
          pyb::arg("texts"))
      .def_property_readonly("labels", [](const BoundClassifier& b) { return b.clf->labels(); })
      .def_property_readonly("label_tokens", [](const BoundClassifier& b) { return b.clf->label_tokens(); })
      .def_property_readonly("template", [](const BoundClassifier& b) { return b.clf->options().template_text; })
      .def_property_readonly("label_mass_enabled", [](const BoundClassifier& b) { return b.clf->options().label_mass; })
      .def_property_readonly("calibration_reference",
                             [](const BoundClassifier& b) { return b.clf->calibration_reference(); });
}

}  // namespace cloze::py
