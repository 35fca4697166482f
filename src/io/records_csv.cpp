// CSV and TSV input (RFC 4180): the first row is the header; fields may be
// quoted with '"', a quote inside a quoted field is written '""', and quoted
// fields may span lines. Rows end with LF or CRLF.
//
// A quote is special only at the very start of a field. Elsewhere it is a
// plain character: GLUE's TSVs are unquoted and have '"' inside sentences.
// Text after a closing quote is kept as-is ("ab"c reads as abc), as Python's
// csv module does. Lines with nothing on them are skipped, not read as rows.
#include <algorithm>

#include "cloze/error.h"
#include "io/records_input.h"

namespace cloze::records {

namespace {

constexpr size_t kNone = static_cast<size_t>(-1);

std::string quoted_list(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) s += (i ? ", \"" : "\"") + names[i] + "\"";
  return s.empty() ? "(none)" : s;
}

class CsvReader : public RecordReader {
 public:
  CsvReader(Input in, char delimiter, const RecordOptions& options)
      : in_(std::move(in)), delim_(delimiter) {
    size_t line = 0;
    // An input with no header at all is empty, not malformed.
    if (!read_row(header_, line)) return;
    text_ = column(options.text_column, "text_column", line);
    if (!options.id_column.empty()) id_ = column(options.id_column, "id_column", line);
    if (!options.label_column.empty())
      label_ = column(options.label_column, "label_column", line);
  }

  bool next(Record& out) override {
    size_t line = 0;
    if (header_.empty() || !read_row(fields_, line)) return false;
    out = Record{};
    out.index = index_++;
    out.line = line;
    if (fields_.size() != header_.size()) {
      // Shifted fields would put the wrong value in the text, so none is taken.
      out.error = where(in_.name(), line) + "expected " + std::to_string(header_.size()) +
                  " fields (as in the header), found " + std::to_string(fields_.size());
      return true;
    }
    out.text = std::move(fields_[text_]);
    if (id_ != kNone) out.id = std::move(fields_[id_]);
    if (label_ != kNone) out.label = std::move(fields_[label_]);
    check_record(out, in_.name());
    return true;
  }

 private:
  size_t column(const std::string& name, const char* option, size_t line) const {
    const auto it = std::find(header_.begin(), header_.end(), name);
    if (it == header_.end())
      throw Error(where(in_.name(), line) + "the header has no column \"" + name +
                  "\"; columns found: " + quoted_list(header_), Subject::option(option));
    return static_cast<size_t>(it - header_.begin());
  }

  // Reads the next row's fields; `line` gets the line it starts on. False at
  // the end of the input. Throws when a quoted field is still open at the end.
  bool read_row(std::vector<std::string>& fields, size_t& line) {
    enum class State { FieldStart, Plain, Quoted, AfterQuote };
    fields.clear();
    std::string field;
    State state = State::FieldStart;
    size_t quote_line = 0;
    line = in_.line();
    for (;;) {
      const int c = in_.get();
      if (c < 0 || c == '\n' || (c == '\r' && in_.peek() == '\n' && state != State::Quoted)) {
        if (state == State::Quoted && c >= 0) {
          field += static_cast<char>(c);
          continue;
        }
        if (state == State::Quoted)
          throw Error(where(in_.name(), quote_line) +
                      "a quoted field starts here but its closing '\"' never comes "
                      "(reached the end of the input); a field that starts with '\"' "
                      "must end with '\"', and a '\"' inside it must be written '\"\"'");
        if (c == '\r') in_.get();  // the '\n' of CRLF
        const bool blank_line = fields.empty() && field.empty() && state == State::FieldStart;
        if (blank_line) {
          if (c < 0) return false;
          line = in_.line();
          continue;
        }
        fields.push_back(std::move(field));
        return true;
      }
      const char ch = static_cast<char>(c);
      switch (state) {
        case State::FieldStart:
          if (ch == '"') {
            state = State::Quoted;
            quote_line = in_.line();
            continue;
          }
          state = State::Plain;
          [[fallthrough]];
        case State::Plain:
          if (ch == delim_) {
            fields.push_back(std::move(field));
            field.clear();
            state = State::FieldStart;
          } else {
            field += ch;
          }
          break;
        case State::Quoted:
          if (ch == '"')
            state = State::AfterQuote;
          else
            field += ch;
          break;
        case State::AfterQuote:
          if (ch == '"') {
            field += '"';
            state = State::Quoted;
          } else if (ch == delim_) {
            fields.push_back(std::move(field));
            field.clear();
            state = State::FieldStart;
          } else {
            field += ch;
            state = State::Plain;
          }
          break;
      }
    }
  }

  Input in_;
  char delim_;
  std::vector<std::string> header_;
  std::vector<std::string> fields_;
  size_t text_ = 0, id_ = kNone, label_ = kNone;
  size_t index_ = 0;
};

}  // namespace

std::unique_ptr<RecordReader> make_csv_reader(Input in, char delimiter,
                                              const RecordOptions& options) {
  return std::make_unique<CsvReader>(std::move(in), delimiter, options);
}

}  // namespace cloze::records
