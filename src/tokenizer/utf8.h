#pragma once
// UTF-8 helpers shared by the tokenizer components. Input text is validated
// once at the API boundary; everything after that may assume valid UTF-8.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cloze::tok::utf8 {

// Byte offset of the first byte that does not start a well-formed UTF-8
// sequence (overlong forms, surrogates and code points above U+10FFFF are
// ill-formed too), or nullopt when `s` is valid.
std::optional<size_t> first_invalid(std::string_view s);

// Decodes the code point at s[i] (s must be valid UTF-8) and advances i.
inline char32_t next(std::string_view s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) { ++i; return b0; }
  auto cont = [&](size_t k) { return static_cast<char32_t>(static_cast<unsigned char>(s[i + k]) & 0x3F); };
  char32_t cp;
  if (b0 < 0xE0) { cp = (char32_t(b0 & 0x1F) << 6) | cont(1); i += 2; }
  else if (b0 < 0xF0) { cp = (char32_t(b0 & 0x0F) << 12) | (cont(1) << 6) | cont(2); i += 3; }
  else { cp = (char32_t(b0 & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3); i += 4; }
  return cp;
}

// Decodes the code point that ends at s[i-1] (s valid) and moves i back to its start.
char32_t prev(std::string_view s, size_t& i);

void append(std::string& out, char32_t cp);

// Replaces each maximal ill-formed subsequence with U+FFFD, as Rust's
// String::from_utf8_lossy does (what `tokenizers` returns from decode).
std::string lossy(std::string_view bytes);

// Unicode White_Space property (what Rust's `\s` and char::is_whitespace test).
bool is_white_space(char32_t cp);
// Rust regex `\w`: alphabetic, marks, decimal digits, connector punctuation, joiners.
bool is_word_char(char32_t cp);

}  // namespace cloze::tok::utf8
