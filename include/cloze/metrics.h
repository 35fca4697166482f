#pragma once
// Evaluation against gold labels: a confusion matrix over a fixed label list
// with accuracy, per-class precision / recall / F1 and macro-F1, and the
// --label-map that renames dataset labels (pos, 0, ...) to verbalizer labels.
#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cloze {

struct ClassStats {
  // A ratio whose denominator is 0 is reported as 0 (as scikit-learn does
  // with zero_division=0): precision of a class never predicted, recall of a
  // class absent from the gold labels, and F1 when precision + recall is 0.
  double precision = 0, recall = 0, f1 = 0;
  size_t support = 0;  // gold examples of this class
  size_t predicted = 0;  // examples predicted as this class
};

class ConfusionMatrix {
 public:
  // Throws cloze::Error if `labels` is empty or has a duplicate.
  explicit ConfusionMatrix(std::vector<std::string> labels);

  // Throws cloze::Error naming the label and listing the known ones when
  // either is not in the label list.
  void add(const std::string& gold, const std::string& predicted);
  // By position in labels(); throws std::out_of_range past the end.
  void add(size_t gold, size_t predicted);

  const std::vector<std::string>& labels() const { return labels_; }
  // Position of `label` in labels(), or labels().size() when absent.
  size_t index_of(const std::string& label) const;
  // Examples with gold label `gold` predicted as `predicted` (positions).
  size_t count(size_t gold, size_t predicted) const;
  size_t total() const { return total_; }
  size_t correct() const;

  // correct / total; 0 when there are no examples.
  double accuracy() const;
  ClassStats stats(size_t label) const;
  // Unweighted mean of F1 over every label in the list, including labels
  // with no gold examples (their F1 is 0, as above); 0 with no examples.
  double macro_f1() const;

  // {"n","accuracy","macro_f1","per_class":{label:{precision,recall,f1,support}},
  //  "confusion":{"labels":[...],"matrix":[[gold row: counts per predicted]]}}
  nlohmann::ordered_json to_json() const;
  // A report for people: accuracy, macro-F1, per-class table, and the
  // confusion matrix with gold labels as rows and predictions as columns.
  std::string format() const;

 private:
  std::vector<std::string> labels_;
  std::vector<size_t> counts_;  // labels² cells, row-major: [gold][predicted]
  size_t total_ = 0;
};

// Multi-label evaluation: every label is a yes/no decision per example.
// Per-label precision / recall / F1, micro-F1 (true/false positives and
// negatives pooled over labels), macro-F1 (the unweighted mean of per-label
// F1, zero_division=0 as above) and exact-match (subset) accuracy.
class MultiLabelMetrics {
 public:
  // Throws cloze::Error if `labels` is empty or has a duplicate.
  explicit MultiLabelMetrics(std::vector<std::string> labels);
  // Throws cloze::Error naming a label that is not in the list.
  void add(const std::vector<std::string>& gold, const std::vector<std::string>& predicted);

  const std::vector<std::string>& labels() const { return labels_; }
  size_t total() const { return total_; }
  ClassStats stats(size_t label) const;
  double micro_f1() const;
  double macro_f1() const;
  double exact_match() const;
  // {"n","exact_match","micro_f1","macro_f1","per_class":{label:{precision,recall,f1,support,predicted}}}
  nlohmann::ordered_json to_json() const;
  std::string format() const;

  // Gold labels as datasets write them: "a|b" or a JSON list ["a", "b"];
  // empty text is no label. Throws cloze::Error on a malformed JSON list.
  static std::vector<std::string> parse_gold(const std::string& field);

 private:
  std::vector<std::string> labels_;
  std::vector<size_t> tp_, fp_, fn_;
  size_t total_ = 0, exact_ = 0;
};

// Renames labels found in the data: "pos=positive,neg=negative". Labels not
// in the map pass through unchanged, and an empty spec is the identity.
class LabelMap {
 public:
  LabelMap() = default;
  // Throws cloze::Error naming the entry for an entry without '=', with an
  // empty side, or mapping the same label twice. Spaces around names are
  // ignored.
  static LabelMap parse(const std::string& spec);

  const std::string& map(const std::string& label) const;
  bool empty() const { return map_.empty(); }
  const std::map<std::string, std::string>& entries() const { return map_; }

 private:
  std::map<std::string, std::string> map_;
};

}  // namespace cloze
