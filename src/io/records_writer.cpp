// Output rows as JSON Lines or CSV. Each row is flushed as soon as it is
// written, so a consumer at the other end of a pipe sees results as they come.
#include <stdexcept>
#include <unordered_map>

#include "cloze/error.h"
#include "io/records_output.h"

namespace cloze {

OutputFormat parse_output_format(const std::string& name) {
  if (name == "jsonl" || name == "json") return OutputFormat::Jsonl;
  if (name == "csv") return OutputFormat::Csv;
  if (name == "table") return OutputFormat::Table;
  throw Error("unknown output format \"" + name + "\"; expected one of jsonl, csv, table");
}

namespace records {

namespace {

void flatten_into(const Row& value, const std::string& prefix, FlatRow& out) {
  for (const auto& [key, v] : value.items()) {
    if (v.is_object())
      flatten_into(v, prefix + key + ".", out);
    else
      out.emplace_back(prefix + key, &v);
  }
}

// nlohmann writes doubles with the shortest digits that read back to the same
// value, so JSONL output round-trips exactly. Invalid UTF-8 (only possible in
// the text of a row that already failed) is replaced rather than aborting the
// whole output halfway.
std::string dump(const Row& v) {
  return v.dump(-1, ' ', false, Row::error_handler_t::replace);
}

class JsonlWriter : public RecordWriter {
 public:
  explicit JsonlWriter(std::ostream& out) : out_(out) {}
  void write(const Row& row) override {
    require_object(row, "JSONL");
    out_ << dump(row) << '\n';
    out_.flush();
  }

 private:
  std::ostream& out_;
};

class CsvWriter : public RecordWriter {
 public:
  CsvWriter(std::ostream& out, const WriterOptions& options)
      : out_(out), columns_(options.columns) {
    if (options.header_written) {
      started_ = true;
      for (size_t i = 0; i < columns_.size(); ++i) index_.emplace(columns_[i], i);
    }
  }

  void write(const Row& row) override {
    require_object(row, "CSV");
    const FlatRow flat = flatten(row);
    if (!started_) {
      if (columns_.empty())
        for (const auto& [name, v] : flat) columns_.push_back(name);
      header();
    }
    std::vector<std::string> cells(columns_.size());
    for (const auto& [name, v] : flat) {
      const auto it = index_.find(name);
      if (it == index_.end())
        throw std::logic_error("CSV output: column \"" + name +
                               "\" is not in the header written at the start");
      cells[it->second] = cell(*v);
    }
    line(cells);
  }

  void finish() override {
    if (!started_ && !columns_.empty()) header();
  }

 private:
  void header() {
    started_ = true;
    for (size_t i = 0; i < columns_.size(); ++i) index_.emplace(columns_[i], i);
    line(columns_);
  }

  static std::string cell(const Row& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_null()) return "";
    return dump(v);  // numbers (round-trip digits), booleans, arrays
  }

  // RFC 4180: quote a field holding the delimiter, a quote or a line break,
  // doubling the quotes inside.
  void line(const std::vector<std::string>& cells) {
    std::string s;
    for (size_t i = 0; i < cells.size(); ++i) {
      if (i) s += ',';
      const std::string& c = cells[i];
      if (c.find_first_of(",\"\r\n") == std::string::npos) {
        s += c;
        continue;
      }
      s += '"';
      for (char ch : c) {
        if (ch == '"') s += '"';
        s += ch;
      }
      s += '"';
    }
    out_ << s << '\n';
    out_.flush();
  }

  std::ostream& out_;
  std::vector<std::string> columns_;
  std::unordered_map<std::string, size_t> index_;
  bool started_ = false;
};

}  // namespace

FlatRow flatten(const Row& row) {
  FlatRow out;
  flatten_into(row, "", out);
  return out;
}

void require_object(const Row& row, const char* writer) {
  if (!row.is_object())
    throw std::logic_error(std::string(writer) + " output: a row must be a JSON object, got " +
                           row.type_name());
}

}  // namespace records

std::unique_ptr<RecordWriter> RecordWriter::create(std::ostream& out, OutputFormat format,
                                                   const WriterOptions& options) {
  switch (format) {
    case OutputFormat::Jsonl: return std::make_unique<records::JsonlWriter>(out);
    case OutputFormat::Csv: return std::make_unique<records::CsvWriter>(out, options);
    case OutputFormat::Table: return records::make_table_writer(out, options);
  }
  throw std::logic_error("RecordWriter::create: unknown OutputFormat");
}

}  // namespace cloze
