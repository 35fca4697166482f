// The shared half of the record readers: opening files or stdin, choosing the
// format, byte input with line numbers, and the checks every format applies.
#include "io/records_input.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cloze/error.h"

namespace cloze {

namespace {

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

}  // namespace

RecordFormat format_from_path(const std::string& path) {
  if (path == "-") return RecordFormat::Text;
  const std::string ext = lower(std::filesystem::path(path).extension().string());
  if (ext == ".jsonl" || ext == ".json" || ext == ".ndjson") return RecordFormat::Jsonl;
  if (ext == ".csv") return RecordFormat::Csv;
  if (ext == ".tsv") return RecordFormat::Tsv;
  return RecordFormat::Text;
}

RecordFormat parse_record_format(const std::string& name) {
  const std::string n = lower(name);
  if (n == "text" || n == "txt") return RecordFormat::Text;
  if (n == "jsonl" || n == "json") return RecordFormat::Jsonl;
  if (n == "csv") return RecordFormat::Csv;
  if (n == "tsv") return RecordFormat::Tsv;
  throw Error("unknown input format \"" + name + "\"; expected one of text, jsonl, csv, tsv");
}

std::string_view format_name(RecordFormat f) {
  switch (f) {
    case RecordFormat::Text: return "text";
    case RecordFormat::Jsonl: return "jsonl";
    case RecordFormat::Csv: return "csv";
    case RecordFormat::Tsv: return "tsv";
  }
  return "?";
}

namespace {

std::unique_ptr<RecordReader> make_reader(records::Input in, RecordFormat format,
                                          const RecordOptions& options) {
  switch (format) {
    case RecordFormat::Text: return records::make_text_reader(std::move(in));
    case RecordFormat::Jsonl: return records::make_jsonl_reader(std::move(in), options);
    case RecordFormat::Csv: return records::make_csv_reader(std::move(in), ',', options);
    case RecordFormat::Tsv: return records::make_csv_reader(std::move(in), '\t', options);
  }
  throw std::logic_error("make_reader: unknown RecordFormat");
}

}  // namespace

std::unique_ptr<RecordReader> RecordReader::open(const std::string& path, RecordFormat format,
                                                 const RecordOptions& options) {
  if (path == "-") return make_reader(records::Input(nullptr, std::cin, "<stdin>"), format, options);
  // An ifstream opens a directory without complaint and then reads nothing,
  // which would look like an empty input.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error(path + ": cannot read input: it is a directory, expected a file");
  errno = 0;
  auto file = std::make_unique<std::ifstream>(path, std::ios::binary);
  if (!*file) {
    const int err = errno;
    throw Error(path + ": cannot open input: " +
                (err ? std::strerror(err) : std::string("unknown reason")));
  }
  std::istream& ref = *file;
  return make_reader(records::Input(std::move(file), ref, path), format, options);
}

std::unique_ptr<RecordReader> RecordReader::from_stream(std::istream& in, std::string name,
                                                        RecordFormat format,
                                                        const RecordOptions& options) {
  return make_reader(records::Input(nullptr, in, std::move(name)), format, options);
}

namespace records {

Input::Input(std::unique_ptr<std::istream> owned, std::istream& in, std::string name)
    : owned_(std::move(owned)), buf_(in.rdbuf()), name_(std::move(name)) {
  // Look at the BOM bytes one by one and consume only while they match, so
  // an input that does not start with a BOM is not read ahead.
  static constexpr unsigned char kBom[3] = {0xEF, 0xBB, 0xBF};
  for (unsigned char b : kBom) {
    const int c = buf_ ? buf_->sgetc() : -1;
    if (c != b) return;
    pending_ += static_cast<char>(buf_->sbumpc());
  }
  pending_.clear();
}

int Input::get() {
  int c;
  if (pending_at_ < pending_.size()) {
    c = static_cast<unsigned char>(pending_[pending_at_++]);
  } else {
    if (!buf_) return -1;
    const auto r = buf_->sbumpc();
    if (r == std::streambuf::traits_type::eof()) return -1;
    c = static_cast<unsigned char>(std::streambuf::traits_type::to_char_type(r));
  }
  if (c == '\n') ++line_;
  return c;
}

int Input::peek() {
  if (pending_at_ < pending_.size()) return static_cast<unsigned char>(pending_[pending_at_]);
  if (!buf_) return -1;
  const auto r = buf_->sgetc();
  if (r == std::streambuf::traits_type::eof()) return -1;
  return static_cast<unsigned char>(std::streambuf::traits_type::to_char_type(r));
}

bool Input::read_line(std::string& line) {
  line.clear();
  int c = get();
  if (c < 0) return false;
  while (c >= 0 && c != '\n') {
    line += static_cast<char>(c);
    c = get();
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return true;
}

std::string where(const std::string& name, size_t line) {
  return name + ":" + std::to_string(line) + ": ";
}

void check_record(Record& r, const std::string& name) {
  if (!r.error.empty()) return;
  size_t bad = 0;
  auto check = [&](const std::string& s, const char* what) {
    if (!r.error.empty() || valid_utf8(s, &bad)) return;
    r.error = where(name, r.line) + what + " is not valid UTF-8 (bad byte 0x" +
              "0123456789ABCDEF"[static_cast<unsigned char>(s[bad]) >> 4] +
              "0123456789ABCDEF"[static_cast<unsigned char>(s[bad]) & 15] + " at byte offset " +
              std::to_string(bad) + " of the " + what + ")";
  };
  check(r.text, "text");
  if (r.id) check(*r.id, "id");
  if (r.label) check(*r.label, "label");
  if (r.error.empty() && r.text.empty()) r.error = where(name, r.line) + "empty text";
}

}  // namespace records
}  // namespace cloze
