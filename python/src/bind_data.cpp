// Input files and metrics: the same record reader and confusion matrix the
// CLI uses, so cloze.evaluate reports what `cloze eval` prints.
#include "bindings.h"
#include "cloze/error.h"
#include "cloze/metrics.h"
#include "cloze/records.h"

namespace cloze::py {

void bind_data(pyb::module_& m) {
  m.def(
      "read_records",
      [](const std::string& path, const std::string& format, const std::string& text_column,
         const std::string& label_column) {
        RecordOptions ro{.text_column = text_column, .id_column = "", .label_column = label_column};
        RecordFormat fmt = format.empty() ? format_from_path(path) : parse_record_format(format);
        // (text, gold label or None, error, line) per data row, in file order.
        std::vector<std::tuple<std::string, std::optional<std::string>, std::string, size_t>> rows;
        {
          pyb::gil_scoped_release nogil;
          auto reader = RecordReader::open(path, fmt, ro);
          for (;;) {
            Record r;
            if (!reader->next(r)) break;
            rows.emplace_back(std::move(r.text), std::move(r.label), std::move(r.error), r.line);
          }
        }
        pyb::list out;
        for (auto& [text, label, error, line] : rows)
          out.append(pyb::make_tuple(utf8_to_str(text), label, error, line));
        return out;
      },
      pyb::arg("path"), pyb::arg("format") = "", pyb::arg("text_column") = "text", pyb::arg("label_column") = "");

  m.def(
      "confusion_json",
      [](const std::vector<std::string>& labels, const std::vector<size_t>& gold, const std::vector<size_t>& predicted) {
        if (gold.size() != predicted.size()) throw Error("confusion_json: gold and predicted differ in length");
        ConfusionMatrix cm(labels);
        for (size_t i = 0; i < gold.size(); ++i) {
          if (gold[i] >= labels.size() || predicted[i] >= labels.size())
            throw Error("confusion_json: label index out of range at row " + std::to_string(i));
          cm.add(gold[i], predicted[i]);
        }
        return std::make_pair(cm.to_json().dump(), cm.format());
      },
      pyb::arg("labels"), pyb::arg("gold"), pyb::arg("predicted"),
      "(metrics JSON as `cloze eval --json` prints under \"metrics\", the human-readable report).");

  m.def(
      "parse_label_map", [](const std::string& spec) { return LabelMap::parse(spec).entries(); }, pyb::arg("spec"));
}

}  // namespace cloze::py
