// Streaming text: UTF-8 characters split across byte-level tokens, and stop
// strings that span token boundaries.
#include <gtest/gtest.h>

#include "cloze/tokenizer.h"
#include "model/stop_strings.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/stream_decoder.h"

namespace {

const cloze::Tokenizer& qwen2() {
  static const cloze::Tokenizer tok =
      cloze::Tokenizer::from_file(std::string(CLOZE_FIXTURES) + "/tokenizer/qwen2/tokenizer.json");
  return tok;
}

// The token of one raw byte: every byte-level BPE vocabulary has one per byte.
int32_t byte_token(unsigned char b) {
  auto id = qwen2().token_to_id(cloze::tok::byte_level::encode(std::string(1, char(b))));
  EXPECT_TRUE(id.has_value()) << "byte " << int(b);
  return id.value_or(0);
}

std::vector<int32_t> byte_tokens(std::string_view s) {
  std::vector<int32_t> ids;
  for (unsigned char b : s) ids.push_back(byte_token(b));
  return ids;
}

// Streams ids one by one; the pieces, with flush() as the last one.
std::vector<std::string> stream(const std::vector<int32_t>& ids) {
  cloze::tok::StreamDecoder d(qwen2());
  std::vector<std::string> out;
  for (int32_t id : ids) out.push_back(d.push(id));
  out.push_back(d.flush());
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x;
  return s;
}

TEST(StreamDecoder, CharacterSplitAcrossTokensComesOutWhole) {
  // "a€😀b" one byte per token: '€' is 3 bytes, the emoji 4.
  const std::string text = "a\xE2\x82\xAC\xF0\x9F\x98\x80" "b";
  auto pieces = stream(byte_tokens(text));
  ASSERT_EQ(pieces.size(), 10u);
  const std::vector<std::string> want = {"a", "", "", "\xE2\x82\xAC", "", "", "", "\xF0\x9F\x98\x80", "b", ""};
  EXPECT_EQ(pieces, want);
}

TEST(StreamDecoder, MultiByteTokensAndRealEncodings) {
  // A real encoding whose tokens split characters: whatever the split, the
  // pieces are valid and join to decode(all ids).
  for (std::string text : {"Hello, world! Grüße aus Köln", "日本語のテキストと絵文字🦩🪿 mixed", " \xE2\x82\xAC 100"}) {
    auto ids = qwen2().encode(text);
    auto pieces = stream(ids);
    EXPECT_EQ(join(pieces), qwen2().decode(ids)) << text;
    EXPECT_EQ(join(pieces), text);
    for (const auto& p : pieces) EXPECT_EQ(p.find("\xEF\xBF\xBD"), std::string::npos) << text;
  }
  // A tokenization that splits a character must exist for this test to bite.
  auto ids = qwen2().encode("🦩");
  EXPECT_GT(ids.size(), 1u);
}

TEST(StreamDecoder, UnfinishedCharacterIsFlushedAsReplacement) {
  auto ids = byte_tokens("ok\xE2\x82");
  auto pieces = stream(ids);
  EXPECT_EQ(join(pieces), "ok\xEF\xBF\xBD");
  EXPECT_EQ(join(pieces), qwen2().decode(ids));
  // A stray continuation byte is U+FFFD too, and does not hold back later text for long.
  ids = byte_tokens("x\x80yz");
  pieces = stream(ids);
  EXPECT_EQ(join(pieces), qwen2().decode(ids));
  EXPECT_EQ(pieces[2], "\xEF\xBF\xBDy");
}

TEST(StreamDecoder, SpecialTokensPassThrough) {
  auto ids = qwen2().encode("hi<|im_start|>there");
  EXPECT_EQ(join(stream(ids)), "hi<|im_start|>there");
}

TEST(StopStrings, MatchInsideOnePiece) {
  cloze::gen::StopStrings s({"END"});
  EXPECT_EQ(s.push("abc"), "abc");
  EXPECT_EQ(s.push("xENDyz"), "x");
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.push("more"), "");
  EXPECT_EQ(s.flush(), "");
}

TEST(StopStrings, MatchAcrossPiecesHoldsPartialTail) {
  cloze::gen::StopStrings s({"\n\nQ:", "STOP"});
  EXPECT_EQ(s.push("one\n"), "one");  // "\n" may start "\n\nQ:"
  EXPECT_EQ(s.push("\n"), "");
  EXPECT_EQ(s.push("Q"), "");
  EXPECT_EQ(s.push(":"), "");
  EXPECT_TRUE(s.stopped());
}

TEST(StopStrings, PartialMatchThatFailsIsReleased) {
  cloze::gen::StopStrings s({"STOP"});
  EXPECT_EQ(s.push("go ST"), "go ");
  EXPECT_EQ(s.push("O"), "");
  EXPECT_EQ(s.push("RM"), "STORM");
  EXPECT_EQ(s.push("S"), "");
  EXPECT_EQ(s.flush(), "S");  // end of text: the held tail was not a stop
  EXPECT_FALSE(s.stopped());
}

TEST(StopStrings, EarliestOfSeveralWinsAndOverlapsAreFound) {
  cloze::gen::StopStrings s({"cd", "abab"});
  EXPECT_EQ(s.push("xab"), "x");   // "ab" could start "abab"
  EXPECT_EQ(s.push("acd"), "aba");  // "abacd": "cd" ends it, "abab" never came
  EXPECT_TRUE(s.stopped());
  cloze::gen::StopStrings e({"cd", "bcd"});
  EXPECT_EQ(e.push("abcd"), "a");  // both match; the earlier one cuts
  cloze::gen::StopStrings t({"aab"});
  EXPECT_EQ(t.push("aa"), "");
  EXPECT_EQ(t.push("a"), "a");  // "aaa": the tail "aa" may still start "aab"
  EXPECT_EQ(t.push("b!"), "");
  EXPECT_TRUE(t.stopped());
}

}  // namespace
