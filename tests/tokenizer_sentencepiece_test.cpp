// The SentencePiece-style components on small hand-made tokenizers, each
// expectation worked out by hand from `tokenizers`' rules: Metaspace's
// prepend schemes and split, Replace / Prepend normalizers, byte fallback
// and unk fusing, the decoders, pair templates, and the word cutting that
// makes whole-paragraph BPE words fast (it must never change the ids).
// Malformed or unsupported components fail naming the field.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloze/error.h"
#include "cloze/tokenizer.h"
#include "test_util.h"

namespace {

using nlohmann::json;
using Ids = std::vector<int32_t>;

const std::string kMeta = "\xE2\x96\x81";  // "▁"

// Vocabulary: ids 0..2 specials, 3..258 <0x00>..<0xFF>, then pieces.
json vocab() {
  json v = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  char name[8];
  for (int b = 0; b < 256; ++b) {
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    v[name] = 3 + b;
  }
  int id = 259;
  for (const std::string& p : std::vector<std::string>{kMeta, "a", "b", "c", kMeta + "a", "b" + kMeta, "b" + kMeta + "a",
                                                        kMeta + kMeta, "ab"})
    v[p] = id++;
  return v;
}
// 259 ▁, 260 a, 261 b, 262 c, 263 ▁a, 264 b▁, 265 b▁a, 266 ▁▁, 267 ab
constexpr int32_t M = 259, A = 260, B = 261, C = 262, MA = 263, BM = 264, BMA = 265, MM = 266, AB = 267;

json merges() {
  return json::array({json::array({"b", kMeta}), json::array({"b" + kMeta, "a"}), json::array({kMeta, "a"}),
                      json::array({kMeta, kMeta}), json::array({"a", "b"})});
}

json added() {
  json a = json::array();
  for (auto [id, s] : {std::pair{0, "<unk>"}, std::pair{1, "<s>"}, std::pair{2, "</s>"}})
    a.push_back({{"id", id}, {"content", s}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                 {"normalized", false}, {"special", true}});
  return a;
}

json bos_template() {
  return {{"type", "TemplateProcessing"},
          {"single", json::parse(R"([{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}])")},
          {"pair", json::parse(R"([{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}},
                                   {"SpecialToken":{"id":"</s>","type_id":0}},{"Sequence":{"id":"B","type_id":1}}])")},
          {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}},
                              {"</s>", {{"id", "</s>"}, {"ids", {2}}, {"tokens", {"</s>"}}}}}}};
}

// A Llama-2-style file: Prepend "▁" + Replace " " -> "▁", no pre-tokenizer.
json llama2_style() {
  return {{"version", "1.0"},
          {"added_tokens", added()},
          {"normalizer", {{"type", "Sequence"},
                          {"normalizers", {{{"type", "Prepend"}, {"prepend", kMeta}},
                                           {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kMeta}}}}}},
          {"pre_tokenizer", nullptr},
          {"post_processor", bos_template()},
          {"decoder", {{"type", "Sequence"},
                       {"decoders", {{{"type", "Replace"}, {"pattern", {{"String", kMeta}}}, {"content", " "}},
                                     {{"type", "ByteFallback"}},
                                     {{"type", "Fuse"}},
                                     {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
          {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", "<unk>"}, {"fuse_unk", true},
                     {"byte_fallback", true}, {"vocab", vocab()}, {"merges", merges()}}}};
}

// The same model with a Metaspace pre-tokenizer instead of the normalizer.
json metaspace_style(const std::string& scheme, bool split) {
  json j = llama2_style();
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", kMeta}, {"prepend_scheme", scheme}, {"split", split}};
  j["decoder"] = {{"type", "Metaspace"}, {"replacement", kMeta}, {"prepend_scheme", scheme}, {"split", split}};
  return j;
}

cloze::Tokenizer load(const json& j) { return cloze::Tokenizer::from_json(j.dump(), "sp.json"); }

void expect_error(const json& j, const std::string& needle) {
  const std::string msg = cloze::test::error_of([&] { load(j); });
  EXPECT_NE(msg.find(needle), std::string::npos) << "message: " << msg << "\nexpected to contain: " << needle;
  EXPECT_EQ(msg.rfind("sp.json: ", 0), 0u) << msg;
}

}  // namespace

TEST(TokenizerSentencePiece, PrependAndReplaceNormalizerWithTemplate) {
  const auto t = load(llama2_style());
  // "ab a" -> "▁ab▁a" = ▁ a b ▁ a; merges by rank: b+▁ (0), b▁+a (1), ▁+a (2).
  EXPECT_EQ(t.encode("ab a"), (Ids{1, MA, BMA}));
  EXPECT_EQ(t.encode("ab a", {.add_special_tokens = false}), (Ids{MA, BMA}));
  EXPECT_EQ(t.encode(""), (Ids{1}));
  EXPECT_EQ(t.encode("", {.add_special_tokens = false}), Ids{});
  // Every piece between added tokens gets its own "▁" (Prepend is a normalizer).
  EXPECT_EQ(t.encode("<s>a</s>c", {.add_special_tokens = false}), (Ids{1, MA, 2, M, C}));
  EXPECT_EQ(t.decode(Ids{1, MA, BMA}), "<s> ab a");
  EXPECT_EQ(t.decode(Ids{MA, BMA}), "ab a");  // Strip removes the prepended space
  EXPECT_EQ(t.encode_pair("a", "c"), (Ids{1, MA, 2, M, C}));
}

TEST(TokenizerSentencePiece, ByteFallbackAndUnknowns) {
  const auto t = load(llama2_style());
  // "é" (C3 A9) is not a piece: its bytes; "▁" first.
  EXPECT_EQ(t.encode("\xC3\xA9", {.add_special_tokens = false}), (Ids{M, 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ(t.decode(Ids{M, 3 + 0xC3, 3 + 0xA9}), "\xC3\xA9");
  // A broken byte run decodes to one U+FFFD per byte, as `tokenizers` does.
  EXPECT_EQ(t.decode(Ids{A, 3 + 0xC3, 3 + 0xC3, B}), "a\xEF\xBF\xBD\xEF\xBF\xBD" "b");
  // Without byte fallback: unknown characters become <unk>, fused when fuse_unk.
  json j = llama2_style();
  j["model"]["byte_fallback"] = false;
  EXPECT_EQ(load(j).encode("\xC3\xA9\xC3\xA8" "a", {.add_special_tokens = false}), (Ids{M, 0, A}));
  j["model"]["fuse_unk"] = false;
  EXPECT_EQ(load(j).encode("\xC3\xA9\xC3\xA8" "a", {.add_special_tokens = false}), (Ids{M, 0, 0, A}));
}

TEST(TokenizerSentencePiece, MetaspacePrependSchemesAndSplit) {
  const auto always = load(metaspace_style("always", true));
  const auto first = load(metaspace_style("first", true));
  const auto never = load(metaspace_style("never", true));
  const cloze::EncodeOptions no_bos{.add_special_tokens = false};
  EXPECT_EQ(always.encode("a c", no_bos), (Ids{MA, M, C}));     // ▁a | ▁c (split: ▁+c has no merge)
  EXPECT_EQ(never.encode("a c", no_bos), (Ids{A, M, C}));
  EXPECT_EQ(first.encode("a c", no_bos), (Ids{MA, M, C}));
  // After an added token, "first" no longer prepends; "always" does.
  EXPECT_EQ(always.encode("<s>a", no_bos), (Ids{1, MA}));
  EXPECT_EQ(first.encode("<s>a", no_bos), (Ids{1, A}));
  // A piece that starts with a space gets no second "▁".
  EXPECT_EQ(always.encode(" a", no_bos), (Ids{MA}));
  // split: "b▁a" cannot form across words; without split it can.
  EXPECT_EQ(always.encode("b a", no_bos), (Ids{M, B, MA}));
  EXPECT_EQ(load(metaspace_style("always", false)).encode("b a", no_bos), (Ids{M, BMA}));
  // The decoder drops the first token's "▁"s unless the scheme is never.
  EXPECT_EQ(always.decode(Ids{MA, M, C}), "a c");
  EXPECT_EQ(never.decode(Ids{A, M, C}), "a c");
  EXPECT_EQ(never.decode(Ids{MA}), " a");
}

TEST(TokenizerSentencePiece, CuttingLongWordsNeverChangesIds) {
  // With no pre-tokenizer a whole text is one BPE word; it is cut before a
  // "▁" only where no entry like "b▁a" could span the cut. "ab ab a" =
  // ▁ a b ▁ a b ▁ a must merge b+▁ (rank 0) across both would-be cuts, then
  // b▁+a twice, then ▁+a. "ac ac" may be cut: each half is ▁a c.
  const auto t = load(llama2_style());
  const cloze::EncodeOptions no_bos{.add_special_tokens = false};
  EXPECT_EQ(t.encode("ab ab a", no_bos), (Ids{MA, BMA, BMA}));
  EXPECT_EQ(t.encode("ac ac", no_bos), (Ids{MA, C, MA, C}));
  // A long text (heap merge path and cuts) against the sum of its words.
  std::string text;
  Ids expected;
  for (int i = 0; i < 200; ++i) {
    text += i ? " ac" : "ac";
    expected.insert(expected.end(), {MA, C});
  }
  EXPECT_EQ(t.encode(text, no_bos), expected);
  // "▁a▁▁▁▁▁c": the run of "▁" merges pairwise from the left.
  const std::string spaced = "a     c";  // five spaces
  EXPECT_EQ(t.encode(spaced, no_bos), (Ids{MA, MM, MM, M, C}));
}

TEST(TokenizerSentencePiece, ReplaceWithRegexAndDecoderStrip) {
  json j = llama2_style();
  j["normalizer"] = {{"type", "Replace"}, {"pattern", {{"Regex", " +"}}}, {"content", kMeta}};
  j["decoder"] = {{"type", "Sequence"},
                  {"decoders", {{{"type", "Replace"}, {"pattern", {{"Regex", kMeta}}}, {"content", " "}},
                                {{"type", "Strip"}, {"content", "a"}, {"start", 1}, {"stop", 2}}}}};
  const auto t = load(j);
  EXPECT_EQ(t.encode("a   c", {.add_special_tokens = false}), (Ids{A, M, C}));  // "a▁c": no Prepend here
  // Strip works on each token: " a" loses its trailing 'a', "ab" its leading one.
  EXPECT_EQ(t.decode(Ids{MA, AB}), " b");
}

TEST(TokenizerSentencePiece, MalformedComponentsNameTheField) {
  json j = llama2_style();
  j["normalizer"]["normalizers"][1]["type"] = "Precompiled";
  expect_error(j, "normalizer.normalizers[1]: unsupported normalizer type \"Precompiled\"");
  j = llama2_style();
  j["normalizer"]["normalizers"][1].erase("pattern");
  expect_error(j, "normalizer.normalizers[1].pattern: expected an object");
  j = llama2_style();
  j["normalizer"]["normalizers"][0].erase("prepend");
  expect_error(j, "normalizer.normalizers[0]: missing field \"prepend\"");
  j = llama2_style();
  j["decoder"]["decoders"][2]["type"] = "CTC";
  expect_error(j, "decoder.decoders[2]: unsupported decoder type \"CTC\"");
  j = llama2_style();
  j["decoder"]["decoders"][3]["content"] = "ab";
  expect_error(j, "decoder.decoders[3].content: expected exactly one character, found \"ab\"");
  j = llama2_style();
  j["decoder"]["decoders"][3]["start"] = -1;
  expect_error(j, "decoder.decoders[3].start: expected a small non-negative integer");
  j = metaspace_style("always", true);
  j["pre_tokenizer"]["prepend_scheme"] = "sometimes";
  expect_error(j, "pre_tokenizer.prepend_scheme: expected \"always\", \"first\" or \"never\", found sometimes");
  j = metaspace_style("always", true);
  j["pre_tokenizer"]["replacement"] = "__";
  expect_error(j, "pre_tokenizer.replacement: expected exactly one character");
  j = llama2_style();
  j["post_processor"]["single"][0]["SpecialToken"]["id"] = "<bos>";
  expect_error(j, "post_processor.special_tokens: no entry for \"<bos>\"");
  j = llama2_style();
  j["post_processor"]["single"][1]["Sequence"]["id"] = "B";
  expect_error(j, "post_processor.single[1]: unsupported template: expected sequence \"A\", found sequence \"B\"");
  j = llama2_style();
  j["post_processor"]["pair"].erase(3);
  expect_error(j, "post_processor.pair: the template places 1 of its 2 sequence(s)");
  j = llama2_style();
  j["model"]["dropout"] = 0.1;
  expect_error(j, "model.dropout: unsupported BPE dropout (expected null, found 0.1)");
  j = llama2_style();
  j["model"]["byte_fallback"] = "yes";
  expect_error(j, "model.byte_fallback: expected true or false, found a string");
  j = llama2_style();
  j["model"]["unk_token"] = "<unknown>";
  expect_error(j, "model.unk_token: \"<unknown>\" is not in model.vocab");
  j = llama2_style();
  j["model"]["vocab"]["far"] = 9'000'000;
  expect_error(j, "model.vocab: id 9000000 is far beyond the 269 entries (vocabulary ids must be dense");
  j = llama2_style();
  j["model"]["type"] = "Unigram";
  expect_error(j, "model.type: unsupported model type \"Unigram\"");
}

TEST(TokenizerSentencePiece, PairWithoutTemplateIsAnError) {
  json j = llama2_style();
  j["post_processor"].erase("pair");
  const auto t = load(j);
  EXPECT_EQ(t.encode("a"), (Ids{1, MA}));
  EXPECT_NE(cloze::test::error_of([&] { t.encode_pair("a", "c"); }).find("no \"pair\" template"), std::string::npos);
  EXPECT_EQ(t.encode_pair("a", "c", {.add_special_tokens = false}), (Ids{MA, M, C}));
}

namespace {

// tokenizer.json + tokenizer_config.json in a fresh directory.
std::filesystem::path write_pair(const std::string& name, const json& tokenizer, const json& config) {
  const auto dir = std::filesystem::path(testing::TempDir()) / ("cloze_sp_" + std::to_string(::getpid()) + "_" + name);
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "tokenizer.json") << tokenizer.dump();
  std::ofstream(dir / "tokenizer_config.json") << config.dump();
  return dir / "tokenizer.json";
}

}  // namespace

// transformers' Llama/Gemma classes build the template from the config's
// add_bos_token (default true) / add_eos_token (default false), as the
// reference ids' generator checks; other classes keep tokenizer.json's.
TEST(TokenizerSentencePiece, LlamaAndGemmaClassesTakeBosAndEosFromTheConfig) {
  json file = llama2_style();
  file["post_processor"] = nullptr;  // as in some early Llama files
  const json llama = {{"tokenizer_class", "LlamaTokenizer"}, {"bos_token", "<s>"}, {"eos_token", "</s>"}};
  EXPECT_EQ(cloze::Tokenizer::from_file(write_pair("a", file, llama)).encode("a"), (Ids{1, MA}));
  json with_eos = llama;
  with_eos["add_eos_token"] = true;
  with_eos["tokenizer_class"] = "GemmaTokenizerFast";
  const auto t = cloze::Tokenizer::from_file(write_pair("b", file, with_eos));
  EXPECT_EQ(t.encode("a"), (Ids{1, MA, 2}));
  EXPECT_EQ(t.encode("a", {.add_special_tokens = false}), (Ids{MA}));
  EXPECT_EQ(t.encode_pair("a", "c"), (Ids{1, MA, 2, 1, M, C, 2}));
  json no_bos = llama;
  no_bos["add_bos_token"] = false;
  file["post_processor"] = bos_template();
  EXPECT_EQ(cloze::Tokenizer::from_file(write_pair("c", file, no_bos)).encode("a"), (Ids{MA}));
  json other = llama;
  other["tokenizer_class"] = "PreTrainedTokenizerFast";
  other["add_bos_token"] = false;  // ignored: the file's template rules
  EXPECT_EQ(cloze::Tokenizer::from_file(write_pair("d", file, other)).encode("a"), (Ids{1, MA}));
  json missing = llama;
  missing.erase("bos_token");
  EXPECT_NE(cloze::test::error_of([&] { cloze::Tokenizer::from_file(write_pair("e", file, missing)); })
                .find("tokenizer_config.json: add_bos_token is true but there is no bos_token"),
            std::string::npos);
}
