// Tokenizer: wires the tokenizer.json components into the `tokenizers`
// pipeline: added tokens -> normalizer -> pre-tokenizer -> BPE -> post-processor.
#include "cloze/tokenizer.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>

#include "cloze/error.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/decoder.h"
#include "tokenizer/json_load.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/post_processor.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/utf8.h"

namespace cloze {

using namespace cloze::tok;

struct Tokenizer::Impl {
  std::string what;
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;
  Bpe bpe;
  AddedTokens added;
  PostProcessor post_processor;
  Decoder decoder;
  std::optional<int32_t> eos;

  // Ordinary text (no added tokens in it, already normalized) -> ids.
  // `at_start`: no added token precedes it in the input.
  void encode_plain(std::string_view text, std::vector<int32_t>& ids, bool at_start) const {
    thread_local std::vector<std::string_view> words;
    std::deque<std::string> owned;
    words.clear();
    pre_tokenizer.split(text, words, owned, at_start);
    for (std::string_view w : words) bpe.encode_word(w, ids);
  }
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

namespace {

std::string read_file(const std::filesystem::path& p, const char* what_is_it) {
  std::ifstream f(p, std::ios::binary);
  if (!f)
    throw Error(std::string("cannot open ") + what_is_it + " " + p.string() + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << f.rdbuf();
  return std::move(ss).str();
}

}  // namespace

Tokenizer Tokenizer::from_json(std::string_view json, std::string what) {
  TokenizerFile file = parse_tokenizer_file(json, what);
  auto impl = std::make_unique<Impl>();
  impl->what = what;
  const nlohmann::json& root = file.rest;
  static const nlohmann::json kNull;
  auto member = [&](const char* k) -> const nlohmann::json& {
    const nlohmann::json* v = find(root, k);
    return v ? *v : kNull;
  };
  impl->normalizer = Normalizer::from_json(member("normalizer"), what);
  impl->pre_tokenizer = PreTokenizer::from_json(member("pre_tokenizer"), what);
  impl->post_processor = PostProcessor::from_json(member("post_processor"), what);
  impl->decoder = Decoder::from_json(member("decoder"), what);
  impl->added = AddedTokens::from_json(find(root, "added_tokens"), what, impl->normalizer);
  impl->bpe = Bpe::from_file(file, what, impl->pre_tokenizer.byte_level());
  return Tokenizer(std::move(impl));
}

Tokenizer Tokenizer::from_file(const std::filesystem::path& tokenizer_json) {
  Tokenizer t = from_json(read_file(tokenizer_json, "tokenizer file"), tokenizer_json.string());
  // The end-of-sequence token is named by tokenizer_config.json ("eos_token",
  // a string or {"content": ...}); config.json's eos_token_id is the fallback.
  const auto dir = tokenizer_json.parent_path();
  const auto cfg_path = dir / "tokenizer_config.json";
  std::error_code ec;
  if (std::filesystem::exists(cfg_path, ec)) {
    const std::string what = cfg_path.string();
    nlohmann::json cfg;
    try {
      cfg = nlohmann::json::parse(read_file(cfg_path, "tokenizer config"));
    } catch (const nlohmann::json::exception& e) {
      throw Error(what + ": not valid JSON: " + e.what());
    }
    // "bos_token" / "eos_token": a string or {"content": ...}; the id of it.
    auto special = [&](const char* key) -> std::optional<int32_t> {
      const auto* v = find(cfg, key);
      if (!v || v->is_null()) return std::nullopt;
      std::string name;
      if (v->is_string()) name = v->get<std::string>();
      else if (v->is_object()) name = get_string(*v, "content", what, key);
      else throw Error(what + ": " + key + ": expected a string or an object, found " + json_type_name(*v));
      const auto id = t.token_to_id(name);
      if (!id) throw Error(what + ": " + key + ": \"" + name + "\" is not a token of " + tokenizer_json.string());
      return id;
    };
    t.impl_->eos = special("eos_token");
    // transformers' Llama and Gemma tokenizer classes rebuild the post-
    // processor from add_bos_token (default true) and add_eos_token (default
    // false), whatever tokenizer.json holds; the other classes keep the file's.
    static const char* const kRebuilding[] = {"LlamaTokenizer", "LlamaTokenizerFast", "CodeLlamaTokenizer",
                                              "CodeLlamaTokenizerFast", "GemmaTokenizer", "GemmaTokenizerFast"};
    const auto* cls = find(cfg, "tokenizer_class");
    if (cls && cls->is_string() &&
        std::find(std::begin(kRebuilding), std::end(kRebuilding), cls->get<std::string>()) != std::end(kRebuilding)) {
      const bool add_bos = get_bool(cfg, "add_bos_token", true, what, "tokenizer_config");
      const bool add_eos = get_bool(cfg, "add_eos_token", false, what, "tokenizer_config");
      const auto bos = special("bos_token");
      if (add_bos && !bos) throw Error(what + ": add_bos_token is true but there is no bos_token");
      if (add_eos && !t.impl_->eos) throw Error(what + ": add_eos_token is true but there is no eos_token");
      t.impl_->post_processor = PostProcessor::bos_eos(add_bos ? bos : std::nullopt,
                                                       add_eos ? t.impl_->eos : std::nullopt);
    }
  }
  const auto model_cfg = dir / "config.json";
  if (!t.impl_->eos && std::filesystem::exists(model_cfg, ec)) {
    try {
      const auto cfg = nlohmann::json::parse(read_file(model_cfg, "model config"));
      const nlohmann::json* e = find(cfg, "eos_token_id");
      if (e && e->is_array() && !e->empty()) e = &(*e)[0];
      if (e && e->is_number_integer()) t.impl_->eos = e->get<int32_t>();
    } catch (const nlohmann::json::exception& e) {
      throw Error(model_cfg.string() + ": not valid JSON: " + e.what());
    }
  }
  return t;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, const EncodeOptions& opt) const {
  if (auto bad = utf8::first_invalid(text))
    throw Error("text to tokenize is not valid UTF-8: bad byte 0x" +
                [&] { char b[3]; std::snprintf(b, sizeof b, "%02X", static_cast<unsigned char>(text[*bad])); return std::string(b); }() +
                " at byte offset " + std::to_string(*bad) + " (tokenizer input must be UTF-8 text)");
  const Impl& m = *impl_;
  const bool skip_special = !opt.special;
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 8);

  std::vector<AddedTokens::Segment> raw, norm;
  if (m.added.has_pass(false)) m.added.split(text, false, skip_special, raw);
  else raw.push_back({text, -1});

  std::string scratch;
  for (const auto& seg : raw) {
    if (seg.id >= 0) { ids.push_back(seg.id); continue; }
    const bool at_start = seg.text.data() == text.data();
    const std::string_view normalized = m.normalizer.apply(seg.text, scratch);
    if (!m.added.has_pass(true)) { m.encode_plain(normalized, ids, at_start); continue; }
    norm.clear();
    m.added.split(normalized, true, skip_special, norm);
    for (const auto& piece : norm) {
      if (piece.id >= 0) ids.push_back(piece.id);
      else m.encode_plain(piece.text, ids, at_start && piece.text.data() == normalized.data());
    }
  }
  if (opt.add_special_tokens) m.post_processor.apply(ids);
  return ids;
}

std::vector<int32_t> Tokenizer::encode_pair(std::string_view a, std::string_view b, const EncodeOptions& opt) const {
  EncodeOptions plain = opt;
  plain.add_special_tokens = false;
  auto ia = encode(a, plain), ib = encode(b, plain);
  if (!opt.add_special_tokens) {
    ia.insert(ia.end(), ib.begin(), ib.end());
    return ia;
  }
  return impl_->post_processor.apply_pair(ia, ib);
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  const Impl& m = *impl_;
  std::vector<std::string_view> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (const AddedToken* a = m.added.by_id(id)) {
      if (skip_special && a->special) continue;
      tokens.push_back(a->content);
    } else if (const std::string* t = m.bpe.token(id)) {
      tokens.push_back(*t);
    }
    // Unknown ids are skipped, as `tokenizers` does.
  }
  return m.decoder.decode(tokens);
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  if (const AddedToken* a = impl_->added.by_content(token)) return a->id;
  const int32_t id = impl_->bpe.find(token);
  return id >= 0 ? std::optional<int32_t>(id) : std::nullopt;
}

std::optional<std::string> Tokenizer::id_to_token(int32_t id) const {
  if (const AddedToken* a = impl_->added.by_id(id)) return a->content;
  if (const std::string* t = impl_->bpe.token(id)) return *t;
  return std::nullopt;
}

size_t Tokenizer::vocab_size() const {
  return std::max(impl_->bpe.size(), static_cast<size_t>(impl_->added.max_id() + 1));
}

std::optional<int32_t> Tokenizer::eos_id() const { return impl_->eos; }

}  // namespace cloze
