// SVG and table pictures for the eval report. Every label and number goes
// through HtmlWriter, so the charts escape what they show like the rest.
#include "report/charts.h"

#include <algorithm>
#include <cmath>

namespace cloze::report {

namespace {

// Plot frame: data (x, y) in [x0, x1] x [y0, y1] maps into a pixel box.
struct Frame {
  double left, top, width, height;
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  double x(double v) const { return left + (v - x0) / (x1 - x0) * width; }
  double y(double v) const { return top + (1 - (v - y0) / (y1 - y0)) * height; }
};

std::string px(double v) { return fixed(v, 1); }

void open_svg(HtmlWriter& w, double width, double height, const std::string& title) {
  w.open("svg", {{"xmlns", "http://www.w3.org/2000/svg"},
                 {"width", px(width)},
                 {"height", px(height)},
                 {"viewBox", "0 0 " + px(width) + " " + px(height)},
                 {"role", "img"},
                 {"aria-label", title}});
  w.element("title", title);
  w.element("text", title, {{"x", px(width / 2)}, {"y", "16"}, {"text-anchor", "middle"}, {"class", "chart-title"}});
}

void line(HtmlWriter& w, double x1, double y1, double x2, double y2, const std::string& cls) {
  w.empty("line", {{"x1", px(x1)}, {"y1", px(y1)}, {"x2", px(x2)}, {"y2", px(y2)}, {"class", cls}});
}

void label(HtmlWriter& w, double x, double y, const std::string& s, const char* anchor, const std::string& cls = "tick",
           const std::string& transform = "") {
  std::vector<Attr> a = {{"x", px(x)}, {"y", px(y)}, {"text-anchor", anchor}, {"class", cls}};
  if (!transform.empty()) a.push_back({"transform", transform});
  w.open("text", a).text(s).close();
}

// Frame, grid and tick labels; x ticks every x_step, y ticks at `y_ticks`.
void axes(HtmlWriter& w, const Frame& f, double x_step, const std::vector<double>& y_ticks, int y_digits,
          const std::string& x_title, const std::string& y_title) {
  for (double v : y_ticks) {
    line(w, f.left, f.y(v), f.left + f.width, f.y(v), "grid");
    label(w, f.left - 5, f.y(v) + 4, fixed(v, y_digits), "end");
  }
  for (double v = f.x0; v <= f.x1 + 1e-9; v += x_step) label(w, f.x(v), f.top + f.height + 15, fixed(v, 1), "middle");
  w.empty("rect", {{"x", px(f.left)}, {"y", px(f.top)}, {"width", px(f.width)}, {"height", px(f.height)}, {"class", "frame"}});
  label(w, f.left + f.width / 2, f.top + f.height + 32, x_title, "middle", "axis");
  const double yx = f.left - 34, yy = f.top + f.height / 2;
  label(w, yx, yy, y_title, "middle", "axis", "rotate(-90 " + px(yx) + " " + px(yy) + ")");
}

}  // namespace

void confusion_heat_map(HtmlWriter& w, const ConfusionMatrix& cm) {
  const auto& labels = cm.labels();
  w.open("table", {{"class", "heat"}});
  w.open("tr").element("th", "gold \u2193 / predicted \u2192", {{"class", "corner"}});
  for (const auto& l : labels) w.element("th", l, {{"scope", "col"}});
  w.element("th", "total", {{"scope", "col"}}).close();
  for (size_t g = 0; g < labels.size(); ++g) {
    size_t row = 0;
    for (size_t p = 0; p < labels.size(); ++p) row += cm.count(g, p);
    w.open("tr").element("th", labels[g], {{"scope", "row"}});
    for (size_t p = 0; p < labels.size(); ++p) {
      const size_t n = cm.count(g, p);
      const double share = row ? double(n) / double(row) : 0.0;
      // White (247,251,255) to deep blue (8,48,107), as a sequential colour map.
      const auto mix = [share](int a, int b) { return std::to_string(int(std::lround(a + (b - a) * share))); };
      const std::string style = "background:rgb(" + mix(247, 8) + "," + mix(251, 48) + "," + mix(255, 107) +
                                ");color:" + (share > 0.5 ? "#fff" : "#111");
      w.element("td", std::to_string(n),
                {{"style", style},
                 {"title", "gold " + labels[g] + ", predicted " + labels[p] + ": " + std::to_string(n) + " (" +
                               fixed(100 * share, 1) + "% of the row)"}});
    }
    w.element("td", std::to_string(row), {{"class", "total"}}).close();
  }
  w.close();
}

void reliability_diagram(HtmlWriter& w, const Reliability& r, const std::string& title) {
  const Frame f{56, 30, 260, 260};
  open_svg(w, 330, 356, title + " \u2014 ECE " + fixed(r.ece, 4));
  axes(w, f, 0.2, {0, 0.2, 0.4, 0.6, 0.8, 1.0}, 1, "confidence of the predicted label", "accuracy");
  line(w, f.x(0), f.y(0), f.x(1), f.y(1), "diagonal");
  for (const ReliabilityBin& b : r.bins) {
    if (b.count == 0) continue;
    const double x = f.x(b.low) + 1, width = f.x(b.high) - f.x(b.low) - 2;
    w.open("rect", {{"x", px(x)},
                    {"y", px(f.y(b.accuracy))},
                    {"width", px(width)},
                    {"height", px(f.y(0) - f.y(b.accuracy))},
                    {"class", "bar"}});
    w.element("title", fixed(b.low, 1) + "\u2013" + fixed(b.high, 1) + ": " + std::to_string(b.count) +
                           " texts, accuracy " + fixed(b.accuracy, 4) + ", mean confidence " + fixed(b.confidence, 4));
    w.close();
    // Mean confidence of the bin: where the bar would end if calibrated.
    w.empty("circle", {{"cx", px(x + width / 2)}, {"cy", px(f.y(b.confidence))}, {"r", "3"}, {"class", "conf"}});
    label(w, x + width / 2, f.y(b.accuracy) - 4, std::to_string(b.count), "middle", "count");
  }
  label(w, f.left + f.width / 2, f.top + f.height + 48, "bars: accuracy \u00b7 dots: mean confidence \u00b7 n = " + std::to_string(r.n), "middle",
        "legend");
  w.close();
}

void histogram_chart(HtmlWriter& w, const Histogram& h, const std::string& title, const std::string& x_label) {
  size_t top = 1;
  for (size_t c : h.counts) top = std::max(top, c);
  Frame f{64, 30, 460, 200};
  f.x0 = h.low;
  f.x1 = h.high;
  f.y1 = double(top);
  open_svg(w, 540, 270, title);
  axes(w, f, (h.high - h.low) / 5, {0, double(top) / 2, double(top)}, top >= 2 ? 0 : 1, x_label, "texts");
  const double bin = (h.high - h.low) / double(h.counts.size());
  for (size_t i = 0; i < h.counts.size(); ++i) {
    if (h.counts[i] == 0) continue;
    const double lo = h.low + bin * double(i), hi = lo + bin;
    w.open("rect", {{"x", px(f.x(lo) + 1)},
                    {"y", px(f.y(double(h.counts[i])))},
                    {"width", px(f.x(hi) - f.x(lo) - 2)},
                    {"height", px(f.y(0) - f.y(double(h.counts[i])))},
                    {"class", "bar"}});
    w.element("title", fixed(lo, 2) + "\u2013" + fixed(hi, 2) + ": " + std::to_string(h.counts[i]) + " texts");
    w.close();
  }
  w.close();
}

}  // namespace cloze::report
