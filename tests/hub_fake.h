#pragma once
// A fake Hugging Face Hub on 127.0.0.1 for the hub tests, speaking the part
// of the protocol cloze uses the way huggingface.co does:
//   HEAD/GET /{org}/{name}/resolve/{revision}/{file}
//     regular files: 200, ETag: W/"<git blob sha1>", X-Repo-Commit
//     *.safetensors (LFS): 302 to /cdn/<sha256> (an absolute URL, like the
//       CDN), X-Linked-Etag: "<sha256>", X-Linked-Size, X-Repo-Commit, and an
//       ETag that is NOT the blob name (the pointer file's)
//     errors: 404 + X-Error-Code RepoNotFound / RevisionNotFound /
//       EntryNotFound (with X-Repo-Commit), 401 + GatedRepo without the token
//   GET /cdn/<sha256>: the bytes, with Range support; can drop a transfer
//     halfway, go slowly, or send corrupted bytes.
// Every request is counted and logged, so tests can assert "no network I/O".
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hub/digest.h"

namespace cloze::test {

struct FakeRepo {
  std::string commit;
  std::map<std::string, std::string> files;  // name -> bytes
  bool gated = false;                        // 401 unless Authorization: Bearer kGoodToken
  std::string tag;                           // another revision name for `commit`
};

class FakeHub {
 public:
  static constexpr const char* kGoodToken = "hf_good_token";

  FakeHub() {
    svr_.Get(R"(/([^/]+)/([^/]+)/resolve/([^/]+)/(.+))",
             [this](const httplib::Request& req, httplib::Response& res) { resolve(req, res); });
    svr_.Get(R"(/cdn/([0-9a-f]+))", [this](const httplib::Request& req, httplib::Response& res) { cdn(req, res); });
    port_ = svr_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
    while (!svr_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeHub() {
    svr_.stop();
    thread_.join();
  }

  void add(const std::string& repo, FakeRepo r) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, data] : r.files)
      if (is_lfs(name)) blobs_[hub::sha256_hex(data)] = data;
    repos_[repo] = std::move(r);
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_.load(); }
  std::vector<std::string> log() const {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }
  void reset_log() {
    std::lock_guard<std::mutex> lock(mu_);
    log_.clear();
    requests_ = 0;
  }
  // Log lines ("GET /cdn/<sha> range=bytes=N-") that contain `s`.
  int count(const std::string& s) const {
    int n = 0;
    for (const auto& line : log())
      if (line.find(s) != std::string::npos) ++n;
    return n;
  }

  std::atomic<int> drop_next{0};      // this many CDN GETs send half the bytes, then close
  std::atomic<int> cdn_delay_ms{0};   // per CDN GET, to make concurrent downloads overlap
  std::atomic<int> corrupt_next{0};   // this many CDN GETs send one wrong byte
  std::atomic<int> unavailable_next{0};  // this many resolve requests answer 503

  static bool is_lfs(const std::string& name) {
    return name.size() > 12 && name.compare(name.size() - 12, 12, ".safetensors") == 0;
  }

 private:
  void record(const httplib::Request& req) {
    ++requests_;
    std::lock_guard<std::mutex> lock(mu_);
    std::string line = req.method + " " + req.path;
    if (req.has_header("Range")) line += " range=" + req.get_header_value("Range");
    log_.push_back(line);
  }

  static void error(httplib::Response& res, int status, const std::string& code, const std::string& msg) {
    res.status = status;
    res.set_header("X-Error-Code", code);
    res.set_header("X-Error-Message", msg);
    res.set_content("{\"error\":\"" + msg + "\"}", "application/json");
  }

  void resolve(const httplib::Request& req, httplib::Response& res) {
    record(req);
    if (unavailable_next.fetch_sub(1) > 0) return error(res, 503, "", "Service Unavailable");
    const std::string repo = req.matches[1].str() + "/" + req.matches[2].str();
    const std::string rev = req.matches[3], file = req.matches[4];
    std::lock_guard<std::mutex> lock(mu_);
    auto it = repos_.find(repo);
    if (it == repos_.end()) return error(res, 404, "RepoNotFound", "Repository not found");
    const FakeRepo& r = it->second;
    if (r.gated && req.get_header_value("Authorization") != std::string("Bearer ") + kGoodToken)
      return error(res, 401, "GatedRepo", "Access to model " + repo + " is restricted. You must be authenticated.");
    if (rev != "main" && rev != r.commit && (r.tag.empty() || rev != r.tag))
      return error(res, 404, "RevisionNotFound", "Invalid rev id: " + rev);
    auto f = r.files.find(file);
    if (f == r.files.end()) {
      res.set_header("X-Repo-Commit", r.commit);
      return error(res, 404, "EntryNotFound", "Entry not found");
    }
    res.set_header("X-Repo-Commit", r.commit);
    if (is_lfs(file)) {
      const std::string sha = hub::sha256_hex(f->second);
      const std::string pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:" + sha + "\nsize " +
                                  std::to_string(f->second.size()) + "\n";
      res.status = 302;
      res.set_header("Location", endpoint() + "/cdn/" + sha + "?X-Amz-Signature=fake");
      res.set_header("X-Linked-Etag", "\"" + sha + "\"");
      res.set_header("X-Linked-Size", std::to_string(f->second.size()));
      res.set_header("ETag", "\"" + hub::git_blob_sha1_hex(pointer) + "\"");
      return;
    }
    res.set_header("ETag", "W/\"" + hub::git_blob_sha1_hex(f->second) + "\"");
    res.set_content(f->second, "application/octet-stream");
  }

  void cdn(const httplib::Request& req, httplib::Response& res) {
    record(req);
    std::string data;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = blobs_.find(req.matches[1]);
      if (it == blobs_.end()) return error(res, 404, "", "no such blob");
      data = it->second;
    }
    if (int ms = cdn_delay_ms.load()) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    if (!req.has_header("Range") && drop_next.fetch_sub(1) > 0) {
      // Declares the whole length, sends half, then closes the connection.
      auto body = std::make_shared<std::string>(std::move(data));
      res.set_content_provider(body->size(), "application/octet-stream",
                               [body](size_t offset, size_t, httplib::DataSink& sink) {
                                 if (offset > 0) return false;
                                 sink.write(body->data(), body->size() / 2);
                                 return true;
                               });
      return;
    }
    if (corrupt_next.fetch_sub(1) > 0) data[data.size() / 2] ^= 0x5a;
    res.set_content(data, "application/octet-stream");  // httplib answers Range with 206
  }

  httplib::Server svr_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::map<std::string, FakeRepo> repos_;
  std::map<std::string, std::string> blobs_;  // sha256 -> bytes
  std::vector<std::string> log_;
  std::atomic<int> requests_{0};
};

}  // namespace cloze::test
