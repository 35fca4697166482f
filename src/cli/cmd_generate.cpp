// cloze generate: continue a prompt, streaming the text as it is generated.
#include <chrono>
#include <cstdio>
#include <optional>

#include "cli/chat_options.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cloze/error.h"
#include "cloze/generate.h"

namespace cloze::cli {

namespace {
struct GenerateArgs {
  std::string model;
  std::optional<std::string> prompt, ids;  // set when given, even if empty
  GenerateOptions opt;
  size_t threads = 0;
  bool json = false, stats = false;
  // --chat: PROMPT is the user message of a chat rendered by the model's template.
  bool chat = false;
  std::optional<std::string> system;
  ChatFlags chat_flags;
};

void run_generate(GenerateArgs& a) {
  if (a.ids.has_value() == a.prompt.has_value()) throw Error("generate: give exactly one of PROMPT or --ids");
  validate(a.opt);  // before the (slow) model load
  std::vector<int32_t> prompt;
  if (a.ids) prompt = parse_ids(*a.ids);
  auto model = load_model(a.model, a.threads);
  // With --ids a model without tokenizer.json still generates (ids only).
  std::optional<Tokenizer> tok;
  if (!a.ids || std::filesystem::is_regular_file(model->dir() / "tokenizer.json"))
    tok = load_tokenizer(model->dir());
  if (a.chat) {
    if (!a.prompt) throw Error("generate --chat needs PROMPT (the user message), not --ids");
    ModelChatTemplate mt = load_chat_template(model->dir(), a.chat_flags);
    ChatInput in;
    in.add_generation_prompt = true;
    if (a.system) in.messages.push_back({{"role", "system"}, {"content", *a.system}});
    in.messages.push_back({{"role", "user"}, {"content", *a.prompt}});
    // The rendering holds the special tokens (BOS included) the model wants.
    prompt = tok->encode(apply_chat_template(ChatTemplate(mt.source), mt, in, chat_render_options(a.chat_flags)),
                         {.special = true, .add_special_tokens = false});
  } else if (a.system || !a.chat_flags.chat_template.empty()) {
    throw Error("--system and --chat-template need --chat");
  } else if (a.prompt) {
    prompt = tok->encode(*a.prompt);
  }

  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  Clock::time_point t_first{}, t_last{};
  auto on_token = [&](const TokenEvent& e) {
    t_last = Clock::now();
    if (e.index == 0) t_first = t_last;
    if (a.json) return true;  // printed once at the end instead
    // Text as it becomes final; ids (comma-separated) when there is no tokenizer.
    if (tok) std::fwrite(e.text.data(), 1, e.text.size(), stdout);
    else std::printf("%s%d", e.index ? "," : "", e.id);
    std::fflush(stdout);
    return true;
  };
  GenerateResult r = generate(*model, tok ? &*tok : nullptr, prompt, a.opt, on_token);

  if (a.json) {
    std::string out = "{\"ids\":";
    append_ids(out, r.ids);
    out += ",\"text\":";
    if (tok) append_json_string(out, r.text);
    else out += "null";
    out += ",\"finish_reason\":";
    append_json_string(out, r.finish_reason);
    out += "}\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
  } else {
    std::fputc('\n', stdout);
    std::fflush(stdout);  // before --stats writes to stderr
  }
  if (a.stats && !r.ids.empty()) {
    // The first token costs the prefill; the rest are one decode step each.
    auto secs = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
    const double decode_s = secs(t_last - t_first);
    std::fprintf(stderr, "%zu prompt tokens, first token after %.3f s, then %zu more in %.3f s", r.prompt_tokens,
                 secs(t_first - t0), r.ids.size() - 1, decode_s);
    if (r.ids.size() > 1 && decode_s > 0) std::fprintf(stderr, " (%.2f decode tokens/s)", double(r.ids.size() - 1) / decode_s);
    std::fprintf(stderr, "; finish: %s\n", r.finish_reason.c_str());
  }
}

// CLI11 would wrap "-1" around into a huge unsigned count; refuse it instead.
const CLI::Validator kCount(
    [](std::string& v) {
      return v.find('-') == std::string::npos ? std::string() : "expected a non-negative integer, got " + v;
    },
    "COUNT");
}  // namespace

void add_generate_command(CLI::App& app) {
  auto a = std::make_shared<GenerateArgs>();
  auto* cmd = app.add_subcommand("generate", "Continue a prompt: greedy by default, or seeded sampling; streams text");
  cmd->add_option("--model,-m", a->model, "Model directory or Hub id (org/name[@revision])")->required();
  cmd->add_option("prompt", a->prompt, "Prompt text (needs the model's tokenizer.json)");
  cmd->add_option("--ids", a->ids, "Prompt as comma-separated token ids");
  cmd->add_option("--max-tokens,-n", a->opt.max_tokens, "Most tokens to generate (default 64)")
      ->check(kCount);
  cmd->add_option("--temperature", a->opt.temperature, "0 (default): greedy; > 0: sample");
  cmd->add_option("--top-k", a->opt.top_k, "Sample among the k most likely tokens (0: off)")
      ->check(kCount);
  cmd->add_option("--top-p", a->opt.top_p, "Nucleus sampling: smallest set with this much probability (1: off)");
  cmd->add_option("--min-p", a->opt.min_p, "Drop tokens below min-p times the top probability (0: off)");
  cmd->add_option("--seed", a->opt.seed, "Sampling seed (default 0); same seed, same output")
      ->check(kCount);
  cmd->add_option("--stop", a->opt.stop, "Stop before this string (repeat the flag for more)")
      ->allow_extra_args(false);  // one string per --stop, so a prompt after it stays the prompt
  cmd->add_flag("--ignore-eos", a->opt.ignore_eos, "Keep going past end-of-sequence tokens");
  cmd->add_option("--threads,-t", a->threads, "Worker threads (default: all cores)")->check(kCount);
  cmd->add_flag("--json", a->json, "Print {\"ids\":[...],\"text\":...,\"finish_reason\":...} at the end instead of streaming");
  cmd->add_flag("--stats", a->stats, "Print token counts and tokens/s to stderr");
  cmd->add_flag("--chat", a->chat, "PROMPT is a user message: render it through the model's chat template");
  cmd->add_option("--system", a->system, "System message for --chat");
  add_chat_flags(*cmd, a->chat_flags);
  cmd->callback([a] { run_generate(*a); });
}

}  // namespace cloze::cli
