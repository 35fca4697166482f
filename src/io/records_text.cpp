// Plain text input: one text per line. Every line is a record, empty ones
// included (they come back with an error), so output rows line up one to one
// with input lines.
#include "io/records_input.h"

namespace cloze::records {

namespace {

class TextReader : public RecordReader {
 public:
  explicit TextReader(Input in) : in_(std::move(in)) {}

  bool next(Record& out) override {
    const size_t line = in_.line();
    std::string text;
    if (!in_.read_line(text)) return false;
    out = Record{};
    out.index = index_++;
    out.line = line;
    out.text = std::move(text);
    check_record(out, in_.name());
    return true;
  }

 private:
  Input in_;
  size_t index_ = 0;
};

}  // namespace

std::unique_ptr<RecordReader> make_text_reader(Input in) {
  return std::make_unique<TextReader>(std::move(in));
}

}  // namespace cloze::records
