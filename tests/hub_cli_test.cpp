// `cloze download` and a Hub id on `cloze classify`, end to end against the
// fake Hub; and the download progress line.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "hub/byte_progress.h"
#include "hub_fake.h"

namespace fs = std::filesystem;

namespace {

struct Run {
  int status;
  std::string out, err;
  double seconds;
};

// Runs cloze with `env` prefixed (VAR=value ...), stdout and stderr apart.
Run run(const std::string& env, const std::string& args) {
  const std::string err_file = testing::TempDir() + "/hub_cli_err_" + std::to_string(::getpid());
  const std::string cmd = "env " + env + " " + CLOZE_BIN + " " + args + " 2>" + err_file;
  const auto t0 = std::chrono::steady_clock::now();
  FILE* p = popen(cmd.c_str(), "r");
  Run r{-1, {}, {}, 0};
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  r.status = pclose(p);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::ifstream in(err_file);
  std::stringstream ss;
  ss << in.rdbuf();
  r.err = ss.str();
  fs::remove(err_file);
  return r;
}

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class HubCli : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = fs::temp_directory_path() / ("cloze_hubcli_" + std::to_string(::getpid()));
    fs::remove_all(home_);
    fs::create_directories(home_);
    // A clean environment for the child: an empty home, no cache variables.
    env_ = "-u HF_HOME -u HF_HUB_CACHE -u XDG_CACHE_HOME -u HF_TOKEN -u HF_HUB_OFFLINE -u HF_TOKEN_PATH HOME=" +
           home_.string();
  }
  void TearDown() override { fs::remove_all(home_); }
  fs::path home_;
  std::string env_;
};

TEST_F(HubCli, DownloadPrintsTheSnapshotPath) {
  cloze::test::FakeHub hub;
  cloze::test::FakeRepo repo;
  repo.commit = "0123456789abcdef0123456789abcdef01234567";
  const std::string m = std::string(CLOZE_FIXTURES) + "/models/qwen2-tied-bf16/";
  const std::string t = std::string(CLOZE_FIXTURES) + "/tokenizer/qwen2/";
  repo.files["config.json"] = slurp(m + "config.json");
  repo.files["model.safetensors"] = slurp(m + "model.safetensors");
  repo.files["tokenizer.json"] = slurp(t + "tokenizer.json");
  hub.add("org/tiny", repo);
  hub.drop_next = 1;  // the default retry settings resume it
  const auto r = run(env_ + " HF_ENDPOINT=" + hub.endpoint(), "download org/tiny");
  const fs::path snap = home_ / ".cache/huggingface/hub/models--org--tiny/snapshots" / repo.commit;
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, snap.string() + "\n");
  EXPECT_EQ(r.err, "");  // no progress bars when stderr is not a terminal
  EXPECT_EQ(slurp((snap / "model.safetensors").string()), repo.files["model.safetensors"]);
  const std::string sha = cloze::hub::sha256_hex(repo.files["model.safetensors"]);
  const std::string half = std::to_string(repo.files["model.safetensors"].size() / 2);
  EXPECT_EQ(hub.count("GET /cdn/" + sha + " range=bytes=" + half + "-"), 1);

  // Offline: served from the cache without a request.
  hub.reset_log();
  const auto again = run(env_ + " HF_HUB_OFFLINE=1 HF_ENDPOINT=" + hub.endpoint(), "download org/tiny");
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(again.out, r.out);
  EXPECT_EQ(hub.requests(), 0);

  // Unreachable Hub, complete cache: the cached snapshot, with a warning.
  const auto stale = run(env_ + " HF_ENDPOINT=http://127.0.0.1:1", "download org/tiny");
  EXPECT_EQ(stale.status, 0) << stale.err;
  EXPECT_EQ(stale.out, r.out);
  EXPECT_NE(stale.err.find("warning: the Hub could not be reached"), std::string::npos) << stale.err;

  const auto bad = run(env_, "download not-a-hub-id");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("not a Hub id of the form org/name[@revision]"), std::string::npos) << bad.err;
  const auto gone = run(env_ + " HF_ENDPOINT=" + hub.endpoint(), "download org/gone");
  EXPECT_EQ(gone.status, 1 << 8);  // exit status 1, as pclose reports it
  EXPECT_NE(gone.err.find("no model 'org/gone'"), std::string::npos) << gone.err;
}

TEST_F(HubCli, ClassifyWithTheDefaultModelOfflineFailsFastAndClearly) {
  // Nothing listens on port 1: like an offline machine, the Hub is unreachable.
  const auto r = run(env_ + " HF_ENDPOINT=http://127.0.0.1:1", "classify 'A gorgeous film.'");
  EXPECT_EQ(r.status, 1 << 8) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_LT(r.seconds, 5.0);
  const std::string where = (home_ / ".cache/huggingface/hub/models--Qwen--Qwen2-0.5B").string();
  EXPECT_NE(r.err.find("cloze: error: model 'Qwen/Qwen2-0.5B' is not in the Hugging Face cache (" + where +
                       " does not exist) and the Hub could not be reached"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("give a local model directory"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(--model)"), std::string::npos) << r.err;  // the CLI names the flag
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;  // one line
}

TEST(HubProgress, Format) {
  using cloze::hub::format_byte_progress;
  EXPECT_EQ(cloze::hub::format_bytes(512), "512 B");
  EXPECT_EQ(cloze::hub::format_bytes(988'097'824), "988.1 MB");
  EXPECT_EQ(format_byte_progress("model.safetensors", 0, 988'097'824, 0, 0.1),
            "model.safetensors 0 B/988.1 MB 0.0% | 0:00 elapsed");
  EXPECT_EQ(format_byte_progress("model.safetensors", 500'000'000, 1'000'000'000, 0, 10.0),
            "model.safetensors 500.0 MB/1.0 GB 50.0% | 50.0 MB/s | 0:10 elapsed | ETA 0:10");
  // Resumed: the 400 MB already on disk do not count toward the rate.
  EXPECT_EQ(format_byte_progress("x", 500'000'000, 1'000'000'000, 400'000'000, 10.0),
            "x 500.0 MB/1.0 GB 50.0% | 10.0 MB/s | 0:10 elapsed | ETA 0:50");
  EXPECT_EQ(format_byte_progress("x", 2048, std::nullopt, 0, 1.0), "x 2.0 kB | 2.0 kB/s | 0:01 elapsed");
}

}  // namespace
