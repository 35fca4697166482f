// Tokenizer against ground truth from Hugging Face `tokenizers`: the golden
// corpora in tests/fixtures/tokenizer must give identical ids, and decoding
// must give back the NFC-normalized text.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloze/error.h"
#include "cloze/tokenizer.h"
#include "tokenizer/normalizer.h"

namespace {

const std::string kDir = std::string(CLOZE_FIXTURES) + "/tokenizer";

const cloze::Tokenizer& qwen2() {
  static const cloze::Tokenizer t = cloze::Tokenizer::from_file(kDir + "/qwen2/tokenizer.json");
  return t;
}
const cloze::Tokenizer& qwen3() {
  static const cloze::Tokenizer t = cloze::Tokenizer::from_file(kDir + "/qwen3/tokenizer.json");
  return t;
}

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::ifstream f(path);
  EXPECT_TRUE(f.good()) << "cannot open " << path;
  std::vector<nlohmann::json> rows;
  std::string line;
  while (std::getline(f, line))
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

std::string nfc(const std::string& s) {
  static const auto n = cloze::tok::Normalizer::from_json(nlohmann::json{{"type", "NFC"}}, "test");
  std::string scratch;
  return std::string(n.apply(s, scratch));
}

// What decode(encode(text)) must give back: `tokenizers` normalizes each
// piece between added-token strings separately, so NFC is applied piecewise
// (it differs from NFC of the whole text when an added token ends in a
// character that composes with the next one, e.g. '>' + U+0338). The split
// here is independent of the library: plain leftmost-longest string search
// for the contents listed in the fixture's added_tokens.
std::string piecewise_nfc(const std::string& text, const std::vector<std::string>& added) {
  std::string out;
  size_t done = 0, pos = 0;
  while (pos < text.size()) {
    size_t best_at = std::string::npos, best_len = 0;
    for (const auto& a : added) {
      const size_t at = text.find(a, pos);
      if (at == std::string::npos) continue;
      if (at < best_at || (at == best_at && a.size() > best_len)) { best_at = at; best_len = a.size(); }
    }
    if (best_at == std::string::npos) break;
    out += nfc(text.substr(done, best_at - done)) + text.substr(best_at, best_len);
    done = pos = best_at + best_len;
  }
  return out + nfc(text.substr(done));
}

std::vector<std::string> added_contents(const std::string& tokenizer_json) {
  std::ifstream f(tokenizer_json);
  const auto j = nlohmann::json::parse(f);
  std::vector<std::string> out;
  for (const auto& a : j["added_tokens"]) out.push_back(a["content"].get<std::string>());
  return out;
}

std::string show(const std::vector<int32_t>& ids) {
  std::ostringstream o;
  o << '[';
  for (size_t i = 0; i < ids.size(); ++i) o << (i ? "," : "") << ids[i];
  return o.str() + ']';
}

// Compares every row; prints each mismatch (text, expected, actual) and a
// summary line "N/M identical".
void check_corpus(const cloze::Tokenizer& tok, const std::string& model, const std::string& file,
                  const char* ids_field, bool only_with_field) {
  const auto added = added_contents(kDir + "/" + model + "/tokenizer.json");
  const auto rows = read_jsonl(kDir + "/" + file);
  ASSERT_FALSE(rows.empty());
  size_t n = 0, same = 0, roundtrip = 0, whole_nfc_differs = 0;
  for (const auto& row : rows) {
    if (!row.contains(ids_field)) {
      if (only_with_field) continue;
      ADD_FAILURE() << file << ": row without \"" << ids_field << "\"";
      continue;
    }
    ++n;
    const std::string text = row["text"].get<std::string>();
    const auto expected = row[ids_field].get<std::vector<int32_t>>();
    const auto actual = tok.encode(text);
    if (actual == expected) ++same;
    else
      ADD_FAILURE() << file << " row " << n << "\n  text:     " << nlohmann::json(text).dump()
                    << "\n  expected: " << show(expected) << "\n  actual:   " << show(actual);
    const std::string back = tok.decode(expected);
    if (back != nfc(text)) ++whole_nfc_differs;
    if (back == piecewise_nfc(text, added)) ++roundtrip;
    else
      ADD_FAILURE() << file << " row " << n << ": decode(ids) != NFC(text)\n  text:    "
                    << nlohmann::json(text).dump() << "\n  decoded: " << nlohmann::json(back).dump();

  }
  std::printf("[ corpus   ] %s with %s (%s): %zu/%zu identical ids, %zu/%zu decode round trips"
              " (%zu where NFC of the whole text differs from piecewise NFC)\n",
              file.c_str(), model.c_str(), ids_field, same, n, roundtrip, n, whole_nfc_differs);
  EXPECT_EQ(same, n);
  EXPECT_EQ(roundtrip, n);
}

}  // namespace

TEST(TokenizerCorpus, HfReferenceQwen2) { check_corpus(qwen2(), "qwen2", "hf_reference.jsonl", "ids", false); }

TEST(TokenizerCorpus, ExpectedQwen2) { check_corpus(qwen2(), "qwen2", "qwen2_expected.jsonl", "ids", false); }

TEST(TokenizerCorpus, ExpectedQwen3Rows) { check_corpus(qwen3(), "qwen3", "qwen2_expected.jsonl", "ids_qwen3", true); }

TEST(TokenizerCorpus, Qwen3AgreesWithQwen2ElsewhereOnHfReference) {
  // Same regular vocabulary and merges: on text without added-token strings
  // the two files must tokenize alike.
  for (const auto& row : read_jsonl(kDir + "/hf_reference.jsonl")) {
    const std::string text = row["text"].get<std::string>();
    ASSERT_EQ(qwen3().encode(text), row["ids"].get<std::vector<int32_t>>()) << text;
  }
}

TEST(TokenizerApi, LookupsAndSizes) {
  EXPECT_EQ(qwen2().vocab_size(), 151646u);
  EXPECT_EQ(qwen3().vocab_size(), 151669u);
  EXPECT_EQ(qwen2().eos_id(), 151643);  // tokenizer_config.json eos_token <|endoftext|>
  EXPECT_EQ(qwen2().token_to_id("\xC4\xA0the"), 279);  // "Ġthe"
  EXPECT_EQ(qwen2().id_to_token(279), "\xC4\xA0the");
  EXPECT_EQ(qwen2().token_to_id("<|im_start|>"), 151644);
  EXPECT_EQ(qwen2().id_to_token(151645), "<|im_end|>");
  EXPECT_EQ(qwen2().id_to_token(-1), std::nullopt);
  EXPECT_EQ(qwen2().id_to_token(151646), std::nullopt);
  EXPECT_EQ(qwen2().token_to_id("no such token"), std::nullopt);
}

TEST(TokenizerApi, SpecialOptionTreatsSpecialStringsAsText) {
  const std::string text = "a<|endoftext|>b";
  EXPECT_EQ(qwen2().encode(text), (std::vector<int32_t>{64, 151643, 65}));
  const auto plain = qwen2().encode(text, {.special = false});
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 151643), 0) << show(plain);
  EXPECT_EQ(qwen2().decode(plain), text);
  // Qwen3's <think> is an added token that is not special: still matched.
  EXPECT_EQ(qwen3().encode("<think>", {.special = false}), (std::vector<int32_t>{151667}));
  EXPECT_NE(qwen3().encode("<|im_start|>", {.special = false}), (std::vector<int32_t>{151644}));
}

TEST(TokenizerApi, DecodeSkipsSpecialAndRepairsBrokenUtf8) {
  const auto ids = qwen2().encode("<|im_start|>héllo");
  EXPECT_EQ(qwen2().decode(ids, /*skip_special=*/true), "héllo");
  // The token of byte 0xE2 alone (shown as U+00E2 'â') starts a 3-byte
  // character but ends there: it decodes to U+FFFD.
  const auto lone = qwen2().token_to_id("\xC3\xA2");
  ASSERT_TRUE(lone.has_value());
  const int32_t ids2[] = {*lone, 64};
  EXPECT_EQ(qwen2().decode(ids2), "\xEF\xBF\xBD" "a");
}

TEST(TokenizerApi, LongWordsUseTheHeapPathWithSameResult) {
  // Words over 64 symbols go through the heap merge; pieces of them must
  // agree with the short-word path.
  std::string word;
  for (int i = 0; i < 40; ++i) word += "ab";
  const auto ids = qwen2().encode(word);
  EXPECT_EQ(qwen2().decode(ids), word);
  std::string digits(300, '7');  // \p{N} splits digits one by one
  EXPECT_EQ(qwen2().encode(digits), std::vector<int32_t>(300, 22));
}

TEST(TokenizerInput, InvalidUtf8IsRejectedWithOffset) {
  for (const auto& [text, offset] : std::vector<std::pair<std::string, int>>{
           {"ab\xFF", 2}, {"\xC3", 0}, {"ok \xED\xA0\x80", 3}, {"x\xC0\xAF", 1}, {"abc\xF4\x90\x80\x80", 3}}) {
    try {
      qwen2().encode(text);
      ADD_FAILURE() << "accepted invalid UTF-8 " << nlohmann::json::binary({text.begin(), text.end()}).dump();
    } catch (const cloze::Error& e) {
      EXPECT_NE(std::string(e.what()).find("not valid UTF-8"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("byte offset " + std::to_string(offset)), std::string::npos) << e.what();
    }
  }
}
