// Malformed or unsupported tokenizer.json files must fail with a cloze::Error
// that names the field and what was wrong; small hand-made tokenizers check
// the components the Qwen files do not exercise (added-token options, unk,
// other split behaviours, template post-processing).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "cloze/error.h"
#include "cloze/tokenizer.h"

namespace {

// A tiny character-level BPE: vocab a b c ab abc <unk>, merges (a,b) then (ab,c).
std::string mini(const std::string& model_extra = "", const std::string& top_extra = "",
                 const std::string& merges = R"([["a","b"],["ab","c"]])",
                 const std::string& vocab = R"({"a":0,"b":1,"c":2,"ab":3,"abc":4,"<unk>":5})") {
  return R"({"version":"1.0","normalizer":null,
    "pre_tokenizer":{"type":"Split","pattern":{"String":" "},"behavior":"Removed","invert":false},
    "post_processor":null,"decoder":null,)" +
         top_extra + R"("model":{"type":"BPE","unk_token":"<unk>",)" + model_extra + R"("vocab":)" + vocab +
         R"(,"merges":)" + merges + "}}";
}

// Asserts that parsing `json` throws cloze::Error containing `needle`.
void expect_error(const std::string& json, const std::string& needle) {
  try {
    cloze::Tokenizer::from_json(json, "bad.json");
    ADD_FAILURE() << "accepted: " << json.substr(0, 300);
  } catch (const cloze::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(needle), std::string::npos) << "message: " << msg << "\nexpected to contain: " << needle;
    EXPECT_EQ(msg.rfind("bad.json", 0), 0u) << "message should start with the file name: " << msg;
  }
}

using Ids = std::vector<int32_t>;

}  // namespace

TEST(TokenizerMalformed, TruncatedFile) {
  std::ifstream f(std::string(CLOZE_FIXTURES) + "/tokenizer/qwen2/tokenizer.json");
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string full = ss.str();
  expect_error(full.substr(0, full.size() / 2), "not valid JSON (truncated or corrupt file?)");
  expect_error("", "not valid JSON");
  expect_error("[1,2]", "expected a JSON object at the top level");
}

TEST(TokenizerMalformed, WrongTypes) {
  expect_error(R"({"model":{"type":"BPE","vocab":[],"merges":[]}})", "model.vocab: expected an object mapping tokens to ids, found an array");
  expect_error(R"({"model":{"type":"BPE","merges":[]}})", "model.vocab: expected an object mapping tokens to ids, found nothing");
  expect_error(R"({"model":{"type":"BPE","vocab":{"a":0},"merges":{}}})", "model.merges: expected an array of merges, found an object");
  expect_error(R"({"model":{"type":"BPE","vocab":{"a":"zero"},"merges":[]}})", "model.vocab[\"a\"]: expected an integer id, found a string");
  expect_error(R"({"model":{"type":"BPE","vocab":{"a":-3},"merges":[]}})", "model.vocab[\"a\"]: expected an id in 0..");
  expect_error(R"({"model":[]})", "model: expected an object, found an array");
  expect_error(mini("", R"("added_tokens":{},)"), "added_tokens: expected an array, found an object");
  expect_error(mini("", R"("added_tokens":[{"id":"x","content":"<s>"}],)"), "added_tokens[0].id: expected a non-negative integer");
  expect_error(mini("", R"("added_tokens":[{"id":9,"content":"<s>","lstrip":"yes"}],)"), "added_tokens[0].lstrip: expected true or false, found a string");
  expect_error(mini(R"("fuse_unk":1,)"), "model.fuse_unk: expected true or false");
}

TEST(TokenizerMalformed, BadMerges) {
  expect_error(mini("", "", R"(["a d"])"), "model.merges[0] (\"a\", \"d\"): token \"d\" is not in model.vocab");
  expect_error(mini("", "", R"([["a","b"],["c","a"]])"), "model.merges[1] (\"c\", \"a\"): the merged token \"ca\" is not in model.vocab");
  expect_error(mini("", "", R"(["abc"])"), "model.merges[0]: expected \"a b\" (two tokens separated by one space)");
  expect_error(mini("", "", R"(["a b", ["a"]])"), "model.merges[1]: expected a pair of two strings, found 1 element(s)");
  expect_error(mini("", "", R"([["a","b","c"]])"), "model.merges[0]: expected a pair of two strings, found more than two");
  expect_error(mini("", "", R"([7])"), "model.merges[0]: expected a string, found a number");
}

TEST(TokenizerMalformed, DuplicateIdsAndTokens) {
  expect_error(mini("", "", "[]", R"({"a":0,"b":0})"), "model.vocab: duplicate id 0 (given to \"a\" and \"b\")");
  expect_error(mini("", "", "[]", R"({"a":0,"a":1})"), "model.vocab: duplicate token \"a\"");
  expect_error(mini("", R"("added_tokens":[{"id":9,"content":"<s>"},{"id":9,"content":"<t>"}],)"), "added_tokens[1]: duplicate id 9");
}

TEST(TokenizerMalformed, UnsupportedComponents) {
  expect_error(R"({"model":{"type":"WordPiece","vocab":{"a":0},"merges":[]}})", "unsupported model type \"WordPiece\"");
  expect_error(mini("", R"("normalizer":{"type":"Lowercase"},)"), "normalizer: unsupported normalizer type \"Lowercase\"");
  expect_error(mini("", R"("normalizer":{"type":"Sequence","normalizers":[{"type":"NFC"},{"type":"Strip"}]},)"),
               "normalizer.normalizers[1]: unsupported normalizer type \"Strip\"");
  expect_error(mini("", R"("pre_tokenizer":{"type":"Whitespace"},)"), "pre_tokenizer: unsupported pre_tokenizer type \"Whitespace\"");
  expect_error(mini("", R"("decoder":{"type":"WordPiece"},)"), "decoder: unsupported decoder type \"WordPiece\"");
  expect_error(mini("", R"("post_processor":{"type":"BertProcessing"},)"), "post_processor: unsupported post_processor type \"BertProcessing\"");
  expect_error(mini("", R"("pre_tokenizer":{"type":"Split","pattern":{"Regex":"(unclosed"},"behavior":"Isolated"},)"),
               "pre_tokenizer.pattern.Regex: the regular expression does not compile");
  expect_error(mini("", R"("pre_tokenizer":{"type":"Split","pattern":{"Regex":" "},"behavior":"Sideways"},)"),
               "pre_tokenizer.behavior: unknown split behavior \"Sideways\"");
  expect_error(mini(R"("dropout":0.1,)"), "model.dropout: unsupported BPE dropout");
  expect_error(mini(R"("continuing_subword_prefix":"##",)"), "model.continuing_subword_prefix: unsupported");
}

TEST(TokenizerMalformed, MissingFile) {
  try {
    cloze::Tokenizer::from_file("/nonexistent/tokenizer.json");
    ADD_FAILURE() << "no error";
  } catch (const cloze::Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot open tokenizer file /nonexistent/tokenizer.json"), std::string::npos)
        << e.what();
  }
}

TEST(TokenizerComponents, MergesByRankAndUnknowns) {
  const auto t = cloze::Tokenizer::from_json(mini());
  EXPECT_EQ(t.encode("abc ab"), (Ids{4, 3}));
  EXPECT_EQ(t.encode("abd"), (Ids{3, 5}));        // d is unknown
  EXPECT_EQ(t.encode("cab"), (Ids{2, 3}));
  EXPECT_EQ(t.decode(Ids{4, 3}), "abc ab");       // no decoder: joined with spaces
  std::string long_word;
  for (int i = 0; i < 50; ++i) long_word += "abc";  // 150 symbols: heap path
  EXPECT_EQ(t.encode(long_word), Ids(50, 4));
  const auto fused = cloze::Tokenizer::from_json(mini(R"("fuse_unk":true,)"));
  EXPECT_EQ(fused.encode("xyza"), (Ids{5, 0}));
  EXPECT_EQ(t.encode("xyza"), (Ids{5, 5, 5, 0}));
}

TEST(TokenizerComponents, AddedTokenOptions) {
  const std::string added = R"("added_tokens":[
      {"id":6,"content":"<m>","single_word":false,"lstrip":true,"rstrip":false,"normalized":false,"special":true},
      {"id":7,"content":"cab","single_word":true,"lstrip":false,"rstrip":true,"normalized":true,"special":false},
      {"id":8,"content":"<mm>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}],)";
  const auto t = cloze::Tokenizer::from_json(mini("", added));
  EXPECT_EQ(t.encode("ab  <m>c"), (Ids{3, 6, 2}));        // lstrip swallows the spaces before <m>
  EXPECT_EQ(t.encode("ab <mm>c"), (Ids{3, 8, 2}));         // longest match wins over <m>
  EXPECT_EQ(t.encode("cab  a"), (Ids{7, 0}));              // rstrip swallows the spaces after
  EXPECT_EQ(t.encode("acab"), (Ids{0, 2, 3}));             // single_word: not inside a word
  EXPECT_EQ(t.encode("ab <m>c", {.special = false}), (Ids{3, 5, 5, 5, 2}));  // special as text: <, m, > unknown
  EXPECT_EQ(t.decode(Ids{3, 6, 2}, /*skip_special=*/true), "ab c");
  EXPECT_EQ(t.vocab_size(), 9u);
}

TEST(TokenizerComponents, SplitBehaviours) {
  auto with_split = [](const std::string& behavior, bool invert) {
    return cloze::Tokenizer::from_json(mini("", R"("pre_tokenizer":{"type":"Split","pattern":{"Regex":"c"},"behavior":")" +
                                                    behavior + R"(","invert":)" + (invert ? "true" : "false") + "},"));
  };
  // "abcab": pieces ab | c | ab
  EXPECT_EQ(with_split("Isolated", false).encode("abcab"), (Ids{3, 2, 3}));
  EXPECT_EQ(with_split("Removed", false).encode("abcab"), (Ids{3, 3}));
  EXPECT_EQ(with_split("MergedWithPrevious", false).encode("abcab"), (Ids{4, 3}));
  EXPECT_EQ(with_split("MergedWithNext", false).encode("abcab"), (Ids{3, 2, 3}));  // "cab": c + ab
  EXPECT_EQ(with_split("Contiguous", false).encode("abccab"), (Ids{3, 2, 2, 3}));
  EXPECT_EQ(with_split("Removed", true).encode("abcab"), (Ids{2}));  // invert: keep only the matches
}

TEST(TokenizerComponents, TemplatePostProcessor) {
  const std::string post = R"("post_processor":{"type":"TemplateProcessing",
      "single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],
      "pair":[],"special_tokens":{"<s>":{"id":"<s>","ids":[5],"tokens":["<s>"]}}},)";
  const auto t = cloze::Tokenizer::from_json(mini("", post));
  EXPECT_EQ(t.encode("ab"), (Ids{5, 3}));
  EXPECT_EQ(t.encode("ab", {.special = true, .add_special_tokens = false}), (Ids{3}));
}
