// Downloading into the huggingface_hub cache layout from a fake Hub on
// loopback (tests/hub_fake.h): layout, resume, retries, errors, locking.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "cloze/error.h"
#include "cloze/hub.h"
#include "cloze/model.h"
#include "hub/digest.h"
#include "hub/lock.h"
#include "hub_fake.h"

namespace fs = std::filesystem;
using cloze::test::FakeHub;
using cloze::test::FakeRepo;

namespace {

const std::string kFixtures = CLOZE_FIXTURES;
constexpr const char* kCommit = "0123456789abcdef0123456789abcdef01234567";
constexpr const char* kCommit2 = "fedcba9876543210fedcba9876543210fedcba98";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A tiny random Qwen2 with the real Qwen2 tokenizer files.
FakeRepo tiny_repo(const std::string& commit = kCommit) {
  FakeRepo r;
  r.commit = commit;
  const std::string m = kFixtures + "/models/qwen2-tied-bf16/", t = kFixtures + "/tokenizer/qwen2/";
  r.files["config.json"] = slurp(m + "config.json");
  r.files["model.safetensors"] = slurp(m + "model.safetensors");
  r.files["tokenizer.json"] = slurp(t + "tokenizer.json");
  r.files["tokenizer_config.json"] = slurp(t + "tokenizer_config.json");
  return r;
}

FakeRepo sharded_repo() {
  FakeRepo r = tiny_repo();
  const std::string m = kFixtures + "/models/qwen2-untied-f32-sharded/";
  r.files.erase("model.safetensors");
  for (const char* f : {"config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors",
                        "model-00002-of-00002.safetensors"})
    r.files[f] = slurp(m + f);
  r.files["generation_config.json"] = "{\"do_sample\": false}\n";
  return r;
}

// Saves and restores the variables these tests change.
class HubDownload : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : kVars) saved_.emplace_back(v, getenv(v) ? std::optional<std::string>(getenv(v)) : std::nullopt);
    for (const char* v : kVars) unsetenv(v);
    root_ = fs::temp_directory_path() / ("cloze_hubdl_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
    setenv("HF_HOME", root_.c_str(), 1);  // the cache is root_/hub, the token file root_/token
    hub_.add("org/tiny", tiny_repo());
    opt_.endpoint = hub_.endpoint();
    opt_.progress = false;
    opt_.retry_delay_s = 0.01;
  }
  void TearDown() override {
    for (auto& [v, val] : saved_)
      if (val) setenv(v, val->c_str(), 1); else unsetenv(v);
    fs::remove_all(root_);
  }
  fs::path repo_dir(const std::string& name = "models--org--tiny") const { return root_ / "hub" / name; }
  cloze::HubId id(const std::string& spec = "org/tiny") const { return *cloze::parse_hub_id(spec); }

  static constexpr const char* kVars[] = {"HF_HOME", "HF_HUB_CACHE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN",
                                          "HF_TOKEN_PATH", "HF_HUB_OFFLINE", "HF_ENDPOINT", "XDG_CACHE_HOME"};
  std::vector<std::pair<const char*, std::optional<std::string>>> saved_;
  fs::path root_;
  FakeHub hub_;
  cloze::DownloadOptions opt_;
};

// Every file of a repo tree, relative, with what it is: "L <target>" for a
// symlink, "F <size>" for a file.
std::map<std::string, std::string> tree(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (auto& e : fs::recursive_directory_iterator(dir)) {
    const std::string rel = e.path().lexically_relative(dir).string();
    if (e.is_symlink()) out[rel] = "L " + fs::read_symlink(e.path()).string();
    else if (e.is_regular_file()) out[rel] = "F " + std::to_string(e.file_size());
  }
  return out;
}

TEST_F(HubDownload, WritesTheHuggingfaceHubLayoutAndTheModelLoads) {
  const fs::path snap = cloze::download_model(id(), opt_);
  const fs::path repo = repo_dir();
  EXPECT_EQ(snap, repo / "snapshots" / kCommit);

  // What huggingface_hub writes for the same files: blobs named by etag
  // (sha256 for LFS, git sha1 otherwise), relative links, the ref, and a
  // .no_exist marker for the optional file the Hub lacks.
  const FakeRepo r = tiny_repo();
  std::map<std::string, std::string> want;
  for (const auto& [name, data] : r.files) {
    const std::string etag = FakeHub::is_lfs(name) ? cloze::hub::sha256_hex(data) : cloze::hub::git_blob_sha1_hex(data);
    want["blobs/" + etag] = "F " + std::to_string(data.size());
    want["snapshots/" + std::string(kCommit) + "/" + name] = "L ../../blobs/" + etag;
    EXPECT_EQ(slurp(snap / name), data) << name;
  }
  want["refs/main"] = "F 40";
  want[".no_exist/" + std::string(kCommit) + "/generation_config.json"] = "F 0";
  EXPECT_EQ(tree(repo), want);
  EXPECT_EQ(slurp(repo / "refs" / "main"), kCommit);  // no newline
  EXPECT_TRUE(fs::exists(root_ / "hub" / ".locks" / "models--org--tiny" /
                         (cloze::hub::sha256_hex(r.files.at("model.safetensors")) + ".lock")));

  // The LFS file came through the CDN redirect, once.
  EXPECT_EQ(hub_.count("GET /cdn/"), 1);
  EXPECT_EQ(cloze::resolve_model("org/tiny", opt_), snap);
  auto model = cloze::Model::load(snap, {.threads = 1});
  EXPECT_GT(model->config().vocab_size, 0);
}

TEST_F(HubDownload, SecondRunDoesNoNetworkIo) {
  const fs::path snap = cloze::resolve_model("org/tiny", opt_);
  EXPECT_GT(hub_.requests(), 0);
  hub_.reset_log();
  EXPECT_EQ(cloze::resolve_model("org/tiny", opt_), snap);
  EXPECT_EQ(cloze::resolve_model("org/tiny@" + std::string(kCommit), opt_), snap);
  EXPECT_EQ(hub_.requests(), 0);
  // `cloze download` asks which commit main is, but fetches no bytes again.
  EXPECT_EQ(cloze::download_model(id(), opt_), snap);
  EXPECT_EQ(hub_.count("GET"), 0);
  EXPECT_GT(hub_.count("HEAD"), 0);
}

TEST_F(HubDownload, ResumesADroppedTransferWithRange) {
  const std::string data = tiny_repo().files.at("model.safetensors");
  const std::string sha = cloze::hub::sha256_hex(data);
  hub_.drop_next = 1;
  const fs::path snap = cloze::download_model(id(), opt_);
  const auto log = hub_.log();
  std::vector<std::string> cdn;
  for (const auto& l : log)
    if (l.find("/cdn/") != std::string::npos) cdn.push_back(l);
  ASSERT_EQ(cdn.size(), 2u);
  EXPECT_EQ(cdn[0], "GET /cdn/" + sha);
  EXPECT_EQ(cdn[1], "GET /cdn/" + sha + " range=bytes=" + std::to_string(data.size() / 2) + "-");
  EXPECT_EQ(cloze::hub::sha256_file(snap / "model.safetensors"), sha);
  EXPECT_FALSE(fs::exists(repo_dir() / "blobs" / (sha + ".incomplete")));
}

TEST_F(HubDownload, ResumesAPartialFileFromAnEarlierRun) {
  const std::string data = tiny_repo().files.at("model.safetensors");
  const std::string sha = cloze::hub::sha256_hex(data);
  fs::create_directories(repo_dir() / "blobs");
  std::ofstream(repo_dir() / "blobs" / (sha + ".incomplete"), std::ios::binary) << data.substr(0, 1000);
  const fs::path snap = cloze::download_model(id(), opt_);
  EXPECT_EQ(hub_.count("GET /cdn/" + sha + " range=bytes=1000-"), 1);
  EXPECT_EQ(slurp(snap / "model.safetensors"), data);
}

TEST_F(HubDownload, CorruptBytesAreRefetchedOnceThenRefused) {
  const std::string sha = cloze::hub::sha256_hex(tiny_repo().files.at("model.safetensors"));
  hub_.corrupt_next = 1;
  const fs::path snap = cloze::download_model(id(), opt_);
  EXPECT_EQ(cloze::hub::sha256_file(snap / "model.safetensors"), sha);
  EXPECT_EQ(hub_.count("GET /cdn/"), 2);

  fs::remove_all(root_ / "hub");
  hub_.corrupt_next = 2;
  try {
    cloze::download_model(id(), opt_);
    FAIL();
  } catch (const cloze::Error& e) {
    EXPECT_NE(std::string(e.what()).find("do not match their checksum"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(repo_dir() / "blobs" / sha));
  EXPECT_FALSE(fs::exists(repo_dir() / "blobs" / (sha + ".incomplete")));
  EXPECT_FALSE(fs::exists(repo_dir() / "snapshots" / kCommit / "config.json"));  // nothing looks complete
}

TEST_F(HubDownload, ShardedModelThroughTheIndex) {
  hub_.add("org/sharded", sharded_repo());
  const fs::path snap = cloze::resolve_model("org/sharded", opt_);
  for (const char* f : {"model.safetensors.index.json", "model-00001-of-00002.safetensors",
                        "model-00002-of-00002.safetensors", "generation_config.json"})
    EXPECT_TRUE(fs::is_symlink(snap / f)) << f;
  EXPECT_TRUE(fs::exists(repo_dir("models--org--sharded") / ".no_exist" / kCommit / "model.safetensors"));
  EXPECT_TRUE(cloze::missing_model_files(snap).empty());
  auto model = cloze::Model::load(snap, {.threads = 1});
  EXPECT_GT(model->config().num_layers, 0);
}

TEST_F(HubDownload, TagAndCommitRevisions) {
  FakeRepo r = tiny_repo(kCommit2);
  r.tag = "v1.0";
  hub_.add("org/tagged", r);
  const fs::path snap = cloze::resolve_model("org/tagged@v1.0", opt_);
  EXPECT_EQ(snap, repo_dir("models--org--tagged") / "snapshots" / kCommit2);
  EXPECT_EQ(slurp(repo_dir("models--org--tagged") / "refs" / "v1.0"), kCommit2);
  EXPECT_FALSE(fs::exists(repo_dir("models--org--tagged") / "refs" / "main"));
  // A commit hash needs no ref; blobs shared with the first download are not fetched again.
  hub_.reset_log();
  EXPECT_EQ(cloze::download_model(id(std::string("org/tagged@") + kCommit2), opt_), snap);
  EXPECT_EQ(hub_.count("GET"), 0);
  EXPECT_FALSE(fs::exists(repo_dir("models--org--tagged") / "refs" / kCommit2));
}

TEST_F(HubDownload, OfflineModeNeverConnects) {
  setenv("HF_HUB_OFFLINE", "1", 1);
  try {
    cloze::resolve_model("org/tiny", opt_);
    FAIL();
  } catch (const cloze::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(repo_dir().string()), std::string::npos) << m;
    EXPECT_NE(m.find("HF_HUB_OFFLINE"), std::string::npos) << m;
    EXPECT_NE(m.find("give a local model directory"), std::string::npos) << m;
    EXPECT_EQ(e.subject().name, "model");
  }
  EXPECT_THROW(cloze::download_model(id(), opt_), cloze::Error);
  EXPECT_EQ(hub_.requests(), 0);
  // Once cached, offline mode serves it.
  setenv("HF_HUB_OFFLINE", "0", 1);
  const fs::path snap = cloze::download_model(id(), opt_);
  setenv("HF_HUB_OFFLINE", "true", 1);
  hub_.reset_log();
  EXPECT_EQ(cloze::download_model(id(), opt_), snap);
  EXPECT_EQ(cloze::resolve_model("org/tiny", opt_), snap);
  EXPECT_EQ(hub_.requests(), 0);
}

TEST_F(HubDownload, GatedRepoNeedsAToken) {
  FakeRepo r = tiny_repo();
  r.gated = true;
  hub_.add("org/gated", r);
  try {
    cloze::download_model(id("org/gated"), opt_);
    FAIL();
  } catch (const cloze::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("401"), std::string::npos) << m;
    EXPECT_NE(m.find("HF_TOKEN"), std::string::npos) << m;
    EXPECT_NE(m.find("accept the model's license on " + hub_.endpoint() + "/org/gated"), std::string::npos) << m;
    EXPECT_NE(m.find("no token was sent"), std::string::npos) << m;
  }
  EXPECT_FALSE(fs::exists(repo_dir("models--org--gated") / "snapshots"));
  setenv("HF_TOKEN", "hf_wrong", 1);
  try {
    cloze::download_model(id("org/gated"), opt_);
    FAIL();
  } catch (const cloze::Error& e) {
    EXPECT_NE(std::string(e.what()).find("a token was sent"), std::string::npos) << e.what();
  }
  // The token file huggingface_hub's `login` writes ($HF_HOME/token) works too.
  unsetenv("HF_TOKEN");
  std::ofstream(root_ / "token") << FakeHub::kGoodToken << "\n";
  EXPECT_TRUE(cloze::missing_model_files(cloze::download_model(id("org/gated"), opt_)).empty());
}

TEST_F(HubDownload, MissingRepoRevisionAndFileSayWhich) {
  auto message = [&](const std::string& spec) {
    try {
      cloze::download_model(id(spec), opt_);
    } catch (const cloze::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::string m = message("org/nope");
  EXPECT_NE(m.find("no model 'org/nope'"), std::string::npos) << m;
  EXPECT_NE(m.find("404"), std::string::npos) << m;
  m = message("org/tiny@v9");
  EXPECT_NE(m.find("revision 'v9' of 'org/tiny' does not exist"), std::string::npos) << m;
  FakeRepo r = tiny_repo();
  r.files.erase("tokenizer.json");
  hub_.add("org/notok", r);
  m = message("org/notok");
  EXPECT_NE(m.find("has no file 'tokenizer.json'"), std::string::npos) << m;
  r.files.erase("model.safetensors");
  r.files["tokenizer.json"] = "{}";
  hub_.add("org/noweights", r);
  m = message("org/noweights");
  EXPECT_NE(m.find("neither model.safetensors nor model.safetensors.index.json"), std::string::npos) << m;
}

TEST_F(HubDownload, UnreachableHubFailsFastAndSaysWhereItLooked) {
  opt_.endpoint = "http://127.0.0.1:1";  // nothing listens there: connection refused
  opt_.retry_delay_s = 0.5;              // the default backoff
  const auto t0 = std::chrono::steady_clock::now();
  try {
    cloze::resolve_model("org/tiny", opt_);
    FAIL();
  } catch (const cloze::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(repo_dir().string() + " does not exist"), std::string::npos) << m;
    EXPECT_NE(m.find("the Hub could not be reached"), std::string::npos) << m;
    EXPECT_NE(m.find("tried 3 times"), std::string::npos) << m;
    EXPECT_NE(m.find("give a local model directory"), std::string::npos) << m;
    EXPECT_EQ(e.subject().name, "model");
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 3.0);
  EXPECT_THROW(cloze::download_model(id(), opt_), cloze::HubUnreachable);
}

TEST_F(HubDownload, ServerErrorsAreRetriedWithBackoffThenReported) {
  hub_.unavailable_next = 3;
  EXPECT_TRUE(cloze::missing_model_files(cloze::download_model(id(), opt_)).empty());
  EXPECT_EQ(hub_.count("HEAD /org/tiny/resolve/main/config.json"), 4);

  fs::remove_all(root_ / "hub");
  hub_.reset_log();
  hub_.unavailable_next = 100;
  opt_.transfer_retries = 2;
  try {
    cloze::download_model(id(), opt_);
    FAIL();
  } catch (const cloze::HubUnreachable& e) {
    EXPECT_NE(std::string(e.what()).find("failed 3 times in a row, last: HTTP 503"), std::string::npos) << e.what();
  }
  EXPECT_EQ(hub_.requests(), 3);
}

TEST_F(HubDownload, DiskFullNamesTheDirectory) {
  const std::string sha = cloze::hub::sha256_hex(tiny_repo().files.at("model.safetensors"));
  fs::create_directories(repo_dir() / "blobs");
  // Writes to /dev/full fail with ENOSPC, as on a full disk.
  fs::create_symlink("/dev/full", repo_dir() / "blobs" / (sha + ".incomplete"));
  try {
    cloze::download_model(id(), opt_);
    FAIL();
  } catch (const cloze::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("disk full: no space left in " + (repo_dir() / "blobs").string()), std::string::npos) << m;
    EXPECT_NE(m.find("HF_HUB_CACHE"), std::string::npos) << m;
  }
  EXPECT_FALSE(fs::exists(repo_dir() / "snapshots" / kCommit / "config.json"));
}

TEST_F(HubDownload, ConcurrentDownloadsShareOneBlob) {
  hub_.cdn_delay_ms = 300;  // the first holds the blob's lock while the second arrives
  fs::path a, b;
  std::thread t1([&] { a = cloze::download_model(id(), opt_); });
  std::thread t2([&] { b = cloze::download_model(id(), opt_); });
  t1.join();
  t2.join();
  EXPECT_EQ(a, b);
  const std::string data = tiny_repo().files.at("model.safetensors");
  EXPECT_EQ(hub_.count("GET /cdn/"), 1);  // the second waited on the lock, then found the blob
  EXPECT_EQ(slurp(a / "model.safetensors"), data);
  size_t blobs = 0;
  for (auto& e : fs::directory_iterator(repo_dir() / "blobs")) {
    ++blobs;
    EXPECT_EQ(e.path().extension(), "") << e.path();  // no .incomplete left
  }
  EXPECT_EQ(blobs, tiny_repo().files.size());
}

TEST_F(HubDownload, CacheCompletionOfAPartialSnapshot) {
  // A snapshot Python left without safetensors is completed, not used as is.
  const fs::path snap = repo_dir() / "snapshots" / kCommit;
  fs::create_directories(snap);
  fs::create_directories(repo_dir() / "refs");
  std::ofstream(repo_dir() / "refs" / "main") << kCommit;
  std::ofstream(snap / "config.json") << "{}";
  EXPECT_EQ(cloze::missing_model_files(snap), (std::vector<std::string>{"tokenizer.json", "model.safetensors"}));
  EXPECT_EQ(cloze::resolve_model("org/tiny", opt_), snap);
  EXPECT_TRUE(cloze::missing_model_files(snap).empty());
  EXPECT_TRUE(fs::is_symlink(snap / "config.json"));
}

TEST(HubLock, ExcludesAnotherProcess) {
  const fs::path path = fs::temp_directory_path() / ("cloze_hublock_" + std::to_string(::getpid())) / "x.lock";
  using Clock = std::chrono::steady_clock;
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    {
      cloze::hub::FileLock lock(path);
      (void)!::write(ready[1], "x", 1);
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    ::_exit(0);
  }
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);  // the child holds the lock now
  const auto t0 = Clock::now();
  { cloze::hub::FileLock lock(path); }
  const double waited = std::chrono::duration<double>(Clock::now() - t0).count();
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(ready[0]);
  ::close(ready[1]);
  fs::remove_all(path.parent_path());
  EXPECT_GT(waited, 0.2);
  EXPECT_EQ(status, 0);
}

}  // namespace
