// A download that runs out of room mid-file (issue 18): the run fails with
// one line naming the file and the OS error, nothing partial appears under
// snapshots/, the bytes so far stay in blobs/<sha256>.incomplete, and the
// next run, with room again, resumes from there with a range request.
//
// "Out of room" is RLIMIT_FSIZE with SIGXFSZ ignored: write(2) then fails
// part-way with EFBIG exactly as it fails with ENOSPC on a full disk, without
// needing a small filesystem mounted for the test.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "hub_fake.h"

namespace fs = std::filesystem;

namespace {

struct Outcome {
  int status;
  std::string err;
};

Outcome run_shell(const std::string& shell) {
  const std::string err_file = testing::TempDir() + "/hub_full_err_" + std::to_string(::getpid());
  const std::string script = testing::TempDir() + "/hub_full_" + std::to_string(::getpid()) + ".sh";
  std::ofstream(script) << shell << " 2>" << err_file << " >/dev/null\n";
  const int st = std::system(("bash " + script).c_str());
  std::ifstream in(err_file);
  std::stringstream ss;
  ss << in.rdbuf();
  fs::remove(err_file);
  fs::remove(script);
  return {st, ss.str()};
}

TEST(HubDiskFull, NoPartialFileInTheSnapshotAndTheNextRunResumes) {
  const fs::path home = fs::temp_directory_path() / ("cloze_hubfull_" + std::to_string(::getpid()));
  fs::remove_all(home);
  cloze::test::FakeHub hub;
  cloze::test::FakeRepo repo;
  repo.commit = "89abcdef0123456789abcdef0123456789abcdef";
  repo.files["config.json"] = "{\"model_type\": \"qwen2\"}";
  repo.files["tokenizer.json"] = "{}";
  std::string weights(600 * 1024, '\0');
  std::mt19937 rng(7);
  for (char& c : weights) c = char(rng());
  repo.files["model.safetensors"] = weights;
  hub.add("org/full", repo);
  const std::string env = "env -u HF_HOME -u HF_HUB_CACHE -u XDG_CACHE_HOME -u HF_TOKEN -u HF_HUB_OFFLINE HOME=" +
                          home.string() + " HF_ENDPOINT=" + hub.endpoint() + " " + CLOZE_BIN + " download org/full";
  // 256 KiB per file at most: the weights stop part-way.
  const Outcome full = run_shell("trap '' XFSZ; ulimit -f 256; " + env);
  EXPECT_NE(full.status, 0);
  EXPECT_NE(full.err.find("while downloading 'model.safetensors'"), std::string::npos) << full.err;
  EXPECT_NE(full.err.find("File too large"), std::string::npos) << full.err;
  EXPECT_EQ(std::count(full.err.begin(), full.err.end(), '\n'), 1) << full.err;
  const fs::path repo_dir = home / ".cache/huggingface/hub/models--org--full";
  const fs::path snap = repo_dir / "snapshots" / repo.commit;
  EXPECT_FALSE(fs::exists(snap / "model.safetensors"));
  const std::string sha = cloze::hub::sha256_hex(weights);
  const fs::path part = repo_dir / "blobs" / (sha + ".incomplete");
  ASSERT_TRUE(fs::exists(part));
  const auto kept = fs::file_size(part);
  EXPECT_EQ(kept, 256u * 1024);
  // Room again: the download resumes at the byte it stopped.
  hub.reset_log();
  const Outcome again = run_shell(env);
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(hub.count("GET /cdn/" + sha + " range=bytes=" + std::to_string(kept) + "-"), 1);
  std::ifstream in(snap / "model.safetensors", std::ios::binary);
  std::stringstream got;
  got << in.rdbuf();
  EXPECT_TRUE(got.str() == weights);
  EXPECT_FALSE(fs::exists(part));
  fs::remove_all(home);
}

}  // namespace
