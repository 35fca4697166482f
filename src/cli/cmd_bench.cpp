// cloze bench: prefill and decode throughput of the engine on this machine,
// and end-to-end classification throughput, as the README's table reports.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>

#include "cli/commands.h"
#include "cli/common.h"
#include "cloze/classify.h"
#include "cloze/error.h"
#include "cloze/hub.h"
#include "kernels/kernels.h"

namespace cloze::cli {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct BenchArgs {
  std::string model = std::string(kDefaultModel);
  std::string lengths = "16,64,128,512";
  size_t threads = 0;
  size_t decode_tokens = 32;
  size_t repeats = 3;
  size_t texts = 64;
  bool json = false;
  std::string precision = "exact";
};

// Short movie reviews for the classification figure (a model directory need
// not come with data).
const char* kReviews[] = {
    "A gorgeous, moving film with performances that stay with you long after the credits.",
    "Two hours of my life I will never get back; the plot makes no sense at all.",
    "The jokes land more often than not, and the cast clearly had fun making it.",
    "Beautifully shot but painfully slow, with characters I never cared about.",
    "An instant classic: smart, funny and surprisingly tender.",
    "The sequel nobody asked for, and it shows in every lazy scene.",
    "I laughed, I cried, and I will watch it again this weekend.",
    "Loud, long and utterly forgettable.",
};

std::vector<int32_t> random_ids(size_t n, size_t vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> ids(n);
  // Stay within the regular vocabulary of real tokenizers' range for realism.
  for (auto& id : ids) id = int32_t(rng() % std::min<size_t>(vocab, 100000));
  return ids;
}

// What this run's matmuls did, in words (from the paths the kernels took).
std::string matmul_method() {
  const unsigned p = kernels::matmul_paths_used();
  std::string out;
  auto add = [&](const char* s) { out += out.empty() ? s : std::string(" + ") + s; };
  if (p & kernels::kPathAmxExact) add("AMX tiles, bf16 weights x float32 activations split in 3 bf16 terms");
  if (p & kernels::kPathAmxBf16) add("AMX tiles, bf16 weights x activations rounded to bf16");
  if (p & kernels::kPathFma) add("float32 FMA, weights as stored");
  return out.empty() ? "none" : out;
}

void run_bench(const BenchArgs& a) {
  auto t0 = Clock::now();
  auto dir = resolve_model(a.model);
  auto model = Model::load(dir, {.threads = a.threads, .precision = precision_option(a.precision)});
  const double load_s = seconds_since(t0);
  RunContext ctx(*model);
  const auto& c = model->config();
  std::vector<size_t> lengths;
  for (int32_t v : parse_ids(a.lengths, "--lengths")) {
    if (v <= 0) throw Error("--lengths: prompt lengths must be positive");
    lengths.push_back(size_t(v));
  }
  const int32_t row = 0;

  // Prefill: one prompt of T tokens, the answer row only, best of N runs.
  std::vector<std::pair<size_t, double>> prefill;
  for (size_t T : lengths) {
    auto ids = random_ids(T, c.vocab_size, T);
    double best = 1e30;
    for (size_t r = 0; r < std::max<size_t>(1, a.repeats); ++r) {
      KVCache cache(*model);
      ForwardItem item{&cache, ids, Outputs::Last};
      auto t = Clock::now();
      ctx.forward({&item, 1}, {.rows = {&row, 1}});
      best = std::min(best, seconds_since(t));
    }
    prefill.push_back({T, double(T) / best});
    if (!a.json) std::fprintf(stderr, "prefill %4zu tokens: %8.1f tokens/s\n", T, double(T) / best);
  }

  // Decode: one token at a time against the cache, full vocabulary row.
  double decode_tps = 0;
  if (a.decode_tokens) {
    KVCache cache(*model);
    auto ids = random_ids(16, c.vocab_size, 7);
    ForwardItem item{&cache, ids, Outputs::Last};
    ctx.forward({&item, 1});
    int32_t next = ids.back();
    auto t = Clock::now();
    for (size_t i = 0; i < a.decode_tokens; ++i) {
      ForwardItem step{&cache, {&next, 1}, Outputs::Last};
      auto r = ctx.forward({&step, 1});
      next = int32_t(std::max_element(r[0].logits.begin(), r[0].logits.end()) - r[0].logits.begin());
    }
    decode_tps = double(a.decode_tokens) / seconds_since(t);
    if (!a.json) std::fprintf(stderr, "decode: %.1f tokens/s\n", decode_tps);
  }

  // Classification with the default template and labels, when a tokenizer is there.
  double texts_per_s = -1;
  if (std::filesystem::is_regular_file(dir / "tokenizer.json") && a.texts) {
    Tokenizer tok = load_tokenizer(dir);
    Classifier clf(*model, tok, ClassifierOptions{});
    std::vector<std::string> texts;
    for (size_t i = 0; i < a.texts; ++i) texts.push_back(kReviews[i % std::size(kReviews)]);
    auto t = Clock::now();
    clf.classify(texts);
    texts_per_s = double(texts.size()) / seconds_since(t);
    if (!a.json) std::fprintf(stderr, "classify: %.2f texts/s (%zu short reviews, default template)\n", texts_per_s, texts.size());
  }

  std::string out;
  if (a.json) {
    out = "{\"threads\":" + std::to_string(model->threads()) + ",\"kernels\":\"" + kernels::kernel_set() +
          "\",\"precision\":\"" + precision_name(model->precision()) + "\",\"matmul\":\"" + matmul_method() +
          "\",\"load_s\":";
    append_float(out, float(load_s));
    out += ",\"prefill\":[";
    for (size_t i = 0; i < prefill.size(); ++i) {
      out += (i ? ",{\"tokens\":" : "{\"tokens\":") + std::to_string(prefill[i].first) + ",\"tokens_per_s\":";
      append_float(out, float(prefill[i].second));
      out += "}";
    }
    out += "],\"decode_tokens_per_s\":";
    append_float(out, float(decode_tps));
    if (texts_per_s >= 0) {
      out += ",\"classify_texts_per_s\":";
      append_float(out, float(texts_per_s));
    }
    out += "}\n";
  } else {
    char buf[256];
    std::snprintf(buf, sizeof buf, "model %s\nthreads %zu, kernels %s, precision %s (%s), load %.3f s\n",
                  dir.string().c_str(), model->threads(), kernels::kernel_set(), precision_name(model->precision()),
                  matmul_method().c_str(), load_s);
    out = buf;
    out += "prompt tokens  prefill tokens/s\n";
    for (auto [T, tps] : prefill) {
      std::snprintf(buf, sizeof buf, "%13zu  %16.1f\n", T, tps);
      out += buf;
    }
    if (a.decode_tokens) {
      std::snprintf(buf, sizeof buf, "decode tokens/s %.1f\n", decode_tps);
      out += buf;
    }
    if (texts_per_s >= 0) {
      std::snprintf(buf, sizeof buf, "classify texts/s %.2f\n", texts_per_s);
      out += buf;
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  auto* cmd = app.add_subcommand("bench", "Measure prefill, decode and classification throughput");
  cmd->add_option("--model,-m", a->model, "Model directory or Hub id")->capture_default_str();
  cmd->add_option("--lengths", a->lengths, "Prompt lengths for prefill")->capture_default_str();
  cmd->add_option("--threads,-t", a->threads, "Worker threads (default: all cores)");
  cmd->add_option("--decode-tokens", a->decode_tokens, "Tokens to decode (0: skip)")->capture_default_str();
  cmd->add_option("--repeats", a->repeats, "Runs per prefill length (best is reported)")->capture_default_str();
  cmd->add_option("--texts", a->texts, "Texts for the classification figure (0: skip)")->capture_default_str();
  cmd->add_flag("--json", a->json, "One JSON object on stdout");
  add_precision_option(cmd, a->precision);
  cmd->callback([a] { run_bench(*a); });
}

}  // namespace cloze::cli
