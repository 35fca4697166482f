#include "cloze/result_row.h"

namespace cloze {

Row result_row(const Record& rec, const Classification& c, const Classifier& clf, bool with_id) {
  Row row;
  row["text"] = valid_utf8(rec.text) ? rec.text : std::string();
  if (with_id) row["id"] = rec.id ? Row(*rec.id) : Row(nullptr);
  if (!c.error.empty()) {
    row["label"] = nullptr;
    row["error"] = c.error;
    return row;
  }
  row["label"] = c.label;
  Row probs = Row::object(), logits = Row::object();
  for (size_t j = 0; j < clf.labels().size(); ++j) {
    probs[clf.labels()[j]] = c.probs[j];
    logits[clf.labels()[j]] = c.scores[j];
  }
  row["probs"] = probs;
  row["logits"] = logits;
  if (clf.options().label_mass) row["label_mass"] = c.label_mass;
  if (clf.options().multi_label) {
    // Every label that reached the threshold, most probable first.
    Row passing = Row::array();
    for (size_t j : c.passing) passing.push_back({{"label", clf.labels()[j]}, {"prob", c.probs[j]}});
    row["labels"] = passing;
  }
  if (!c.top.empty()) {
    Row top = Row::array();
    for (auto& [id, p] : c.top) {
      const std::string text = clf.tokenizer().decode(std::span<const int32_t>(&id, 1));
      top.push_back({{"token", valid_utf8(text) ? text : std::string()}, {"id", id}, {"prob", p}});
    }
    row["top"] = top;
  }
  return row;
}

}  // namespace cloze
