#pragma once
// Input records (texts to classify, with optional id and gold label) read one
// at a time from .txt / .jsonl / .csv / .tsv files or stdin, and output rows
// written one at a time as JSONL / CSV / an aligned table. Both directions
// stream: nothing waits for the whole input, so `cat big.tsv | cloze classify`
// prints its first result while the rest is still arriving.
//
// Problems with one row (bad JSON, a missing field, a ragged CSV row, invalid
// UTF-8, an empty text) do not stop reading: the row comes back with `error`
// set, and the caller decides (skip, emit, or abort). Problems with the input
// as a whole (cannot open it, the CSV header lacks a column, a quote that is
// never closed) throw cloze::Error.
#include <cstddef>
#include <iosfwd>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cloze {

// True when `s` is well-formed UTF-8 (no overlong forms, no surrogates, no
// code points above U+10FFFF). Otherwise false, with *bad_offset (when given)
// set to the byte offset of the first byte of the first bad sequence.
bool valid_utf8(std::string_view s, size_t* bad_offset = nullptr);

// ---------------------------------------------------------------- reading

enum class RecordFormat { Text, Jsonl, Csv, Tsv };

// By extension: .txt -> Text, .jsonl/.json/.ndjson -> Jsonl, .csv -> Csv,
// .tsv -> Tsv (case-insensitive). "-" (stdin) and anything else -> Text.
RecordFormat format_from_path(const std::string& path);
// For a --format flag: "text"/"txt", "jsonl"/"json", "csv", "tsv".
// Throws cloze::Error listing the accepted names.
RecordFormat parse_record_format(const std::string& name);
std::string_view format_name(RecordFormat f);

struct RecordOptions {
  std::string text_column = "text";  // CSV/TSV column or JSONL field holding the text
  std::string id_column;             // empty: records carry no id
  std::string label_column;          // empty: records carry no gold label
};

struct Record {
  size_t index = 0;  // 0-based number among data rows (header and blank lines not counted)
  size_t line = 0;   // 1-based line of the input where the row starts
  std::string text;
  std::optional<std::string> id, label;
  // Non-empty: this row cannot be classified, and why, as
  // "<name>:<line>: <reason>". `text` may then be empty or partial.
  std::string error;
};

class RecordReader {
 public:
  virtual ~RecordReader() = default;

  // `path` "-" reads stdin. Throws cloze::Error when the file cannot be
  // opened (naming the path and the OS reason) and, for CSV/TSV, when the
  // header lacks a requested column or never ends.
  static std::unique_ptr<RecordReader> open(const std::string& path, RecordFormat format,
                                            const RecordOptions& options = {});
  // Reads from a stream the caller keeps alive; `name` is used in messages.
  static std::unique_ptr<RecordReader> from_stream(std::istream& in, std::string name,
                                                   RecordFormat format,
                                                   const RecordOptions& options = {});

  // The next record, or false at the end of the input. Reads only as much
  // input as that record needs. May throw cloze::Error for a fatal problem
  // (a CSV quote still open at the end of the input).
  virtual bool next(Record& out) = 0;
};

// ---------------------------------------------------------------- writing

enum class OutputFormat { Jsonl, Csv, Table };
// "jsonl"/"json", "csv", "table". Throws cloze::Error listing the accepted names.
OutputFormat parse_output_format(const std::string& name);

// One output row: a JSON object whose keys are the columns, in order. Values
// are strings, numbers, booleans, null, or objects (which CSV and the table
// flatten to "name.key" columns, e.g. probs.positive).
using Row = nlohmann::ordered_json;

struct WriterOptions {
  // CSV and table: the (flattened) columns, in order. Empty: taken from the
  // first row. Give them when the first row may lack columns later rows have
  // (an error row before any result row).
  std::vector<std::string> columns;
  // CSV: the header is already there (a resumed job appending to its file);
  // `columns` must then be the header's columns.
  bool header_written = false;
  // Table: the widest a column may be; longer values are cut with "…".
  size_t max_width = 60;
  // Table: a width per column (flattened name); otherwise the column is as
  // wide as its header or its value in the first row (up to max_width),
  // whichever is wider.
  std::map<std::string, size_t> widths;
  // Table: digits after the point for non-integer numbers.
  int precision = 4;
};

class RecordWriter {
 public:
  virtual ~RecordWriter() = default;
  // Writes to `out`, which must outlive the writer.
  static std::unique_ptr<RecordWriter> create(std::ostream& out, OutputFormat format,
                                              const WriterOptions& options = {});
  // Writes and flushes one row. `row` must be an object. CSV/table throw
  // std::logic_error when a row has a column the header does not.
  virtual void write(const Row& row) = 0;
  // Call once after the last row (CSV with explicit columns prints its header
  // even when there were no rows).
  virtual void finish() {}
};

}  // namespace cloze
