#pragma once
// The results of a classify / eval job: stdout, or `--output FILE` with a
// job file beside it (FILE.cloze-job) that makes `--resume` exact.
//
// The job file holds what identifies the job (model, template, labels,
// options, the input's sha256: `identity`), its sha256, the CSV columns, and
// the resume point: how many rows and bytes of FILE are whole. After each
// batch the rows are written, FILE is fdatasync'd, and only then is the job
// file replaced (write + rename), so at any moment, even after kill -9 or a
// power cut, the resume point counts only rows that are on disk. A resume
// cuts FILE back to that point (dropping a batch written after it), skips
// that many input rows, and appends the rest: since the job and the input are
// the same, the file ends byte for byte as an uninterrupted run's would.
#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/output_file.h"
#include "cloze/records.h"

namespace cloze::cli {

struct JobOutputOptions {
  std::string path;    // empty: stdout (no job file, no resume)
  std::string format;  // jsonl, csv, table; empty: from the extension, else jsonl
  bool resume = false;
  // CSV / table columns, fixed before the first row (an error row lacks the
  // score columns a later row has). Empty: taken from the first row.
  std::vector<std::string> columns;
  // What makes two runs the same job: every setting that changes a row.
  // Null: a plain output file, replaced each run, with no job file.
  nlohmann::ordered_json identity;
};

// The output format a path's extension implies (.csv -> csv, .txt/.table ->
// table, anything else -> jsonl), unless `format` names one.
OutputFormat output_format_for(const std::string& path, const std::string& format);

class JobOutput {
 public:
  explicit JobOutput(JobOutputOptions o);
  ~JobOutput();

  // Rows already in FILE from an earlier run (0 unless resuming).
  size_t rows_done() const { return rows_; }
  // The whole rows already there, as JSON objects (JSONL only; eval rebuilds
  // its metrics from them).
  std::vector<nlohmann::ordered_json> existing_rows() const;
  void write(const Row& row);
  // After each batch: the rows reach the file (and the disk), and the job
  // file records them. Throws on any write error.
  void commit();
  // After the last row: finish the format, close, mark the job complete.
  void finish();
  const std::string& name() const { return out_->name(); }
  bool to_file() const { return !opt_.path.empty(); }
  // Rows written in all (earlier runs included).
  size_t rows() const { return rows_ + pending_; }

 private:
  bool resumable() const { return !opt_.path.empty() && !opt_.identity.is_null(); }
  void save_job_file(bool complete);
  std::string job_path() const { return opt_.path + ".cloze-job"; }

  JobOutputOptions opt_;
  OutputFormat format_;
  std::unique_ptr<OutputFile> out_;
  std::unique_ptr<RecordWriter> writer_;
  std::vector<std::string> columns_;
  size_t rows_ = 0, pending_ = 0;
  uint64_t kept_bytes_ = 0;
};

}  // namespace cloze::cli
