#pragma once
// The few Unicode facts Python's str methods need: code points, whitespace,
// printability, case mapping, line boundaries.
#include <string>
#include <string_view>
#include <vector>

namespace cloze::chat {

// UTF-8 -> code points. Input is valid UTF-8 (checked where it enters).
std::u32string utf8_decode(std::string_view s);
void utf8_append(std::string& out, char32_t c);
std::string utf8_encode(std::u32string_view s);
// Throws RenderError-free check: true when `s` is valid UTF-8.
bool utf8_valid(std::string_view s);

bool is_space(char32_t c);      // str.isspace
bool is_printable(char32_t c);  // str.isprintable
bool is_line_break(char32_t c); // a str.splitlines boundary
char32_t to_upper(char32_t c);
char32_t to_lower(char32_t c);
char32_t to_title(char32_t c);
bool is_cased_lower(char32_t c);
bool is_cased_upper(char32_t c);
bool is_alpha(char32_t c);
bool is_digit(char32_t c);

std::string str_upper(std::string_view s);
std::string str_lower(std::string_view s);
// str.splitlines() (no keepends).
std::vector<std::string> split_lines(std::string_view s);

}  // namespace cloze::chat
