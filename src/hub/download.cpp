// Downloading a model repository into the huggingface_hub cache, in exactly
// the layout huggingface_hub writes, so either tool reuses the other's files:
//   <cache>/models--org--name/blobs/<etag>               the bytes, named by etag
//   <cache>/models--org--name/snapshots/<commit>/<file>  -> ../../blobs/<etag> (relative symlink)
//   <cache>/models--org--name/refs/<revision>            the commit hash, no newline
//   <cache>/models--org--name/.no_exist/<commit>/<file>  empty: the Hub said 404
//   <cache>/.locks/models--org--name/<etag>.lock         held while a blob is written
// The protocol: HEAD {endpoint}/{repo}/resolve/{revision}/{file}, not
// following the CDN redirect, carries X-Repo-Commit, X-Linked-Etag (else
// ETag) and X-Linked-Size; a GET of the same URL that follows redirects
// carries the bytes, resumed with Range after a drop.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "cloze/error.h"
#include "cloze/hub.h"
#include "hub/byte_progress.h"
#include "hub/digest.h"
#include "hub/http.h"
#include "hub/lock.h"
#include "hub/settings.h"

namespace cloze {

namespace fs = std::filesystem;

namespace hub {
namespace {

// What a HEAD tells about one file at one commit.
struct FileInfo {
  std::string commit, etag;
  std::optional<uint64_t> size;
};

// "W/\"abc\"" -> "abc": huggingface_hub names blobs by the bare etag.
std::string normalize_etag(std::string e) {
  if (e.rfind("W/", 0) == 0) e = e.substr(2);
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
  return e;
}

// Names from the network become path components; refuse anything that could
// step outside the cache folder they are meant for.
bool safe_name(const std::string& s) {
  if (s.empty() || s.front() == '.') return false;  // also rules out "." and ".."
  for (unsigned char c : s)
    if (!std::isalnum(c) && c != '.' && c != '_' && c != '-') return false;
  return true;
}

bool safe_relative_path(const std::string& s) {
  if (s.empty() || s.front() == '/') return false;
  size_t i = 0;
  for (;;) {
    const size_t j = s.find('/', i);
    if (!safe_name(s.substr(i, j == std::string::npos ? std::string::npos : j - i))) return false;
    if (j == std::string::npos) return true;
    i = j + 1;
  }
}

std::optional<uint64_t> parse_size(const std::string& s) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoull(s);
}

// "scheme://host[:port]" of an endpoint, for relative redirects.
std::string origin_of(const std::string& url) {
  const auto scheme = url.find("://");
  const auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return slash == std::string::npos ? url : url.substr(0, slash);
}

// A file descriptor closed on every path out.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// A unique suffix for temporary names, so concurrent writers never collide.
std::string tmp_suffix() {
  static std::atomic<unsigned> counter{0};
  return ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
}

class Downloader {
 public:
  Downloader(const HubId& id, const DownloadOptions& opt)
      : id_(id),
        opt_(opt),
        endpoint_(opt.endpoint.empty() ? hub_endpoint() : opt.endpoint),
        token_(opt.token ? *opt.token : hub_token()),
        cache_(hub_cache_dir()),
        repo_(repo_cache_dir(id)),
        progress_(opt.progress.value_or(isatty(STDERR_FILENO) == 1)) {
    while (!endpoint_.empty() && endpoint_.back() == '/') endpoint_.pop_back();
  }

  fs::path run() {
    // The first HEAD names the commit; every later file is asked for at that
    // commit, so the snapshot is one commit even if the branch moves meanwhile.
    const FileInfo config = *head(id_.revision, "config.json", true);
    const std::string commit = config.commit;
    std::vector<std::pair<std::string, FileInfo>> got;
    auto want = [&](const std::string& file, bool required, const FileInfo* known = nullptr) {
      std::optional<FileInfo> info = known ? std::optional<FileInfo>(*known) : head(commit, file, required);
      if (!info) return false;
      fetch_blob(commit, file, *info);
      got.emplace_back(file, *info);
      return true;
    };
    want("config.json", true, &config);
    want("generation_config.json", false);
    want("tokenizer.json", true);
    want("tokenizer_config.json", false);
    if (!want("model.safetensors", false)) {
      if (!want("model.safetensors.index.json", false))
        throw Error("'" + id_.repo + "' (revision '" + id_.revision + "', commit " + commit +
                    ") has neither model.safetensors nor model.safetensors.index.json; cloze reads safetensors "
                    "weights only (convert the checkpoint, or pick a repo that has them)");
      for (const auto& shard : shards(blob_path(got.back().second.etag))) want(shard, true);
    }
    // config.json is what marks a snapshot as present (find_in_cache), so it
    // appears last: an interrupted run never leaves a snapshot that looks whole.
    for (const auto& [file, info] : got)
      if (file != "config.json") link(commit, file, info.etag);
    link(commit, "config.json", config.etag);
    if (id_.revision != commit) write_ref(id_.revision, commit);
    return repo_ / "snapshots" / commit;
  }

 private:
  std::string url(const std::string& revision, const std::string& file) const {
    return endpoint_ + "/" + id_.repo + "/resolve/" + url_quote(revision, false) + "/" + url_quote(file, true);
  }

  std::vector<std::string> auth_headers() const {
    if (token_.empty()) return {};
    return {"Authorization: Bearer " + token_};
  }

  fs::path blob_path(const std::string& etag) const { return repo_ / "blobs" / etag; }

  // Runs `f`, retrying transport failures: connection failures a couple of
  // times quickly (an offline machine should fail in about a second),
  // dropped transfers and 5xx answers more patiently, with exponential backoff.
  template <class F>
  auto retrying(const std::string& what, F&& f) -> decltype(f()) {
    int connect_fails = 0, transfer_fails = 0;
    double delay = opt_.retry_delay_s;
    for (;;) {
      try {
        return f();
      } catch (const NetError& e) {
        double wait;
        if (e.phase == NetError::Phase::Connect) {
          if (++connect_fails > opt_.connect_retries)
            throw HubUnreachable(endpoint_ + ": " + e.what() + " (tried " + std::to_string(connect_fails) + " times)");
          wait = opt_.retry_delay_s / 2 * std::pow(2.0, connect_fails - 1);
        } else {
          // A drop after some progress is not a failing server: start counting again.
          if (e.body_bytes > 0) {
            transfer_fails = 0;
            delay = opt_.retry_delay_s;
          }
          if (++transfer_fails > opt_.transfer_retries)
            throw HubUnreachable(what + " from " + endpoint_ + " failed " + std::to_string(transfer_fails) +
                                 " times in a row, last: " + e.what());
          wait = delay;
          delay = std::min(delay * 2, 30.0);
        }
        if (progress_)
          std::cerr << "cloze: " << what << ": " << e.what() << "; retrying in " << wait << " s\n";
        std::this_thread::sleep_for(std::chrono::duration<double>(wait));
      }
    }
  }

  // Any answer that retrying more could fix becomes a NetError.
  HttpResponse send(const HttpRequest& req) {
    HttpResponse r = http_.send(req);
    if (r.status >= 500 || r.status == 429)
      throw NetError(NetError::Phase::Transfer, "HTTP " + std::to_string(r.status) + " from " + req.url, 0);
    return r;
  }

  [[noreturn]] void status_error(const HttpResponse& r, const std::string& file, const std::string& u) const {
    const std::string code = r.header("x-error-code"), server = r.header("x-error-message");
    const std::string said = server.empty() ? "" : " (the Hub says: " + server + ")";
    const std::string status = "HTTP " + std::to_string(r.status);
    const std::string page = endpoint_ + "/" + id_.repo;
    // Unauthenticated, the Hub answers 401 for private and missing repos alike.
    if ((r.status == 401 || r.status == 403) && code != "RepoNotFound")
      throw Error("access to '" + id_.repo + "' was refused (" + status + " for " + u + ")" + said +
                  ": the model is gated or private. Set HF_TOKEN to an access token from "
                  "https://huggingface.co/settings/tokens and accept the model's license on " + page +
                  (token_.empty() ? " (no token was sent)" : " (a token was sent; it lacks access to this model)"));
    if (r.status == 404 || r.status == 401 || r.status == 403) {
      if (code == "RevisionNotFound")
        throw Error("revision '" + id_.revision + "' of '" + id_.repo + "' does not exist on the Hub (" + status +
                    " for " + u + ")" + said + "; check the branch, tag or commit after '@'");
      if (code == "EntryNotFound")
        throw Error("'" + id_.repo + "' (revision '" + id_.revision + "') has no file '" + file + "' (" + status +
                    " for " + u + ")" + said + "; cloze needs config.json, tokenizer.json and safetensors weights");
      throw Error("no model '" + id_.repo + "' with revision '" + id_.revision + "' and file '" + file +
                  "' on the Hub at " + endpoint_ + " (" + status + " for " + u + ")" + said +
                  "; check the spelling of org/name[@revision] (a private repo also needs HF_TOKEN)");
    }
    throw Error("the Hub answered " + status + " for " + u + said);
  }

  // HEAD of one file. A 404 on an optional file is nullopt (and remembered
  // under .no_exist, as huggingface_hub does); other errors throw.
  std::optional<FileInfo> head(const std::string& revision, const std::string& file, bool required) {
    std::string u = url(revision, file);
    HttpResponse r;
    for (int hop = 0;; ++hop) {
      HttpRequest req;
      req.url = u;
      req.head = true;
      req.headers = auth_headers();
      req.timeout_s = 30;
      r = retrying("HEAD " + file, [&] { return send(req); });
      // A relative redirect is the Hub itself (a renamed repo): follow it.
      // An absolute one is the CDN, and this response has the headers we want.
      const std::string loc = r.header("location");
      if (r.status >= 300 && r.status < 400 && loc.rfind("/", 0) == 0 && hop < 5) {
        u = origin_of(endpoint_) + loc;
        continue;
      }
      break;
    }
    const std::string commit = r.header("x-repo-commit");
    if (r.status == 404 && !required && r.header("x-error-code") != "RepoNotFound" &&
        r.header("x-error-code") != "RevisionNotFound") {
      if (safe_name(commit)) touch_no_exist(commit, file);
      return std::nullopt;
    }
    if (r.status >= 400) status_error(r, file, u);
    FileInfo info;
    info.commit = commit;
    std::string etag = r.header("x-linked-etag");
    info.etag = normalize_etag(etag.empty() ? r.header("etag") : etag);
    info.size = parse_size(r.header("x-linked-size"));
    if (!info.size && r.status == 200) info.size = parse_size(r.header("content-length"));
    if (info.commit.empty() || info.etag.empty())
      throw Error("the server at " + endpoint_ + " sent no " + (info.commit.empty() ? "X-Repo-Commit" : "ETag") +
                  " header for " + u + " (HTTP " + std::to_string(r.status) +
                  "); HF_ENDPOINT must point to a Hugging Face Hub or a mirror that passes on its headers");
    if (!safe_name(info.commit) || !safe_name(info.etag))
      throw Error("the server at " + endpoint_ + " sent a commit or etag that is not a plain name for " + u);
    return info;
  }

  void touch_no_exist(const std::string& commit, const std::string& file) {
    const fs::path p = repo_ / ".no_exist" / commit / file;
    std::error_code ec;
    fs::create_directories(p.parent_path(), ec);
    if (!ec && !fs::exists(p, ec)) std::ofstream{p};
  }

  // The blob for `info.etag`, downloaded unless some run already has it.
  void fetch_blob(const std::string& revision, const std::string& file, const FileInfo& info) {
    const fs::path blob = blob_path(info.etag);
    if (fs::exists(blob)) return;
    fs::create_directories(blob.parent_path());
    FileLock lock(cache_ / ".locks" / repo_folder_name(id_.repo) / (info.etag + ".lock"));
    if (fs::exists(blob)) return;  // another process finished it while we waited
    const fs::path part = blob.string() + ".incomplete";
    std::error_code ec;
    const auto on_disk = fs::exists(part, ec) ? fs::file_size(part, ec) : 0;
    ByteProgress bar(file, info.size, ec ? 0 : on_disk, progress_);
    const std::string u = url(revision, file);
    for (int attempt = 0;; ++attempt) {
      retrying("download of " + file, [&] { fetch_into(part, u, file, info, bar); });
      if (matches_etag(part, info.etag)) break;
      fs::remove(part);
      // A stale partial file from another source can cause one mismatch;
      // a second one from scratch means the server is sending wrong bytes.
      if (attempt == 1)
        throw Error("the bytes downloaded for '" + file + "' of " + id_.repo + " do not match their checksum (" +
                    info.etag + ") twice; nothing was kept. A proxy or mirror may be altering files");
    }
    bar.finish();
    fs::rename(part, blob);  // atomic: the blob name only ever holds a whole, checked file
  }

  static bool matches_etag(const fs::path& file, const std::string& etag) {
    if (is_hex(etag, 64)) return sha256_file(file) == etag;         // LFS: sha256 of the content
    if (is_hex(etag, 40)) return git_blob_sha1_file(file) == etag;  // git: blob sha1
    return true;                                                    // a mirror's own etags: nothing to check
  }

  // One GET attempt, appending to `part` from its current size.
  void fetch_into(const fs::path& part, const std::string& u, const std::string& file, const FileInfo& info,
                  ByteProgress& bar) {
    Fd fd{::open(part.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0666)};
    if (fd.fd < 0) throw write_error(part, file, errno);
    off_t have = ::lseek(fd.fd, 0, SEEK_END);
    if (have < 0) have = 0;  // not seekable (a device): write from the start
    if (info.size && uint64_t(have) == *info.size) return;  // whole already; checked by the caller
    if (info.size && uint64_t(have) > *info.size) have = restart(fd.fd, part, file);
    HttpRequest req;
    req.url = u;
    req.follow_redirects = true;
    req.headers = auth_headers();
    if (have > 0) req.headers.push_back("Range: bytes=" + std::to_string(have) + "-");
    bool first = true;
    req.on_body = [&](long status, const char* data, size_t n) {
      if (first && status == 200 && have > 0) have = restart(fd.fd, part, file);  // the server ignored Range
      first = false;
      for (size_t done = 0; done < n;) {
        const ssize_t w = ::write(fd.fd, data + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) throw write_error(part, file, errno);
        done += size_t(w);
      }
      have += off_t(n);
      bar.update(uint64_t(have));
    };
    const HttpResponse r = send(req);
    if (r.status == 416) {
      // The range starts past the end: the partial file is not a prefix of this blob.
      restart(fd.fd, part, file);
      throw NetError(NetError::Phase::Transfer, "HTTP 416 for a resumed download; starting over", 0);
    }
    if (r.status >= 400) status_error(r, file, u);
    if (r.status < 200 || r.status >= 300)
      throw Error("the Hub answered HTTP " + std::to_string(r.status) + " to GET " + u + " (redirect not followed?)");
    if (info.size && uint64_t(have) != *info.size)
      throw NetError(NetError::Phase::Transfer,
                     "got " + std::to_string(have) + " of " + std::to_string(*info.size) + " bytes", r.body_bytes);
    // On disk before the rename publishes it, so a crash cannot leave a
    // blob name pointing at a hole.
    if (::fsync(fd.fd) != 0 && errno != EINVAL && errno != EROFS) throw write_error(part, file, errno);
  }

  off_t restart(int fd, const fs::path& part, const std::string& file) {
    if (::ftruncate(fd, 0) != 0 || ::lseek(fd, 0, SEEK_SET) != 0) throw write_error(part, file, errno);
    return 0;
  }

  Error write_error(const fs::path& part, const std::string& file, int err) const {
    const std::string dir = part.parent_path().string();
    if (err == ENOSPC || err == EDQUOT)
      return Error("disk full: no space left in " + dir + " while downloading '" + file + "' of " + id_.repo +
                   " (the part written so far is kept in " + part.string() +
                   " and the next run resumes it). Free space there, or set HF_HUB_CACHE to a directory on a "
                   "disk with room");
    return Error("cannot write " + part.string() + " while downloading '" + file + "': " + std::strerror(err) +
                 "; set HF_HUB_CACHE to a writable directory");
  }

  // snapshots/<commit>/<file> -> ../../blobs/<etag>, relative like
  // huggingface_hub's so the cache folder can be moved or mounted elsewhere.
  void link(const std::string& commit, const std::string& file, const std::string& etag) {
    const fs::path at = repo_ / "snapshots" / commit / file;
    fs::create_directories(at.parent_path());
    const fs::path target = blob_path(etag).lexically_relative(at.parent_path());
    std::error_code ec;
    if (fs::is_symlink(at, ec) && fs::read_symlink(at, ec) == target) return;
    // Made aside and renamed over: readers see the old link or the new one.
    const fs::path tmp = at.string() + tmp_suffix();
    fs::create_symlink(target, tmp);
    fs::rename(tmp, at);
  }

  void write_ref(const std::string& revision, const std::string& commit) {
    const fs::path ref = repo_ / "refs" / revision;
    {
      std::ifstream in(ref);
      std::string old;
      if (in && std::getline(in, old) && old == commit) return;
    }
    fs::create_directories(ref.parent_path());
    const fs::path tmp = ref.string() + tmp_suffix();
    {
      std::ofstream out(tmp, std::ios::binary);
      out << commit;  // no newline, like huggingface_hub
      out.close();       // a full disk shows here, not at the destructor
      if (!out) throw Error("cannot write " + tmp.string() + ": " + std::strerror(errno));
    }
    fs::rename(tmp, ref);
  }

  // The shard file names of a model.safetensors.index.json blob.
  std::vector<std::string> shards(const fs::path& index) const {
    std::set<std::string> names;
    try {
      std::ifstream in(index);
      const auto j = nlohmann::json::parse(in);
      for (const auto& [tensor, shard] : j.at("weight_map").items()) names.insert(shard.get<std::string>());
    } catch (const std::exception& e) {
      throw Error("model.safetensors.index.json of '" + id_.repo + "' is not a valid index (" + e.what() + ")");
    }
    for (const auto& n : names)
      if (!safe_relative_path(n))
        throw Error("model.safetensors.index.json of '" + id_.repo + "' names a shard '" + n +
                    "' that is not a plain relative file name");
    return {names.begin(), names.end()};
  }

  HubId id_;
  DownloadOptions opt_;
  std::string endpoint_, token_;
  fs::path cache_, repo_;
  bool progress_;
  HttpClient http_;
};

}  // namespace
}  // namespace hub

fs::path download_model(const HubId& id, const DownloadOptions& opt) {
  if (hub_offline()) {
    std::string why;
    if (auto dir = find_in_cache(id, &why)) return *dir;
    throw Error("model '" + id.repo + "@" + id.revision + "' is not in the Hugging Face cache: " + why +
                "; HF_HUB_OFFLINE is set, so it was not downloaded. Unset HF_HUB_OFFLINE to download it");
  }
  try {
    return hub::Downloader(id, opt).run();
  } catch (const fs::filesystem_error& e) {
    throw Error(std::string("cannot write the Hugging Face cache: ") + e.what() +
                "; set HF_HUB_CACHE to a writable directory with room for the model");
  }
}

}  // namespace cloze
