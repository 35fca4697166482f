// Output rows as an aligned table for people at a terminal. Rows are printed
// as they arrive, so column widths are fixed before the first row: from the
// caller's hints, else the wider of the header and the first row's value
// (counted up to max_width). Longer values are cut and end in "…". Widths
// count code points; wide (CJK) characters are counted as one and may
// misalign, which is accepted for a human-readable view.
#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <unordered_map>

#include "io/records_output.h"

namespace cloze::records {

namespace {

size_t display_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;  // count lead bytes only
  return n;
}

// The first `width` code points of s, ending in "…" when s was longer.
std::string fit(const std::string& s, size_t width) {
  if (display_width(s) <= width) return s;
  if (width == 0) return "";
  size_t points = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && points++ == width - 1) break;
  }
  return s.substr(0, i) + "…";
}

class TableWriter : public RecordWriter {
 public:
  TableWriter(std::ostream& out, const WriterOptions& options) : out_(out), opt_(options) {}

  void write(const Row& row) override {
    require_object(row, "table");
    const FlatRow flat = flatten(row);
    if (!started_) start(flat);
    std::vector<std::string> cells(columns_.size());
    std::vector<bool> right(columns_.size(), false);
    for (const auto& [name, v] : flat) {
      const auto it = index_.find(name);
      if (it == index_.end())
        throw std::logic_error("table output: column \"" + name +
                               "\" is not in the header printed at the start");
      cells[it->second] = cell(*v);
      right[it->second] = v->is_number();
    }
    line(cells, right);
  }

  void finish() override {
    if (!started_ && !opt_.columns.empty()) start({});
  }

 private:
  void start(const FlatRow& first) {
    started_ = true;
    columns_ = opt_.columns;
    if (columns_.empty())
      for (const auto& [name, v] : first) columns_.push_back(name);
    for (size_t i = 0; i < columns_.size(); ++i) index_.emplace(columns_[i], i);
    widths_.assign(columns_.size(), 0);
    for (size_t i = 0; i < columns_.size(); ++i)
      widths_[i] = display_width(columns_[i]);  // headers are never cut
    for (const auto& [name, v] : first) {
      const auto it = index_.find(name);
      if (it == index_.end()) continue;  // write() reports the stray column
      const size_t i = it->second;
      widths_[i] = std::max(widths_[i], std::min(display_width(cell(*v)), opt_.max_width));
    }
    for (size_t i = 0; i < columns_.size(); ++i) {
      const auto hint = opt_.widths.find(columns_[i]);
      if (hint != opt_.widths.end()) widths_[i] = std::max<size_t>(hint->second, 1);
    }
    line(columns_, std::vector<bool>(columns_.size(), false));
    std::vector<std::string> rule;
    for (size_t w : widths_) rule.push_back(std::string(w, '-'));
    line(rule, std::vector<bool>(columns_.size(), false));
  }

  std::string cell(const Row& v) const {
    std::string s;
    if (v.is_string()) {
      s = v.get<std::string>();
    } else if (v.is_null()) {
      return "";
    } else if (v.is_number_float()) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.*f", opt_.precision, v.get<double>());
      return buf;
    } else {
      s = v.dump(-1, ' ', false, Row::error_handler_t::replace);
    }
    // One row per line: line breaks and tabs inside a text would break the layout.
    for (char& c : s)
      if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    return s;
  }

  void line(const std::vector<std::string>& cells, const std::vector<bool>& right) {
    std::string s;
    for (size_t i = 0; i < cells.size(); ++i) {
      if (i) s += "  ";
      // Numbers are never cut (a cut number reads as a different number);
      // a too-wide one pushes the rest of its row right instead.
      const std::string c = right[i] ? cells[i] : fit(cells[i], widths_[i]);
      const std::string pad(widths_[i] - std::min(widths_[i], display_width(c)), ' ');
      // The last left-aligned column gets no padding: no trailing blanks.
      if (right[i]) s += pad + c;
      else s += i + 1 < cells.size() ? c + pad : c;
    }
    out_ << s << '\n';
    out_.flush();
  }

  std::ostream& out_;
  WriterOptions opt_;
  bool started_ = false;
  std::vector<std::string> columns_;
  std::vector<size_t> widths_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace

std::unique_ptr<RecordWriter> make_table_writer(std::ostream& out, const WriterOptions& options) {
  return std::make_unique<TableWriter>(out, options);
}

}  // namespace cloze::records
