#pragma once
// GPT-2's byte-level alphabet: every byte value is shown as one printable
// code point so that BPE vocabularies can be stored as JSON text (byte 0x20,
// space, is 'Ġ' U+0120). Printable Latin-1 bytes stand for themselves; the
// other 68 bytes map, in order, to U+0100..U+0143.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace cloze::tok::byte_level {

// The code point that shows byte b.
char32_t byte_to_char(uint8_t b);
// The byte shown by code point c, or -1 when c is not in the alphabet.
int char_to_byte(char32_t c);

// Raw bytes -> the alphabet's UTF-8 text ("Ġthe" for " the").
std::string encode(std::string_view bytes);
// Alphabet text -> raw bytes; false (out untouched) if some character is not
// in the alphabet.
bool decode(std::string_view text, std::string& out);

}  // namespace cloze::tok::byte_level
