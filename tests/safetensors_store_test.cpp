// TensorStore over model directories: the golden checkpoints (one file and
// two shards) and small sharded directories, each with one defect, written
// by tools/make_malformed_safetensors.py.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string>

#include "cloze/error.h"
#include "cloze/safetensors.h"
#include "safetensors_expect.h"
#include "test_util.h"

namespace fs = std::filesystem;
using cloze::TensorStore;

namespace {

const fs::path kModels = fs::path(CLOZE_FIXTURES) / "models";
const fs::path kSharded = fs::path(CLOZE_FIXTURES) / "safetensors" / "sharded";

using cloze::test::error_of;

class SafetensorsGolden : public ::testing::TestWithParam<std::string> {};

// Every tensor the config implies is there with its shape and the config's
// dtype, and nothing else is.
TEST_P(SafetensorsGolden, HoldsExactlyTheTensorsItsConfigImplies) {
  const fs::path dir = kModels / GetParam();
  const auto cfg = cloze::test::read_json(dir / "config.json");
  const auto want = cloze::test::expected_tensors(cfg);
  const auto store = TensorStore::open_dir(dir);
  EXPECT_EQ(store.all().size(), want.size());
  for (const auto& [name, shape] : want) {
    const cloze::TensorInfo* t = store.find(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->shape, shape) << name;
    EXPECT_EQ(t->dtype, cloze::test::dtype_of_config(cfg)) << name;
    EXPECT_EQ(t->nbytes, size_t(t->numel()) * cloze::dtype_size(t->dtype)) << name;
  }
  for (const auto& [name, t] : store.all()) EXPECT_TRUE(want.count(name)) << "unexpected tensor " << name;
  const std::string missing = error_of([&] { store.get("model.layers.99.mlp.up_proj.weight"); });
  EXPECT_NE(missing.find(dir.string() + ": checkpoint has no tensor 'model.layers.99.mlp.up_proj.weight'"),
            std::string::npos)
      << missing;
}

INSTANTIATE_TEST_SUITE_P(SafetensorsStore, SafetensorsGolden, ::testing::ValuesIn(cloze::test::golden_models()),
                         cloze::test::param_name);

TEST(SafetensorsStore, ShardedGoldenMergesBothShards) {
  const fs::path dir = kModels / "qwen2-untied-f32-sharded";
  const auto store = TensorStore::open_dir(dir);
  EXPECT_EQ(store.all().size(), 39u);
  size_t first = 0, second = 0;
  for (const auto& [name, t] : store.all()) {
    if (t->file == (dir / "model-00001-of-00002.safetensors").string()) ++first;
    if (t->file == (dir / "model-00002-of-00002.safetensors").string()) ++second;
  }
  EXPECT_EQ(first, 19u);
  EXPECT_EQ(second, 20u);
  EXPECT_EQ(store.get("lm_head.weight").file, (dir / "model-00001-of-00002.safetensors").string());
}

TEST(SafetensorsStore, SmallShardedDirectoryOpens) {
  const auto store = TensorStore::open_dir(kSharded / "valid_two_shards");
  ASSERT_EQ(store.all().size(), 3u);
  EXPECT_EQ(store.get("a").dtype, cloze::DType::F32);
  EXPECT_EQ(store.get("b").shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(store.get("c").dtype, cloze::DType::F16);
  EXPECT_NE(store.get("c").file.find("model-00002-of-00002.safetensors"), std::string::npos);
}

struct DirCase {
  const char* dir;
  const char* file;     // the file the message must name ("" = the directory)
  const char* message;
};

const DirCase kBadDirs[] = {
    {"index_not_json", "model.safetensors.index.json", ": not valid JSON"},
    {"index_not_object", "model.safetensors.index.json", ": must be a JSON object, found array"},
    {"index_missing_weight_map", "model.safetensors.index.json", ": missing object field 'weight_map'"},
    {"index_weight_map_empty", "model.safetensors.index.json", ": weight_map is empty"},
    {"index_value_not_string", "model.safetensors.index.json", ": weight_map['b'] must be a file name string"},
    {"shard_missing", "model.safetensors.index.json",
     ": names shard 'model-00002-of-00002.safetensors', which does not exist"},
    {"tensor_not_in_shard", "model.safetensors.index.json",
     ": says tensor 'b' is in model-00002-of-00002.safetensors, but it is not there"},
    {"shard_extra_tensor", "model-00001-of-00002.safetensors",
     ": holds tensor 'b', which model.safetensors.index.json does not list"},
    {"tensor_in_two_shards", "model-00002-of-00002.safetensors",
     ": also holds tensor 'a', which model.safetensors.index.json places in model-00001-of-00002.safetensors"},
    {"shard_name_traversal", "model.safetensors.index.json",
     ": weight_map['b'] names '../x.safetensors', which is not a file name in this directory"},
    {"shard_malformed", "model-00002-of-00002.safetensors", ": tensor 'w': data_offsets end 64 is past the data area"},
    {"no_checkpoint", "", ": no model.safetensors or model.safetensors.index.json in this directory"},
};

class SafetensorsBadDir : public ::testing::TestWithParam<DirCase> {};

TEST_P(SafetensorsBadDir, RejectedWithMessageNamingFileAndProblem) {
  const DirCase& c = GetParam();
  const fs::path dir = kSharded / c.dir;
  ASSERT_TRUE(fs::is_directory(dir)) << dir << " missing: rerun tools/make_malformed_safetensors.py";
  const std::string msg = error_of([&] { TensorStore::open_dir(dir); });
  const std::string named = (*c.file ? dir / c.file : dir).string() + c.message;
  EXPECT_NE(msg.find(named), std::string::npos) << "expected: " << named << "\n     got: " << msg;
}

INSTANTIATE_TEST_SUITE_P(SafetensorsStore, SafetensorsBadDir, ::testing::ValuesIn(kBadDirs),
                         [](const auto& info) { return std::string(info.param.dir); });

TEST(SafetensorsStore, EveryShardedCaseIsTested) {
  size_t dirs = 0;
  for (const auto& e : fs::directory_iterator(kSharded)) {
    (void)e;
    ++dirs;
  }
  EXPECT_EQ(dirs, std::size(kBadDirs) + 1);  // + valid_two_shards
}

TEST(SafetensorsStore, NotADirectory) {
  const fs::path p = kModels / "qwen2-tied-bf16" / "config.json";
  EXPECT_NE(error_of([&] { TensorStore::open_dir(p); }).find(p.string() + ": not a directory"), std::string::npos);
}

}  // namespace
