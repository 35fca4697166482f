// config.json validation and model loading errors: each names what is wrong.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <unistd.h>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cloze/config.h"
#include "cloze/error.h"
#include "cloze/model.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string kModels = std::string(CLOZE_FIXTURES) + "/models/";

json base_config() {
  std::ifstream in(kModels + "qwen2-tied-bf16/config.json");
  return json::parse(in);
}

std::string error_of(const json& j) {
  try {
    cloze::ModelConfig::from_json(j.dump(), "cfg.json");
  } catch (const cloze::Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Config, ReadsEveryGoldenArchitecture) {
  auto q2 = cloze::ModelConfig::from_file(kModels + "qwen2-tied-bf16/config.json");
  EXPECT_EQ(q2.model_type, "qwen2");
  EXPECT_TRUE(q2.attention_bias);
  EXPECT_TRUE(q2.tie_word_embeddings);
  EXPECT_EQ(q2.head_dim, 16u);
  EXPECT_EQ(q2.num_kv_heads, 2u);
  auto q3 = cloze::ModelConfig::from_file(kModels + "qwen3-tied-bf16-hd32/config.json");
  EXPECT_TRUE(q3.qk_norm);
  EXPECT_FALSE(q3.attention_bias);
  EXPECT_EQ(q3.head_dim, 32u);
  auto ll = cloze::ModelConfig::from_file(kModels + "llama-tied-bf16-mha/config.json");
  EXPECT_EQ(ll.model_type, "llama");
  EXPECT_FALSE(ll.attention_bias);
  EXPECT_DOUBLE_EQ(ll.rope_theta, 10000.0);
  auto sh = cloze::ModelConfig::from_file(kModels + "qwen2-untied-f32-sharded/config.json");
  EXPECT_FALSE(sh.tie_word_embeddings);
  EXPECT_FLOAT_EQ(sh.rms_norm_eps, 1e-5f);
}

TEST(Config, RejectsWhatIsNotImplemented) {
  json j = base_config();
  j["model_type"] = "gpt2";
  EXPECT_NE(error_of(j).find("model_type' is 'gpt2', which cloze does not implement"), std::string::npos) << error_of(j);
}


struct BadCase {
  const char* name;
  std::function<void(json&)> edit;
  const char* message;
};

class ConfigErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(ConfigErrors, NamesTheField) {
  json j = base_config();
  GetParam().edit(j);
  std::string e = error_of(j);
  EXPECT_NE(e.find(GetParam().message), std::string::npos) << e;
  EXPECT_NE(e.find("cfg.json"), std::string::npos) << e;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ConfigErrors,
    ::testing::Values(
        BadCase{"missing_model_type", [](json& j) { j.erase("model_type"); }, "'model_type' is missing"},
        BadCase{"missing_hidden", [](json& j) { j.erase("hidden_size"); }, "'hidden_size' is missing"},
        BadCase{"negative_layers", [](json& j) { j["num_hidden_layers"] = -2; }, "'num_hidden_layers' must be a positive integer"},
        BadCase{"string_vocab", [](json& j) { j["vocab_size"] = "512"; }, "'vocab_size' must be a positive integer"},
        BadCase{"kv_heads_not_divisor", [](json& j) { j["num_key_value_heads"] = 3; }, "must divide num_attention_heads"},
        BadCase{"rope_scaling_yarn", [](json& j) { j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}}; },
                "'rope_scaling' has type 'yarn'"},
        BadCase{"gelu", [](json& j) { j["hidden_act"] = "gelu"; }, "only silu"},
        BadCase{"sliding", [](json& j) { j["use_sliding_window"] = true; }, "'use_sliding_window' is true"},
        BadCase{"odd_head_dim", [](json& j) { j["head_dim"] = 15; }, "'head_dim' must be even"},
        BadCase{"bad_eps", [](json& j) { j["rms_norm_eps"] = "tiny"; }, "'rms_norm_eps' must be a positive number"},
        BadCase{"tie_not_bool", [](json& j) { j["tie_word_embeddings"] = 1; }, "'tie_word_embeddings' must be true or false"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Config, NotJson) {
  try {
    cloze::ModelConfig::from_json("{\"model_type\": ", "cfg.json");
    FAIL();
  } catch (const cloze::Error& e) {
    EXPECT_NE(std::string(e.what()).find("cfg.json: not valid JSON"), std::string::npos) << e.what();
  }
}

// A copy of a golden model with an edited config or a tensor renamed.
class ModelDirErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cloze_cfg_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::copy(kModels + "qwen2-tied-bf16/model.safetensors", dir_ / "model.safetensors");
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write_config(const json& j) { std::ofstream(dir_ / "config.json") << j.dump(); }
  std::string load_error() {
    try {
      cloze::Model::load(dir_);
    } catch (const cloze::Error& e) {
      return e.what();
    }
    return "(no error)";
  }
  fs::path dir_;
};

TEST_F(ModelDirErrors, ShapeMismatchNamesTensorAndShapes) {
  json j = base_config();
  j["intermediate_size"] = 256;
  write_config(j);
  std::string e = load_error();
  EXPECT_NE(e.find("tensor 'model.layers.0.mlp.gate_proj.weight' has shape [128, 64], but config.json implies [256, 64]"),
            std::string::npos) << e;
}

TEST_F(ModelDirErrors, MissingTensorIsNamed) {
  json j = base_config();
  j["tie_word_embeddings"] = false;  // now lm_head.weight is required and absent
  write_config(j);
  std::string e = load_error();
  EXPECT_NE(e.find("checkpoint has no tensor 'lm_head.weight'"), std::string::npos) << e;
}

TEST_F(ModelDirErrors, MissingConfigAndWeights) {
  std::string e = load_error();
  EXPECT_NE(e.find("config.json: cannot open"), std::string::npos) << e;
  write_config(base_config());
  fs::remove(dir_ / "model.safetensors");
  e = load_error();
  EXPECT_NE(e.find("no model.safetensors or model.safetensors.index.json"), std::string::npos) << e;
  EXPECT_THROW(cloze::Model::load(dir_ / "nope"), cloze::Error);
}

}  // namespace
