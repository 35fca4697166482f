#include "tokenizer/byte_level.h"

#include "tokenizer/utf8.h"

namespace cloze::tok::byte_level {

namespace {

struct Tables {
  std::array<char32_t, 256> to_char{};
  std::array<int16_t, 0x144> to_byte{};  // every code point used is below U+0144
  Tables() {
    to_byte.fill(-1);
    auto printable = [](int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      const char32_t c = printable(b) ? char32_t(b) : char32_t(0x100 + next++);
      to_char[b] = c;
      to_byte[c] = static_cast<int16_t>(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

char32_t byte_to_char(uint8_t b) { return tables().to_char[b]; }

int char_to_byte(char32_t c) { return c < 0x144 ? tables().to_byte[c] : -1; }

std::string encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) utf8::append(out, byte_to_char(b));
  return out;
}

bool decode(std::string_view text, std::string& out) {
  std::string tmp;
  tmp.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const int b = char_to_byte(utf8::next(text, i));
    if (b < 0) return false;
    tmp.push_back(static_cast<char>(b));
  }
  out += tmp;
  return true;
}

}  // namespace cloze::tok::byte_level
