#include "cli/job_output.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cloze/error.h"
#include "hub/digest.h"

namespace cloze::cli {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace {

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  if (s.size() < n) return false;
  for (size_t i = 0; i < n; ++i)
    if (std::tolower(static_cast<unsigned char>(s[s.size() - n + i])) != suffix[i]) return false;
  return true;
}

// The columns CSV prints for a row: nested objects become "name.key".
void flat_columns(const Row& row, const std::string& prefix, std::vector<std::string>& out) {
  for (const auto& [k, v] : row.items()) {
    if (v.is_object()) flat_columns(v, prefix + k + ".", out);
    else out.push_back(prefix + k);
  }
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string short_json(const ordered_json& j) {
  std::string s = j.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
  return s.size() > 80 ? s.substr(0, 77) + "..." : s;
}

}  // namespace

OutputFormat output_format_for(const std::string& path, const std::string& format) {
  if (!format.empty()) return parse_output_format(format);
  if (ends_with(path, ".csv")) return OutputFormat::Csv;
  if (ends_with(path, ".txt") || ends_with(path, ".table")) return OutputFormat::Table;
  return OutputFormat::Jsonl;
}

JobOutput::JobOutput(JobOutputOptions o) : opt_(std::move(o)) {
  format_ = output_format_for(opt_.path, opt_.format);
  if (opt_.resume && opt_.path.empty()) throw Error("--resume needs --output FILE (the file to continue)");
  WriterOptions wo;
  wo.columns = columns_ = opt_.columns;
  if (opt_.path.empty()) {
    out_ = OutputFile::standard_output();
    writer_ = RecordWriter::create(out_->stream(), format_, wo);
    return;
  }
  if (opt_.identity.is_null()) {  // a plain file (eval --predictions): no job file
    out_ = OutputFile::open(opt_.path);
    writer_ = RecordWriter::create(out_->stream(), format_, wo);
    return;
  }
  // The format is part of the job: appending CSV rows to JSONL is no resume.
  opt_.identity["output_format"] = format_ == OutputFormat::Csv ? "csv" : format_ == OutputFormat::Table ? "table" : "jsonl";
  const std::string digest = hub::sha256_hex(opt_.identity.dump());
  // The job file goes beside FILE: name FILE when its folder is the problem.
  const fs::path parent = fs::path(opt_.path).parent_path();
  if (::access(parent.empty() ? "." : parent.c_str(), W_OK) != 0)
    throw Error("--output: cannot create '" + opt_.path + "': " + std::strerror(errno));
  std::error_code ec;
  const bool have_out = fs::exists(opt_.path, ec), have_job = fs::exists(job_path(), ec);
  if (opt_.resume && (have_out || have_job)) {
    if (format_ == OutputFormat::Table)
      throw Error("--resume: table output cannot be resumed (its column widths come from the first row); use jsonl or csv");
    if (!have_job)
      throw Error("--resume: '" + opt_.path + "' has no job file '" + job_path() +
                  "', so nothing says which rows it holds; remove it to start over");
    ordered_json job;
    try {
      job = ordered_json::parse(read_all(job_path()));
    } catch (const std::exception& e) {
      throw Error("--resume: '" + job_path() + "' is not a cloze job file: " + e.what());
    }
    if (!job.contains("identity") || !job.contains("rows") || !job.contains("bytes"))
      throw Error("--resume: '" + job_path() + "' is not a cloze job file (no identity, rows or bytes)");
    if (job.value("sha256", "") != digest) {
      // Say which settings differ, so the user can fix the command line.
      std::string diff;
      const ordered_json& was = job["identity"];
      for (const auto& [k, v] : opt_.identity.items()) {
        if (was.contains(k) && was[k] == v) continue;
        diff += (diff.empty() ? "" : "; ") + k + " was " + (was.contains(k) ? short_json(was[k]) : "(unset)") +
                ", now " + short_json(v);
      }
      for (const auto& [k, v] : was.items())
        if (!opt_.identity.contains(k)) diff += (diff.empty() ? "" : "; ") + k + " was " + short_json(v) + ", now (unset)";
      throw Error("--resume: '" + opt_.path + "' was written by a different job (" +
                  (diff.empty() ? std::string("job file digest differs") : diff) +
                  "); rerun with the same settings and input, or choose another --output");
    }
    rows_ = job["rows"].get<size_t>();
    kept_bytes_ = job["bytes"].get<uint64_t>();
    if (job.contains("columns")) columns_ = job["columns"].get<std::vector<std::string>>();
    if (!have_out && kept_bytes_ > 0)
      throw Error("--resume: '" + opt_.path + "' is missing but its job file says " + std::to_string(rows_) +
                  " rows were written; remove '" + job_path() + "' to start over");
    if (format_ == OutputFormat::Csv && !columns_.empty() && kept_bytes_ > 0) {  // the header came with row 1
      wo.columns = columns_;
      wo.header_written = true;
    }
    // The job file records the resume point; a batch written after it goes.
    save_job_file(false);
    out_ = OutputFile::open(opt_.path, /*append=*/true, kept_bytes_);
  } else {
    if (have_out)
      throw Error("--output: '" + opt_.path + "' already exists; add --resume to continue that job, or remove it");
    save_job_file(false);  // before the output exists: a file is never without one
    out_ = OutputFile::open(opt_.path);
  }
  writer_ = RecordWriter::create(out_->stream(), format_, wo);
}

JobOutput::~JobOutput() = default;

std::vector<ordered_json> JobOutput::existing_rows() const {
  std::vector<ordered_json> rows;
  if (rows_ == 0) return rows;
  if (format_ != OutputFormat::Jsonl)
    throw Error("--resume: eval rebuilds its metrics from the rows already written, which needs JSONL output");
  std::ifstream in(opt_.path, std::ios::binary);
  std::string line;
  uint64_t at = 0;
  while (rows.size() < rows_ && std::getline(in, line)) {
    at += line.size() + 1;
    if (at > kept_bytes_) break;
    rows.push_back(ordered_json::parse(line));
  }
  if (rows.size() != rows_)
    throw Error("--resume: '" + opt_.path + "' holds fewer whole rows than its job file says (" + std::to_string(rows.size()) +
                " of " + std::to_string(rows_) + ")");
  return rows;
}

void JobOutput::write(const Row& row) {
  if (format_ == OutputFormat::Csv && columns_.empty()) flat_columns(row, "", columns_);
  writer_->write(row);
  ++pending_;
}

void JobOutput::commit() {
  if (!resumable()) {
    out_->flush();
    return;
  }
  out_->sync();
  rows_ += pending_;
  pending_ = 0;
  kept_bytes_ = out_->size();
  save_job_file(false);
}

void JobOutput::finish() {
  writer_->finish();
  commit();
  out_->close();
  if (resumable()) save_job_file(true);
}

void JobOutput::save_job_file(bool complete) {
  ordered_json job;
  job["cloze_job"] = 1;
  job["sha256"] = hub::sha256_hex(opt_.identity.dump());
  job["identity"] = opt_.identity;
  if (!columns_.empty()) job["columns"] = columns_;
  job["rows"] = rows_;
  job["bytes"] = kept_bytes_;
  job["complete"] = complete;
  const std::string tmp = job_path() + ".tmp";
  const std::string text = job.dump(1) + "\n";
  {
    auto f = OutputFile::open(tmp);
    f->stream() << text;
    f->close();
  }
  if (::rename(tmp.c_str(), job_path().c_str()) != 0)
    throw Error("cannot write the job file '" + job_path() + "': " + std::strerror(errno));
}

}  // namespace cloze::cli
