// cloze-random-model, run as a program: every tensor its config implies is
// written with the right shape and dtype, output is a pure function of the
// flags and seed, and the weights have the documented scales. The dtype
// conversions are checked directly on values whose rounding is known.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <unistd.h>

#include "cloze/model.h"
#include "cloze/safetensors.h"
#include "random_weights.h"
#include "safetensors_expect.h"

namespace fs = std::filesystem;
using cloze::TensorStore;

namespace {

// A fresh directory per test, removed afterwards.
class RandomModel : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = fs::temp_directory_path() /
            ("cloze-random-model-" + std::to_string(::getpid()) + "-" + info->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  // Runs the tool with `args` writing into root_/sub; returns that directory.
  fs::path run(const std::string& sub, const std::string& args) {
    const fs::path out = root_ / sub;
    const std::string cmd = std::string(CLOZE_RANDOM_MODEL_BIN) + " " + args + " --out '" + out.string() +
                            "' 2>'" + (root_ / "stderr.txt").string() + "'";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << slurp(root_ / "stderr.txt");
    return out;
  }

  static std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  // Opens the checkpoint and checks it holds exactly what its config implies.
  static TensorStore check_tensors(const fs::path& dir) {
    const auto cfg = cloze::test::read_json(dir / "config.json");
    const auto want = cloze::test::expected_tensors(cfg);
    auto store = TensorStore::open_dir(dir);
    EXPECT_EQ(store.all().size(), want.size());
    for (const auto& [name, shape] : want) {
      const cloze::TensorInfo* t = store.find(name);
      if (!t) {
        ADD_FAILURE() << dir << " lacks " << name;
        continue;
      }
      EXPECT_EQ(t->shape, shape) << name;
      EXPECT_EQ(t->dtype, cloze::test::dtype_of_config(cfg)) << name;
    }
    return store;
  }

  fs::path root_;
};

const std::string kTiny = "--vocab 96 --hidden 32 --layers 2 --heads 4 --kv-heads 2 --inter 48";

float bf16_value(const std::byte* p) {
  uint32_t u = (uint32_t(p[1]) << 24) | (uint32_t(p[0]) << 16);
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

TEST_F(RandomModel, Qwen2TiedHasBiasesAndNoLmHead) {
  const fs::path dir = run("m", "--arch qwen2 " + kTiny + " --tied --dtype bf16 --seed 1");
  const auto cfg = cloze::test::read_json(dir / "config.json");
  EXPECT_EQ(cfg["model_type"], "qwen2");
  EXPECT_EQ(cfg["architectures"][0], "Qwen2ForCausalLM");
  EXPECT_EQ(cfg["torch_dtype"], "bfloat16");
  EXPECT_EQ(cfg["tie_word_embeddings"], true);
  EXPECT_FALSE(cfg.contains("head_dim"));
  EXPECT_EQ(cfg["rope_theta"], 1e6);
  const auto store = check_tensors(dir);
  EXPECT_NE(store.find("model.layers.1.self_attn.k_proj.bias"), nullptr);
  EXPECT_EQ(store.find("lm_head.weight"), nullptr);
}

TEST_F(RandomModel, LlamaUntiedHasLmHeadAndNoBiases) {
  const fs::path dir = run("m", "--arch llama " + kTiny + " --untied --dtype f16 --seed 2");
  const auto cfg = cloze::test::read_json(dir / "config.json");
  EXPECT_EQ(cfg["architectures"][0], "LlamaForCausalLM");
  EXPECT_EQ(cfg["attention_bias"], false);
  EXPECT_EQ(cfg["torch_dtype"], "float16");
  EXPECT_EQ(cfg["rope_theta"], 1e4);
  const auto store = check_tensors(dir);
  EXPECT_NE(store.find("lm_head.weight"), nullptr);
  EXPECT_EQ(store.find("model.layers.0.self_attn.q_proj.bias"), nullptr);
}

TEST_F(RandomModel, Qwen3HasQKNormsAndItsOwnHeadDim) {
  const fs::path dir = run("m", "--arch qwen3 " + kTiny + " --head-dim 16 --dtype bf16 --seed 3 --rope-theta 5e5 --eps 1e-5");
  const auto cfg = cloze::test::read_json(dir / "config.json");
  EXPECT_EQ(cfg["head_dim"], 16);
  EXPECT_EQ(cfg["rope_theta"], 5e5);
  EXPECT_EQ(cfg["rms_norm_eps"], 1e-5);
  const auto store = check_tensors(dir);
  EXPECT_EQ(store.get("model.layers.0.self_attn.q_norm.weight").shape, std::vector<int64_t>{16});
  EXPECT_EQ(store.get("model.layers.0.self_attn.q_proj.weight").shape, (std::vector<int64_t>{64, 32}));
  EXPECT_EQ(store.find("model.layers.0.self_attn.q_proj.bias"), nullptr);
}

TEST_F(RandomModel, ShardedHoldsTheSameTensorsAsOneFile) {
  const std::string args = "--arch qwen2 " + kTiny + " --untied --dtype f32 --seed 4";
  const fs::path one = run("one", args), three = run("three", args + " --shards 3");
  EXPECT_FALSE(fs::exists(three / "model.safetensors"));
  for (int k = 1; k <= 3; ++k)
    EXPECT_TRUE(fs::exists(three / ("model-0000" + std::to_string(k) + "-of-00003.safetensors")));
  const auto a = check_tensors(one), b = check_tensors(three);
  std::set<std::string> files;
  // Values depend only on (seed, tensor name, index), not on the layout.
  for (const auto& [name, t] : a.all()) {
    const cloze::TensorInfo& u = b.get(name);
    files.insert(u.file);
    ASSERT_EQ(t->nbytes, u.nbytes);
    EXPECT_EQ(std::memcmp(t->data, u.data, t->nbytes), 0) << name;
  }
  EXPECT_EQ(files.size(), 3u);
}

TEST_F(RandomModel, SameSeedSameBytesOtherSeedOtherBytes) {
  const std::string args = "--arch qwen2 " + kTiny + " --dtype bf16";
  const fs::path a = run("a", args + " --seed 7"), b = run("b", args + " --seed 7"), c = run("c", args + " --seed 8");
  const std::string fa = slurp(a / "model.safetensors");
  EXPECT_EQ(fa, slurp(b / "model.safetensors"));
  EXPECT_EQ(slurp(a / "config.json"), slurp(b / "config.json"));
  const std::string fc = slurp(c / "model.safetensors");
  ASSERT_EQ(fa.size(), fc.size());  // same header, different data
  EXPECT_NE(fa, fc);
  // Thread count must not matter either.
  EXPECT_EQ(fa, slurp(run("d", args + " --seed 7 --threads 1") / "model.safetensors"));
}

// Chunks of a large tensor come from separate generators; check a tensor
// spanning several chunks still looks like one draw at the documented scale.
TEST_F(RandomModel, WeightsHaveTheDocumentedScales) {
  const fs::path dir = run("m", "--arch qwen2 --vocab 4096 --hidden 640 --layers 1 --heads 10 --kv-heads 2 "
                                "--inter 64 --dtype bf16 --seed 9");
  const auto store = TensorStore::open_dir(dir);
  auto stats = [&](const std::string& name) {
    const auto& t = store.get(name);
    double s = 0, s2 = 0;
    for (size_t i = 0; i < t.nbytes; i += 2) {
      const double v = bf16_value(t.data + i);
      s += v;
      s2 += v * v;
    }
    const double n = double(t.nbytes / 2), mean = s / n;
    return std::pair{mean, std::sqrt(s2 / n - mean * mean)};
  };
  auto [em, es] = stats("model.embed_tokens.weight");  // 2.6M elements, 3 chunks
  EXPECT_NEAR(em, 0, 1e-3);
  EXPECT_NEAR(es, 1 / std::sqrt(640.0), 1e-3);
  auto [qm, qs] = stats("model.layers.0.self_attn.q_proj.weight");
  EXPECT_NEAR(qm, 0, 2e-3);
  EXPECT_NEAR(qs, 1 / std::sqrt(640.0), 2e-3);
  auto [nm, ns] = stats("model.layers.0.input_layernorm.weight");
  EXPECT_NEAR(nm, 1, 0.03);
  EXPECT_NEAR(ns, 0.1, 0.03);
}

TEST_F(RandomModel, PresetShapeIsQwen2_0_5B) {
  // The preset with fewer layers and a small vocabulary (explicit flags win),
  // to check the preset's other values without writing a gigabyte.
  const fs::path dir = run("m", "--preset qwen2-0.5b --layers 1 --vocab 64");
  const auto cfg = cloze::test::read_json(dir / "config.json");
  EXPECT_EQ(cfg["hidden_size"], 896);
  EXPECT_EQ(cfg["num_attention_heads"], 14);
  EXPECT_EQ(cfg["num_key_value_heads"], 2);
  EXPECT_EQ(cfg["intermediate_size"], 4864);
  EXPECT_EQ(cfg["num_hidden_layers"], 1);
  EXPECT_EQ(cfg["tie_word_embeddings"], true);
  EXPECT_EQ(cfg["torch_dtype"], "bfloat16");
  EXPECT_EQ(cfg["rope_theta"], 1e6);
  EXPECT_EQ(cfg["rms_norm_eps"], 1e-6);
  EXPECT_EQ(cfg["max_position_embeddings"], 32768);
  EXPECT_EQ(cfg["eos_token_id"], 151643);
  check_tensors(dir);
}

TEST_F(RandomModel, CopiesTokenizerAndItsConfig) {
  const fs::path tok = fs::path(CLOZE_FIXTURES) / "tokenizer" / "qwen2" / "tokenizer.json";
  const fs::path dir = run("m", "--arch qwen2 " + kTiny + " --copy-tokenizer '" + tok.string() + "'");
  EXPECT_EQ(slurp(dir / "tokenizer.json"), slurp(tok));
  EXPECT_EQ(slurp(dir / "tokenizer_config.json"), slurp(tok.parent_path() / "tokenizer_config.json"));
}

TEST_F(RandomModel, RewritingWithOtherShardCountLeavesNoStaleFiles) {
  const std::string args = "--arch qwen2 " + kTiny;
  run("m", args + " --shards 2");
  const fs::path dir = run("m", args);
  EXPECT_FALSE(fs::exists(dir / "model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(dir / "model-00001-of-00002.safetensors"));
  check_tensors(dir);
}

TEST_F(RandomModel, RejectsInconsistentShapes) {
  const std::string bin = CLOZE_RANDOM_MODEL_BIN;
  const std::string out = " --out '" + (root_ / "x").string() + "' 2>/dev/null";
  EXPECT_NE(std::system((bin + " --arch qwen2 --vocab 8 --hidden 30 --layers 1 --heads 4 --inter 8" + out).c_str()), 0);
  EXPECT_NE(std::system((bin + " --arch qwen2 --vocab 8 --hidden 32 --layers 1 --heads 4 --kv-heads 3 --inter 8" + out).c_str()), 0);
  EXPECT_NE(std::system((bin + " --arch gpt2 " + kTiny + out).c_str()), 0);
  EXPECT_NE(std::system((bin + " --hidden 32" + out).c_str()), 0);
}

// Round to nearest, ties to even, at the edges where it shows.
TEST(RandomModelDtypes, Bf16RoundsToNearestEven) {
  using cloze::tools::float_to_bf16;
  auto f = [](uint32_t u) { float x; std::memcpy(&x, &u, 4); return x; };
  EXPECT_EQ(float_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(float_to_bf16(f(0x3f808000)), 0x3f80);  // tie, even below
  EXPECT_EQ(float_to_bf16(f(0x3f818000)), 0x3f82);  // tie, even above
  EXPECT_EQ(float_to_bf16(f(0x3f808001)), 0x3f81);  // just over half
  EXPECT_EQ(float_to_bf16(f(0x3f807fff)), 0x3f80);  // just under half
  EXPECT_EQ(float_to_bf16(-2.0f), 0xc000);
  EXPECT_EQ(float_to_bf16(f(0x7f7fffff)), 0x7f80);  // max float rounds to inf
  EXPECT_EQ(float_to_bf16(f(0x7fc00000)) & 0x7fc0, 0x7fc0);  // NaN stays NaN
}

TEST(RandomModelDtypes, F16RoundsToNearestEvenIncludingSubnormals) {
  using cloze::tools::float_to_f16;
  EXPECT_EQ(float_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(float_to_f16(-2.0f), 0xc000);
  EXPECT_EQ(float_to_f16(1.0f + 1.0f / 2048), 0x3c00);      // tie, even below
  EXPECT_EQ(float_to_f16(1.0f + 3.0f / 2048), 0x3c02);      // tie, even above
  EXPECT_EQ(float_to_f16(65504.0f), 0x7bff);                 // largest half
  EXPECT_EQ(float_to_f16(65519.0f), 0x7bff);
  EXPECT_EQ(float_to_f16(65520.0f), 0x7c00);                 // tie with 65536: inf
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -14)), 0x0400);    // smallest normal
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -24)), 0x0001);    // smallest subnormal
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -25)), 0x0000);    // tie with 0: even
  EXPECT_EQ(float_to_f16(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(float_to_f16(std::ldexp(3.0f, -25)), 0x0002);    // 1.5 units: tie, even above
  EXPECT_EQ(float_to_f16(std::ldexp(1023.5f, -24)), 0x0400); // rounds up into the normals
  EXPECT_EQ(float_to_f16(1e-10f), 0x0000);
  EXPECT_EQ(float_to_f16(-1e9f), 0xfc00);
}

}  // namespace

namespace {

// Every preset, shrunk by explicit flags (they win over the preset), writes a
// checkpoint with the family's tensors and config keys that cloze loads and runs.
class RandomPreset : public RandomModel, public ::testing::WithParamInterface<const char*> {};

TEST_P(RandomPreset, ShrunkPresetLoadsAndRuns) {
  const fs::path dir = run("p", std::string("--preset ") + GetParam() + " " + kTiny + " --head-dim 8 --seed 9");
  check_tensors(dir);
  auto model = cloze::Model::load(dir, {.threads = 2});
  const auto& c = model->config();
  EXPECT_EQ(c.num_layers, 2u);
  const std::string p = GetParam();
  if (p == "gemma2-2b") {
    EXPECT_FLOAT_EQ(c.arch.final_softcap, 30.0f);
    EXPECT_TRUE(c.arch.layers[0].window);
  }
  if (p == "gemma3-1b") {
    EXPECT_EQ(c.arch.ropes.size(), 2u);
  }
  if (p == "llama3.2-1b") {
    EXPECT_EQ(c.arch.ropes[0].scaling, "llama3");
  }
  if (p == "phi3-mini") {
    EXPECT_TRUE(c.arch.fused_qkv);
  }
  cloze::KVCache cache(*model);
  std::vector<int32_t> ids = {1, 5, 7, 3, 90, 2};
  cloze::ForwardItem item{&cache, ids, cloze::Outputs::All};
  auto r = cloze::RunContext(*model).forward({&item, 1})[0];
  ASSERT_EQ(r.logits.size(), ids.size() * 96);
  for (float x : r.logits) ASSERT_TRUE(std::isfinite(x));
}

INSTANTIATE_TEST_SUITE_P(Presets, RandomPreset,
                         ::testing::Values("qwen2-0.5b", "llama3.2-1b", "gemma2-2b", "gemma3-1b", "phi3-mini"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (auto& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

}  // namespace
