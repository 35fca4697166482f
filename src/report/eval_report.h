#pragma once
// `cloze eval --report`: one self-contained HTML page (inline CSS and SVG, no
// scripts, nothing fetched) drawn from an EvalSummary, and the same numbers
// as JSON for scripts (--report-json).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloze/eval_metrics.h"

namespace cloze::report {

// What the run was: printed at the top of the report.
struct RunFacts {
  std::string model, input, template_text, calibration, label_score, version, generated;  // generated: UTC time
  std::vector<std::string> labels;
  size_t n = 0, scored = 0, errors = 0, threads = 0;
  std::string kernels, precision;  // the kernel set and matmul precision the run used
  double seconds = 0, load_seconds = 0, texts_per_s = 0, tokens_per_s = 0;
};

nlohmann::ordered_json facts_json(const RunFacts& f);

// The HTML report.
std::string eval_report_html(const RunFacts& facts, const EvalSummary& summary);

// `eval_json` (the object `eval --json` prints) plus "facts" and
// "confident_mistakes".
nlohmann::ordered_json eval_report_json(const RunFacts& facts, const EvalSummary& summary,
                                        nlohmann::ordered_json eval_json);

}  // namespace cloze::report
