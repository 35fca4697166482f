// Resolving org/name[@rev] through a huggingface_hub-layout cache.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cloze/error.h"
#include "cloze/hub.h"

namespace fs = std::filesystem;

namespace {

class HubCache : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("cloze_hub_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    const fs::path repo = root_ / "hub" / "models--Qwen--Qwen2-0.5B";
    fs::create_directories(repo / "refs");
    fs::create_directories(repo / "snapshots" / kCommit);
    std::ofstream(repo / "refs" / "main") << kCommit;  // huggingface_hub writes no newline
    std::ofstream(repo / "snapshots" / kCommit / "config.json") << "{}";
    saved_home_ = getenv("HF_HOME") ? getenv("HF_HOME") : "";
    saved_offline_ = getenv("HF_HUB_OFFLINE") ? getenv("HF_HUB_OFFLINE") : "";
    unsetenv("HF_HUB_CACHE");
    setenv("HF_HOME", root_.c_str(), 1);
    // These tests read the cache only: an incomplete or missing model must
    // not send resolve_model to the network (hub_download_test covers that).
    setenv("HF_HUB_OFFLINE", "1", 1);
  }
  void TearDown() override {
    if (saved_home_.empty()) unsetenv("HF_HOME"); else setenv("HF_HOME", saved_home_.c_str(), 1);
    if (saved_offline_.empty()) unsetenv("HF_HUB_OFFLINE"); else setenv("HF_HUB_OFFLINE", saved_offline_.c_str(), 1);
    fs::remove_all(root_);
  }
  static constexpr const char* kCommit = "91f3b3a1d1f1a1b1c1d1e1f101112131415161a7";
  fs::path root_;
  std::string saved_home_, saved_offline_;
};

TEST(HubId, Parses) {
  auto id = cloze::parse_hub_id("Qwen/Qwen2-0.5B");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->repo, "Qwen/Qwen2-0.5B");
  EXPECT_EQ(id->revision, "main");
  id = cloze::parse_hub_id("org/name@v1.0");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->revision, "v1.0");
  EXPECT_FALSE(cloze::parse_hub_id("just-a-name"));
  EXPECT_FALSE(cloze::parse_hub_id("a/b/c"));
  EXPECT_FALSE(cloze::parse_hub_id("org/name@../../etc"));
}

TEST_F(HubCache, CacheDirFollowsEnvironment) {
  EXPECT_EQ(cloze::hub_cache_dir(), root_ / "hub");
  setenv("HF_HUB_CACHE", "/x/y", 1);
  EXPECT_EQ(cloze::hub_cache_dir(), fs::path("/x/y"));
  unsetenv("HF_HUB_CACHE");
}

TEST_F(HubCache, ResolvesRefToSnapshot) {
  fs::path want = root_ / "hub" / "models--Qwen--Qwen2-0.5B" / "snapshots" / kCommit;
  EXPECT_EQ(cloze::resolve_model("Qwen/Qwen2-0.5B"), want);
  EXPECT_EQ(cloze::resolve_model(std::string("Qwen/Qwen2-0.5B@") + kCommit), want);
}

TEST_F(HubCache, MissingModelSaysWhereItLookedAndWhatToDo) {
  try {
    cloze::resolve_model("Qwen/Qwen2-1.5B");
    FAIL();
  } catch (const cloze::Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find((root_ / "hub" / "models--Qwen--Qwen2-1.5B").string()), std::string::npos) << m;
    EXPECT_NE(m.find("give a local model directory"), std::string::npos) << m;
    EXPECT_EQ(e.subject().name, "model");
  }
  try {
    cloze::resolve_model("Qwen/Qwen2-0.5B@v2");
    FAIL();
  } catch (const cloze::Error& e) {
    EXPECT_NE(std::string(e.what()).find("revision 'v2' was never downloaded"), std::string::npos) << e.what();
  }
  EXPECT_THROW(cloze::resolve_model("./no/such/dir"), cloze::Error);
}

}  // namespace
