#pragma once
// The report's pictures, drawn into an HtmlWriter: SVG charts and an HTML
// heat-map table. Sizes are in CSS pixels.
#include "cloze/eval_metrics.h"
#include "report/html.h"

namespace cloze::report {

// Gold labels as rows, predictions as columns, each cell's count printed on a
// blue whose depth is the cell's share of its row (so the diagonal reads as recall).
void confusion_heat_map(HtmlWriter& w, const ConfusionMatrix& cm);

// Accuracy per confidence bin as bars against the diagonal of perfect
// calibration, with the ECE in the title; empty bins are left blank.
void reliability_diagram(HtmlWriter& w, const Reliability& r, const std::string& title);

// Count per bin as bars over [h.low, h.high].
void histogram_chart(HtmlWriter& w, const Histogram& h, const std::string& title, const std::string& x_label);

}  // namespace cloze::report
