// libFuzzer target for the record readers (.txt, .jsonl, .csv, .tsv). The
// first byte picks the format and which columns are asked for; the rest is
// the file. Every input must read as records (a bad row carries `error`) or
// fail with cloze::Error naming the problem; any other exception, a crash, a
// hang or a sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "cloze/error.h"
#include "cloze/records.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t pick = data[0];
  static const cloze::RecordFormat kFormats[] = {cloze::RecordFormat::Text, cloze::RecordFormat::Jsonl,
                                                 cloze::RecordFormat::Csv, cloze::RecordFormat::Tsv};
  cloze::RecordOptions opt;
  if (pick & 4) opt.id_column = "id";
  if (pick & 8) opt.label_column = "label";
  if (pick & 16) opt.text_column = "review";
  std::istringstream in(std::string(reinterpret_cast<const char*>(data + 1), size - 1));
  try {
    auto reader = cloze::RecordReader::from_stream(in, "fuzz", kFormats[pick % 4], opt);
    cloze::Record r;
    size_t expect = 0, last_line = 0;
    while (reader->next(r)) {
      // Rows come in order, numbered from 0, with lines that never go back.
      if (r.index != expect++ || r.line < last_line || r.line == 0) std::abort();
      last_line = r.line;
      // A row without an error is one the classifier can take.
      if (r.error.empty() && (r.text.empty() || !cloze::valid_utf8(r.text))) std::abort();
      if (expect > size + 1) std::abort();  // more rows than bytes: a loop
    }
  } catch (const cloze::Error&) {
    // A problem with the input as a whole (a header without the column, an
    // unterminated quote): expected.
  }
  return 0;
}
