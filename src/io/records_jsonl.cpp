// JSON Lines input: one JSON object per line. Lines holding only whitespace
// are skipped (a trailing blank line is common and carries no row). Anything
// wrong with one line becomes that record's error; reading goes on.
#include <nlohmann/json.hpp>

#include "io/records_input.h"

namespace cloze::records {

namespace {

using json = nlohmann::json;

bool blank(const std::string& s) {
  return s.find_first_not_of(" \t\r\f\v") == std::string::npos;
}

// nlohmann's message says "parse error at line 1, column N: <what>"; the line
// is always 1 because we parse one line at a time, so keep only <what>.
std::string parse_reason(const json::parse_error& e) {
  const std::string w = e.what();
  const size_t col = w.find("column ");
  const size_t colon = col == std::string::npos ? col : w.find(": ", col);
  return colon == std::string::npos ? w : w.substr(colon + 2);
}

class JsonlReader : public RecordReader {
 public:
  JsonlReader(Input in, const RecordOptions& options) : in_(std::move(in)), opt_(options) {}

  bool next(Record& out) override {
    std::string line;
    size_t at;
    do {
      at = in_.line();
      if (!in_.read_line(line)) return false;
    } while (blank(line));
    out = Record{};
    out.index = index_++;
    out.line = at;
    out.error = fill(out, line);
    check_record(out, in_.name());
    return true;
  }

 private:
  // Fills r from one line; returns the error, or "" when the line is usable.
  std::string fill(Record& r, const std::string& line) const {
    const std::string loc = where(in_.name(), r.line);
    size_t bad = 0;
    // Checked first so the message names the byte instead of a JSON syntax error.
    if (!valid_utf8(line, &bad))
      return loc + "line is not valid UTF-8 (bad byte at offset " + std::to_string(bad) + ")";
    json j;
    try {
      j = json::parse(line);
    } catch (const json::parse_error& e) {
      return loc + "not valid JSON at column " + std::to_string(e.byte) + ": " + parse_reason(e);
    } catch (const json::out_of_range&) {
      // A number past double's range ("1e999"): nlohmann throws this, not a
      // parse_error (found by fuzz/fuzz_records).
      return loc + "not valid JSON: a number is too large for a double";
    }
    if (!j.is_object())
      return loc + "expected a JSON object, found " + std::string(j.type_name());
    std::string err;
    if (!field(j, opt_.text_column, false, r.text, loc, err)) return err;
    if (!opt_.id_column.empty() && !field(j, opt_.id_column, true, r.id.emplace(), loc, err))
      return err;
    // Numeric labels (0/1 in many datasets) are allowed so --label-map can name them.
    // A list of labels (multi-label data) travels as its JSON text.
    const auto lab = opt_.label_column.empty() ? j.end() : j.find(opt_.label_column);
    if (lab != j.end() && lab->is_array()) r.label = lab->dump();
    else if (!opt_.label_column.empty() && !field(j, opt_.label_column, true, r.label.emplace(), loc, err))
      return err;
    return "";
  }

  // Reads field `key` of `j` into `out`: a string, or (when `numbers`) a
  // number as its JSON text. On failure sets `err` and returns false.
  static bool field(const json& j, const std::string& key, bool numbers, std::string& out,
                    const std::string& loc, std::string& err) {
    const auto it = j.find(key);
    if (it == j.end()) {
      err = loc + "field \"" + key + "\" is missing";
      return false;
    }
    if (it->is_string()) {
      out = it->get<std::string>();
      return true;
    }
    if (numbers && it->is_number()) {
      out = it->dump();
      return true;
    }
    err = loc + "field \"" + key + "\": expected a string" + (numbers ? " or a number" : "") +
          ", found " + it->type_name();
    return false;
  }

  Input in_;
  RecordOptions opt_;
  size_t index_ = 0;
};

}  // namespace

std::unique_ptr<RecordReader> make_jsonl_reader(Input in, const RecordOptions& options) {
  return std::make_unique<JsonlReader>(std::move(in), options);
}

}  // namespace cloze::records
