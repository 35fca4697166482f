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
  EXPECT_TRUE(q2.arch.q_bias && q2.arch.k_bias && q2.arch.v_bias);
  EXPECT_FALSE(q2.arch.o_bias);
  EXPECT_TRUE(q2.tie_word_embeddings);
  EXPECT_EQ(q2.head_dim, 16u);
  EXPECT_EQ(q2.num_kv_heads, 2u);
  auto q3 = cloze::ModelConfig::from_file(kModels + "qwen3-tied-bf16-hd32/config.json");
  EXPECT_TRUE(q3.arch.qk_norm);
  EXPECT_FALSE(q3.arch.q_bias);
  EXPECT_EQ(q3.head_dim, 32u);
  auto ll = cloze::ModelConfig::from_file(kModels + "llama-tied-bf16-mha/config.json");
  EXPECT_EQ(ll.model_type, "llama");
  EXPECT_FALSE(ll.arch.q_bias || ll.arch.o_bias);
  ASSERT_EQ(ll.arch.ropes.size(), 1u);
  EXPECT_DOUBLE_EQ(ll.arch.ropes[0].theta, 10000.0);
  auto sh = cloze::ModelConfig::from_file(kModels + "qwen2-untied-f32-sharded/config.json");
  EXPECT_FALSE(sh.tie_word_embeddings);
  EXPECT_FLOAT_EQ(sh.rms_norm_eps, 1e-5f);
}

// The architecture spec of each new family, as transformers reads its config.
TEST(Config, SpecOfTheNewFamilies) {
  auto g2 = cloze::ModelConfig::from_file(kModels + "gemma2-softcap-bf16/config.json");
  EXPECT_EQ(g2.arch.norm, cloze::NormFlavour::OnePlusW);
  EXPECT_TRUE(g2.arch.sandwich_norms);
  EXPECT_EQ(g2.arch.activation, cloze::Activation::GeluTanh);
  EXPECT_FLOAT_EQ(g2.arch.embed_scale, 8.0f);
  EXPECT_FLOAT_EQ(g2.arch.attn_scale, 0.25f);
  EXPECT_FLOAT_EQ(g2.arch.attn_softcap, 50.0f);
  EXPECT_FLOAT_EQ(g2.arch.final_softcap, 30.0f);
  ASSERT_EQ(g2.arch.layers.size(), 2u);
  EXPECT_EQ(g2.arch.layers[0].window, std::optional<size_t>(8));
  EXPECT_FALSE(g2.arch.layers[1].window);

  auto g3 = cloze::ModelConfig::from_file(kModels + "gemma3-sliding-bf16/config.json");
  EXPECT_TRUE(g3.arch.qk_norm);
  EXPECT_EQ(g3.arch.attn_softcap, 0.0f);
  EXPECT_EQ(g3.arch.final_softcap, 0.0f);
  ASSERT_EQ(g3.arch.ropes.size(), 2u);
  EXPECT_DOUBLE_EQ(g3.arch.ropes[0].theta, 1e6);
  EXPECT_DOUBLE_EQ(g3.arch.ropes[1].theta, 1e4);
  ASSERT_EQ(g3.arch.layers.size(), 3u);
  for (size_t l : {0, 2}) {
    EXPECT_EQ(g3.arch.layers[l].window, std::optional<size_t>(8)) << l;
    EXPECT_EQ(g3.arch.layers[l].rope, 1u) << l;
  }
  EXPECT_FALSE(g3.arch.layers[1].window);
  EXPECT_EQ(g3.arch.layers[1].rope, 0u);

  auto ph = cloze::ModelConfig::from_file(kModels + "phi3-partial-rotary-bf16/config.json");
  EXPECT_TRUE(ph.arch.fused_qkv && ph.arch.fused_gate_up);
  EXPECT_EQ(ph.arch.rotary_dim, 8u);
  EXPECT_FALSE(ph.arch.layers[0].window);  // sliding_window: null

  auto l3 = cloze::ModelConfig::from_file(kModels + "llama3-rope-scaled-bf16/config.json");
  EXPECT_EQ(l3.arch.ropes[0].scaling, "llama3");
  EXPECT_DOUBLE_EQ(l3.arch.ropes[0].factor, 8.0);
  EXPECT_DOUBLE_EQ(l3.arch.ropes[0].original_max_position_embeddings, 64.0);
}

// Qwen2's use_sliding_window slides the layers from max_window_layers on;
// Mistral slides every layer.
TEST(Config, SlidingWindowLayers) {
  json j = base_config();
  j["use_sliding_window"] = true;
  j["sliding_window"] = 5;
  j["max_window_layers"] = 1;
  auto c = cloze::ModelConfig::from_json(j.dump(), "cfg.json");
  EXPECT_FALSE(c.arch.layers[0].window);
  EXPECT_EQ(c.arch.layers[1].window, std::optional<size_t>(5));
  j["model_type"] = "mistral";
  c = cloze::ModelConfig::from_json(j.dump(), "cfg.json");
  EXPECT_EQ(c.arch.layers[0].window, std::optional<size_t>(5));
  EXPECT_FALSE(c.arch.q_bias);
}

TEST(Config, ErrorsCarryTheField) {
  json j = base_config();
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  try {
    cloze::ModelConfig::from_json(j.dump(), "cfg.json");
    FAIL();
  } catch (const cloze::Error& e) {
    EXPECT_EQ(e.subject().kind, cloze::Subject::Kind::Field);
    EXPECT_EQ(e.subject().name, "rope_scaling");
  }
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
        BadCase{"rope_scaling_dynamic", [](json& j) { j["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}}; },
                "'rope_scaling' has type 'dynamic', which cloze does not implement"},
        BadCase{"llama3_missing_key", [](json& j) { j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}}; },
                "'rope_scaling.low_freq_factor' is missing"},
        BadCase{"sliding_zero", [](json& j) { j["use_sliding_window"] = true; j["sliding_window"] = 0; },
                "'sliding_window' must be a positive integer"},
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

// A Phi-3 config over Qwen2 weights: the fused tensor the spec needs is named.
TEST_F(ModelDirErrors, MissingFusedTensorIsNamed) {
  json j = base_config();
  j["model_type"] = "phi3";
  write_config(j);
  std::string e = load_error();
  EXPECT_NE(e.find("checkpoint has no tensor 'model.layers.0.self_attn.qkv_proj.weight' (expected shape [128, 64])"),
            std::string::npos) << e;
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
