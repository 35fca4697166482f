// cloze-random-model: writes a random-weight Qwen2 / Llama / Qwen3 / Gemma 2 /
// Gemma 3 text / Phi-3 checkpoint
// in the Hugging Face layout (config.json + safetensors), for tests and for
// end-to-end runs at real model sizes without downloading weights.
//
//   cloze-random-model --preset qwen2-0.5b --out DIR [--copy-tokenizer tokenizer.json]
//   (presets: qwen2-0.5b, llama3.2-1b, gemma2-2b, gemma3-1b, phi3-mini)
//   cloze-random-model --arch qwen3 --vocab 512 --hidden 64 --layers 2 --heads 4
//       --kv-heads 2 --inter 128 --head-dim 32 --tied --dtype bf16 --seed 5 --out DIR
//
// Weight scales are described in random_weights.h; the same flags and seed
// give byte-identical files on every platform.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "checkpoint_writer.h"
#include "random_weights.h"

namespace fs = std::filesystem;
using namespace cloze::tools;

namespace {

struct Options {
  std::string arch = "qwen2", dtype = "bf16", preset, out, tokenizer;
  int64_t vocab = 0, hidden = 0, layers = 0, heads = 0, kv_heads = 0, inter = 0, head_dim = 0;
  bool tied = false, untied = false, attention_bias = false;
  uint64_t seed = 0;
  double eps = 1e-6, std = 0, gain = 1.0;
  std::optional<double> rope_theta;  // default: 1e4 for llama, 1e6 for qwen2/qwen3
  int64_t max_pos = 32768;
  std::optional<int64_t> bos, eos;
  int shards = 1;
  unsigned threads = 0;
  nlohmann::json extra = nlohmann::json::object();  // a preset's family keys, written last
};

// Real shapes (the config.json of each on the Hub), so end-to-end runs and
// benchmarks exercise the sizes and memory traffic of the models people use.
// `extra`: the family's own config keys (rope_scaling, windows, soft-caps).
struct Preset {
  const char* name;
  const char* arch;
  int64_t vocab, hidden, layers, heads, kv_heads, inter, head_dim;
  double rope_theta, eps;
  int64_t max_pos;
  bool tied;
  int64_t bos, eos;
  const char* extra;
};

constexpr Preset kPresets[] = {
    {"qwen2-0.5b", "qwen2", 151936, 896, 24, 14, 2, 4864, 0, 1e6, 1e-6, 32768, true, 151643, 151643, "{}"},
    {"llama3.2-1b", "llama", 128256, 2048, 16, 32, 8, 8192, 64, 5e5, 1e-5, 131072, true, 128000, 128001,
     R"({"rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
         "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}})"},
    {"gemma2-2b", "gemma2", 256000, 2304, 26, 8, 4, 9216, 256, 1e4, 1e-6, 8192, true, 2, 1,
     R"({"sliding_window": 4096, "query_pre_attn_scalar": 256, "attn_logit_softcapping": 50.0,
         "final_logit_softcapping": 30.0})"},
    {"gemma3-1b", "gemma3_text", 262144, 1152, 26, 4, 1, 6912, 256, 1e6, 1e-6, 32768, true, 2, 1,
     R"({"sliding_window": 512, "sliding_window_pattern": 6, "rope_local_base_freq": 10000.0,
         "query_pre_attn_scalar": 256, "attn_logit_softcapping": null, "final_logit_softcapping": null})"},
    {"phi3-mini", "phi3", 32064, 3072, 32, 32, 32, 8192, 0, 1e4, 1e-5, 4096, false, 1, 32000,
     R"({"sliding_window": 2047})"},
};

std::string preset_names() {
  std::string s;
  for (const Preset& p : kPresets) s += (s.empty() ? "" : ", ") + std::string(p.name);
  return s;
}

void apply_preset(Options& o, CLI::App& app) {
  if (o.preset.empty()) return;
  const Preset* p = nullptr;
  for (const Preset& q : kPresets)
    if (o.preset == q.name) p = &q;
  if (!p) throw CLI::ValidationError("--preset", "unknown preset '" + o.preset + "' (known: " + preset_names() + ")");
  // Explicit flags win over the preset, so a preset can be varied (e.g. --layers 2).
  auto unset = [&](const char* flag) { return app.get_option(flag)->count() == 0; };
  if (unset("--arch")) o.arch = p->arch;
  if (unset("--vocab")) o.vocab = p->vocab;
  if (unset("--hidden")) o.hidden = p->hidden;
  if (unset("--layers")) o.layers = p->layers;
  if (unset("--heads")) o.heads = p->heads;
  if (unset("--kv-heads")) o.kv_heads = p->kv_heads;
  if (unset("--inter")) o.inter = p->inter;
  if (unset("--head-dim")) o.head_dim = p->head_dim;
  if (unset("--dtype")) o.dtype = "bf16";
  if (!o.rope_theta) o.rope_theta = p->rope_theta;
  if (unset("--eps")) o.eps = p->eps;
  if (unset("--max-pos")) o.max_pos = p->max_pos;
  if (!o.untied && !o.tied) (p->tied ? o.tied : o.untied) = true;
  if (!o.bos) o.bos = p->bos;
  if (!o.eos) o.eos = p->eos;
  o.extra = nlohmann::json::parse(p->extra);
}

ModelShape shape_of(const Options& o) {
  ModelShape s;
  s.arch = o.arch == "llama"         ? Arch::Llama
           : o.arch == "qwen3"       ? Arch::Qwen3
           : o.arch == "gemma2"      ? Arch::Gemma2
           : o.arch == "gemma3_text" ? Arch::Gemma3
           : o.arch == "phi3"        ? Arch::Phi3
                                     : Arch::Qwen2;
  s.vocab = o.vocab, s.hidden = o.hidden, s.layers = o.layers, s.heads = o.heads;
  s.kv_heads = o.kv_heads ? o.kv_heads : o.heads;
  s.inter = o.inter, s.head_dim = o.head_dim;
  s.tied = !o.untied;
  if (s.arch == Arch::Phi3 && !o.tied) s.tied = false;  // Phi3Config's default: untied
  s.attention_bias = o.attention_bias;
  auto need = [](int64_t v, const char* flag) {
    if (v <= 0) throw CLI::ValidationError(flag, std::string("must be given and positive (or use --preset)"));
  };
  need(s.vocab, "--vocab"), need(s.hidden, "--hidden"), need(s.layers, "--layers"), need(s.heads, "--heads");
  need(s.inter, "--inter");
  if (s.heads % s.kv_heads) throw CLI::ValidationError("--kv-heads", "must divide --heads");
  if (!s.head_dim && s.hidden % s.heads)
    throw CLI::ValidationError("--heads", "must divide --hidden, or give --head-dim");
  return s;
}

OutDType dtype_of(const std::string& d) {
  return d == "f16" ? OutDType::F16 : d == "f32" ? OutDType::F32 : OutDType::BF16;
}

// config.json in the key style transformers writes for each model type
// (sorted keys, two-space indent), matching the golden fixtures' configs.
const char* class_of(Arch a) {
  switch (a) {
    case Arch::Llama: return "LlamaForCausalLM";
    case Arch::Qwen3: return "Qwen3ForCausalLM";
    case Arch::Gemma2: return "Gemma2ForCausalLM";
    case Arch::Gemma3: return "Gemma3ForCausalLM";
    case Arch::Phi3: return "Phi3ForCausalLM";
    default: return "Qwen2ForCausalLM";
  }
}

// The keys only some families have.
void family_keys(nlohmann::json& c, const Options& o, const ModelShape& s) {
  switch (s.arch) {
    case Arch::Llama:
      c["attention_bias"] = s.attention_bias;
      c["mlp_bias"] = false;
      c["pretraining_tp"] = 1;
      break;
    case Arch::Gemma2:
    case Arch::Gemma3:
      c.erase("hidden_act");
      c["hidden_activation"] = "gelu_pytorch_tanh";
      c["attention_bias"] = false;
      c["query_pre_attn_scalar"] = s.effective_head_dim();
      c["sliding_window"] = 4096;
      if (s.arch == Arch::Gemma2) {
        c["attn_logit_softcapping"] = 50.0;
        c["final_logit_softcapping"] = 30.0;
      } else {
        c["sliding_window_pattern"] = 6;
        c["rope_local_base_freq"] = 10000.0;
      }
      break;
    case Arch::Phi3:
      c["sliding_window"] = nullptr;
      break;
    default:  // qwen2, qwen3
      if (s.arch == Arch::Qwen3) c["attention_bias"] = s.attention_bias;
      c["max_window_layers"] = s.layers;
      c["sliding_window"] = o.max_pos;
      c["use_sliding_window"] = false;
  }
}

// config.json in the key style transformers writes for each model type
// (sorted keys, two-space indent), matching the golden fixtures' configs.
nlohmann::json make_config(const Options& o, const ModelShape& s) {
  nlohmann::json c;
  c["architectures"] = {class_of(s.arch)};
  c["model_type"] = o.arch;
  c["attention_dropout"] = 0.0;
  c["hidden_act"] = "silu";
  c["hidden_size"] = s.hidden;
  c["initializer_range"] = o.std > 0 ? o.std : 0.02;
  c["intermediate_size"] = s.inter;
  c["max_position_embeddings"] = o.max_pos;
  c["num_attention_heads"] = s.heads;
  c["num_hidden_layers"] = s.layers;
  c["num_key_value_heads"] = s.kv_heads;
  c["rms_norm_eps"] = o.eps;
  c["rope_scaling"] = nullptr;
  c["rope_theta"] = o.rope_theta ? *o.rope_theta : s.arch == Arch::Llama ? 1e4 : 1e6;
  c["tie_word_embeddings"] = s.tied;
  c["torch_dtype"] = out_dtype_torch_name(dtype_of(o.dtype));
  c["transformers_version"] = "4.52.0.dev0";
  c["use_cache"] = true;
  c["vocab_size"] = s.vocab;
  // Phi-3 has no head_dim key (hidden / heads); the others write it when it is not that.
  if (s.arch != Arch::Phi3 && (s.head_dim || s.arch != Arch::Qwen2)) c["head_dim"] = s.effective_head_dim();
  family_keys(c, o, s);
  if (o.bos) c["bos_token_id"] = *o.bos;
  if (o.eos) c["eos_token_id"] = *o.eos;
  for (const auto& [k, v] : o.extra.items()) c[k] = v;
  return c;
}

void copy_tokenizer(const fs::path& tok, const fs::path& out) {
  if (!fs::is_regular_file(tok)) throw std::runtime_error(tok.string() + ": no such tokenizer file");
  fs::copy_file(tok, out / "tokenizer.json", fs::copy_options::overwrite_existing);
  const fs::path cfg = tok.parent_path() / "tokenizer_config.json";
  if (fs::is_regular_file(cfg)) fs::copy_file(cfg, out / "tokenizer_config.json", fs::copy_options::overwrite_existing);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Write a random-weight checkpoint (config.json + safetensors) in the Hugging Face layout"};
  Options o;
  app.add_option("--preset", o.preset, "Known shape: " + preset_names() + " (explicit flags override it)");
  app.add_option("--arch", o.arch, "Model type")
      ->check(CLI::IsMember({"qwen2", "llama", "qwen3", "gemma2", "gemma3_text", "phi3"}));
  app.add_option("--vocab", o.vocab, "Vocabulary size");
  app.add_option("--hidden", o.hidden, "Hidden size");
  app.add_option("--layers", o.layers, "Number of decoder layers");
  app.add_option("--heads", o.heads, "Attention heads");
  app.add_option("--kv-heads", o.kv_heads, "Key/value heads (default: --heads)");
  app.add_option("--inter", o.inter, "MLP intermediate size");
  app.add_option("--head-dim", o.head_dim, "Head dimension (default: hidden / heads)");
  auto* tied = app.add_flag("--tied", o.tied, "lm_head shares the embedding (the default)");
  app.add_flag("--untied", o.untied, "Write a separate lm_head.weight")->excludes(tied);
  app.add_flag("--attention-bias", o.attention_bias, "q/k/v biases for llama / qwen3 (qwen2 always has them)");
  app.add_option("--dtype", o.dtype, "Stored dtype")->check(CLI::IsMember({"bf16", "f16", "f32"}));
  app.add_option("--seed", o.seed, "Random seed");
  app.add_option("--rope-theta", o.rope_theta, "rope_theta (default 1e4 for llama, 1e6 otherwise)");
  app.add_option("--eps,--rms-eps", o.eps, "rms_norm_eps");
  app.add_option("--max-pos", o.max_pos, "max_position_embeddings");
  app.add_option("--std", o.std, "One std for every matrix and embedding (default: gain/sqrt(fan_in))");
  app.add_option("--gain", o.gain, "Scale of the default per-matrix std");
  app.add_option("--bos", o.bos, "bos_token_id for config.json");
  app.add_option("--eos", o.eos, "eos_token_id for config.json");
  app.add_option("--shards", o.shards, "Write N shards + model.safetensors.index.json")->check(CLI::Range(1, 99999));
  app.add_option("--threads", o.threads, "Writer threads (default: all cores)");
  app.add_option("--copy-tokenizer", o.tokenizer, "Copy this tokenizer.json (and tokenizer_config.json beside it)");
  app.add_option("--out", o.out, "Output directory (created)")->required();
  CLI11_PARSE(app, argc, argv);

  try {
    apply_preset(o, app);
    const ModelShape s = shape_of(o);
    const fs::path out = o.out;
    fs::create_directories(out);
    {
      std::ofstream cfg(out / "config.json");
      cfg << make_config(o, s).dump(2) << "\n";
      if (!cfg) throw std::runtime_error((out / "config.json").string() + ": write failed");
    }
    if (!o.tokenizer.empty()) copy_tokenizer(o.tokenizer, out);
    // A checkpoint from an earlier run with another shard count would leave
    // stale files that a loader could pick up instead of the new ones.
    for (const auto& e : fs::directory_iterator(out)) {
      const std::string n = e.path().filename().string();
      if (n == "model.safetensors.index.json" || (n.rfind("model", 0) == 0 && e.path().extension() == ".safetensors"))
        fs::remove(e.path());
    }
    const auto tensors = model_tensors(s, InitScales{o.gain, o.std});
    uint64_t params = 0;
    for (const auto& t : tensors) params += t.numel();
    const auto t0 = std::chrono::steady_clock::now();
    const uint64_t bytes = write_checkpoint(out, tensors, WriteOptions{dtype_of(o.dtype), o.seed, o.shards, o.threads});
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "%s: %zu tensors, %llu parameters, %.1f MB in %.2f s\n", out.c_str(), tensors.size(),
                 (unsigned long long)params, double(bytes) / 1e6, secs);
  } catch (const CLI::Error& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cloze-random-model: %s\n", e.what());
    return 1;
  }
  return 0;
}
